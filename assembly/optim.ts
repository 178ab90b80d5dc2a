// Optimizer update kernels: one pass over a parameter, its gradient and its state.
// Step-dependent scalars (Adam's bias corrections) are computed by the caller.
import { fmadd, fnmadd } from "./simd";

/**
 * SGD with momentum and L2 weight decay, PyTorch's rule (no dampening, no Nesterov), i < n:
 *   d = g[i] + λ·w[i]
 *   momentum μ ≠ 0:  v[i] = μ·v[i] + d;  w[i] −= lr·v[i]
 *   μ = 0:           w[i] −= lr·d        (v is neither read nor written; it may be 0)
 * v must start at zero: the first step then sets v = d, as PyTorch does.
 */
export function sgd_step(w: usize, g: usize, v: usize, n: i32, lr: f32, momentum: f32, weightDecay: f32): void {
  const lrv = f32x4.splat(lr);
  const muv = f32x4.splat(momentum);
  const wdv = f32x4.splat(weightDecay);
  let i = 0;
  if (momentum != 0) {
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const wi = v128.load(w + o);
      const d = fmadd(wdv, wi, v128.load(g + o));
      const vi = fmadd(muv, v128.load(v + o), d);
      v128.store(v + o, vi);
      v128.store(w + o, fnmadd(lrv, vi, wi));
    }
    for (; i < n; i++) {
      const o = <usize>i << 2;
      const wi = load<f32>(w + o);
      const d = load<f32>(g + o) + weightDecay * wi;
      const vi = momentum * load<f32>(v + o) + d;
      store<f32>(v + o, vi);
      store<f32>(w + o, wi - lr * vi);
    }
  } else {
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const wi = v128.load(w + o);
      const d = fmadd(wdv, wi, v128.load(g + o));
      v128.store(w + o, fnmadd(lrv, d, wi));
    }
    for (; i < n; i++) {
      const o = <usize>i << 2;
      const wi = load<f32>(w + o);
      const d = load<f32>(g + o) + weightDecay * wi;
      store<f32>(w + o, wi - lr * d);
    }
  }
}

// @ts-ignore: decorator
@inline function adam_impl(decoupled: bool, w: usize, g: usize, m: usize, v: usize, n: i32, lr: f32, beta1: f32, beta2: f32, eps: f32, bc1: f32, bc2: f32, weightDecay: f32): void {
  const step = lr / bc1;
  const rsqBc2 = <f32>(1 / Math.sqrt(<f64>bc2));
  const shrink: f32 = decoupled ? 1 - lr * weightDecay : 1;
  const b1 = f32x4.splat(beta1), c1 = f32x4.splat(1 - beta1);
  const b2 = f32x4.splat(beta2), c2 = f32x4.splat(1 - beta2);
  const wdv = f32x4.splat(weightDecay), epsv = f32x4.splat(eps);
  const stepv = f32x4.splat(step), rsqv = f32x4.splat(rsqBc2), shrinkv = f32x4.splat(shrink);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    let wi = v128.load(w + o);
    let d = v128.load(g + o);
    if (decoupled) wi = f32x4.mul(wi, shrinkv);
    else d = fmadd(wdv, wi, d);
    const mi = fmadd(b1, v128.load(m + o), f32x4.mul(c1, d));
    const vi = fmadd(b2, v128.load(v + o), f32x4.mul(c2, f32x4.mul(d, d)));
    v128.store(m + o, mi);
    v128.store(v + o, vi);
    const denom = fmadd(f32x4.sqrt(vi), rsqv, epsv);
    v128.store(w + o, fnmadd(stepv, f32x4.div(mi, denom), wi));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    let wi = load<f32>(w + o);
    let d = load<f32>(g + o);
    if (decoupled) wi *= shrink;
    else d += weightDecay * wi;
    const mi = beta1 * load<f32>(m + o) + (1 - beta1) * d;
    const vi = beta2 * load<f32>(v + o) + (1 - beta2) * d * d;
    store<f32>(m + o, mi);
    store<f32>(v + o, vi);
    const denom = Mathf.sqrt(vi) * rsqBc2 + eps;
    store<f32>(w + o, wi - step * (mi / denom));
  }
}

/**
 * Adam, PyTorch's rule with L2 weight decay added to the gradient, i < n:
 *   d = g[i] + λ·w[i]
 *   m[i] = β1·m[i] + (1 − β1)·d;   v[i] = β2·v[i] + (1 − β2)·d²
 *   w[i] −= (lr / bc1) · m[i] / (√v[i] / √bc2 + ε)
 * with bc1 = 1 − β1ᵗ and bc2 = 1 − β2ᵗ for step t ≥ 1 (computed by the caller; both > 0).
 * m and v start at zero. β1, β2 arrive as f32 and 1 − β is exact from them (for β2 = 0.999
 * that is 1 − fround(0.999), 1.3e-5 relative from 0.001).
 */
export function adam_step(w: usize, g: usize, m: usize, v: usize, n: i32, lr: f32, beta1: f32, beta2: f32, eps: f32, bc1: f32, bc2: f32, weightDecay: f32): void {
  adam_impl(false, w, g, m, v, n, lr, beta1, beta2, eps, bc1, bc2, weightDecay);
}

/**
 * AdamW: as adam_step, but the weight decay is decoupled from the gradient (PyTorch's
 * AdamW): w[i] ← w[i]·(1 − lr·λ) first, then the Adam update with d = g[i].
 */
export function adamw_step(w: usize, g: usize, m: usize, v: usize, n: i32, lr: f32, beta1: f32, beta2: f32, eps: f32, bc1: f32, bc2: f32, weightDecay: f32): void {
  adam_impl(true, w, g, m, v, n, lr, beta1, beta2, eps, bc1, bc2, weightDecay);
}
