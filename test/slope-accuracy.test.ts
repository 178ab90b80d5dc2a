/**
 * σ's and tanh's slopes from the float32 output y, where y is near 1 (tanh's also near −1):
 * formed as y·(1 − y) and (1 − y)(1 + y), each within 1.5 ulp of that product of the float32
 * y, on both builds. The forms y − y² and 1 − y² lose the slope's leading digits to the
 * square's rounding there (seed 2938 of the graph fuzzer: log(log(σ(s))) at σ = 0.9976 gave
 * s's gradient 61 ulp off, 7·10⁻⁶ relative).
 */
import { describe, expect, it } from "vitest";
import { ACT } from "../src/ops/activations.js";
import { guarded, kernels, runtime } from "./helpers.js";

/** count float32 values from lo to hi, evenly spread in float32's order (lo, hi > 0). */
function near(lo: number, hi: number, count: number): Float32Array {
  const a = new Float32Array([lo, hi]);
  const bits = new Int32Array(a.buffer);
  const out = new Float32Array(count);
  const ob = new Int32Array(out.buffer);
  for (let i = 0; i < count; i++) ob[i] = bits[0]! + Math.round(((bits[1]! - bits[0]!) * i) / (count - 1));
  return out;
}
/** float32's spacing at |v| (v normal in float32): 2^(⌊log₂|v|⌋ − 23). */
const ulp = (v: number) => 2 ** (Math.floor(Math.log2(Math.abs(v))) - 23);

describe("the slopes of σ and tanh where y is near ±1", () => {
  const CASES = [
    { name: "sigmoid", code: ACT.sigmoid, ys: near(0.5, 1 - 2 ** -24, 4099), slope: (y: number) => y * (1 - y) },
    { name: "sigmoid (small y)", code: ACT.sigmoid, ys: near(1e-30, 0.5, 4099), slope: (y: number) => y * (1 - y) },
    { name: "tanh", code: ACT.tanh, ys: near(0.5, 1 - 2 ** -24, 4099), slope: (y: number) => (1 - y) * (1 + y) },
    { name: "tanh (negative)", code: ACT.tanh, ys: near(0.5, 1 - 2 ** -24, 4099).map((v) => -v), slope: (y: number) => (1 - y) * (1 + y) },
  ];
  for (const c of CASES) {
    it(`${c.name}: dx = dy·f′(y) within 1.5 ulp of the exact product, dy = 1`, async () => {
      const sg = await runtime();
      const k = kernels(sg);
      const n = c.ys.length;
      const Y = guarded(sg, n), DY = guarded(sg, n), DX = guarded(sg, n);
      try {
        Y.set(c.ys);
        DY.set(new Float32Array(n).fill(1));
        k.act_backward(c.code, 0, Y.ptr, DY.ptr, DX.ptr, n, 0, 0);
        const dx = DX.view();
        let worst = 0;
        for (let i = 0; i < n; i++) {
          const want = c.slope(c.ys[i]!);
          worst = Math.max(worst, Math.abs(dx[i]! - want) / ulp(want));
        }
        expect(worst).toBeLessThanOrEqual(1.5);
        for (const b of [Y, DY, DX]) b.check();
      } finally {
        for (const b of [Y, DY, DX]) b.free();
      }
    });
  }
});
