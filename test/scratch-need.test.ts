import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { init, type SimdGrad } from "../src/index.js";
import type { Graph, Node } from "../src/index.js";
import { BUILD, expectSameBits, randomArray } from "./helpers.js";
import { auditScratch } from "./scratch-audit.js";

// A graph plans one scratch block for its kernels. Its size must be what the kernels run
// with: a transpose folded into a batched matmul can turn a loop of B products of M rows into
// one GEMM of B·M rows (aᵀ read as a), which packs more. Planned from the unfolded geometry,
// the scratch was short and the GEMM spilled into the next block; on two threads that was the
// worker's scratch, so about one run in two gave wrong gradients (found by the graph fuzzer).

let one: SimdGrad;
let two: SimdGrad;
beforeAll(async () => {
  one = await init({ relaxedSimd: BUILD === "relaxed" });
  two = await init({ threads: 2, relaxedSimd: BUILD === "relaxed" });
});
afterAll(async () => {
  await one.close();
  await two.close();
});

/** matmul(transpose(p, [0, 2, 1]), x, {transposeA}) → logSoftmax over the rows. */
function build(sg: SimdGrad, b: number, m: number, k: number, n: number): { g: Graph; p: Node; t: Node; y: Node } {
  const g = sg.graph();
  const p = g.param([b, m, k], { data: randomArray(b * m * k, 7, -1, 1), name: "p" });
  const x = g.input([m, n], "x");
  const t = g.transpose(p, [0, 2, 1]);
  const y = g.logSoftmax(g.matmul(t, x, { transposeA: true }), -2);
  return { g, p, t, y };
}

function gradOf(sg: SimdGrad, b: number, m: number, k: number, n: number): { grad: Float32Array; folded: boolean; calls: number; violations: string[] } {
  const { g, p, t, y } = build(sg, b, m, k, n);
  try {
    const x = randomArray(m * n, 11, -1, 1);
    const audit = auditScratch(g._host, () => {
      g.forward({ x });
      g.backward(y, randomArray(y.size, 13, -1, 1));
    });
    return { grad: p.grad!.toArray(), folded: t._folded === true, calls: audit.calls, violations: audit.violations };
  } finally {
    g.dispose();
  }
}

describe("graph scratch covers the geometry the kernels run with", () => {
  it("a folded transpose that folds a batch into the GEMM's rows (the fuzzer's graph)", () => {
    const r = gradOf(one, 3, 130, 130, 33);
    expect(r.folded, "the transpose is folded into the matmul").toBe(true);
    expect(r.calls).toBeGreaterThan(0);
    expect(r.violations).toEqual([]);
  });

  it("two threads give one thread's gradient, run after run", () => {
    const want = gradOf(one, 3, 130, 130, 33).grad;
    for (let i = 0; i < 6; i++) expectSameBits(gradOf(two, 3, 130, 130, 33).grad, want, `run ${i}`);
  });

  it("convolutions (direct, packed, fused, F not a multiple of 4) and attention, on 1 and 2 threads", () => {
    const convs: [number[], number[], object][] = [
      [[4, 12, 12, 1], [5, 5, 1, 6], { padding: 2, activation: "relu" }],
      [[2, 16, 16, 3], [3, 3, 3, 16], { padding: "same" }],
      [[2, 14, 14, 16], [3, 3, 16, 32], { stride: 2, padding: 1, activation: "tanh" }],
      [[1, 9, 9, 8], [3, 3, 8, 10], {}],
    ];
    for (const sg of [one, two]) {
      for (const [xs, fs, opts] of convs) {
        const g = sg.graph();
        try {
          const x = g.input(xs, "x", { requiresGrad: true });
          const f = g.param(fs, { data: randomArray(fs.reduce((a, b) => a * b, 1), 3, -0.5, 0.5), name: "f" });
          const b = g.param([fs[3]!], { data: randomArray(fs[3]!, 4, -0.5, 0.5), name: "b" });
          const y = g.conv2d(x, f, { ...opts, bias: b } as never);
          const audit = auditScratch(g._host, () => {
            g.forward({ x: randomArray(xs.reduce((a, c) => a * c, 1), 9, -1, 1) });
            g.backward(y, randomArray(y.size, 10, -1, 1));
          });
          expect(audit.calls, `conv ${xs} * ${fs}`).toBeGreaterThanOrEqual(3);
          expect(audit.violations, `conv ${xs} * ${fs}`).toEqual([]);
        } finally {
          g.dispose();
        }
      }
      const g = sg.graph();
      try {
        const shape = [2, 37, 4 * 16];
        const [q, k, v] = ["q", "k", "v"].map((name) => g.input(shape, name, { requiresGrad: true }));
        const y = g.attention(q!, k!, v!, { causal: true, heads: 4 });
        const n = shape.reduce((a, b) => a * b, 1);
        const audit = auditScratch(g._host, () => {
          g.forward({ q: randomArray(n, 1, -1, 1), k: randomArray(n, 2, -1, 1), v: randomArray(n, 3, -1, 1) });
          g.backward(y, randomArray(y.size, 4, -1, 1));
        });
        expect(audit.calls, "attention").toBeGreaterThanOrEqual(2);
        expect(audit.violations, "attention").toEqual([]);
      } finally {
        g.dispose();
      }
    }
  });

  it("any batched product with its operands' transposes folded or copied", () => {
    const dim = fc.integer({ min: 1, max: 150 });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), dim, dim, dim, fc.boolean(), fc.boolean(), fc.boolean(), (b, m, k, n, tA, tB, fold) => {
        const g = one.graph();
        g._foldLayouts = fold;
        try {
          // a [b, k, m] transposed to [b, m, k] (read back as aᵀ with transposeA), w [n, k] or [k, n].
          const a = g.param(tA ? [b, m, k] : [b, k, m], { data: randomArray(b * m * k, b + m, -1, 1), name: "a" });
          const w = g.param(tB ? [k, n] : [n, k], { data: randomArray(k * n, k + n, -1, 1), name: "w" });
          const y = g.matmul(g.transpose(a, [0, 2, 1]), g.transpose(w), { transposeA: tA, transposeB: tB });
          const audit = auditScratch(g._host, () => {
            g.forward({});
            g.backward(y, randomArray(y.size, 5, -1, 1));
          });
          expect(audit.calls, "GEMM calls").toBeGreaterThan(0);
          expect(audit.violations).toEqual([]);
        } finally {
          g.dispose();
        }
      }),
      { numRuns: 60, seed: 4211 },
    );
  });
});
