// The fused linear layer's elementwise backward step: the activation's derivative times
// the upstream gradient, for any activation code of assembly/vmath.ts. (The forward is
// gemm_bias_act in assembly/gemm.ts; the weight, bias and input gradients are GEMMs and
// column sums.)

import { act_grad_s, act_grad_v } from "./vmath";

/**
 * dz ← dy ⊙ f′ (accumulate = 0) or dz ← dz + dy ⊙ f′ (accumulate ≠ 0), n elements, where
 * f′ = act_grad_v(kind, x, y, p) of assembly/vmath.ts: x is the pre-activation and y the
 * output; each kind reads only what its derivative needs (see act_grad_v), so a pointer the
 * kind does not read may be 0. dz may alias dy.
 */
export function act_backward(kind: i32, x: usize, y: usize, dy: usize, dz: usize, n: i32, p: f32, accumulate: i32): void {
  const zero = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const xv = x ? v128.load(x + o) : zero;
    const yv = y ? v128.load(y + o) : zero;
    let g = f32x4.mul(v128.load(dy + o), act_grad_v(kind, xv, yv, p));
    if (accumulate) g = f32x4.add(g, v128.load(dz + o));
    v128.store(dz + o, g);
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const xs: f32 = x ? load<f32>(x + o) : 0;
    const ys: f32 = y ? load<f32>(y + o) : 0;
    let g = load<f32>(dy + o) * act_grad_s(kind, xs, ys, p);
    if (accumulate) g += load<f32>(dz + o);
    store<f32>(dz + o, g);
  }
}
