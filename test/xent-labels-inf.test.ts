/**
 * crossEntropy (integer labels) backward forms (p − [c = label])·g, the difference first: with
 * an infinite upstream gradient the labeled logit's gradient is −Inf (p < 1), as in PyTorch,
 * where p·g − g gave Inf − Inf = NaN. Found by the graph fuzzer (seed 31415926, simd build:
 * crossEntropy(z, t) scaled and divided by a zero param, whose gradient is then +Inf).
 * And where float32 rounds the difference to 0 but it is not 0 (p = 1 at a label that
 * dwarfs the row's other logits, p = 0 at a class far below), the gradient is still the
 * infinity of the exact product's sign, not Inf·0 = NaN (fuzzer seed 2934, relaxed); NaN
 * stays only where the difference is 0 (every other class at −Inf).
 */
import { describe, expect, it } from "vitest";
import { kernels, runtime } from "./helpers.js";

describe("crossEntropy's gradient with an infinite upstream gradient", () => {
  for (const cols of [2, 3, 4, 5, 7, 8, 9]) {
    it(`${cols} classes, 3 rows, labels at the first, middle and last class: −Inf at the label, +Inf elsewhere, twice accumulated`, async () => {
      const sg = await runtime();
      const g = sg.graph();
      const rows = 3;
      const data = Array.from({ length: rows * cols }, (_, i) => Math.sin(i * 1.7) * 2);
      const z = g.param([rows, cols], { name: "z", data });
      const t = g.input([rows], "t");
      const loss = g.crossEntropy(z, t);
      const labels = [0, Math.floor(cols / 2), cols - 1];
      g.forward({ t: labels });
      g.backward(loss, [Infinity]);
      const want = Array.from({ length: rows * cols }, (_, i) => (i % cols === labels[Math.floor(i / cols)] ? -Infinity : Infinity));
      expect(Array.from(z.grad!.toArray())).toEqual(want);
      g.backward(loss, [Infinity]); // a param's gradient accumulates
      expect(Array.from(z.grad!.toArray())).toEqual(want);
      // A finite upstream gradient: (p − onehot)·dy/rows, as before.
      g.zeroGrad();
      g.backward(loss, [1.5]);
      const dz = z.grad!.toArray();
      for (let r = 0; r < rows; r++) {
        const row = data.slice(r * cols, (r + 1) * cols);
        const m = Math.max(...row);
        const s = row.reduce((a, v) => a + Math.exp(v - m), 0);
        row.forEach((v, c) => expect(dz[r * cols + c]).toBeCloseTo(((Math.exp(v - m) / s - (c === labels[r] ? 1 : 0)) * 1.5) / rows, 6));
      }
      g.dispose();
    });
  }
});

describe("crossEntropy's gradient where float32 rounds p − [c = label] to 0", () => {
  it("keeps the exact product's sign under an infinite upstream gradient, and NaN only where the difference is 0", async () => {
    const sg = await runtime();
    const g = sg.graph();
    // Row 0: the label (2) dwarfs the others, p = 1 in float32 (exactly 1 − 2·10⁻¹⁰…).
    // Row 1: class 0 lies 120 below the label: its p is 0 in float32 (exactly e^−120 > 0).
    // Row 2: every other class at −Inf: p = 1 exactly, the label's difference is 0.
    // Row 3: one class at −Inf beside a live one: its p is 0 exactly.
    const data = [-11.5, -1.4, 21, 0, 120, 5, -Infinity, -Infinity, 3, -Infinity, 2, 1];
    const z = g.input([4, 3], "z", { requiresGrad: true });
    const t = g.input([4], "t");
    const loss = g.crossEntropy(z, t);
    g.forward({ z: data, t: [2, 1, 2, 1] });
    g.backward(loss, [-Infinity]);
    expect(Array.from(z.grad!.toArray())).toEqual([
      -Infinity, -Infinity, Infinity,
      -Infinity, Infinity, -Infinity,
      NaN, NaN, NaN,
      NaN, Infinity, -Infinity,
    ]);
    // Row 2's non-label classes: p = 0 exactly at z = −Inf, so (0 − 0)·(−Inf) = NaN too.
    // A finite upstream gradient: where the difference rounded to 0 the result is at most one
    // subnormal step (2⁻¹⁴⁹·dloss/rows rounds to 0 here), never of the wrong sign.
    g.zeroGrad();
    g.backward(loss, [1]);
    const dz = z.grad!.toArray();
    expect(dz[2]! <= 0).toBe(true);
    expect(dz[8]).toBe(0);
    // The kernel reads the logits: a one-class row's difference is 0 (p = 1 exactly).
    const k = kernels(sg);
    const A = sg.rt.arena;
    const [zp, lp, pp, lossp, dl, dzp] = [4, 4, 4, 4, 4, 4].map((n) => A.alloc(n)) as [number, number, number, number, number, number];
    const f = () => new Float32Array(sg.rt.memory.buffer);
    f()[zp / 4] = 7; f()[lp / 4] = 0; f()[dl / 4] = Infinity;
    k.xent_labels_forward(zp, lp, pp, lossp, 1, 1);
    k.xent_labels_backward(pp, zp, lp, dl, dzp, 1, 1, 0);
    expect(f()[dzp / 4]).toBeNaN();
    g.dispose();
  });
});
