// Summation helpers shared by the elementwise, reduction and loss kernels (inline only;
// this file is not part of the module's export list).
import { fmadd } from "./simd";

/** Length of the runs summed in f32 before they are added into an f64 total. */
export const SPAN: i32 = 1024;

/**
 * Σ x[i]·(w[i] if weighted), i < n: runs of SPAN floats are summed in four f32 vector
 * accumulators (16 partial sums), and the runs are added in f64, so the error grows with
 * SPAN/16, not with n.
 */
// @ts-ignore: decorator
@inline export function sum_span(weighted: bool, x: usize, w: usize, n: i32): f64 {
  let total: f64 = 0;
  let i = 0;
  while (i < n) {
    const end = min(n, i + SPAN);
    let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
    for (; i + 16 <= end; i += 16) {
      const o = <usize>i << 2;
      if (weighted) {
        s0 = fmadd(v128.load(x + o), v128.load(w + o), s0);
        s1 = fmadd(v128.load(x + o, 16), v128.load(w + o, 16), s1);
        s2 = fmadd(v128.load(x + o, 32), v128.load(w + o, 32), s2);
        s3 = fmadd(v128.load(x + o, 48), v128.load(w + o, 48), s3);
      } else {
        s0 = f32x4.add(s0, v128.load(x + o));
        s1 = f32x4.add(s1, v128.load(x + o, 16));
        s2 = f32x4.add(s2, v128.load(x + o, 32));
        s3 = f32x4.add(s3, v128.load(x + o, 48));
      }
    }
    for (; i + 4 <= end; i += 4) {
      const o = <usize>i << 2;
      if (weighted) s0 = fmadd(v128.load(x + o), v128.load(w + o), s0);
      else s0 = f32x4.add(s0, v128.load(x + o));
    }
    let t: f32 = 0;
    for (; i < end; i++) {
      const o = <usize>i << 2;
      if (weighted) t += load<f32>(x + o) * load<f32>(w + o);
      else t += load<f32>(x + o);
    }
    const s = f32x4.add(f32x4.add(s0, s1), f32x4.add(s2, s3));
    total += <f64>(f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1)) +
      <f64>(f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3)) + <f64>t;
  }
  return total;
}


/** The bits just below 2⁻⁶², the smallest |x| whose f32 square is a normal number (2⁻¹²⁴ ≥ 2⁻¹²⁶). */
export const SQ_MIN_BITS: i32 = 0x207fffff;

/**
 * acc + x², lane-wise, with the lanes where |x| < 2⁻⁶² (≈ 2.2e-19) counted as 0. Their
 * squares would be subnormal (or need a subnormal operand), which costs x86 cores a
 * microcode assist of ~100 cycles per instruction: a buffer of gradients around 1e-20 would
 * be summed 80× slower. What is dropped is below 4.7e-38 per value. `ax` is x with the sign
 * bit cleared (|x| as bits) and `minBits` i32x4.splat(SQ_MIN_BITS), both from the caller so
 * that loops keep them in registers.
 */
// @ts-ignore: decorator
@inline export function add_square(acc: v128, x: v128, ax: v128, minBits: v128): v128 {
  const y = v128.and(x, i32x4.gt_s(ax, minBits));
  return fmadd(y, y, acc);
}

/** Scalar add_square: acc + x², with |x| < 2⁻⁶² counted as 0. */
// @ts-ignore: decorator
@inline export function add_square_s(acc: f32, x: f32): f32 {
  return (reinterpret<i32>(x) & 0x7fffffff) > SQ_MIN_BITS ? acc + x * x : acc;
}
