// Optimizer update kernels: one pass over a parameter, its gradient and its state.
// Step-dependent scalars (Adam's bias corrections) are computed by the caller.
// The *_tracked variants do the same update and also measure it for the gradient-health
// statistics (src/graph/stats.ts): out[0] = Σ (w_new[i] − w_old[i])², one f64 at the
// 8-aligned pointer out. Squares are summed in f32 lanes over runs of
// TRACK_SPAN values and the runs in f64, values below 2⁻⁶² counted as 0 (add_square of
// sums.ts: no subnormal squares). Untracked variants compile without that code.
import { fmadd, fnmadd } from "./simd";
import { SQ_MIN_BITS, add_square, add_square_s } from "./sums";

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

/** sgd_step, also writing Σ Δw² to out (see the top of this file). */
export function sgd_step_tracked(w: usize, g: usize, v: usize, n: i32, lr: f32, momentum: f32, weightDecay: f32, out: usize): void {
  sgd_impl(true, w, g, v, n, lr, momentum, weightDecay, out);
}

/** One SGD update of the four values w = wi at byte offset o (v updated too with momentum); returns the new w. */
/**
 * x with the lanes below the smallest normal float (|x| < 2⁻¹²⁶) set to 0. Optimizer state
 * that decays geometrically (momentum, Adam's moments, once gradients vanish) would otherwise
 * sink into denormals, which x86 processes tens of times slower; the values dropped are far
 * below anything that moves a weight.
 */
// @ts-ignore: decorator
@inline function flush_tiny(x: v128): v128 {
  return v128.and(x, i32x4.ge_s(v128.and(x, i32x4.splat(0x7fffffff)), i32x4.splat(0x00800000)));
}

// @ts-ignore: decorator
@inline function flush_tiny_s(x: f32): f32 {
  return (reinterpret<i32>(x) & 0x7fffffff) >= 0x00800000 ? x : 0;
}

// @ts-ignore: decorator
@inline function sgd_v(mom: bool, wi: v128, g: usize, v: usize, o: usize, lrv: v128, muv: v128, wdv: v128): v128 {
  const d = fmadd(wdv, wi, v128.load(g + o));
  if (!mom) return fnmadd(lrv, d, wi);
  const vi = flush_tiny(fmadd(muv, v128.load(v + o), d));
  v128.store(v + o, vi);
  return fnmadd(lrv, vi, wi);
}

// @ts-ignore: decorator
@inline function sgd_impl(track: bool, w: usize, g: usize, v: usize, n: i32, lr: f32, momentum: f32, weightDecay: f32, out: usize): void {
  if (momentum != 0) sgd_loop(true, track, w, g, v, n, lr, momentum, weightDecay, out);
  else sgd_loop(false, track, w, g, v, n, lr, momentum, weightDecay, out);
}

// @ts-ignore: decorator
@inline function sgd_loop(mom: bool, track: bool, w: usize, g: usize, v: usize, n: i32, lr: f32, momentum: f32, weightDecay: f32, out: usize): void {
  const lrv = f32x4.splat(lr);
  const muv = f32x4.splat(momentum);
  const wdv = f32x4.splat(weightDecay);
  const absMask = i32x4.splat(0x7fffffff), minBits = i32x4.splat(SQ_MIN_BITS);
  let dw2: f64 = 0;
  let i = 0;
  while (i + 4 <= n) {
    const end = track ? min(n, i + TRACK_SPAN) : n;
    // Tracked: four vectors per step, each with its own sum, so the sums' add latency does
    // not hold up the update.
    let d0 = f32x4.splat(0), d1 = f32x4.splat(0), d2 = f32x4.splat(0), d3 = f32x4.splat(0);
    if (track) {
      for (; i + 16 <= end; i += 16) {
        const o = <usize>i << 2;
        const w0 = v128.load(w + o), w1 = v128.load(w + o, 16), w2v = v128.load(w + o, 32), w3 = v128.load(w + o, 48);
        const n0 = sgd_v(mom, w0, g, v, o, lrv, muv, wdv);
        const n1 = sgd_v(mom, w1, g, v, o + 16, lrv, muv, wdv);
        const n2 = sgd_v(mom, w2v, g, v, o + 32, lrv, muv, wdv);
        const n3 = sgd_v(mom, w3, g, v, o + 48, lrv, muv, wdv);
        v128.store(w + o, n0);
        v128.store(w + o, n1, 16);
        v128.store(w + o, n2, 32);
        v128.store(w + o, n3, 48);
        const e0 = f32x4.sub(n0, w0), e1 = f32x4.sub(n1, w1), e2 = f32x4.sub(n2, w2v), e3 = f32x4.sub(n3, w3);
        d0 = add_square(d0, e0, v128.and(e0, absMask), minBits);
        d1 = add_square(d1, e1, v128.and(e1, absMask), minBits);
        d2 = add_square(d2, e2, v128.and(e2, absMask), minBits);
        d3 = add_square(d3, e3, v128.and(e3, absMask), minBits);
      }
    }
    if (!track) {
      // Four vectors per step: the loop's upkeep (pointer, bound, branch) once per four; each
      // update loads its own weights (all four loaded first, the momentum loop ran 0.91–0.94×
      // under Node 24, Deno, Bun and Chromium; bench/engines-ab.mjs, sgd_step momentum).
      for (; i + 16 <= end; i += 16) {
        const o = <usize>i << 2;
        v128.store(w + o, sgd_v(mom, v128.load(w + o), g, v, o, lrv, muv, wdv));
        v128.store(w + o, sgd_v(mom, v128.load(w + o, 16), g, v, o + 16, lrv, muv, wdv), 16);
        v128.store(w + o, sgd_v(mom, v128.load(w + o, 32), g, v, o + 32, lrv, muv, wdv), 32);
        v128.store(w + o, sgd_v(mom, v128.load(w + o, 48), g, v, o + 48, lrv, muv, wdv), 48);
      }
    }
    for (; i + 4 <= end; i += 4) {
      const o = <usize>i << 2;
      const wi = v128.load(w + o);
      const wn = sgd_v(mom, wi, g, v, o, lrv, muv, wdv);
      v128.store(w + o, wn);
      if (track) {
        const e = f32x4.sub(wn, wi);
        d0 = add_square(d0, e, v128.and(e, absMask), minBits);
      }
    }
    if (track) {
      dw2 += lanes_f64(f32x4.add(f32x4.add(d0, d1), f32x4.add(d2, d3)));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const wi = load<f32>(w + o);
    const d = load<f32>(g + o) + weightDecay * wi;
    let wn: f32;
    if (mom) {
      const vi = flush_tiny_s(momentum * load<f32>(v + o) + d);
      store<f32>(v + o, vi);
      wn = wi - lr * vi;
    } else {
      wn = wi - lr * d;
    }
    store<f32>(w + o, wn);
    if (track) {
      const dw = wn - wi;
      dw2 += <f64>add_square_s(0, dw);
    }
  }
  if (track) {
    store<f64>(out, dw2);
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
  const absMask = i32x4.splat(0x7fffffff), minBits = i32x4.splat(SQ_MIN_BITS);
  let dw2: f64 = 0;
  let i = 0;
  while (i + 4 <= n) {
    const end = track ? min(n, i + TRACK_SPAN) : n;
    let dacc = f32x4.splat(0);
    for (; i + 4 <= end; i += 4) {
      const o = <usize>i << 2;
      const w0 = v128.load(w + o);
      let wi = w0;
      let d = v128.load(g + o);
      if (decoupled) wi = f32x4.mul(wi, shrinkv);
      else d = fmadd(wdv, wi, d);
      // Squares of |d| < 2⁻⁶² would be denormal: they count as 0 (add_square).
      const mi = flush_tiny(fmadd(b1, v128.load(m + o), f32x4.mul(c1, d)));
      const dm = v128.and(d, i32x4.gt_s(v128.and(d, absMask), minBits));
      const vi = flush_tiny(fmadd(b2, v128.load(v + o), f32x4.mul(c2, f32x4.mul(dm, dm))));
      v128.store(m + o, mi);
      v128.store(v + o, vi);
      const denom = fmadd(f32x4.sqrt(vi), rsqv, epsv);
      const wn = fnmadd(stepv, f32x4.div(mi, denom), wi);
      v128.store(w + o, wn);
      if (track) {
        const e = f32x4.sub(wn, w0);
        dacc = add_square(dacc, e, v128.and(e, absMask), minBits);
      }
    }
    if (track) {
      dw2 += lanes_f64(dacc);
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const w0 = load<f32>(w + o);
    let wi = w0;
    let d = load<f32>(g + o);
    if (decoupled) wi *= shrink;
    else d += weightDecay * wi;
    const mi = flush_tiny_s(beta1 * load<f32>(m + o) + (1 - beta1) * d);
    const vi = flush_tiny_s(beta2 * load<f32>(v + o) + (1 - beta2) * ((reinterpret<i32>(d) & 0x7fffffff) > SQ_MIN_BITS ? d * d : 0));
    store<f32>(m + o, mi);
    store<f32>(v + o, vi);
    const denom = Mathf.sqrt(vi) * rsqBc2 + eps;
    const wn = wi - step * (mi / denom);
    store<f32>(w + o, wn);
    if (track) {
      dw2 += <f64>add_square_s(0, wn - w0);
    }
  }
  if (track) {
    store<f64>(out, dw2);
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

/** adam_step, also writing Σ Δw² to out (see the top of this file). */
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

/** adamw_step, also writing Σ Δw² to out (see the top of this file). */
export function adamw_step_tracked(w: usize, g: usize, m: usize, v: usize, n: i32, lr: f32, beta1: f32, beta2: f32, eps: f32, bc1: f32, bc2: f32, weightDecay: f32, out: usize): void {
  adam_impl(true, true, w, g, m, v, n, lr, beta1, beta2, eps, bc1, bc2, weightDecay, out);
}
