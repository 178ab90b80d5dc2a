/**
 * crossEntropy (integer labels) backward forms (p − [c = label])·g, the difference first: with
 * an infinite upstream gradient the labeled logit's gradient is −Inf (p < 1), as in PyTorch,
 * where p·g − g gave Inf − Inf = NaN. Found by the graph fuzzer (seed 31415926, simd build:
 * crossEntropy(z, t) scaled and divided by a zero param, whose gradient is then +Inf).
 */
import { describe, expect, it } from "vitest";
import { runtime } from "./helpers.js";

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
