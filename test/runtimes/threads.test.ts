/**
 * Threads outside the browser, from the packed package installed into an empty project:
 * train-threads.mjs runs three training steps of a 784→256 ReLU→10 network at batch 64 (every
 * matrix product of the step is above the size threshold, so it really splits across the
 * workers) under Node, Deno and Bun, with `init({ threads: 1 })` and `init({ threads: 2 })`.
 *
 * - The 2-thread run reports features.threads === 2 and no warning.
 * - Its losses and first-step gradients are bitwise identical to the 1-thread run of the same
 *   runtime and build: the library splits the output of a matrix product into blocks, each
 *   computed exactly as on one thread, and elementwise kernels by range, so no sum is
 *   reassociated (tolerance 0; the failure message gives the count of differing values and
 *   the largest difference relative to the tensor's largest magnitude).
 * - The process exits on its own after `sg.close()`, and also when the script never calls it
 *   (Node, Bun and Deno all run the pool on node:worker_threads, whose workers are unref'd). A process that hangs is killed after
 *   EXIT_TIMEOUT_MS and fails the test.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Packed, type RunResult, cleanup, findBinary, installConsumer, lastJson, pack, run } from "./fixture.js";

interface ThreadRun {
  runtime: string;
  features: { simd: boolean; relaxedSimd: boolean; threads: number; build: string; warnings: string[] };
  losses: number[];
  /** Base64 of each gradient's float32 bytes. */
  grads: Record<string, string>;
}

const SCRIPT = "train-threads.mjs";
/** Far longer than a run takes (under 2 s here): only a process that does not exit reaches it. */
const EXIT_TIMEOUT_MS = 60_000;
const SHAPES: Record<string, number> = { W1: 784 * 256, b1: 256, W2: 256 * 10, b2: 10 };

let packed: Packed | undefined;
let project = "";

beforeAll(() => {
  packed = pack();
  project = installConsumer(packed, "threads", [`test/runtimes/${SCRIPT}`]);
}, 180_000);

afterAll(() => cleanup(packed));

function runIn(runtime: "node" | "deno" | "bun", args: readonly string[]): RunResult {
  const cmd = runtime === "node" ? process.execPath : findBinary(runtime);
  const full =
    runtime === "node" ? [SCRIPT, ...args]
    : runtime === "bun" ? ["run", SCRIPT, ...args]
    : ["run", "--no-prompt", "--no-lock", `--allow-read=${project}`, SCRIPT, ...args];
  try {
    return run(cmd, full, project, EXIT_TIMEOUT_MS);
  } catch (e) {
    const why = (e as Error).message;
    throw new Error(
      /SIGTERM|ETIMEDOUT/.test(why)
        ? `${runtime} ${args.join(" ")}: the process did not exit on its own within ${EXIT_TIMEOUT_MS / 1000} s\n${why}`
        : why,
    );
  }
}

function parse(out: RunResult, threads: number): ThreadRun {
  const r = lastJson<ThreadRun>(out);
  expect(r.features.threads, `${r.runtime}: features.threads`).toBe(threads);
  expect(r.features.warnings, `${r.runtime}: warnings`).toEqual([]);
  expect(Object.keys(r.grads)).toEqual(Object.keys(SHAPES));
  expect(r.losses.length).toBe(4);
  for (const v of r.losses) expect(Number.isFinite(v), `${r.runtime}: loss ${v}`).toBe(true);
  return r;
}

function floats(b64: string): Float32Array {
  const bytes = Buffer.from(b64, "base64");
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
}

/** Every loss and gradient of `a` bitwise equal to `ref`'s. */
function expectSameRun(a: ThreadRun, ref: ThreadRun): void {
  const label = `${a.runtime} (${a.features.build}) ${a.features.threads} threads vs ${ref.features.threads}`;
  expect(a.features.build, label).toBe(ref.features.build);
  const pairs: [string, ArrayLike<number>, ArrayLike<number>][] = [["loss", a.losses, ref.losses]];
  for (const name of Object.keys(SHAPES)) pairs.push([`grad ${name}`, floats(a.grads[name]!), floats(ref.grads[name]!)]);
  for (const [what, x, y] of pairs) {
    expect(x.length, `${label}: ${what} length`).toBe(y.length);
    let scale = 0;
    for (let i = 0; i < y.length; i++) scale = Math.max(scale, Math.abs(y[i]!));
    let differing = 0;
    let first = -1;
    let worst = 0;
    for (let i = 0; i < y.length; i++) {
      if (Object.is(x[i], y[i])) continue;
      differing++;
      if (first < 0) first = i;
      worst = Math.max(worst, Math.abs(x[i]! - y[i]!) / (scale || 1));
    }
    expect(
      differing,
      `${label}: ${what}[${first}] is ${x[first]}, one thread gives ${y[first]}; ${differing} of ${y.length} values differ, by up to ${worst.toExponential(2)} of the largest |value|`,
    ).toBe(0);
  }
}

/** The gradients are real numbers, not all zeros (a comparison of zeros would prove nothing). */
function expectNontrivial(r: ThreadRun): void {
  for (const [name, size] of Object.entries(SHAPES)) {
    const g = floats(r.grads[name]!);
    expect(g.length, `${r.runtime}: grad ${name} size`).toBe(size);
    let nonzero = 0;
    for (const v of g) if (v !== 0) nonzero++;
    expect(nonzero, `${r.runtime}: nonzero values of grad ${name}`).toBeGreaterThan(size / 4);
  }
  expect(r.losses[r.losses.length - 1]!, `${r.runtime}: three steps lower the loss`).toBeLessThan(r.losses[0]!);
}

describe("a threaded training step from the installed package", () => {
  for (const runtime of ["node", "deno", "bun"] as const) {
    it(`${runtime}: init({ threads: 2 }) trains 784→256→10 at batch 64 exactly as one thread does, and exits after sg.close()`, () => {
      const one = parse(runIn(runtime, ["--threads", "1"]), 1);
      const two = parse(runIn(runtime, ["--threads", "2"]), 2);
      expect(two.runtime.startsWith(runtime), two.runtime).toBe(true);
      expectNontrivial(one);
      expectSameRun(two, one);
    });
  }

  it("deno: the SIMD128 build with 2 threads equals its 1-thread run too", () => {
    const one = parse(runIn("deno", ["--threads", "1", "--simd128"]), 1);
    const two = parse(runIn("deno", ["--threads", "2", "--simd128"]), 2);
    expect(two.features.build).toBe("simd");
    expectSameRun(two, one);
  });

  for (const runtime of ["node", "bun", "deno"] as const) {
    it(`${runtime}: a script that never calls sg.close() still exits on its own (unref'd workers), with the same numbers`, () => {
      const closed = parse(runIn(runtime, ["--threads", "2"]), 2);
      const open = parse(runIn(runtime, ["--threads", "2", "--no-close"]), 2);
      expectSameRun(open, closed);
    });
  }

  it("the package holds the worker script the threads start", () => {
    expect(packed!.files).toContain("dist/threads/worker.js");
    expect(packed!.files).toContain("dist/threads/pool.js");
  });
});
