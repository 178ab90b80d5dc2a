/**
 * The published package: `npm pack` of the build holds what a user needs and nothing else,
 * every module it imports is inside it, it installs into an empty project from its tarball and
 * its dependency's alone (no registry, an empty npm cache), and the
 * README's example trains there under Node and under Deno (allowed to read that project only),
 * with its types compiling in a strict TypeScript consumer.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { builtinModules } from "node:module";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Packed, ROOT, cleanup, installConsumer, pack, run, runDeno, runNode, testHome } from "./fixture.js";
// @ts-ignore: a plain ESM script without types
import { relaxedFlagsOf } from "../../scripts/relaxed-simd.mjs";

const EXAMPLE = "examples/train-xor.mjs";

/** What a user needs; every packed file must match one of these. */
const ALLOWED = [
  /^dist\/.+\.js$/,
  /^dist\/.+\.d\.ts$/,
  /^dist\/browser\/.+\.js\.map$/, // source maps of the minified browser module
  /^build\/simdgrad\.(dense\.)?(simd|relaxed)\.wasm$/,
  /^README\.md$/,
  /^package\.json$/,
  /^LICEN[CS]E(\.md|\.txt)?$/,
];

/**
 * Optional peer dependencies: imported lazily by the one feature that needs them (the ONNX
 * exporter's protobuf encoder), never installed with the package.
 */
const OPTIONAL_PEERS = ["@bufbuild/protobuf"];

/** What must be there. */
const REQUIRED = [
  "package.json", "README.md", "dist/index.js", "dist/index.d.ts",
  "build/simdgrad.simd.wasm", "build/simdgrad.relaxed.wasm", "build/simdgrad.dense.simd.wasm", "build/simdgrad.dense.relaxed.wasm",
];

let packed: Packed | undefined;
/** The tarball unpacked (its `package/` directory). */
let unpacked = "";
let project = "";

beforeAll(() => {
  packed = pack();
  const into = path.join(packed.dir, "unpacked");
  mkdirSync(into);
  execFileSync("tar", ["-xzf", packed.tarball, "-C", into]);
  unpacked = path.join(into, "package");
  project = installConsumer(packed, "consumer", [EXAMPLE]);
}, 180_000);

afterAll(() => cleanup(packed));

function listFiles(dir: string, prefix = ""): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...listFiles(path.join(dir, e.name), rel));
    else out.push(rel);
  }
  return out.sort();
}

/** Module specifiers a JS or .d.ts file refers to: static and dynamic imports, re-exports, `new URL(…, import.meta.url)`. */
function specifiers(source: string): { spec: string; url: boolean }[] {
  const found: { spec: string; url: boolean }[] = [];
  const patterns: [RegExp, boolean][] = [
    [/\bfrom\s*["']([^"']+)["']/g, false],
    [/\bimport\s*\(\s*["']([^"']+)["']\s*\)/g, false],
    [/^\s*import\s*["']([^"']+)["']/gm, false],
    [/new URL\(\s*["']([^"']+)["']\s*,\s*import\.meta\.url\s*\)/g, true],
  ];
  for (const [re, url] of patterns) for (const m of source.matchAll(re)) found.push({ spec: m[1]!, url });
  return found;
}

interface ExampleOutput {
  losses: { step: number; loss: number }[];
  predictions: number[];
  features: { simd: boolean; relaxedSimd: boolean; build: string };
}

function parseExample(stdout: string): ExampleOutput {
  const losses: { step: number; loss: number }[] = [];
  let predictions: number[] = [];
  let features: ExampleOutput["features"] | undefined;
  for (const line of stdout.trim().split("\n")) {
    let m: RegExpMatchArray | null;
    if ((m = line.match(/^step (\d+)\s+loss ([0-9.]+)$/))) losses.push({ step: Number(m[1]), loss: Number(m[2]) });
    else if ((m = line.match(/^predictions ((?:[0-9.]+ ?)+)$/))) predictions = m[1]!.trim().split(" ").map(Number);
    else if ((m = line.match(/^features (\{.*\})$/))) features = JSON.parse(m[1]!) as ExampleOutput["features"];
    else throw new Error(`the example printed an unexpected line: ${line}`);
  }
  if (!features) throw new Error(`the example did not print its features:\n${stdout}`);
  return { losses, predictions, features };
}

/** The example's loss falls from about ln 2 to near 0 and it gets XOR right. */
function expectExampleLearned(out: ExampleOutput): void {
  expect(out.losses.map((l) => l.step)).toEqual([0, 50, 100, 150, 200, 250, 300]);
  const first = out.losses[0]!.loss;
  const last = out.losses[out.losses.length - 1]!.loss;
  expect(first).toBeGreaterThan(0.3);
  expect(last).toBeLessThan(0.05);
  for (let i = 1; i < out.losses.length; i++) expect(out.losses[i]!.loss).toBeLessThan(out.losses[i - 1]!.loss);
  expect(out.predictions).toHaveLength(4);
  [0, 1, 1, 0].forEach((target, i) => expect(Math.abs(out.predictions[i]! - target), `prediction ${i}`).toBeLessThan(0.1));
  expect(out.features.simd).toBe(true);
}

describe("the npm package", () => {
  it("holds only what a user needs: the built JavaScript and types, the release .wasm files (both kernel sets), README, package.json", () => {
    const files = packed!.files;
    const stray = files.filter((f) => !ALLOWED.some((re) => re.test(f)));
    expect(stray, "files a user does not need").toEqual([]);
    for (const f of REQUIRED) expect(files, `${f} is packed`).toContain(f);
    for (const dir of ["src/", "test/", "assembly/", "bench/", "demo/", "examples/", "scripts/", "node_modules/"]) {
      expect(files.filter((f) => f.startsWith(dir)), `nothing from ${dir}`).toEqual([]);
    }
    // Source maps only for the minified browser module (they map it back to dist/'s modules).
    const isBrowserMap = (f: string) => /^dist\/browser\/[^/]+\.js\.map$/.test(f);
    expect(files.filter((f) => (f.endsWith(".map") && !isBrowserMap(f)) || f.endsWith(".wat") || f.includes("debug")), "no other source maps, text formats or debug builds").toEqual([]);
    expect(files).toContain("dist/browser/simdgrad.min.js");
    expect(files).toContain("dist/browser/simdgrad.min.js.map");
    // A license file in the repository ships with the package.
    for (const name of ["LICENSE", "LICENSE.md", "LICENSE.txt", "LICENCE"]) {
      if (existsSync(path.join(ROOT, name))) expect(files).toContain(name);
    }
    // What npm listed is what the tarball holds.
    expect(listFiles(unpacked)).toEqual(files);
  });

  it("declares ESM, entry points that exist in it, and one runtime dependency", () => {
    const pkg = JSON.parse(readFileSync(path.join(unpacked, "package.json"), "utf8")) as {
      type?: string;
      main?: string;
      types?: string;
      exports: Record<string, string | Record<string, string>>;
      dependencies?: Record<string, string>;
    };
    expect(pkg.type).toBe("module");
    const targets = [pkg.main, pkg.types];
    for (const entry of Object.values(pkg.exports)) {
      if (typeof entry === "string") targets.push(entry);
      else targets.push(...Object.values(entry));
    }
    for (const t of targets) {
      if (t === undefined || t.includes("*")) continue;
      expect(existsSync(path.join(unpacked, t)), `${t} (named in package.json) is in the package`).toBe(true);
    }
    expect(Object.keys(pkg.dependencies ?? {})).toEqual(["@assemblyscript/loader"]);
    // Optional peers only: npm never installs them for a user who does not ask.
    const peers = (pkg as { peerDependencies?: Record<string, string> }).peerDependencies ?? {};
    const meta = (pkg as { peerDependenciesMeta?: Record<string, { optional?: boolean }> }).peerDependenciesMeta ?? {};
    expect(Object.keys(peers).sort()).toEqual([...OPTIONAL_PEERS].sort());
    for (const p of Object.keys(peers)) expect(meta[p]?.optional, `${p} is an optional peer`).toBe(true);
  });

  it("imports only modules that it contains, Node built-ins, its declared dependency, or (lazily) an optional peer", () => {
    const files = listFiles(unpacked).filter((f) => f.endsWith(".js") || f.endsWith(".d.ts"));
    const builtins = new Set(builtinModules);
    const problems: string[] = [];
    let relative = 0;
    for (const f of files) {
      const source = readFileSync(path.join(unpacked, f), "utf8");
      for (const { spec, url } of specifiers(source)) {
        if (spec.startsWith(".")) {
          relative++;
          const target = path.posix.normalize(path.posix.join(path.posix.dirname(f), spec));
          let ok: boolean;
          if (spec.endsWith("/")) ok = existsSync(path.join(unpacked, target));
          else if (f.endsWith(".d.ts") && !url) ok = existsSync(path.join(unpacked, target.replace(/\.js$/, ".d.ts")));
          else ok = existsSync(path.join(unpacked, target));
          if (!ok) problems.push(`${f} refers to ${spec}, which is not in the package`);
        } else if (spec.startsWith("node:")) {
          if (!builtins.has(spec.slice(5))) problems.push(`${f} imports ${spec}, not a Node built-in`);
        } else if (spec !== "@assemblyscript/loader" && !OPTIONAL_PEERS.some((p) => spec === p || spec.startsWith(`${p}/`))) {
          problems.push(`${f} imports ${spec}, which is not a dependency of the package`);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(relative, "the scan found the package's own imports").toBeGreaterThan(10);
  });

  it("installs into an empty project from the tarballs alone, with nothing but itself and @assemblyscript/loader", () => {
    const modules = readdirSync(path.join(project, "node_modules")).filter((d) => !d.startsWith("."));
    expect(modules.sort()).toEqual(["@assemblyscript", "simdgrad"]);
    expect(readdirSync(path.join(project, "node_modules", "@assemblyscript"))).toEqual(["loader"]);
    expect(listFiles(path.join(project, "node_modules", "simdgrad"))).toEqual(packed!.files);
    // Both came from the local tarballs, none from a registry or a cache.
    const lock = JSON.parse(readFileSync(path.join(project, "package-lock.json"), "utf8")) as { packages: Record<string, { resolved?: string; version?: string }> };
    for (const dep of ["node_modules/simdgrad", "node_modules/@assemblyscript/loader"]) {
      expect(lock.packages[dep]?.resolved ?? "", dep).toMatch(/^file:/);
    }
    const pinned = (JSON.parse(readFileSync(path.join(ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, { version?: string }> }).packages;
    expect(lock.packages["node_modules/@assemblyscript/loader"]?.version).toBe(pinned["node_modules/@assemblyscript/loader"]?.version);
  });

  it("its installs use the tests' own empty home (npm, Deno and Bun caches), never the user's", () => {
    const home = testHome();
    expect(home).not.toBe(os.homedir());
    expect(existsSync(path.join(home, ".npm"))).toBe(true);
    expect(run("npm", ["config", "get", "cache"], project).stdout.trim()).toBe(path.join(home, ".npm"));
  });

  it("runs the README example under Node from the installed package: the loss falls and XOR is learned", () => {
    const out = parseExample(runNode([], path.basename(EXAMPLE), [], project).stdout);
    expectExampleLearned(out);
    // A plain `node` picks the relaxed build where relaxed SIMD is on by default (Node 22+),
    // the SIMD128 one where it needs a flag (Node 20).
    expect(out.features.build).toBe((relaxedFlagsOf(process.execPath) as string[]).length === 0 ? "relaxed" : "simd");
  });

  it("runs the README example under Deno, allowed to read the consumer project only", () => {
    const out = parseExample(runDeno(path.basename(EXAMPLE), [], project).stdout);
    expectExampleLearned(out);
  });

  it("type-checks a strict TypeScript consumer against the published .d.ts (no @types/node needed)", () => {
    writeFileSync(
      path.join(project, "consumer.ts"),
      [
        'import { init, type KernelSet, type Node, type Tensor } from "simdgrad";',
        "const sg = await init({ relaxedSimd: false });",
        "const t: Tensor = sg.tensor([1, 2], [1, 2]);",
        "const g = sg.graph();",
        'const x: Node = g.input([1, 2], "x");',
        'const W = g.param([2, 1], { init: "xavier", seed: 1, name: "W" });',
        'const loss = g.mse(g.matmul(x, W), g.input([1, 1], "y"));',
        "g.forward({ x: t.toArray(), y: [1] });",
        "g.backward(loss);",
        "const value: number = loss.value.toArray()[0]!;",
        "const relaxed: boolean = sg.features.relaxedSimd;",
        // the kernel sets: an option, a feature and an exported type
        'const set: KernelSet = sg.features.kernels;',
        'const small = await init({ kernels: "dense" });',
        "// @ts-expect-error a kernel set init does not know",
        'await init({ kernels: "conv" });',
        "await small.close();",
        "// @ts-expect-error a shape is an array of numbers",
        'sg.tensor("2x3");',
        // conv2d's bias sits in its options: a Node in the graph, a Tensor in the eager form
        'const img: Node = g.input([1, 5, 5, 3], "img");',
        "const conv: Node = g.conv2d(img, g.param([3, 3, 3, 4]), { padding: \"same\", bias: g.param([4]), activation: { name: \"leakyRelu\", slope: 0.1 } });",
        "const eager: Tensor = sg.conv2d(sg.tensor([1, 5, 5, 3]), sg.tensor([3, 3, 3, 4]), { bias: sg.tensor([4]), activation: \"relu\" });",
        "// @ts-expect-error a graph's bias is a Node, not a Tensor",
        "g.conv2d(img, g.param([3, 3, 3, 4]), { bias: sg.tensor([4]) });",
        "// @ts-expect-error an activation linear does not know",
        'g.conv2d(img, g.param([3, 3, 3, 4]), { activation: "relu6" });',
        "console.log(conv.shape, eager.shape);",
        "console.log(value, relaxed, set, W.grad?.shape);",
        "await sg.close();",
        "",
      ].join("\n"),
    );
    writeFileSync(
      path.join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          module: "nodenext",
          moduleResolution: "nodenext",
          target: "es2022",
          lib: ["es2022", "dom"],
          types: [],
          skipLibCheck: false,
        },
        files: ["consumer.ts"],
      }),
    );
    const tsc = path.join(ROOT, "node_modules", "typescript", "bin", "tsc");
    run(process.execPath, [tsc, "-p", "tsconfig.json"], project);
  });
});
