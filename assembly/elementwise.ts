// Elementwise kernels: binary maps (same size, broadcast over rows, scalar operand),
// scale, axpy, fill, copy, elementwise max and its gradient, and the column / row sums
// that broadcast gradients reduce through.
//
// Conventions for every kernel of this file:
// - Pointers are byte offsets of f32 arrays; counts are element counts (≥ 0, 0 is a no-op).
// - `accumulate` = 0 overwrites the output (it is then not read), 1 adds into it. Gradient
//   kernels use 1 in graph backward and 0 for eager calls; the work is one pass either way.
// - An output may be the same array as an input of the same layout (in place); partial
//   overlaps are not supported.
// - Main loops take 16 floats (four v128) per step, then whole vectors, then a scalar tail.
import { fmadd } from "./simd";
import { sum_span } from "./sums";

const OP_ADD: i32 = 0;
const OP_SUB: i32 = 1; //  a − b
const OP_RSUB: i32 = 2; // b − a
const OP_MUL: i32 = 3;
const OP_MAX: i32 = 4;

// @ts-ignore: decorator
@inline function vop(op: i32, a: v128, b: v128): v128 {
  if (op == OP_ADD) return f32x4.add(a, b);
  if (op == OP_SUB) return f32x4.sub(a, b);
  if (op == OP_RSUB) return f32x4.sub(b, a);
  if (op == OP_MUL) return f32x4.mul(a, b);
  return f32x4.max(a, b);
}

// @ts-ignore: decorator
@inline function sop(op: i32, a: f32, b: f32): f32 {
  if (op == OP_ADD) return a + b;
  if (op == OP_SUB) return a - b;
  if (op == OP_RSUB) return b - a;
  if (op == OP_MUL) return a * b;
  return Mathf.max(a, b);
}

/** acc ? y + (a op b) : a op b, with the multiply fused into the add where it can be. */
// @ts-ignore: decorator
@inline function vacc(op: i32, acc: bool, a: v128, b: v128, y: v128): v128 {
  if (!acc) return vop(op, a, b);
  if (op == OP_MUL) return fmadd(a, b, y);
  return f32x4.add(y, vop(op, a, b));
}

// @ts-ignore: decorator
@inline function sacc(op: i32, acc: bool, a: f32, b: f32, y: f32): f32 {
  return acc ? y + sop(op, a, b) : sop(op, a, b);
}

/** y[i] (+)= a[i] op b[i] for i < n. `op` and `acc` are constants at every call site. */
// @ts-ignore: decorator
@inline function map2(op: i32, acc: bool, a: usize, b: usize, y: usize, n: i32): void {
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const o = <usize>i << 2;
    const a0 = v128.load(a + o), a1 = v128.load(a + o, 16), a2 = v128.load(a + o, 32), a3 = v128.load(a + o, 48);
    const b0 = v128.load(b + o), b1 = v128.load(b + o, 16), b2 = v128.load(b + o, 32), b3 = v128.load(b + o, 48);
    let y0 = f32x4.splat(0), y1 = f32x4.splat(0), y2 = f32x4.splat(0), y3 = f32x4.splat(0);
    if (acc) {
      y0 = v128.load(y + o); y1 = v128.load(y + o, 16); y2 = v128.load(y + o, 32); y3 = v128.load(y + o, 48);
    }
    v128.store(y + o, vacc(op, acc, a0, b0, y0));
    v128.store(y + o, vacc(op, acc, a1, b1, y1), 16);
    v128.store(y + o, vacc(op, acc, a2, b2, y2), 32);
    v128.store(y + o, vacc(op, acc, a3, b3, y3), 48);
  }
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const y0 = acc ? v128.load(y + o) : f32x4.splat(0);
    v128.store(y + o, vacc(op, acc, v128.load(a + o), v128.load(b + o), y0));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const y0: f32 = acc ? load<f32>(y + o) : 0;
    store<f32>(y + o, sacc(op, acc, load<f32>(a + o), load<f32>(b + o), y0));
  }
}

/** y[i] (+)= a[i] op s for i < n, s a splatted scalar. */
// @ts-ignore: decorator
@inline function map2s(op: i32, acc: bool, a: usize, s: f32, y: usize, n: i32): void {
  const sv = f32x4.splat(s);
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const o = <usize>i << 2;
    const a0 = v128.load(a + o), a1 = v128.load(a + o, 16), a2 = v128.load(a + o, 32), a3 = v128.load(a + o, 48);
    let y0 = f32x4.splat(0), y1 = f32x4.splat(0), y2 = f32x4.splat(0), y3 = f32x4.splat(0);
    if (acc) {
      y0 = v128.load(y + o); y1 = v128.load(y + o, 16); y2 = v128.load(y + o, 32); y3 = v128.load(y + o, 48);
    }
    v128.store(y + o, vacc(op, acc, a0, sv, y0));
    v128.store(y + o, vacc(op, acc, a1, sv, y1), 16);
    v128.store(y + o, vacc(op, acc, a2, sv, y2), 32);
    v128.store(y + o, vacc(op, acc, a3, sv, y3), 48);
  }
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const y0 = acc ? v128.load(y + o) : f32x4.splat(0);
    v128.store(y + o, vacc(op, acc, v128.load(a + o), sv, y0));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const y0: f32 = acc ? load<f32>(y + o) : 0;
    store<f32>(y + o, sacc(op, acc, load<f32>(a + o), s, y0));
  }
}

// @ts-ignore: decorator
@inline function same(op: i32, a: usize, b: usize, y: usize, n: i32, accumulate: i32): void {
  if (accumulate) map2(op, true, a, b, y, n);
  else map2(op, false, a, b, y, n);
}

// @ts-ignore: decorator
@inline function rows_acc(op: i32, acc: bool, a: usize, b: usize, y: usize, nrows: i32, cols: i32): void {
  const stride = <usize>cols << 2;
  for (let r = 0; r < nrows; r++) {
    const o = <usize>r * stride;
    map2(op, acc, a + o, b, y + o, cols);
  }
}

/** The flag picks the loop over rows once, not per row (Node 24, Chromium: 1.17–1.21× at 64 columns). */
// @ts-ignore: decorator
@inline function rows(op: i32, a: usize, b: usize, y: usize, nrows: i32, cols: i32, accumulate: i32): void {
  if (accumulate) rows_acc(op, true, a, b, y, nrows, cols);
  else rows_acc(op, false, a, b, y, nrows, cols);
}

// @ts-ignore: decorator
@inline function scalar(op: i32, a: usize, s: usize, y: usize, n: i32, accumulate: i32): void {
  const v = load<f32>(s);
  if (accumulate) map2s(op, true, a, v, y, n);
  else map2s(op, false, a, v, y, n);
}

// ------------------------------------------------------------------ binary maps

/** y[i] (+)= a[i] + b[i], i < n. */
export function add_same(a: usize, b: usize, y: usize, n: i32, accumulate: i32): void {
  same(OP_ADD, a, b, y, n, accumulate);
}

/** y[i] (+)= a[i] − b[i], i < n. */
export function sub_same(a: usize, b: usize, y: usize, n: i32, accumulate: i32): void {
  same(OP_SUB, a, b, y, n, accumulate);
}

/** y[i] (+)= a[i]·b[i], i < n (fused multiply-add when accumulating in the relaxed build). */
export function mul_same(a: usize, b: usize, y: usize, n: i32, accumulate: i32): void {
  same(OP_MUL, a, b, y, n, accumulate);
}

/** y[i] = max(a[i], b[i]), i < n; NaN in either input gives NaN. */
export function max_same(a: usize, b: usize, y: usize, n: i32): void {
  same(OP_MAX, a, b, y, n, 0);
}

/** a is [rows, cols], b is [cols] (a bias): y[r, c] (+)= a[r, c] + b[c]. */
export function add_rows(a: usize, b: usize, y: usize, nrows: i32, cols: i32, accumulate: i32): void {
  rows(OP_ADD, a, b, y, nrows, cols, accumulate);
}

/** a is [rows, cols], b is [cols]: y[r, c] (+)= a[r, c] − b[c]. */
export function sub_rows(a: usize, b: usize, y: usize, nrows: i32, cols: i32, accumulate: i32): void {
  rows(OP_SUB, a, b, y, nrows, cols, accumulate);
}

/** a is [rows, cols], b is [cols]: y[r, c] (+)= b[c] − a[r, c] (the broadcast operand first). */
export function rsub_rows(a: usize, b: usize, y: usize, nrows: i32, cols: i32, accumulate: i32): void {
  rows(OP_RSUB, a, b, y, nrows, cols, accumulate);
}

/** a is [rows, cols], b is [cols]: y[r, c] (+)= a[r, c]·b[c]. */
export function mul_rows(a: usize, b: usize, y: usize, nrows: i32, cols: i32, accumulate: i32): void {
  rows(OP_MUL, a, b, y, nrows, cols, accumulate);
}

/** s points at one f32 (read once): y[i] (+)= a[i] + s, i < n. */
export function add_scalar(a: usize, s: usize, y: usize, n: i32, accumulate: i32): void {
  scalar(OP_ADD, a, s, y, n, accumulate);
}

/** s points at one f32: y[i] (+)= a[i] − s. */
export function sub_scalar(a: usize, s: usize, y: usize, n: i32, accumulate: i32): void {
  scalar(OP_SUB, a, s, y, n, accumulate);
}

/** s points at one f32: y[i] (+)= s − a[i]. */
export function rsub_scalar(a: usize, s: usize, y: usize, n: i32, accumulate: i32): void {
  scalar(OP_RSUB, a, s, y, n, accumulate);
}

/** s points at one f32: y[i] (+)= a[i]·s. Also the gradient of a product with a scalar
 *  held in memory (dx (+)= dy·s) without JS reading s. */
export function mul_scalar(a: usize, s: usize, y: usize, n: i32, accumulate: i32): void {
  scalar(OP_MUL, a, s, y, n, accumulate);
}

// ------------------------------------------------------------------ scale, axpy, fill, copy

/** y[i] = s·x[i], i < n. */
export function scale_f32(x: usize, y: usize, n: i32, s: f32): void {
  map2s(OP_MUL, false, x, s, y, n);
}

/** y[i] += a·x[i], i < n (BLAS axpy). */
export function axpy_f32(x: usize, y: usize, n: i32, a: f32): void {
  map2s(OP_MUL, true, x, a, y, n);
}

/**
 * Zero fills from this many floats go through memory.fill (the engine's memset). Against the
 * vector loop below (`node bench/engines-ab.mjs --kernels=fill_f32 --n=N` with the loop's build
 * as the baseline; Node 20 / Node 24 / Deno / Bun / Chromium, Zen 4 VM): 1.20/1.11/1.48/1.32/
 * 1.17× at 256 floats, 1.49/1.12/1.46/1.49/1.36× at 1024, 1.56–1.76× at 4096 and 1.31–1.77× at
 * 200704 (784 × 256, a layer's gradient). Below it the call costs more than it saves (an ad-hoc
 * sweep under Node 20: 0.8× at 64 floats).
 */
const FILL_BULK_MIN: i32 = 256;

/** y[i] = value, i < n. */
export function fill_f32(y: usize, n: i32, value: f32): void {
  if (n >= FILL_BULK_MIN && reinterpret<u32>(value) == 0) {
    // +0 (not −0): every byte 0.
    memory.fill(y, 0, <usize>n << 2);
    return;
  }
  const v = f32x4.splat(value);
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const o = <usize>i << 2;
    v128.store(y + o, v);
    v128.store(y + o, v, 16);
    v128.store(y + o, v, 32);
    v128.store(y + o, v, 48);
  }
  for (; i + 4 <= n; i += 4) v128.store(y + (<usize>i << 2), v);
  for (; i < n; i++) store<f32>(y + (<usize>i << 2), value);
}

/** y[i] = x[i], i < n (x and y do not overlap, or are the same array). */
export function copy_f32(x: usize, y: usize, n: i32): void {
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const o = <usize>i << 2;
    const x0 = v128.load(x + o), x1 = v128.load(x + o, 16), x2 = v128.load(x + o, 32), x3 = v128.load(x + o, 48);
    v128.store(y + o, x0);
    v128.store(y + o, x1, 16);
    v128.store(y + o, x2, 32);
    v128.store(y + o, x3, 48);
  }
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, v128.load(x + o));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, load<f32>(x + o));
  }
}

// ------------------------------------------------------------------ max gradient

/** Gradient weights of max(a, b) for a: 1 where a > b, ½ where a = b, else 0. */
// @ts-ignore: decorator
@inline function max_weight(a: v128, b: v128): v128 {
  return f32x4.add(v128.and(f32x4.gt(a, b), f32x4.splat(1)), v128.and(f32x4.eq(a, b), f32x4.splat(0.5)));
}

// @ts-ignore: decorator
@inline function max_weight_s(a: f32, b: f32): f32 {
  return a > b ? 1 : a == b ? <f32>0.5 : 0;
}

// @ts-ignore: decorator
@inline function max_grad(acc: bool, a: usize, b: usize, dy: usize, dx: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const w = max_weight(v128.load(a + o), v128.load(b + o));
    const g = f32x4.mul(w, v128.load(dy + o));
    v128.store(dx + o, acc ? f32x4.add(v128.load(dx + o), g) : g);
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const g = max_weight_s(load<f32>(a + o), load<f32>(b + o)) * load<f32>(dy + o);
    store<f32>(dx + o, acc ? load<f32>(dx + o) + g : g);
  }
}

/**
 * Gradient of y = max(a, b), elementwise, i < n:
 *   da[i] (+)= dy[i]·(a > b ? 1 : a = b ? ½ : 0),  db[i] (+)= dy[i]·(b > a ? 1 : a = b ? ½ : 0).
 * Ties split the gradient equally between the two inputs (as PyTorch's `maximum`); where
 * either input is NaN neither gets any. da or db may be 0 (the null pointer): that
 * gradient is not computed.
 */
export function max_backward(a: usize, b: usize, dy: usize, da: usize, db: usize, n: i32, accumulate: i32): void {
  if (da != 0) {
    if (accumulate) max_grad(true, a, b, dy, da, n);
    else max_grad(false, a, b, dy, da, n);
  }
  if (db != 0) {
    if (accumulate) max_grad(true, b, a, dy, db, n);
    else max_grad(false, b, a, dy, db, n);
  }
}

// ------------------------------------------------------------------ column and row sums

/**
 * Rows summed in f32 before a run's partial sums are added into f64 totals: each f32 lane
 * sums at most 64 values, as in sum_span (1024 values over 16 lanes).
 */
const COL_RUN: i32 = 64;

/** Lanes 0–1 and 2–3 of an f32x4 as two f64x2. */
// @ts-ignore: decorator
@inline function lo64(v: v128): v128 {
  return f64x2.promote_low_f32x4(v);
}
// @ts-ignore: decorator
@inline function hi64(v: v128): v128 {
  return f64x2.promote_low_f32x4(i8x16.shuffle(v, v, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7));
}

/** y[0..3] (+)= α·(lo, hi), the product formed in f64 and rounded once to f32 (then added to y). */
// @ts-ignore: decorator
@inline function store_scaled4(y: usize, lo: v128, hi: v128, av: v128, acc: bool): void {
  const a = f32x4.demote_f64x2_zero(f64x2.mul(lo, av));
  const b = f32x4.demote_f64x2_zero(f64x2.mul(hi, av));
  let v = i8x16.shuffle(a, b, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
  if (acc) v = f32x4.add(v128.load(y), v);
  v128.store(y, v);
}

/** Σ_r x[r, c]·(w[r, c] if weighted), for the 16 columns at byte offset `o`. */
// @ts-ignore: decorator
@inline function col_block16(weighted: bool, x: usize, w: usize, y: usize, nrows: i32, stride: usize, alpha: f32, acc: bool): void {
  let t0 = f64x2.splat(0), t1 = f64x2.splat(0), t2 = f64x2.splat(0), t3 = f64x2.splat(0);
  let t4 = f64x2.splat(0), t5 = f64x2.splat(0), t6 = f64x2.splat(0), t7 = f64x2.splat(0);
  let p = x, q = w;
  let r = 0;
  while (r < nrows) {
    const end = min(nrows, r + COL_RUN);
    let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
    for (; r < end; r++) {
      if (weighted) {
        s0 = fmadd(v128.load(p), v128.load(q), s0);
        s1 = fmadd(v128.load(p, 16), v128.load(q, 16), s1);
        s2 = fmadd(v128.load(p, 32), v128.load(q, 32), s2);
        s3 = fmadd(v128.load(p, 48), v128.load(q, 48), s3);
        q += stride;
      } else {
        s0 = f32x4.add(s0, v128.load(p));
        s1 = f32x4.add(s1, v128.load(p, 16));
        s2 = f32x4.add(s2, v128.load(p, 32));
        s3 = f32x4.add(s3, v128.load(p, 48));
      }
      p += stride;
    }
    t0 = f64x2.add(t0, lo64(s0));
    t1 = f64x2.add(t1, hi64(s0));
    t2 = f64x2.add(t2, lo64(s1));
    t3 = f64x2.add(t3, hi64(s1));
    t4 = f64x2.add(t4, lo64(s2));
    t5 = f64x2.add(t5, hi64(s2));
    t6 = f64x2.add(t6, lo64(s3));
    t7 = f64x2.add(t7, hi64(s3));
  }
  const av = f64x2.splat(<f64>alpha);
  store_scaled4(y, t0, t1, av, acc);
  store_scaled4(y + 16, t2, t3, av, acc);
  store_scaled4(y + 32, t4, t5, av, acc);
  store_scaled4(y + 48, t6, t7, av, acc);
}

// @ts-ignore: decorator
@inline function col_sums_impl(weighted: bool, acc: bool, x: usize, w: usize, y: usize, nrows: i32, cols: i32, alpha: f32): void {
  const stride = <usize>cols << 2;
  let c = 0;
  for (; c + 16 <= cols; c += 16) {
    const o = <usize>c << 2;
    col_block16(weighted, x + o, w + o, y + o, nrows, stride, alpha, acc);
  }
  for (; c + 4 <= cols; c += 4) {
    const o = <usize>c << 2;
    let t0 = f64x2.splat(0), t1 = f64x2.splat(0);
    let p = x + o, q = w + o;
    let r = 0;
    while (r < nrows) {
      const end = min(nrows, r + COL_RUN);
      let s = f32x4.splat(0);
      for (; r < end; r++) {
        if (weighted) {
          s = fmadd(v128.load(p), v128.load(q), s);
          q += stride;
        } else {
          s = f32x4.add(s, v128.load(p));
        }
        p += stride;
      }
      t0 = f64x2.add(t0, lo64(s));
      t1 = f64x2.add(t1, hi64(s));
    }
    store_scaled4(y + o, t0, t1, f64x2.splat(<f64>alpha), acc);
  }
  for (; c < cols; c++) {
    const o = <usize>c << 2;
    let t: f64 = 0;
    let p = x + o, q = w + o;
    let r = 0;
    while (r < nrows) {
      const end = min(nrows, r + COL_RUN);
      let s: f32 = 0;
      for (; r < end; r++) {
        if (weighted) {
          s += load<f32>(p) * load<f32>(q);
          q += stride;
        } else {
          s += load<f32>(p);
        }
        p += stride;
      }
      t += <f64>s;
    }
    const v = <f32>(<f64>alpha * t);
    store<f32>(y + o, acc ? load<f32>(y + o) + v : v);
  }
}

/**
 * Column sums of x [rows, cols]: y[c] (+)= α·Σ_r x[r, c]. The bias gradient
 * (db (+)= Σ_rows dy, α = 1), and sums over a middle axis. One pass over x: runs of 64 rows
 * are summed in f32 lanes, the runs in f64, and α·Σ is formed in f64 and rounded once, so
 * |error| ≤ 64·u·Σ_r |x[r, c]| + u·|α·Σ| with u = 2⁻²⁴ (≈ 3.8e-6 of Σ|x| in the worst case,
 * whatever the row count), and a sum that overflows f32 before α brings it back is finite.
 */
export function col_sums(x: usize, y: usize, nrows: i32, cols: i32, alpha: f32, accumulate: i32): void {
  if (accumulate) col_sums_impl(false, true, x, 0, y, nrows, cols, alpha);
  else col_sums_impl(false, false, x, 0, y, nrows, cols, alpha);
}

/**
 * Weighted column sums of x, w [rows, cols]: y[c] (+)= α·Σ_r x[r, c]·w[r, c]. The gradient
 * of a row-broadcast product a[r, c]·b[c] for b: db (+)= Σ_rows dy·a. Summed as col_sums.
 */
export function col_sums_mul(x: usize, w: usize, y: usize, nrows: i32, cols: i32, alpha: f32, accumulate: i32): void {
  if (accumulate) col_sums_impl(true, true, x, w, y, nrows, cols, alpha);
  else col_sums_impl(true, false, x, w, y, nrows, cols, alpha);
}

/** Row sums of x [rows, cols]: y[r] (+)= α·Σ_c x[r, c]. */
export function row_sums(x: usize, y: usize, nrows: i32, cols: i32, alpha: f32, accumulate: i32): void {
  const stride = <usize>cols << 2;
  for (let r = 0; r < nrows; r++) {
    const s = <f32>(<f64>alpha * sum_span(false, x + <usize>r * stride, 0, cols));
    const o = <usize>r << 2;
    store<f32>(y + o, accumulate ? load<f32>(y + o) + s : s);
  }
}
