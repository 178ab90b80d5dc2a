/**
 * The library in a real Firefox (SpiderMonkey, the engine the other tests never run): the
 * minified bundle loads from the demo's server, init() falls back to the SIMD128 build where
 * the engine has no relaxed SIMD (Firefox 140 ESR validates SIMD128 only; asked for by name,
 * it is refused with a reason), a small convnet and a causal attention graph train and
 * differentiate, worker threads start in the cross-origin-isolated page, a bad input gets its
 * clear error and the runtime keeps working,
 * and every number matches Node's SIMD128 build bit for bit (one thread and two in Firefox).
 * The page is driven without a browser driver (scripts/firefox-page.mjs); Debian's
 * firefox-esr package provides the browser (`.ci/run` installs it; FIREFOX names another binary).
 * Run with `npm run test:browser` (after `npm run build`).
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { firefoxBinary, inFirefox } from "../../scripts/firefox-page.mjs";
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

describe("the library in Firefox", () => {
  it("loads the bundle, falls back to SIMD128 (refuses relaxed SIMD asked for by name), trains a convnet and attention on one thread and two, and gives Node's bits", async () => {
    const exe = firefoxBinary();
    if (!exe) throw new Error("Firefox not found: install Debian's firefox-esr package or set FIREFOX");
    const server = await startServer({ port: 0 });
    let firefox: { version: string; result: unknown[] };
    try {
      firefox = await inFirefox(exe, CHECK, (origin: string) => ({ lib: `${origin}/dist/browser/simdgrad.min.js`, threads: [1, 2], askRelaxed: true }), server.url, { timeoutMs: 240_000 });
    } finally {
      await server.close();
    }
    const { default: check } = (await import(CHECK.href)) as { default: (input: object) => Promise<Run[]> };
    const [node] = JSON.parse(JSON.stringify(await check({ lib: pathToFileURL(resolve("dist/index.js")).href, relaxedSimd: false, threads: [1] }))) as Run[];

    expect(firefox.version).toMatch(/Firefox/);
    // Asked for by name, the relaxed build is refused with a reason, not swapped silently.
    const [asked, ...runs] = firefox.result as [{ relaxedError: string | null }, ...Run[]];
    expect(asked.relaxedError).toMatch(/^init: relaxedSimd: true was asked for, but this runtime does not support WebAssembly relaxed SIMD/);
    expect(runs).toHaveLength(2);
    expect(node!.features.build).toBe("simd");
    for (const [i, run] of runs.entries()) {
      // Firefox 140 ESR has no relaxed SIMD; init() was not told which build to load.
      expect(run.features).toEqual({ ...node!.features, threads: i + 1 });
      expect(run.features.warnings).toEqual([]);
      expect(run.losses).toHaveLength(30);
      expect(run.losses.at(-1)!).toBeLessThan(run.losses[0]! / 10);
      expect(run.error).toBe("matmul: inner dimensions differ: a is [2, 3], b is [4, 5]");
      expect(run.sameAfterError).toBe(true);
      for (const key of ["losses", "params", "attention", "product", "randn"] as const) {
        expect(run[key].length, key).toBeGreaterThan(0);
        expect(differences(run[key], node![key]), `${key} in Firefox with ${i + 1} thread(s) against Node`).toEqual({ count: 0, first: -1 });
      }
    }
  }, 300_000);
});
