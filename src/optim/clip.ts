/**
 * Gradient clipping, as PyTorch's clip_grad_norm_ and clip_grad_value_: kernels over the
 * gradients in place (assembly/stats.ts for the norms and the clamp, scale_f32 for the
 * rescaling). Call between `g.backward(loss)` and `opt.step()`.
 */
import { type Node, checkLeafNode } from "../graph/node.js";
import type { Runtime } from "../runtime/runtime.js";
import { Tensor, typeName } from "../runtime/tensor.js";
import type {} from "../graph/stats.js"; // its Kernels declarations

export interface ClipGradNormOptions {
  /** 2 (the default: the Euclidean norm over all gradients together) or Infinity (the largest |g|). */
  normType?: number;
  /** Throw when the total norm is NaN or Inf, naming the first gradient with NaN/Inf (default false). */
  errorIfNonfinite?: boolean;
}

/** Something whose gradient can be clipped: a param (or input with requiresGrad), or a gradient Tensor itself. */
export type Clippable = Node | Tensor;

interface Grad {
  ptr: number;
  size: number;
  what: string;
}

function grads(rt: Runtime, params: unknown, op: string): Grad[] {
  if (params instanceof Tensor || (params !== null && typeof params === "object" && "kind" in (params as object))) params = [params];
  if (!Array.isArray(params)) throw new TypeError(`${op}: expected an array of params (g.params) or gradient tensors, got ${typeName(params)}`);
  const out: Grad[] = [];
  for (let i = 0; i < params.length; i++) {
    const p = params[i] as unknown;
    let g: Tensor;
    let what: string;
    if (p instanceof Tensor) {
      g = p;
      what = `tensor ${i + 1} ${g.label === "tensor" ? "" : `'${g.label}' `}[${g.shape.join(", ")}]`;
    } else if (p !== null && typeof p === "object" && "kind" in p && "describe" in p) {
      const n = checkLeafNode(p, op, rt, `entry ${i + 1}`);
      g = n._grad!;
      what = `the gradient of ${n.describe()}`;
    } else {
      throw new TypeError(`${op}: entry ${i + 1} must be a param node or a Tensor, got ${typeName(p)}`);
    }
    if (g.host !== rt) throw new Error(`${op}: ${what} belongs to another simdgrad runtime`);
    g.check(op);
    for (const o of out) {
      if (o.ptr === g.ptr && g.size > 0) throw new Error(`${op}: ${what} is listed twice (it would be clipped twice)`);
    }
    out.push({ ptr: g.ptr, size: g.size, what });
  }
  return out;
}

/**
 * Rescales the gradients of `params` together so that their total norm is at most
 * `maxNorm`: with total = ‖(g₁, g₂, …)‖ (normType 2, or Infinity for the largest |g|), every
 * g is multiplied by maxNorm / (total + 1e-6) when that is below 1, and left untouched
 * otherwise. Returns the total norm before clipping. When the total is NaN or Inf the
 * gradients are left as they are (check the returned norm and skip the step), or, with
 * `errorIfNonfinite`, an Error names the first gradient holding NaN/Inf.
 */
export function clipGradNorm(rt: Runtime, params: readonly Clippable[], maxNorm: number, opts: ClipGradNormOptions = {}): number {
  const op = "clipGradNorm";
  if (typeof maxNorm !== "number" || !(maxNorm >= 0) || maxNorm === Infinity) {
    throw new RangeError(`${op}: maxNorm must be a finite number ≥ 0, got ${String(maxNorm)}`);
  }
  if (opts === null || typeof opts !== "object") throw new TypeError(`${op}: options must be { normType?, errorIfNonfinite? }, got ${typeName(opts)}`);
  const normType = opts.normType ?? 2;
  if (normType !== 2 && normType !== Infinity) throw new RangeError(`${op}: normType must be 2 or Infinity, got ${String(normType)}`);
  const list = grads(rt, params, op);
  const k = rt.kernels;
  const scratch = rt.scratch(16);
  let total = 0;
  if (normType === 2) {
    for (const g of list) total += k.sum_squares(g.ptr, g.size, scratch);
    total = Math.sqrt(total);
  } else {
    for (const g of list) {
      const m = k.max_abs(g.ptr, g.size, scratch);
      if (!(m <= total)) total = m; // NaN wins
    }
  }
  if (!Number.isFinite(total)) {
    if (opts.errorIfNonfinite === true) {
      for (const g of list) {
        const bad = k.count_nonfinite(g.ptr, g.size);
        if (bad > 0) throw new Error(`${op}: the total gradient norm is ${total}: ${g.what} has NaN or Inf (${bad} of ${g.size} values)`);
      }
      throw new Error(`${op}: the total gradient norm is ${total} (the sum of squares overflowed)`);
    }
    return total;
  }
  const coef = maxNorm / (total + 1e-6);
  if (coef < 1) for (const g of list) k.scale_f32(g.ptr, g.ptr, g.size, coef);
  return total;
}

/**
 * Clamps every gradient value of `params` into [−clip, clip] in place (NaN stays NaN,
 * ±Inf becomes ±clip).
 */
export function clipGradValue(rt: Runtime, params: readonly Clippable[], clip: number): void {
  const op = "clipGradValue";
  if (typeof clip !== "number" || !(clip >= 0)) throw new RangeError(`${op}: clip must be a number ≥ 0, got ${String(clip)}`);
  const list = grads(rt, params, op);
  if (clip === Infinity) return;
  const k = rt.kernels;
  for (const g of list) k.clip_values(g.ptr, g.size, -clip, clip);
}
