/**
 * div's gradient for the divisor, −dy·a/b², is formed as −(dy/b)·y: where a/b² alone
 * overflows float32 (b = 10⁻²⁰), a zero upstream gradient gives 0 and a small one a finite
 * value, where dy·(y/b) gave 0·Inf = NaN and ±Inf. Found by the graph fuzzer (seed 16180339,
 * simd build: div(a, gelu(x)) at x = −9.49, gelu 10⁻²⁰, backward through an empty slice).
 */
import { describe, expect, it } from "vitest";
import { runtime } from "./helpers.js";

describe("div's divisor gradient where a/b² overflows", () => {
  for (const [label, bShape, aShape] of [["same shapes", [3], [3]], ["b broadcast over rows", [3], [2, 3]], ["a broadcast", [2, 3], [3]]] as const) {
    it(`${label}: dy = 0 gives 0, dy = 10⁻¹⁰ gives −dy·a/b² (finite)`, async () => {
      const sg = await runtime();
      const g = sg.graph();
      const nb = bShape.reduce((u, v) => u * v, 1), na = aShape.reduce((u, v) => u * v, 1);
      const bv = Array.from({ length: nb }, (_, i) => [1e-20, -3e-20, 2][i % 3]!);
      const av = Array.from({ length: na }, (_, i) => [0.81, -0.65, 1.5][i % 3]!);
      const a = g.param([...aShape], { name: "a", data: av });
      const b = g.param([...bShape], { name: "b", data: bv });
      const q = g.div(a, b);
      g.forward();
      const n = q.size;
      g.backward(q, new Array(n).fill(0));
      expect(Array.from(b.grad!.toArray()).every((v) => v === 0), `${Array.from(b.grad!.toArray())}`).toBe(true);
      g.zeroGrad();
      g.backward(q, new Array(n).fill(1e-10));
      // Expected: Σ over the broadcast of −1e-10·a/b², in float64.
      const want = new Array(nb).fill(0);
      const [rows, cols] = [q.shape.length === 2 ? q.shape[0]! : 1, q.shape[q.shape.length - 1]!];
      for (let r = 0; r < rows; r++)
        for (let c = 0; c < cols; c++) {
          const ai = av[aShape.length === 2 ? r * cols + c : c]!, bi = bShape.length === 2 ? r * cols + c : c;
          want[bi] += (-1e-10 * ai) / (bv[bi]! * bv[bi]!);
        }
      const got = b.grad!.toArray();
      want.forEach((w, i) => {
        expect(Number.isFinite(got[i]!), `element ${i}: ${got[i]}`).toBe(true);
        expect(Math.abs(got[i]! - w) / Math.abs(w)).toBeLessThan(1e-5);
      });
      g.dispose();
    });
  }
});
