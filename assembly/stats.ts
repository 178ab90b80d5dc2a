// Gradient health: per-step statistics over a graph's buffers (gradient norms and max |g|,
// flat-region shares of activations) and the gradient clipping kernels.
//
// Every kernel reads the buffers it is given and writes only its small result area; sums
// of squares are taken in f32 vector lanes over runs of SPAN values and the runs are added
// in f64, so their error does not grow with the length of the buffer.
import { SQ_MIN_BITS, add_square, add_square_s } from "./sums";
import { ACT_HARDTANH, ACT_RELU, ACT_SIGMOID, ACT_STEP, ACT_TANH } from "./vmath";

/** Values summed in f32 lanes before the partial sums are added in f64. */
const SPAN: i32 = 1024;

/** Bytes of one grad_stats record: five f64 (see grad_stats). */
const REC_BYTES: usize = 40;

/** Flags grad_stats writes into a record. */
const FLAG_NONFINITE: f64 = 1;
const FLAG_GROWTH: f64 = 2;

/**
 * Σ x[i]² and max |x[i]| over i < n, written as two f64 at out and out + 8; n = 0 gives 0
 * and 0. The max is taken on the bit patterns of |x| as integers, which order like the
 * values, with NaN above +Inf: one integer max per vector, and NaN propagates. So the sum
 * is finite exactly when every value is finite and the squares do not overflow
 * (|x| < 1.8e19), and the max is NaN exactly when some value is NaN. Values with
 * |x| < 2⁻⁶² ≈ 2.2e-19 add nothing to the sum (see add_square in sums.ts): a norm below
 * ~2e-19·√n reads as 0.
 */
// @ts-ignore: decorator
@inline function sumsq_maxabs(x: usize, n: i32, out: usize): void {
  const mask = i32x4.splat(0x7fffffff);
  const minBits = i32x4.splat(SQ_MIN_BITS);
  let total: f64 = 0;
  let m0 = i32x4.splat(0), m1 = i32x4.splat(0);
  let ms: i32 = 0;
  let i = 0;
  while (i < n) {
    const end = min(n, i + SPAN);
    let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
    for (; i + 16 <= end; i += 16) {
      const o = <usize>i << 2;
      const x0 = v128.load(x + o), x1 = v128.load(x + o, 16), x2 = v128.load(x + o, 32), x3 = v128.load(x + o, 48);
      const a0 = v128.and(x0, mask), a1 = v128.and(x1, mask), a2 = v128.and(x2, mask), a3 = v128.and(x3, mask);
      s0 = add_square(s0, x0, a0, minBits);
      s1 = add_square(s1, x1, a1, minBits);
      s2 = add_square(s2, x2, a2, minBits);
      s3 = add_square(s3, x3, a3, minBits);
      m0 = i32x4.max_s(m0, i32x4.max_s(a0, a1));
      m1 = i32x4.max_s(m1, i32x4.max_s(a2, a3));
    }
    for (; i + 4 <= end; i += 4) {
      const x0 = v128.load(x + (<usize>i << 2));
      const a0 = v128.and(x0, mask);
      s0 = add_square(s0, x0, a0, minBits);
      m0 = i32x4.max_s(m0, a0);
    }
    let t: f32 = 0;
    for (; i < end; i++) {
      const v = load<f32>(x + (<usize>i << 2));
      t = add_square_s(t, v);
      ms = max<i32>(ms, reinterpret<i32>(v) & 0x7fffffff);
    }
    const s = f32x4.add(f32x4.add(s0, s1), f32x4.add(s2, s3));
    total += <f64>(f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1)) +
      <f64>(f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3)) + <f64>t;
  }
  const m = i32x4.max_s(m0, m1);
  const mx = max<i32>(max<i32>(max<i32>(i32x4.extract_lane(m, 0), i32x4.extract_lane(m, 1)), max<i32>(i32x4.extract_lane(m, 2), i32x4.extract_lane(m, 3))), ms);
  store<f64>(out, total);
  store<f64>(out, <f64>reinterpret<f32>(mx), 8);
}

/**
 * Gradient statistics of `count` buffers in one call, for a training step.
 *
 * `table` holds count entries of two i32: the byte offset of buffer k and its length n_k.
 * `rec` holds count records of five f64 (40 bytes, 8-aligned); for each k this kernel does
 *   rec[k].2 ← rec[k].0                     (the previous step's Σg²)
 *   rec[k].0 ← Σ_i g_k[i]²,  rec[k].1 ← max_i |g_k[i]| (NaN if some g_k[i] is NaN)
 *   rec[k].3 ← 1 if Σg² is not finite (some g_k[i] is NaN or ±Inf, or |g| ≥ 1.8e19),
 *              else 2 if rec[k].2 > 0 and Σg² > growth²·rec[k].2 (the norm grew by more
 *                     than `growth` since the previous call; growth = Inf never flags),
 *              else 0
 * and leaves rec[k].4 alone (a tracked optimizer step writes its Σ Δw² there).
 * A record whose previous Σg² is negative (set so before the first call) is never flagged
 * for growth. Returns how many records were flagged.
 */
export function grad_stats(table: usize, count: i32, rec: usize, growth: f64): i32 {
  const g2 = growth * growth;
  let flagged = 0;
  for (let k = 0; k < count; k++) {
    const e = table + (<usize>k << 3);
    const r = rec + <usize>k * REC_BYTES;
    const prev = load<f64>(r);
    sumsq_maxabs(<usize>load<u32>(e), load<i32>(e, 4), r);
    const s = load<f64>(r);
    let flag: f64 = 0;
    if (!isFinite<f64>(s)) flag = FLAG_NONFINITE;
    else if (prev > 0 && s > g2 * prev) flag = FLAG_GROWTH;
    store<f64>(r, prev, 16);
    store<f64>(r, flag, 24);
    if (flag != 0) flagged++;
  }
  return flagged;
}

/** Σ x[i]², i < n, in f64 (summed as described at the top of this file). NaN if any x[i] is NaN. */
export function sum_squares(x: usize, n: i32, scratch: usize): f64 {
  sumsq_maxabs(x, n, scratch);
  return load<f64>(scratch);
}

/** max |x[i]|, i < n (0 for n = 0); NaN if any x[i] is NaN, else Inf if any is ±Inf. */
export function max_abs(x: usize, n: i32, scratch: usize): f64 {
  sumsq_maxabs(x, n, scratch);
  return load<f64>(scratch, 8);
}

/**
 * x[i] ← min(max(x[i], lo), hi), i < n, in place (lo ≤ hi). NaN stays NaN (f32x4.min and
 * f32x4.max propagate it); ±Inf becomes hi or lo.
 */
export function clip_values(x: usize, n: i32, lo: f32, hi: f32): void {
  const lov = f32x4.splat(lo), hiv = f32x4.splat(hi);
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const o = <usize>i << 2;
    v128.store(x + o, f32x4.min(f32x4.max(v128.load(x + o), lov), hiv));
    v128.store(x + o, f32x4.min(f32x4.max(v128.load(x + o, 16), lov), hiv), 16);
    v128.store(x + o, f32x4.min(f32x4.max(v128.load(x + o, 32), lov), hiv), 32);
    v128.store(x + o, f32x4.min(f32x4.max(v128.load(x + o, 48), lov), hiv), 48);
  }
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(x + o, f32x4.min(f32x4.max(v128.load(x + o), lov), hiv));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(x + o, min<f32>(max<f32>(load<f32>(x + o), lo), hi));
  }
}

/** Lanes of y that sit in the flat region of activation `kind` (all ones where flat). */
// @ts-ignore: decorator
@inline function flat_v(kind: i32, y: v128): v128 {
  if (kind == ACT_SIGMOID) {
    return v128.or(f32x4.le(y, f32x4.splat(0.01)), f32x4.ge(y, f32x4.splat(0.99)));
  } else if (kind == ACT_TANH) {
    return f32x4.ge(f32x4.abs(y), f32x4.splat(0.99));
  } else if (kind == ACT_HARDTANH) {
    return f32x4.ge(f32x4.abs(y), f32x4.splat(1.0));
  } else if (kind == ACT_RELU) {
    return f32x4.eq(y, f32x4.splat(0));
  }
  return i32x4.splat(-1); // ACT_STEP: flat everywhere
}

// @ts-ignore: decorator
@inline function flat_s(kind: i32, y: f32): bool {
  if (kind == ACT_SIGMOID) return y <= <f32>0.01 || y >= <f32>0.99;
  if (kind == ACT_TANH) return abs<f32>(y) >= <f32>0.99;
  if (kind == ACT_HARDTANH) return abs<f32>(y) >= 1;
  if (kind == ACT_RELU) return y == 0;
  return true;
}

/** flat_stats for one constant kind: columns in blocks of four lanes, walking down the rows. */
// @ts-ignore: decorator
@inline function flat_impl(kind: i32, y: usize, rows: i32, cols: i32, out: usize): void {
  const stride = <usize>cols << 2;
  let flat = i32x4.splat(0); // per lane: −(flat values)
  let units = i32x4.splat(0); // per lane: −(columns flat in every row)
  let c = 0;
  for (; c + 4 <= cols; c += 4) {
    let all = i32x4.splat(-1);
    let p = y + (<usize>c << 2);
    for (let r = 0; r < rows; r++) {
      const m = flat_v(kind, v128.load(p));
      flat = i32x4.add(flat, m);
      all = v128.and(all, m);
      p += stride;
    }
    units = i32x4.add(units, all);
  }
  let nflat = -(i32x4.extract_lane(flat, 0) + i32x4.extract_lane(flat, 1) + i32x4.extract_lane(flat, 2) + i32x4.extract_lane(flat, 3));
  let nunits = -(i32x4.extract_lane(units, 0) + i32x4.extract_lane(units, 1) + i32x4.extract_lane(units, 2) + i32x4.extract_lane(units, 3));
  for (; c < cols; c++) {
    let all = true;
    let p = y + (<usize>c << 2);
    for (let r = 0; r < rows; r++) {
      if (flat_s(kind, load<f32>(p))) nflat++;
      else all = false;
      p += stride;
    }
    if (all) nunits++;
  }
  store<f64>(out, <f64>nflat);
  store<f64>(out, <f64>nunits, 8);
}

/**
 * Flat-region counts of an activation output y viewed as [rows, cols] (rows: the batch,
 * cols: the units), written as two f64: out[0] = how many of the rows·cols values are in
 * the flat region, out[1] = how many columns (units) are flat in every row. rows = 0 gives
 * 0 and 0. The flat regions, by the activation codes of assembly/vmath.ts:
 *   ACT_SIGMOID   y ≤ 0.01 or y ≥ 0.99      (within 1% of the bounds 0 and 1)
 *   ACT_TANH      |y| ≥ 0.99                (within 1% of the bounds ±1)
 *   ACT_HARDTANH  |y| ≥ 1                   (clipped)
 *   ACT_RELU      y = 0                     (dead for this row; relu′(0) = 0)
 *   ACT_STEP      every value               (the threshold unit has no slope anywhere)
 * NaN is never flat except for ACT_STEP. Any other kind counts nothing.
 */
export function flat_stats(kind: i32, y: usize, rows: i32, cols: i32, out: usize): void {
  if (rows <= 0 || cols <= 0) {
    store<f64>(out, 0);
    store<f64>(out, 0, 8);
    return;
  }
  if (kind == ACT_SIGMOID) flat_impl(ACT_SIGMOID, y, rows, cols, out);
  else if (kind == ACT_TANH) flat_impl(ACT_TANH, y, rows, cols, out);
  else if (kind == ACT_HARDTANH) flat_impl(ACT_HARDTANH, y, rows, cols, out);
  else if (kind == ACT_RELU) flat_impl(ACT_RELU, y, rows, cols, out);
  else if (kind == ACT_STEP) flat_impl(ACT_STEP, y, rows, cols, out);
  else {
    store<f64>(out, 0);
    store<f64>(out, 0, 8);
  }
}
