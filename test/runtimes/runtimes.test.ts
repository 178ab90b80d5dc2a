/**
 * One training run on every JavaScript runtime simdgrad supports outside the browser: the
 * packed package is installed into an empty project outside the source tree, and
 * train-small.mjs (a 2→8 tanh→1 network, fixed seeds, fixed data, 40 SGD steps) runs there
 * under Node with the SIMD128 build, Node with the relaxed-SIMD build (Node 20 needs V8's
 * flag for it, Node 22+ has it on and rejects the flag: scripts/relaxed-simd.mjs), Deno and Bun.
 * Every run must learn, and must agree with the Node SIMD128 run:
 *
 * - SIMD128 build against SIMD128 build: |a − b| ≤ 1e-6 · max(1, |b|). WebAssembly SIMD128
 *   arithmetic is deterministic, so only the JavaScript side (Math.log/sin/cos in the seeded
 *   initialisation, which engines may round differently in the last bit) could differ.
 * - relaxed build against SIMD128 build: |a − b| ≤ 1e-5 · max(1, |b|). f32x4.relaxed_madd may
 *   fuse the multiply-add (one rounding instead of two): about 1e-7 relative per step here,
 *   compounding over the steps. A wrong kernel is off by 1e-2 or more.
 */
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Packed, type RunResult, cleanup, installConsumer, lastJson, pack, runBun, runDeno, runNode } from "./fixture.js";
// @ts-ignore: a plain ESM script without types
import { relaxedFlags } from "../../scripts/relaxed-simd.mjs";

interface TrainRun {
  runtime: string;
  resolved: string;
  features: { simd: boolean; relaxedSimd: boolean; threads: number; build: string; arch?: string; gemmTile: string; kernels: string };
  losses: number[];
  grads: Record<string, number[]>;
}

const SCRIPT = "train-small.mjs";
const TOL_SAME_BUILD = 1e-6;
const TOL_RELAXED = 1e-5;
/** What this Node needs for relaxed SIMD: [flag] on Node 20, [] on Node 22+. */
const FLAGS: string[] = relaxedFlags();
const DEFAULT_RELAXED = FLAGS.length === 0;

let packed: Packed | undefined;
let project = "";
let baselineRun: TrainRun | undefined;

beforeAll(() => {
  packed = pack();
  project = installConsumer(packed, "runtimes", [`test/runtimes/${SCRIPT}`]);
}, 180_000);

afterAll(() => cleanup(packed));

function parse(out: RunResult): TrainRun {
  const r = lastJson<TrainRun>(out);
  // The package came from the installed tarball, not from the source tree.
  expect(r.resolved.startsWith(pathToFileURL(path.join(project, "node_modules", "simdgrad")).href + "/"), r.resolved).toBe(true);
  expect(r.features.simd).toBe(true);
  // Every runtime names the CPU as Node does (Deno's "x86_64" is "x64"), and auto's tile follows it.
  expect(r.features.arch, r.runtime).toBe(process.arch);
  expect(r.features.gemmTile, r.runtime).toBe(process.arch === "arm64" ? "4x16" : r.features.build === "relaxed" ? "5x8" : "4x8");
  return r;
}

/** The reference: Node, no flags, init({ relaxedSimd: false }), so the SIMD128 build. */
function baseline(): TrainRun {
  if (!baselineRun) {
    baselineRun = parse(runNode([], SCRIPT, ["--simd128"], project));
    expect(baselineRun.runtime).toMatch(/^node /);
    expect(baselineRun.features.build).toBe("simd");
  }
  return baselineRun;
}

function expectLearns(r: TrainRun): void {
  const l = r.losses;
  expect(l.length).toBe(41);
  for (const v of l) expect(Number.isFinite(v), `${r.runtime}: loss ${v}`).toBe(true);
  expect(l[1]!, `${r.runtime}: the first step lowers the loss`).toBeLessThan(l[0]!);
  expect(l[l.length - 1]!, `${r.runtime}: 40 steps divide the loss by 5 or more`).toBeLessThan(l[0]! / 5);
}

/** Every loss and every first-step gradient of `r` is within `tol` (relative) of the baseline. */
function expectMatches(r: TrainRun, ref: TrainRun, tol: number): void {
  const label = `${r.runtime} (${r.features.build}) vs ${ref.runtime} (${ref.features.build})`;
  expect(Object.keys(r.grads)).toEqual(["W1", "b1", "W2", "b2"]);
  const pairs: [string, number[], number[]][] = [["loss", r.losses, ref.losses]];
  for (const name of Object.keys(ref.grads)) pairs.push([`grad ${name}`, r.grads[name]!, ref.grads[name]!]);
  for (const [what, a, b] of pairs) {
    expect(a.length, `${label}: ${what} length`).toBe(b.length);
    for (let i = 0; i < b.length; i++) {
      const err = Math.abs(a[i]! - b[i]!);
      expect(err, `${label}: ${what}[${i}] is ${a[i]}, reference ${b[i]}`).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(b[i]!)));
    }
  }
}

describe("the same training run on every runtime, from the installed package", () => {
  it(`Node with no flags loads the build its engine has (${DEFAULT_RELAXED ? "relaxed SIMD" : "SIMD128"} here) and learns`, () => {
    const r = parse(runNode([], SCRIPT, [], project));
    expect(r.features.relaxedSimd).toBe(DEFAULT_RELAXED);
    expect(r.features.build).toBe(DEFAULT_RELAXED ? "relaxed" : "simd");
    expectLearns(r);
    // The gradients after the first backward are real numbers, not all zero.
    expect(r.grads.W1!.some((v) => Math.abs(v) > 1e-3)).toBe(true);
    expectMatches(r, baseline(), DEFAULT_RELAXED ? TOL_RELAXED : TOL_SAME_BUILD);
  });

  it(`Node with ${FLAGS.join(" ") || "no flags"} loads the relaxed build and agrees within 1e-5`, () => {
    const r = parse(runNode(FLAGS, SCRIPT, [], project));
    expect(r.features.build).toBe("relaxed");
    expect(r.features.relaxedSimd).toBe(true);
    expectLearns(r);
    expectMatches(r, baseline(), TOL_RELAXED);
  });

  it("Node with relaxed SIMD but init({ relaxedSimd: false }) gets the SIMD128 build and the same numbers", () => {
    const r = parse(runNode(FLAGS, SCRIPT, ["--simd128"], project));
    expect(r.features.build).toBe("simd");
    expectMatches(r, baseline(), TOL_SAME_BUILD);
  });

  it("Deno (read access to the consumer project only) picks relaxed SIMD and agrees within 1e-5", () => {
    const r = parse(runDeno(SCRIPT, [], project));
    expect(r.runtime).toMatch(/^deno /);
    expect(r.features.build).toBe("relaxed");
    expectLearns(r);
    expectMatches(r, baseline(), TOL_RELAXED);
  });

  it("Deno with the SIMD128 build agrees within 1e-6", () => {
    const r = parse(runDeno(SCRIPT, ["--simd128"], project));
    expect(r.features.build).toBe("simd");
    expectLearns(r);
    expectMatches(r, baseline(), TOL_SAME_BUILD);
  });

  it("Bun (whose relaxed_madd is a multiply and an add, not fused) gets the SIMD128 build by default and agrees within 1e-6", () => {
    const r = parse(runBun(SCRIPT, [], project));
    expect(r.runtime).toMatch(/^bun /);
    expect(r.features.build).toBe("simd");
    expect(r.features.relaxedSimd).toBe(false);
    expectLearns(r);
    expectMatches(r, baseline(), TOL_SAME_BUILD);
  });

  it("Bun with the SIMD128 build agrees within 1e-6", () => {
    const r = parse(runBun(SCRIPT, ["--simd128"], project));
    expect(r.features.build).toBe("simd");
    expectLearns(r);
    expectMatches(r, baseline(), TOL_SAME_BUILD);
  });

  it("the dense kernel set (init({ kernels: \"dense\" }), its own .wasm) loads from the package under Node, Deno and Bun and gives the full set's numbers", () => {
    const runs = [
      parse(runNode([], SCRIPT, ["--simd128", "--dense"], project)),
      parse(runDeno(SCRIPT, ["--simd128", "--dense"], project)),
      parse(runBun(SCRIPT, ["--simd128", "--dense"], project)),
      parse(runNode(FLAGS, SCRIPT, ["--dense"], project)),
    ];
    expect(baseline().features.kernels).toBe("all");
    for (const r of runs) {
      expect(r.features.kernels, r.runtime).toBe("dense");
      expectLearns(r);
    }
    // Node's SIMD128 run: the very bits of the full set's.
    expect(runs[0]!.losses).toEqual(baseline().losses);
    expect(runs[0]!.grads).toEqual(baseline().grads);
    for (const r of runs.slice(1, 3)) expectMatches(r, baseline(), TOL_SAME_BUILD);
    expect(runs[3]!.features.build).toBe("relaxed");
    expectMatches(runs[3]!, baseline(), TOL_RELAXED);
  });
});
