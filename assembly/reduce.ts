// Reductions: sum of all, sum over one axis, dot product, and the backward kernels that
// broadcast an upstream gradient back over what was reduced. A mean is a sum with
// α = 1/count. Scalar results and scalar upstream gradients live in linear memory and are
// passed by pointer. Conventions as in elementwise.ts (accumulate 0 overwrites, 1 adds).
import { fmadd } from "./simd";
import { sum_span } from "./sums";
import { col_sums } from "./elementwise";

/**
 * out[0] (+)= α·Σ_{i<n} x[i]. Runs of 1024 values are summed in f32 SIMD lanes and the
 * runs in f64. n = 0 gives α·0 (NaN when α is infinite: the mean of nothing).
 */
export function sum_all(x: usize, n: i32, out: usize, alpha: f32, accumulate: i32): void {
  const s = <f32>(<f64>alpha * sum_span(false, x, 0, n));
  store<f32>(out, accumulate ? load<f32>(out) + s : s);
}

/** out[0] (+)= Σ_{i<n} u[i]·v[i] (summed as in sum_all). */
export function dot_f32(u: usize, v: usize, n: i32, out: usize, accumulate: i32): void {
  const s = <f32>sum_span(true, u, v, n);
  store<f32>(out, accumulate ? load<f32>(out) + s : s);
}

/**
 * Sum over the middle axis of x viewed as [outer, len, inner]:
 *   y[o, i] (+)= α·Σ_{a<len} x[o, a, i],  y is [outer, inner].
 * inner = 1 sums contiguous rows; inner > 1 sums columns (SIMD across inner).
 */
export function sum_axis(x: usize, y: usize, outer: i32, len: i32, inner: i32, alpha: f32, accumulate: i32): void {
  const xStride = <usize>len * <usize>inner << 2;
  const yStride = <usize>inner << 2;
  for (let o = 0; o < outer; o++) {
    const xo = x + <usize>o * xStride;
    const yo = y + <usize>o * yStride;
    if (inner == 1) {
      const s = <f32>(<f64>alpha * sum_span(false, xo, 0, len));
      store<f32>(yo, accumulate ? load<f32>(yo) + s : s);
    } else {
      col_sums(xo, yo, len, inner, alpha, accumulate);
    }
  }
}

/** dst[i] (+)= v, i < n. */
// @ts-ignore: decorator
@inline function splat_into(acc: bool, dst: usize, n: i32, v: f32): void {
  const vv = f32x4.splat(v);
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const o = <usize>i << 2;
    if (acc) {
      v128.store(dst + o, f32x4.add(v128.load(dst + o), vv));
      v128.store(dst + o, f32x4.add(v128.load(dst + o, 16), vv), 16);
      v128.store(dst + o, f32x4.add(v128.load(dst + o, 32), vv), 32);
      v128.store(dst + o, f32x4.add(v128.load(dst + o, 48), vv), 48);
    } else {
      v128.store(dst + o, vv);
      v128.store(dst + o, vv, 16);
      v128.store(dst + o, vv, 32);
      v128.store(dst + o, vv, 48);
    }
  }
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(dst + o, acc ? f32x4.add(v128.load(dst + o), vv) : vv);
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dst + o, acc ? load<f32>(dst + o) + v : v);
  }
}

/** dst[i] (+)= α·src[i], i < n. */
// @ts-ignore: decorator
@inline function scale_into(acc: bool, src: usize, dst: usize, n: i32, alpha: f32): void {
  const av = f32x4.splat(alpha);
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const o = <usize>i << 2;
    const s0 = v128.load(src + o), s1 = v128.load(src + o, 16), s2 = v128.load(src + o, 32), s3 = v128.load(src + o, 48);
    if (acc) {
      v128.store(dst + o, fmadd(av, s0, v128.load(dst + o)));
      v128.store(dst + o, fmadd(av, s1, v128.load(dst + o, 16)), 16);
      v128.store(dst + o, fmadd(av, s2, v128.load(dst + o, 32)), 32);
      v128.store(dst + o, fmadd(av, s3, v128.load(dst + o, 48)), 48);
    } else {
      v128.store(dst + o, f32x4.mul(av, s0));
      v128.store(dst + o, f32x4.mul(av, s1), 16);
      v128.store(dst + o, f32x4.mul(av, s2), 32);
      v128.store(dst + o, f32x4.mul(av, s3), 48);
    }
  }
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const s = v128.load(src + o);
    v128.store(dst + o, acc ? fmadd(av, s, v128.load(dst + o)) : f32x4.mul(av, s));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const s = alpha * load<f32>(src + o);
    store<f32>(dst + o, acc ? load<f32>(dst + o) + s : s);
  }
}

/**
 * Backward of sum_all / mean: dx[i] (+)= α·dy[0], i < n, with the upstream gradient dy
 * read from memory (one f32).
 */
export function broadcast_scalar(dy: usize, dx: usize, n: i32, alpha: f32, accumulate: i32): void {
  const v = alpha * load<f32>(dy);
  if (accumulate) splat_into(true, dx, n, v);
  else splat_into(false, dx, n, v);
}

/**
 * Backward of sum_axis: dx[o, a, i] (+)= α·dy[o, i] for dx viewed as [outer, len, inner]
 * and dy as [outer, inner].
 */
export function broadcast_axis(dy: usize, dx: usize, outer: i32, len: i32, inner: i32, alpha: f32, accumulate: i32): void {
  const yStride = <usize>inner << 2;
  const xStride = <usize>len * yStride;
  for (let o = 0; o < outer; o++) {
    const yo = dy + <usize>o * yStride;
    const xo = dx + <usize>o * xStride;
    if (inner == 1) {
      const v = alpha * load<f32>(yo);
      if (accumulate) splat_into(true, xo, len, v);
      else splat_into(false, xo, len, v);
    } else {
      for (let a = 0; a < len; a++) {
        const xa = xo + <usize>a * yStride;
        if (accumulate) scale_into(true, yo, xa, inner, alpha);
        else scale_into(false, yo, xa, inner, alpha);
      }
    }
  }
}
