/**
 * What the runtime and packaging tests share: packing the built package with `npm pack`,
 * installing the tarball into an empty project outside the source tree (as a user would), and
 * running scripts there under Node, Deno and Bun.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (the package being tested). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/**
 * A runtime's binary as installed from npm (devDependencies `deno` and `bun`): the one the
 * package's postinstall put in place, or else (install scripts skipped) the binary inside the
 * platform package it pulled in (@deno/linux-x64-glibc, @oven/bun-linux-x64, ...).
 */
export function findBinary(pkg: "deno" | "bun"): string {
  const nm = path.join(ROOT, "node_modules");
  const real = (p: string) => existsSync(p) && statSync(p).size > 1 << 20; // not a stub script
  const main = pkg === "deno" ? path.join(nm, "deno", "deno") : path.join(nm, "bun", "bin", "bun.exe");
  if (real(main)) return main;
  const scope = path.join(nm, pkg === "deno" ? "@deno" : "@oven");
  const prefix = pkg === "deno" ? `${process.platform}-${process.arch}` : `bun-${process.platform}-${process.arch}`;
  if (existsSync(scope)) {
    for (const dir of readdirSync(scope).filter((d) => d.startsWith(prefix)).sort()) {
      const bin = pkg === "deno" ? path.join(scope, dir, "deno") : path.join(scope, dir, "bin", "bun");
      if (real(bin)) return bin;
    }
  }
  throw new Error(`no ${pkg} binary under node_modules (the ${pkg} devDependency installs one for this platform: run npm ci)`);
}


/** Files that `npm pack` needs from a build; tests fail with this message when one is missing. */
const BUILT = ["dist/index.js", "dist/index.d.ts", "build/simdgrad.simd.wasm", "build/simdgrad.relaxed.wasm", "build/simdgrad.dense.simd.wasm", "build/simdgrad.dense.relaxed.wasm"];

export interface RunResult {
  stdout: string;
  stderr: string;
}

/**
 * A home directory of the tests' own, new and empty for every test process: npm's cache and
 * user config, Deno's and Bun's caches all live under it, so what the user's machine has
 * cached (or left from an earlier run) can never decide a result.
 */
let freshHome: string | null = null;
export function testHome(): string {
  if (freshHome === null || !existsSync(freshHome)) {
    freshHome = mkdtempSync(path.join(os.tmpdir(), "simdgrad-home-"));
    process.once("exit", () => rmSync(freshHome!, { recursive: true, force: true }));
  }
  return freshHome;
}

/**
 * The environment for child processes: this one without npm's per-script variables and
 * NODE_OPTIONS (so "no flags" really means none), with update checks and telemetry off, and
 * every cache under `testHome()`.
 */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith("npm_") || k.startsWith("NPM_CONFIG_") || k === "NODE_OPTIONS" || k.startsWith("VITEST") || k === "SIMDGRAD_BUILD") continue;
    if (k === "DENO_DIR" || k === "BUN_INSTALL_CACHE_DIR" || k.startsWith("XDG_")) continue;
    env[k] = v;
  }
  const home = testHome();
  env.HOME = home;
  env.USERPROFILE = home;
  env.XDG_CACHE_HOME = path.join(home, ".cache");
  env.npm_config_cache = path.join(home, ".npm");
  env.npm_config_update_notifier = "false";
  env.DENO_DIR = path.join(home, ".cache", "deno");
  env.BUN_INSTALL_CACHE_DIR = path.join(home, ".cache", "bun");
  env.DENO_NO_UPDATE_CHECK = "1";
  env.DO_NOT_TRACK = "1";
  env.NO_COLOR = "1";
  return env;
}

/** Runs a command to completion; throws with its output if it fails. */
export function run(cmd: string, args: readonly string[], cwd: string, timeoutMs = 120_000): RunResult {
  const r = spawnSync(cmd, args, { cwd, env: childEnv(), encoding: "utf8", timeout: timeoutMs, maxBuffer: 64 << 20 });
  const what = `${path.basename(cmd)} ${args.join(" ")} (in ${cwd})`;
  if (r.error) throw new Error(`${what} could not run: ${r.error.message}`);
  if (r.status !== 0) {
    throw new Error(`${what} exited with ${r.status ?? r.signal}:\n${r.stderr}\n${r.stdout}`.trim());
  }
  return { stdout: r.stdout, stderr: r.stderr };
}

/** Runs `node [flags] script [args]` with this Node binary. */
export function runNode(flags: readonly string[], script: string, args: readonly string[], cwd: string): RunResult {
  return run(process.execPath, [...flags, script, ...args], cwd);
}

/** Runs a script under Deno, allowed to read `cwd` only (so not the source tree), no prompts. */
export function runDeno(script: string, args: readonly string[], cwd: string): RunResult {
  return run(findBinary("deno"), ["run", "--no-prompt", "--no-lock", `--allow-read=${cwd}`, script, ...args], cwd);
}

/** Runs a script under Bun. */
export function runBun(script: string, args: readonly string[], cwd: string): RunResult {
  return run(findBinary("bun"), ["run", script, ...args], cwd);
}

/** The last line of output, parsed as JSON. */
export function lastJson<T>(out: RunResult): T {
  const lines = out.stdout.trim().split("\n");
  const last = lines[lines.length - 1] ?? "";
  try {
    return JSON.parse(last) as T;
  } catch {
    throw new Error(`expected a line of JSON, got:\n${out.stdout}\n${out.stderr}`);
  }
}

export interface Packed {
  /** A temporary directory holding the tarball (and whatever is installed beside it). */
  dir: string;
  tarball: string;
  /** The package's runtime dependencies, each packed from this project's node_modules. */
  dependencies: string[];
  /** Paths inside the package, as `npm pack` lists them. */
  files: string[];
  /** Compressed and unpacked sizes in bytes. */
  size: number;
  unpackedSize: number;
}

/** `npm pack` of the current build into a new temporary directory. */
export function pack(): Packed {
  const missing = BUILT.filter((f) => !existsSync(path.join(ROOT, f)));
  if (missing.length > 0) {
    throw new Error(`package tests need a build (missing ${missing.join(", ")}): run \`npm run build\` first (\`npm test\` does)`);
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), "simdgrad-pack-"));
  // Lifecycle scripts are skipped: the tests pack the build that exists, they do not rebuild it.
  const out = run("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", dir], ROOT);
  const info = (JSON.parse(out.stdout) as { filename: string; size: number; unpackedSize: number; files: { path: string }[] }[])[0]!;
  // The dependencies come from the project's own node_modules (what `npm ci` installed, at
  // the versions package-lock.json pins), packed beside the tarball, so installing the
  // package needs no registry and no npm cache.
  const deps = Object.keys((JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { dependencies?: Record<string, string> }).dependencies ?? {});
  const depDir = path.join(dir, "deps");
  mkdirSync(depDir);
  const dependencies = deps.map((name) => {
    const src = path.join(ROOT, "node_modules", name);
    if (!existsSync(path.join(src, "package.json"))) throw new Error(`package tests need the dependency ${name} in node_modules: run npm ci`);
    const o = run("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", depDir, src], ROOT);
    return path.join(depDir, (JSON.parse(o.stdout) as { filename: string }[])[0]!.filename);
  });
  return {
    dir,
    tarball: path.join(dir, info.filename),
    dependencies,
    files: info.files.map((f) => f.path).sort(),
    size: info.size,
    unpackedSize: info.unpackedSize,
  };
}

/**
 * A registry nobody serves (a closed port on this machine): any attempt of npm to reach a
 * registry fails at once, so an install that succeeds needed nothing but the tarballs.
 */
export const NO_REGISTRY = "http://127.0.0.1:9/";

/**
 * An empty ESM project in `packed.dir/<name>` with the tarball and its dependencies' tarballs
 * installed by `npm install`, with the tests' own empty npm cache and no reachable registry,
 * and `scripts` copied in. Returns the project directory.
 */
export function installConsumer(packed: Packed, name: string, scripts: readonly string[]): string {
  const project = path.join(packed.dir, name);
  rmSync(project, { recursive: true, force: true });
  mkdirSync(project, { recursive: true });
  writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: `simdgrad-${name}`, private: true, type: "module" }, null, 2));
  run(
    "npm",
    ["install", ...packed.dependencies, packed.tarball, "--no-audit", "--no-fund", "--ignore-scripts", `--registry=${NO_REGISTRY}`, "--fetch-retries=0"],
    project,
  );
  for (const s of scripts) copyFileSync(path.join(ROOT, s), path.join(project, path.basename(s)));
  return project;
}

/** Removes a temporary directory made by `pack`. */
export function cleanup(packed: Packed | undefined): void {
  if (packed && packed.dir.startsWith(os.tmpdir())) rmSync(packed.dir, { recursive: true, force: true });
}
