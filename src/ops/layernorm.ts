/**
 * Layer normalisation over the last axis with a learned scale γ and shift β (both [D]):
 * y = (x − mean)/√(var + eps)·γ + β, statistics per row over the last axis (biased
 * variance, as PyTorch and TensorFlow.js). Fused kernels: assembly/layernorm.ts; forward
 * saves each row's mean and 1/σ, backward makes dx, dγ and dβ in two passes over a row.
 */
import { type Shape, fmtShape } from "../runtime/shape.js";
import { type In, call, defineOp, method } from "./define.js";

declare module "../runtime/kernels.js" {
  interface Kernels {
    layernorm_forward(x: number, gamma: number, beta: number, y: number, mean: number, rstd: number, rows: number, cols: number, eps: number): void;
    layernorm_backward(x: number, gamma: number, mean: number, rstd: number, dy: number, dx: number, dgamma: number, dbeta: number, rows: number, cols: number, accumulate: number): void;
  }
}

export interface LayerNormAttrs {
  readonly eps: number;
}

/** [rows, D] of x: D is the last axis, rows the product of the others. */
function rowsOf(s: Shape): [number, number] {
  const d = s[s.length - 1]!;
  let r = 1;
  for (let i = 0; i < s.length - 1; i++) r *= s[i]!;
  return [r, d];
}

export const layerNormOp = defineOp<LayerNormAttrs>({
  needs: "layernorm_forward",
  name: "layerNorm",
  // The forward by runs of rows (x and y cols floats a row, mean and rstd one); the backward
  // sums dgamma and dbeta over every row, so it stays on one thread.
  threads: { layernorm_forward: { kind: "batch", n: 6, ptrs: [[0, [7]], [3, [7]], [4, []], [5, []]] } },
  // The opset's LayerNormalization (17+) over the last axis: the same biased variance and eps.
  onnx: { opType: "LayerNormalization", attributes: (a) => ({ axis: -1, epsilon: a.eps }) },
  samples: [
    { label: "rows", inputs: [[3, 6], [6], [6]], attrs: { eps: 1e-5 } },
    { label: "3-D", inputs: [[2, 3, 5], [5], [5]], attrs: { eps: 1e-3 } },
    { label: "one column", inputs: [[4, 1], [1], [1]], attrs: { eps: 1e-5 } },
    { label: "big", inputs: [[8, 1031], [1031], [1031]], attrs: { eps: 1e-5 }, gradcheck: false },
  ],
  badSamples: [
    { inputs: [[3, 6], [5], [6]], attrs: { eps: 1e-5 }, message: "gamma and beta must be [6]" },
    { inputs: [[3, 6], [6], [6]], attrs: { eps: 0 }, message: "eps must be a positive number" },
  ],
  shape(inputs, attrs) {
    if (inputs.length !== 3) throw new Error(`layerNorm: expects 3 inputs (x, gamma, beta), got ${inputs.length}`);
    const [x, g, b] = inputs as [Shape, Shape, Shape];
    // The shapes as text, made only for an error (this runs at every planning).
    const f = (): string => `x is ${fmtShape(x)}, gamma is ${fmtShape(g)}, beta is ${fmtShape(b)}`;
    if (x.length === 0) throw new Error(`layerNorm: x needs at least one axis: ${f()}`);
    const d = x[x.length - 1]!;
    if (d === 0) throw new Error(`layerNorm: the last axis of x is empty: ${f()}`);
    if (g.length !== 1 || g[0] !== d || b.length !== 1 || b[0] !== d) {
      throw new Error(`layerNorm: gamma and beta must be [${d}], the last axis of x: ${f()}`);
    }
    if (typeof attrs.eps !== "number" || !(attrs.eps > 0) || !Number.isFinite(attrs.eps)) {
      throw new RangeError(`layerNorm: eps must be a positive number, got ${String(attrs.eps)}`);
    }
    return x;
  },
  saved(inputs) {
    const [r] = rowsOf(inputs[0]!);
    return [[r], [r]];
  },
  forward(k, x, y, attrs, env) {
    const [r, d] = rowsOf(x[0]!.shape);
    k.layernorm_forward(x[0]!.ptr, x[1]!.ptr, x[2]!.ptr, y.ptr, env.saved[0]!.ptr, env.saved[1]!.ptr, r, d, attrs.eps);
  },
  backward(k, x, _y, dy, dx, _attrs, env) {
    const [dxx, dg, db] = [dx[0] ?? null, dx[1] ?? null, dx[2] ?? null];
    if (!dxx && !dg && !db) return;
    const [r, d] = rowsOf(x[0]!.shape);
    // x's gradient is written fresh where it is (the kernel's accumulate flag is dx's alone;
    // gamma's and beta's always add, as a param's gradient does).
    k.layernorm_backward(x[0]!.ptr, x[1]!.ptr, env.saved[0]!.ptr, env.saved[1]!.ptr, dy.ptr, dxx ? dxx.ptr : 0, dg ? dg.ptr : 0, db ? db.ptr : 0, r, d,
      env.fresh! & 1 ? 0 : 1);
  },
  overwrites: [0],
});

export const methods = {
  /**
   * Layer norm over the last axis: (x − mean)/√(var + eps)·gamma + beta, with gamma and beta
   * of shape [D] (D: x's last dimension; usually params). `opts.eps` defaults to 1e-5.
   */
  layerNorm: method(4, (x: In, gamma: In, beta: In, opts: { eps?: number } = {}) => call(layerNormOp, [x, gamma, beta], { eps: opts?.eps ?? 1e-5 })),
};
