// Optimizer update kernels: one pass over a parameter, its gradient and its state.
// Step-dependent scalars (Adam's bias corrections) are computed by the caller.
// The *_tracked variants do the same update and also measure it for the gradient-health
// statistics (src/graph/stats.ts): out[0] = Σ (w_new[i] − w_old[i])², out[1] = Σ w_old[i]²,
// two f64 at the 8-aligned pointer out. Squares are summed in f32 lanes over runs of
// TRACK_SPAN values and the runs in f64. Untracked variants compile without that code.
import { fmadd, fnmadd } from "./simd";

const TRACK_SPAN: i32 = 1024;

/** Adds the four lanes of v to an f64. */
// @ts-ignore: decorator
@inline function lanes_f64(v: v128): f64 {
  return <f64>(f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + <f64>(f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/**
 * SGD with momentum and L2 weight decay, PyTorch's rule (no dampening, no Nesterov), i < n:
 *   d = g[i] + λ·w[i]
 *   momentum μ ≠ 0:  v[i] = μ·v[i] + d;  w[i] −= lr·v[i]
 *   μ = 0:           w[i] −= lr·d        (v is neither read nor written; it may be 0)
 * v must start at zero: the first step then sets v = d, as PyTorch does.
 */
export function sgd_step(w: usize, g: usize, v: usize, n: i32, lr: f32, momentum: f32, weightDecay: f32): void {
  sgd_impl(false, w, g, v, n, lr, momentum, weightDecay, 0);
}

/** sgd_step, also writing Σ Δw² and Σ w_old² to out (see the top of this file). */
export function sgd_step_tracked(w: usize, g: usize, v: usize, n: i32, lr: f32, momentum: f32, weightDecay: f32, out: usize): void {
  sgd_impl(true, w, g, v, n, lr, momentum, weightDecay, out);
}

// @ts-ignore: decorator
@inline function sgd_impl(track: bool, w: usize, g: usize, v: usize, n: i32, lr: f32, momentum: f32, weightDecay: f32, out: usize): void {
  const lrv = f32x4.splat(lr);
  const muv = f32x4.splat(momentum);
  const wdv = f32x4.splat(weightDecay);
  let dw2: f64 = 0, w2: f64 = 0;
  let i = 0;
  while (i + 4 <= n) {
    const end = track ? min(n, i + TRACK_SPAN) : n;
    let dacc = f32x4.splat(0), wacc = f32x4.splat(0);
    if (momentum != 0) {
      for (; i + 4 <= end; i += 4) {
        const o = <usize>i << 2;
        const wi = v128.load(w + o);
        const d = fmadd(wdv, wi, v128.load(g + o));
        const vi = fmadd(muv, v128.load(v + o), d);
        v128.store(v + o, vi);
        const wn = fnmadd(lrv, vi, wi);
        v128.store(w + o, wn);
        if (track) {
          const dw = f32x4.sub(wn, wi);
          dacc = fmadd(dw, dw, dacc);
          wacc = fmadd(wi, wi, wacc);
        }
      }
    } else {
      for (; i + 4 <= end; i += 4) {
        const o = <usize>i << 2;
        const wi = v128.load(w + o);
        const d = fmadd(wdv, wi, v128.load(g + o));
        const wn = fnmadd(lrv, d, wi);
        v128.store(w + o, wn);
        if (track) {
          const dw = f32x4.sub(wn, wi);
          dacc = fmadd(dw, dw, dacc);
          wacc = fmadd(wi, wi, wacc);
        }
      }
    }
    if (track) {
      dw2 += lanes_f64(dacc);
      w2 += lanes_f64(wacc);
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const wi = load<f32>(w + o);
    const d = load<f32>(g + o) + weightDecay * wi;
    let wn: f32;
    if (momentum != 0) {
      const vi = momentum * load<f32>(v + o) + d;
      store<f32>(v + o, vi);
      wn = wi - lr * vi;
    } else {
      wn = wi - lr * d;
    }
    store<f32>(w + o, wn);
    if (track) {
      const dw = wn - wi;
      dw2 += <f64>(dw * dw);
      w2 += <f64>(wi * wi);
    }
  }
  if (track) {
    store<f64>(out, dw2);
    store<f64>(out, w2, 8);
  }
}

// @ts-ignore: decorator
@inline function adam_impl(decoupled: bool, track: bool, w: usize, g: usize, m: usize, v: usize, n: i32, lr: f32, beta1: f32, beta2: f32, eps: f32, bc1: f32, bc2: f32, weightDecay: f32, out: usize): void {
  const step = lr / bc1;
  const rsqBc2 = <f32>(1 / Math.sqrt(<f64>bc2));
  const shrink: f32 = decoupled ? 1 - lr * weightDecay : 1;
  const b1 = f32x4.splat(beta1), c1 = f32x4.splat(1 - beta1);
  const b2 = f32x4.splat(beta2), c2 = f32x4.splat(1 - beta2);
  const wdv = f32x4.splat(weightDecay), epsv = f32x4.splat(eps);
  const stepv = f32x4.splat(step), rsqv = f32x4.splat(rsqBc2), shrinkv = f32x4.splat(shrink);
  let dw2: f64 = 0, w2: f64 = 0;
  let i = 0;
  while (i + 4 <= n) {
    const end = track ? min(n, i + TRACK_SPAN) : n;
    let dacc = f32x4.splat(0), wacc = f32x4.splat(0);
    for (; i + 4 <= end; i += 4) {
      const o = <usize>i << 2;
      const w0 = v128.load(w + o);
      let wi = w0;
      let d = v128.load(g + o);
      if (decoupled) wi = f32x4.mul(wi, shrinkv);
      else d = fmadd(wdv, wi, d);
      const mi = fmadd(b1, v128.load(m + o), f32x4.mul(c1, d));
      const vi = fmadd(b2, v128.load(v + o), f32x4.mul(c2, f32x4.mul(d, d)));
      v128.store(m + o, mi);
      v128.store(v + o, vi);
      const denom = fmadd(f32x4.sqrt(vi), rsqv, epsv);
      const wn = fnmadd(stepv, f32x4.div(mi, denom), wi);
      v128.store(w + o, wn);
      if (track) {
        const dw = f32x4.sub(wn, w0);
        dacc = fmadd(dw, dw, dacc);
        wacc = fmadd(w0, w0, wacc);
      }
    }
    if (track) {
      dw2 += lanes_f64(dacc);
      w2 += lanes_f64(wacc);
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const w0 = load<f32>(w + o);
    let wi = w0;
    let d = load<f32>(g + o);
    if (decoupled) wi *= shrink;
    else d += weightDecay * wi;
    const mi = beta1 * load<f32>(m + o) + (1 - beta1) * d;
    const vi = beta2 * load<f32>(v + o) + (1 - beta2) * d * d;
    store<f32>(m + o, mi);
    store<f32>(v + o, vi);
    const denom = Mathf.sqrt(vi) * rsqBc2 + eps;
    const wn = wi - step * (mi / denom);
    store<f32>(w + o, wn);
    if (track) {
      const dw = wn - w0;
      dw2 += <f64>(dw * dw);
      w2 += <f64>(w0 * w0);
    }
  }
  if (track) {
    store<f64>(out, dw2);
    store<f64>(out, w2, 8);
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
  adam_impl(false, false, w, g, m, v, n, lr, beta1, beta2, eps, bc1, bc2, weightDecay, 0);
}

/** adam_step, also writing Σ Δw² and Σ w_old² to out (see the top of this file). */
export function adam_step_tracked(w: usize, g: usize, m: usize, v: usize, n: i32, lr: f32, beta1: f32, beta2: f32, eps: f32, bc1: f32, bc2: f32, weightDecay: f32, out: usize): void {
  adam_impl(false, true, w, g, m, v, n, lr, beta1, beta2, eps, bc1, bc2, weightDecay, out);
}

/**
 * AdamW: as adam_step, but the weight decay is decoupled from the gradient (PyTorch's
 * AdamW): w[i] ← w[i]·(1 − lr·λ) first, then the Adam update with d = g[i].
 */
export function adamw_step(w: usize, g: usize, m: usize, v: usize, n: i32, lr: f32, beta1: f32, beta2: f32, eps: f32, bc1: f32, bc2: f32, weightDecay: f32): void {
  adam_impl(true, false, w, g, m, v, n, lr, beta1, beta2, eps, bc1, bc2, weightDecay, 0);
}

/** adamw_step, also writing Σ Δw² and Σ w_old² to out (see the top of this file). */
export function adamw_step_tracked(w: usize, g: usize, m: usize, v: usize, n: i32, lr: f32, beta1: f32, beta2: f32, eps: f32, bc1: f32, bc2: f32, weightDecay: f32, out: usize): void {
  adam_impl(true, true, w, g, m, v, n, lr, beta1, beta2, eps, bc1, bc2, weightDecay, out);
}
