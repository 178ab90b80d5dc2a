/**
 * Attention on 2 and 3 threads equals one thread bit for bit: forward and backward split
 * whole batch·head slices, each computed as on one thread (tolerance 0). Slice counts that
 * do not divide evenly (3, 5, 7 over 2 and 3 threads), one slice (stays on its thread), and
 * gradients wanted for some inputs only (the others' pointers stay 0 on every thread).
 */
import { describe, expect, it } from "vitest";
import type { SimdGrad } from "../src/index.js";
import { randomArray, expectSameBits, threadRuntimes } from "./helpers.js";
import { reference } from "./attention-reference.js";

const runtimes = threadRuntimes();


/** y, dq, dk, dv (null where not wanted) of one attention forward + backward. */
function run(sg: SimdGrad, shape: number[], causal: boolean, wants: [boolean, boolean, boolean]): (Float32Array | null)[] {
  const n = shape.reduce((a, b) => a * b, 1);
  const g = sg.graph();
  const [q, k, v] = ["q", "k", "v"].map((name, i) => g.input(shape, name, { requiresGrad: wants[i] }));
  const y = g.attention(q!, k!, v!, { causal });
  g.forward({ q: randomArray(n, 11), k: randomArray(n, 12), v: randomArray(n, 13) });
  g.backward(y, randomArray(n, 14, -2, 2));
  const out = [y.value.toArray(), ...[q, k, v].map((x) => (x!.grad ? x!.grad.toArray() : null))];
  g.dispose();
  return out;
}

describe("attention on threads", () => {
  it("the runtimes with threads run the split kernels", () => {
    for (const t of [2, 3]) {
      expect(runtimes[t]!.features.threads).toBe(t);
      expect(runtimes[t]!.rt.kernels.attention_forward).not.toBe(runtimes[t]!.rt.rawKernels.attention_forward);
      expect(runtimes[t]!.rt.kernels.attention_backward).not.toBe(runtimes[t]!.rt.rawKernels.attention_backward);
    }
  });

  const cases: [number[], boolean][] = [
    [[3, 33, 24], true], // 3 slices: 2 + 1 on two threads, 1 + 1 + 1 on three
    [[5, 40, 16], false], // 5 slices: 3 + 2, 2 + 2 + 1
    [[7, 1, 37, 8], true], // 7 slices, T not a multiple of any block
    [[2, 3, 64, 64], true], // 6 slices, whole blocks
    [[1, 1, 130, 32], true], // one slice: stays on the calling thread
  ];
  for (const [shape, causal] of cases) {
    it(`forward and all three gradients: [${shape}] ${causal ? "causal" : "full"}`, () => {
      const one = run(runtimes[1]!, shape, causal, [true, true, true]);
      for (const t of [2, 3]) {
        const got = run(runtimes[t]!, shape, causal, [true, true, true]);
        ["y", "dq", "dk", "dv"].forEach((what, i) => expectSameBits(got[i]!, one[i]!, `${what}, ${t} threads`));
      }
    });
  }

  it("some gradients only: the others stay absent on every thread", () => {
    const shape = [5, 33, 16];
    for (const wants of [[true, false, false], [false, false, true], [false, true, true]] as [boolean, boolean, boolean][]) {
      const one = run(runtimes[1]!, shape, true, wants);
      for (const t of [2, 3]) {
        const got = run(runtimes[t]!, shape, true, wants);
        ["y", "dq", "dk", "dv"].forEach((what, i) => {
          if (i > 0 && !wants[i - 1]) expect(got[i], `${what}, ${t} threads`).toBeNull();
          else expectSameBits(got[i]!, one[i]!, `${what}, ${t} threads, wants ${wants}`);
        });
      }
    }
  });

  it("the split result is attention itself (checked against the float64 form)", () => {
    const shape = [5, 40, 16];
    const n = 5 * 40 * 16;
    const [y] = run(runtimes[2]!, shape, true, [true, true, true]);
    const r = reference(5, 40, 16, randomArray(n, 11), randomArray(n, 12), randomArray(n, 13), randomArray(n, 14, -2, 2), 1 / 4, true);
    for (let i = 0; i < n; i++) {
      const tol = 1e-5 * r.oMag[i]! + 1e-30;
      if (!(Math.abs(y![i]! - r.o[i]!) <= tol)) throw new Error(`y element ${i} is ${y![i]}, expected ${r.o[i]}`);
    }
  });
});

describe("attention on threads: long sequences", () => {
  // T·dh = 640·64 needs about 660 KB of scratch per thread, more than a worker starts with
  // (GEMM's packing bound): planning the graph enlarges every worker's scratch, so the call
  // is still split over the pool, and equals one thread bit for bit.
  const shape = [2, 640, 64];
  const need = (sg: SimdGrad) => sg.rt.rawKernels.attention_scratch_bytes(640, 64);

  it("the workers' scratch grows to what the graph needs and the call is split", () => {
    const sg = runtimes[2]!;
    expect(need(sg)).toBeGreaterThan(sg.rt.workerScratchBytes); // still the starting size here
    const pool = sg.rt.threadPool!;
    const go = pool.go;
    let splits = 0;
    pool.go = function (this: typeof pool, ...a: Parameters<typeof go>) {
      splits++;
      return go.apply(this, a);
    } as typeof go;
    let got: (Float32Array | null)[];
    try {
      got = run(sg, shape, true, [true, true, true]);
    } finally {
      pool.go = go;
    }
    expect(sg.rt.workerScratchBytes).toBeGreaterThanOrEqual(need(sg));
    expect(splits).toBeGreaterThanOrEqual(2); // forward and backward at least
    const one = run(runtimes[1]!, shape, true, [true, true, true]);
    ["y", "dq", "dk", "dv"].forEach((what, i) => expectSameBits(got[i]!, one[i]!, `${what}, 2 threads`));
  });

  it("eager calls enlarge it too, and a second graph allocates nothing more for it", () => {
    const sg = runtimes[3]!;
    const n = 2 * 640 * 64;
    const [q, k, v] = [21, 22, 23].map((seed) => sg.tensor(shape, randomArray(n, seed)));
    const y = sg.attention(q!, k!, v!, { causal: true });
    expect(sg.rt.workerScratchBytes).toBeGreaterThanOrEqual(need(sg));
    const bytes = sg.rt.workerScratchBytes;
    const one = runtimes[1]!;
    const [q1, k1, v1] = [21, 22, 23].map((seed) => one.tensor(shape, randomArray(n, seed)));
    expectSameBits(y.toArray(), one.attention(q1!, k1!, v1!, { causal: true }).toArray(), "eager y, 3 threads");
    run(sg, shape, true, [true, true, true]);
    expect(sg.rt.workerScratchBytes).toBe(bytes);
  });
});
