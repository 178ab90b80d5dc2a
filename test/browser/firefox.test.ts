/**
 * The library in a real Firefox (SpiderMonkey, the engine the other tests never run): the
 * minified bundle loads from the demo's server; init({ relaxedSimd: true }) loads the relaxed
 * build where the engine has relaxed SIMD (Firefox 153 ESR) and is refused with its reason
 * where it has not (140 ESR); the SIMD128 build asked for by name, and init's own choice,
 * each train a small convnet and a causal attention graph on 1 and 2 worker threads in the
 * cross-origin-isolated page, on the 4 × 8 tiles init takes under SpiderMonkey (where the
 * relaxed build's 5 × 8 ran slower); a bad input gets its clear error and the runtime keeps
 * working; and every number matches Node's run of the same build bit for bit (Node, on 5 × 8
 * in the relaxed build, in a child process with the relaxed-SIMD flag where Node 20 needs it,
 * so it can run both builds).
 * The page is driven without a browser driver (scripts/firefox-page.mjs); Debian's
 * firefox-esr package provides the browser (`.ci/run` installs it; FIREFOX names another binary).
 * Run with `npm run test:browser` (after `npm run build`).
 */
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { firefoxBinary, inFirefox } from "../../scripts/firefox-page.mjs";
import { relaxedFlagsOf } from "../../scripts/relaxed-simd.mjs";
import { startServer } from "../../demo/web/serve.js";

interface Run {
  features: { build: string; relaxedSimd: boolean; threads: number; kernels: string; gemmTile: string; warnings: string[] };
  losses: number[];
  params: number[];
  attention: number[];
  product: number[];
  randn: number[];
  error: string | null;
  sameAfterError: boolean;
}
interface Check {
  relaxedError?: string | null;
  runs: Run[];
}

const CHECK = pathToFileURL(resolve("test/browser/firefox-check.mjs"));

/** Where two arrays of numbers differ (Object.is: -0 and NaN count): the count and the first index. */
function differences(a: number[], b: number[]): { count: number; first: number } {
  let count = Math.abs(a.length - b.length);
  let first = a.length === b.length ? -1 : Math.min(a.length, b.length);
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (!Object.is(a[i], b[i])) {
      count++;
      if (first < 0) first = i;
    }
  }
  return { count, first };
}

/** The check in a Node child process that can load both builds (Node 20 needs a flag for relaxed SIMD). */
function inNode(input: object): Check {
  const script = `const { default: check } = await import(${JSON.stringify(CHECK.href)}); console.log(JSON.stringify(await check(${JSON.stringify(input)})));`;
  const r = spawnSync(process.execPath, [...relaxedFlagsOf(process.execPath), "--input-type=module", "-e", script], { encoding: "utf8", maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`the check in Node exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as Check;
}

describe("the library in Firefox", () => {
  it("loads the bundle, loads or refuses relaxed SIMD by what the engine has, trains a convnet and attention on each build, one thread and two, and gives Node's bits", async () => {
    const exe = firefoxBinary();
    if (!exe) throw new Error("Firefox not found: install Debian's firefox-esr package or set FIREFOX");
    // SIMD128 by name, then init's own choice, each on one thread and two.
    const runs = [{ relaxedSimd: false, threads: 1 }, { relaxedSimd: false, threads: 2 }, { threads: 1 }, { threads: 2 }];
    const server = await startServer({ port: 0 });
    let firefox: { version: string; result: Check };
    try {
      firefox = await inFirefox(exe, CHECK, (origin: string) => ({ lib: `${origin}/dist/browser/simdgrad.min.js`, runs, askRelaxed: true }), server.url, { timeoutMs: 240_000 });
    } finally {
      await server.close();
    }
    const node = inNode({ lib: pathToFileURL(resolve("dist/index.js")).href, runs: [{ relaxedSimd: false, threads: 1 }, { relaxedSimd: true, threads: 1 }, { threads: 1 }] });
    const [nodeSimd, nodeRelaxed, nodeDefault] = node.runs;
    expect(nodeSimd!.features.build).toBe("simd");
    expect(nodeRelaxed!.features.build).toBe("relaxed");

    expect(firefox.version).toMatch(/Firefox/);
    const { relaxedError, runs: got } = firefox.result;
    // Asked for by name, the relaxed build loads, or is refused with a reason (not swapped silently).
    if (relaxedError !== null) expect(relaxedError).toMatch(/^init: relaxedSimd: true was asked for, but this runtime does not support WebAssembly relaxed SIMD/);
    expect(got).toHaveLength(4);
    // init's own choice: where Firefox has relaxed SIMD, Node's choice on this CPU (the relaxed
    // build where its multiply-add fuses); where it has not, SIMD128. Its tile under
    // SpiderMonkey is 4 × 8 in either build (Node's relaxed default is 5 × 8): the same bits.
    const chosen = relaxedError === null ? nodeDefault!.features.build : "simd";
    expect(nodeDefault!.features.gemmTile).toBe(nodeDefault!.features.build === "relaxed" ? "5x8" : "4x8");
    for (const [i, run] of got.entries()) {
      const build = i < 2 ? "simd" : chosen;
      const ref = build === "simd" ? nodeSimd! : nodeRelaxed!;
      const what = `Firefox, ${runs[i]!.relaxedSimd === false ? "SIMD128 asked for" : "init's choice"}, ${runs[i]!.threads} thread(s)`;
      expect(run.features, what).toEqual({ ...ref.features, threads: runs[i]!.threads, gemmTile: "4x8" });
      expect(run.features.warnings, what).toEqual([]);
      expect(run.losses).toHaveLength(30);
      expect(run.losses.at(-1)!).toBeLessThan(run.losses[0]! / 10);
      expect(run.error).toBe("matmul: inner dimensions differ: a is [2, 3], b is [4, 5]");
      expect(run.sameAfterError).toBe(true);
      for (const key of ["losses", "params", "attention", "product", "randn"] as const) {
        expect(run[key].length, key).toBeGreaterThan(0);
        expect(differences(run[key], ref[key]), `${key}: ${what}, against Node's ${build} build`).toEqual({ count: 0, first: -1 });
      }
    }
  }, 300_000);
});
