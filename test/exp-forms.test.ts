/**
 * The kernels that take a cheaper form of the exponential where its argument allows one
 * give exp's own bits: softmax's e^(x − max) (the non-positive form) is exp(x − max). Checked
 * against the library's exp kernel and float32 arithmetic in JavaScript (Math.fround), bit for
 * bit, on both builds. (tanh no longer divides exp's value: its one form, M/(2 − M) with
 * M = 1 − e^−2|x| kept without cancellation, is checked against float64 in vmath.test.ts.)
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { SimdGrad } from "../src/index.js";
import { BUILD, guarded, kernels, runtime } from "./helpers.js";

let sg: SimdGrad;
beforeAll(async () => {
  sg = await runtime();
});

/** exp_f32 of xs through the kernel. */
function expOf(xs: Float32Array): Float32Array {
  const gx = guarded(sg, xs.length), gy = guarded(sg, xs.length);
  gx.set(xs);
  kernels(sg).exp_f32(gx.ptr, gy.ptr, xs.length);
  gx.check(); gy.check();
  return gy.view().slice();
}

describe(`exponential forms (${BUILD})`, () => {
  it("softmax's e^(x − max) is exp(x − max), bit for bit, rows of any length", () => {
    for (const cols of [1, 3, 4, 7, 64, 130]) {
      const rows = 50;
      const xs = Float32Array.from({ length: rows * cols }, (_, i) => Math.fround(Math.sin(i * 12.9898) * 30));
      const gx = guarded(sg, xs.length), gy = guarded(sg, xs.length);
      gx.set(xs);
      kernels(sg).softmax_forward(gx.ptr, gy.ptr, rows, cols, 1);
      gy.check();
      const y = gy.view().slice();
      const shifted = new Float32Array(xs.length);
      for (let r = 0; r < rows; r++) {
        const row = xs.subarray(r * cols, (r + 1) * cols);
        const m = Math.max(...row);
        for (let c = 0; c < cols; c++) shifted[r * cols + c] = Math.fround(row[c]! - m);
      }
      const e = expOf(shifted);
      for (let r = 0; r < rows; r++) {
        // y = e·(1/s) in float32 with s the row's sum in float64 (see softmax.ts): recover the
        // scale from the row's largest term (e = 1 there) and compare every term.
        const scale = y[r * cols + e.subarray(r * cols, (r + 1) * cols).indexOf(1)]!;
        for (let c = 0; c < cols; c++) expect(y[r * cols + c], `row ${r} col ${c} of ${cols}`).toBe(Math.fround(e[r * cols + c]! * scale));
      }
    }
  });
});
