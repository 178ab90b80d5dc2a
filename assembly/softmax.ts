// Softmax, log-softmax and cross-entropy with integer class labels, forward and backward.
//
// Layout: x is viewed as [outer, n, inner] and the op runs over the middle axis (n values
// spaced `inner` apart). inner = 1 is the common case (the last axis: contiguous rows);
// inner > 1 runs four neighbouring columns at once, one per SIMD lane, so every axis is
// covered without a transpose. All kernels are stable for logits of any size: they work
// with x − max ≤ 0, so e^(x − max) ∈ [0, 1] never overflows and the row sum s ∈ [1, n].
// Row sums run in f32 lanes over runs of ROW_RUN values and in f64 across runs (inner = 1);
// the strided form sums each column in f32 (relative error ≤ n·2⁻²⁴ of a sum of
// non-negative terms). Exp and log are the vector code of vmath.ts (1–2 ulp); the forwards'
// exponentials take x − max ≤ 0, so they use exp_nonpos_v (exp_v's bits in fewer operations;
// lanes past a row's end may exceed 0 and are masked out). Loops around
// exp are do-while, and the build loads the polynomial's constants before each loop
// (asc-transform.js), so no engine rebuilds them per iteration. The last 1–3
// elements of a row run through the same vector code as one partial vector. Every kernel
// with an `accumulate` flag overwrites its output when it is 0 and adds when it is 1.
import { fmadd, fnmadd } from "./simd";
import { exp_nonpos_v, exp_v, lanes_below, load_upto4, log_v, row_max, store_upto4 } from "./vmath";

/** Row sums run in f32 lanes over this many values, then in f64. */
const ROW_RUN: i32 = 512;

// @ts-ignore: decorator
@inline function hsum(v: v128): f64 {
  return <f64>(f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + <f64>(f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/**
 * Σ_i e^(x[i] − m) over a contiguous row of n ≥ 1 values; with `store`, also writes each
 * e^(x[i] − m) to e[i] (e may alias x).
 */
// @ts-ignore: decorator
@inline function row_exp_sum(store: bool, x: usize, e: usize, n: i32, m: f32): f64 {
  const mv = f32x4.splat(m);
  let s: f64 = 0;
  let i = 0;
  do {
    const end = min(n, i + ROW_RUN);
    let s0 = f32x4.splat(0), s1 = f32x4.splat(0);
    // Two vectors per step while eight values remain, so the two exps overlap.
    while (i + 8 <= end) {
      const o = <usize>i << 2;
      const e0 = exp_nonpos_v(f32x4.sub(v128.load(x + o), mv));
      const e1 = exp_nonpos_v(f32x4.sub(v128.load(x + o, 16), mv));
      if (store) {
        v128.store(e + o, e0);
        v128.store(e + o, e1, 16);
      }
      s0 = f32x4.add(s0, e0);
      s1 = f32x4.add(s1, e1);
      i += 8;
    }
    while (i < end) {
      const o = <usize>i << 2, k = n - i;
      let v = exp_nonpos_v(f32x4.sub(load_upto4(x + o, k), mv));
      if (store) store_upto4(e + o, v, k);
      if (k < 4) v = v128.and(v, lanes_below(k));
      s0 = f32x4.add(s0, v);
      i += 4;
    }
    s += hsum(f32x4.add(s0, s1));
  } while (i < n);
  return s;
}

/** y[i] = y[i]·c over a contiguous row of n values. */
// @ts-ignore: decorator
@inline function row_scale(y: usize, n: i32, c: f32): void {
  const cv = f32x4.splat(c);
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const o = <usize>i << 2;
    v128.store(y + o, f32x4.mul(v128.load(y + o), cv));
    v128.store(y + o, f32x4.mul(v128.load(y + o, 16), cv), 16);
  }
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, f32x4.mul(v128.load(y + o), cv));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, load<f32>(y + o) * c);
  }
}

/** log s for s ∈ [1, n] by the vector log. */
// @ts-ignore: decorator
@inline function log_f(s: f64): f32 {
  return f32x4.extract_lane(log_v(f32x4.splat(<f32>s), true), 0);
}

// ------------------------------------------------------------------ strided columns

/**
 * Softmax or log-softmax of four neighbouring columns of one [n, inner] slab at a time:
 * the lanes are independent columns (the last 1–3 columns of a slab run as a partial
 * vector). Bottom-tested loops so exp's constants stay in registers.
 */
// @ts-ignore: decorator
@inline function cols_forward(logMode: bool, x: usize, y: usize, outer: i32, n: i32, inner: i32): void {
  const colStride = <usize>inner << 2;
  const slab = <usize>n * colStride;
  for (let o = 0; o < outer; o++) {
    const xo = x + <usize>o * slab, yo = y + <usize>o * slab;
    for (let j = 0; j < inner; j += 4) {
      const k = inner - j;
      const xj = xo + (<usize>j << 2), yj = yo + (<usize>j << 2);
      let m = f32x4.splat(-Infinity);
      for (let a = 0; a < n; a++) m = f32x4.pmax(m, load_upto4(xj + <usize>a * colStride, k));
      let s = f32x4.splat(0);
      let a = 0;
      do {
        const off = <usize>a * colStride;
        const e = exp_nonpos_v(f32x4.sub(load_upto4(xj + off, k), m));
        if (!logMode) store_upto4(yj + off, e, k);
        s = f32x4.add(s, e);
      } while (++a < n);
      if (logMode) {
        const ls = log_v(s, true);
        for (a = 0; a < n; a++) {
          const off = <usize>a * colStride;
          store_upto4(yj + off, f32x4.sub(f32x4.sub(load_upto4(xj + off, k), m), ls), k);
        }
      } else {
        const r = f32x4.div(f32x4.splat(1), s);
        for (a = 0; a < n; a++) {
          const off = <usize>a * colStride;
          store_upto4(yj + off, f32x4.mul(load_upto4(yj + off, k), r), k);
        }
      }
    }
  }
}

/**
 * Backward over columns: softmax  dx = y ⊙ (dy − Σ_a dy·y);
 * log-softmax dx = dy − e^y · Σ_a dy.
 */
// @ts-ignore: decorator
@inline function cols_backward(logMode: bool, y: usize, dy: usize, dx: usize, outer: i32, n: i32, inner: i32, accumulate: i32): void {
  const colStride = <usize>inner << 2;
  const slab = <usize>n * colStride;
  for (let o = 0; o < outer; o++) {
    const base = <usize>o * slab;
    for (let j = 0; j < inner; j += 4) {
      const k = inner - j;
      const jo = base + (<usize>j << 2);
      let t = f32x4.splat(0);
      for (let a = 0; a < n; a++) {
        const off = jo + <usize>a * colStride;
        const g = load_upto4(dy + off, k);
        t = logMode ? f32x4.add(t, g) : fmadd(g, load_upto4(y + off, k), t);
      }
      let a = 0;
      do {
        const off = jo + <usize>a * colStride;
        const g = load_upto4(dy + off, k), yv = load_upto4(y + off, k);
        let d = logMode ? fnmadd(exp_v(yv), t, g) : f32x4.mul(yv, f32x4.sub(g, t));
        if (accumulate) d = f32x4.add(d, load_upto4(dx + off, k));
        store_upto4(dx + off, d, k);
      } while (++a < n);
    }
  }
}

// ------------------------------------------------------------------ softmax

/**
 * Softmax over the middle axis of x viewed as [outer, n, inner] (inner = 1: over the last
 * axis, contiguous rows):
 *   y[o, i, j] = e^(x[o, i, j] − m) / Σ_a e^(x[o, a, j] − m),  m = max_a x[o, a, j].
 * Preconditions: n ≥ 1 when outer·inner > 0; y may alias x. Relative error of each output
 * ≤ 4 ulp plus the sum's rounding (see the top of the file).
 */
export function softmax_forward(x: usize, y: usize, outer: i32, n: i32, inner: i32): void {
  if (outer <= 0 || n <= 0 || inner <= 0) return;
  if (inner > 1) {
    cols_forward(false, x, y, outer, n, inner);
    return;
  }
  const stride = <usize>n << 2;
  for (let r = 0; ; ) {
    const xr = x + <usize>r * stride, yr = y + <usize>r * stride;
    const m = row_max(xr, n);
    const s = row_exp_sum(true, xr, yr, n, m);
    row_scale(yr, n, <f32>(1 / s));
    if (++r >= outer) break;
  }
}

/**
 * Gradient of softmax from its output y: dx (+)= y ⊙ (dy − Σ_a dy·y) along the axis
 * (layout as in softmax_forward). dx must not overlap y or dy unless it is exactly dy
 * with accumulate = 0.
 */
export function softmax_backward(y: usize, dy: usize, dx: usize, outer: i32, n: i32, inner: i32, accumulate: i32): void {
  if (outer <= 0 || n <= 0 || inner <= 0) return;
  if (inner > 1) {
    cols_backward(false, y, dy, dx, outer, n, inner, accumulate);
    return;
  }
  const stride = <usize>n << 2;
  for (let r = 0; r < outer; r++) {
    const off = <usize>r * stride;
    const yr = y + off, gr = dy + off, dr = dx + off;
    // t = Σ dy·y: f32 lanes over runs, f64 across runs.
    let t: f64 = 0;
    let i = 0;
    while (i < n) {
      const end = min(n, i + ROW_RUN);
      let s0 = f32x4.splat(0), s1 = f32x4.splat(0);
      for (; i + 8 <= end; i += 8) {
        const o = <usize>i << 2;
        s0 = fmadd(v128.load(gr + o), v128.load(yr + o), s0);
        s1 = fmadd(v128.load(gr + o, 16), v128.load(yr + o, 16), s1);
      }
      for (; i + 4 <= end; i += 4) {
        const o = <usize>i << 2;
        s0 = fmadd(v128.load(gr + o), v128.load(yr + o), s0);
      }
      let ts = hsum(f32x4.add(s0, s1));
      for (; i < end; i++) ts += <f64>(load<f32>(gr + (<usize>i << 2)) * load<f32>(yr + (<usize>i << 2)));
      t += ts;
    }
    const tf = <f32>t;
    const tv = f32x4.splat(tf);
    i = 0;
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      let d = f32x4.mul(v128.load(yr + o), f32x4.sub(v128.load(gr + o), tv));
      if (accumulate) d = f32x4.add(d, v128.load(dr + o));
      v128.store(dr + o, d);
    }
    for (; i < n; i++) {
      const o = <usize>i << 2;
      let d = load<f32>(yr + o) * (load<f32>(gr + o) - tf);
      if (accumulate) d += load<f32>(dr + o);
      store<f32>(dr + o, d);
    }
  }
}

// ------------------------------------------------------------------ log-softmax

/**
 * Log-softmax over the middle axis (layout as in softmax_forward):
 *   y[o, i, j] = (x[o, i, j] − m) − log Σ_a e^(x[o, a, j] − m),  m = max_a x[o, a, j].
 * Written with x − m ≤ 0 and log s ∈ [0, log n], so no overflow and no cancellation for
 * logits of any size. y may alias x. One vector log per row.
 */
export function log_softmax_forward(x: usize, y: usize, outer: i32, n: i32, inner: i32): void {
  if (outer <= 0 || n <= 0 || inner <= 0) return;
  if (inner > 1) {
    cols_forward(true, x, y, outer, n, inner);
    return;
  }
  const stride = <usize>n << 2;
  for (let r = 0; ; ) {
    const xr = x + <usize>r * stride, yr = y + <usize>r * stride;
    const m = row_max(xr, n);
    const s = row_exp_sum(false, xr, 0, n, m);
    const mv = f32x4.splat(m);
    const ls = f32x4.splat(log_f(s));
    // (x − m) − log s: x − m is exact near the maximum, so the largest outputs keep full precision.
    let i = 0;
    for (; i + 8 <= n; i += 8) {
      const o = <usize>i << 2;
      v128.store(yr + o, f32x4.sub(f32x4.sub(v128.load(xr + o), mv), ls));
      v128.store(yr + o, f32x4.sub(f32x4.sub(v128.load(xr + o, 16), mv), ls), 16);
    }
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(yr + o, f32x4.sub(f32x4.sub(v128.load(xr + o), mv), ls));
    }
    const lsf = f32x4.extract_lane(ls, 0);
    for (; i < n; i++) {
      const o = <usize>i << 2;
      store<f32>(yr + o, (load<f32>(xr + o) - m) - lsf);
    }
    if (++r >= outer) break;
  }
}

/**
 * Gradient of log-softmax from its output y: dx (+)= dy − e^y · Σ_a dy along the axis
 * (layout as in softmax_forward). dx must not overlap y; it may be exactly dy with
 * accumulate = 0.
 */
export function log_softmax_backward(y: usize, dy: usize, dx: usize, outer: i32, n: i32, inner: i32, accumulate: i32): void {
  if (outer <= 0 || n <= 0 || inner <= 0) return;
  if (inner > 1) {
    cols_backward(true, y, dy, dx, outer, n, inner, accumulate);
    return;
  }
  const stride = <usize>n << 2;
  for (let r = 0; ; ) {
    const off = <usize>r * stride;
    const yr = y + off, gr = dy + off, dr = dx + off;
    let t: f64 = 0;
    let i = 0;
    while (i < n) {
      const end = min(n, i + ROW_RUN);
      let s0 = f32x4.splat(0), s1 = f32x4.splat(0);
      for (; i + 8 <= end; i += 8) {
        const o = <usize>i << 2;
        s0 = f32x4.add(s0, v128.load(gr + o));
        s1 = f32x4.add(s1, v128.load(gr + o, 16));
      }
      for (; i + 4 <= end; i += 4) s0 = f32x4.add(s0, v128.load(gr + (<usize>i << 2)));
      let ts = hsum(f32x4.add(s0, s1));
      for (; i < end; i++) ts += <f64>load<f32>(gr + (<usize>i << 2));
      t += ts;
    }
    const tv = f32x4.splat(<f32>t);
    i = 0;
    do {
      const o = <usize>i << 2, k = n - i;
      let d = fnmadd(exp_v(load_upto4(yr + o, k)), tv, load_upto4(gr + o, k));
      if (accumulate) d = f32x4.add(d, load_upto4(dr + o, k));
      store_upto4(dr + o, d, k);
      i += 4;
    } while (i < n);
    if (++r >= outer) break;
  }
}

// ------------------------------------------------------------------ cross-entropy with labels

/**
 * Index of the first label that is not an integer in [0, classes) among n f32 values, or
 * −1 when all are (NaN and ±Inf count as bad). Run before the kernels below, which assume it.
 */
export function find_bad_index(labels: usize, n: i32, classes: i32): i32 {
  const hi = <f32>classes;
  for (let i = 0; i < n; i++) {
    const v = load<f32>(labels + (<usize>i << 2));
    if (!(v >= 0 && v < hi) || Mathf.floor(v) != v) return i;
  }
  return -1;
}

/**
 * Cross-entropy of logits z [rows, cols] against class labels l [rows] (f32 holding
 * integers in [0, cols), checked by find_bad_index first), mean over rows:
 *   p[r, ·] = softmax(z[r, ·]),  loss[0] = (1/rows)·Σ_r ((m_r − z[r, l_r]) + log s_r).
 * p (saved for backward) must not overlap z. Stable for logits of any size.
 */
export function xent_labels_forward(z: usize, labels: usize, p: usize, loss: usize, rows: i32, cols: i32): void {
  const stride = <usize>cols << 2;
  let total: f64 = 0;
  if (rows > 0 && cols > 0) for (let r = 0; ; ) {
    const zr = z + <usize>r * stride, pr = p + <usize>r * stride;
    const m = row_max(zr, cols);
    const s = row_exp_sum(true, zr, pr, cols, m);
    row_scale(pr, cols, <f32>(1 / s));
    const l = <i32>load<f32>(labels + (<usize>r << 2));
    total += <f64>((m - load<f32>(zr + (<usize>l << 2))) + log_f(s));
    if (++r >= rows) break;
  }
  store<f32>(loss, <f32>(total / <f64>rows));
}

/** The smallest positive float32, 2⁻¹⁴⁹. */
const DIFF_MIN: f32 = 1.401298464324817e-45;

/**
 * Gradient of xent_labels_forward for the logits z from the saved probabilities p:
 *   dz[r, c] (+)= (p[r, c] − [c = l_r]) · dloss[0] / rows,
 * the difference formed first, so an infinite dloss gives ±Inf, not p·g − g = Inf − Inf at
 * the label. Where float32 rounds that difference to 0 but it is not 0 (p = 1 at the label
 * while another class of the row has a logit above −Inf; p = 0 at a class whose logit is
 * above −Inf), it is taken as ±2⁻¹⁴⁹ with its true sign, as σ's and tanh's least slope is
 * (assembly/activations.ts): an infinite dloss then passes on as the infinity of that sign,
 * as the exact product does, and a finite one gives at most one subnormal step instead of 0.
 * Where it is 0 (one class only, or every other class at −Inf), 0 stays, and Inf·0 is NaN.
 */
export function xent_labels_backward(p: usize, z: usize, labels: usize, dloss: usize, dz: usize, rows: i32, cols: i32, accumulate: i32): void {
  const g = <f32>(<f64>load<f32>(dloss) / <f64>rows);
  const gv = f32x4.splat(g);
  const one = f32x4.splat(1);
  const tiny = f32x4.splat(DIFF_MIN);
  const ninf = f32x4.splat(-Infinity);
  const stride = <usize>cols << 2;
  for (let r = 0; r < rows; r++) {
    const l = <i32>load<f32>(labels + (<usize>r << 2));
    const lv = i32x4.splat(l);
    const pr = p + <usize>r * stride, zr = z + <usize>r * stride, dr = dz + <usize>r * stride;
    // The label's exact difference p − 1 is below 0 when another class can be drawn.
    let others = 0;
    for (let c = 0; c < cols; c++) if (c != l && load<f32>(zr + (<usize>c << 2)) > -Infinity) others++;
    const labelTiny = others > 0 ? f32x4.splat(-DIFF_MIN) : f32x4.splat(0);
    let idx = i32x4(0, 1, 2, 3);
    const four = i32x4.splat(4);
    let i = 0;
    for (; i + 4 <= cols; i += 4) {
      const o = <usize>i << 2;
      const isLabel = i32x4.eq(idx, lv);
      let d = f32x4.sub(v128.load(pr + o), v128.and(isLabel, one));
      // ±2⁻¹⁴⁹ where d rounded to 0: the label (if another class is live), or a live class.
      const fix = v128.bitselect(labelTiny, v128.and(f32x4.gt(v128.load(zr + o), ninf), tiny), isLabel);
      d = v128.bitselect(fix, d, f32x4.eq(d, f32x4.splat(0)));
      d = f32x4.mul(d, gv);
      v128.store(dr + o, accumulate ? f32x4.add(d, v128.load(dr + o)) : d);
      idx = i32x4.add(idx, four);
    }
    for (; i < cols; i++) {
      const o = <usize>i << 2;
      let d = load<f32>(pr + o) - (i == l ? <f32>1 : <f32>0);
      if (d == 0) d = i == l ? (others > 0 ? -DIFF_MIN : 0) : load<f32>(zr + o) > -Infinity ? DIFF_MIN : 0;
      d *= g;
      store<f32>(dr + o, accumulate ? load<f32>(dr + o) + d : d);
    }
  }
}

/** The f32 at p (for error messages that quote one value of a buffer). */
export function read_f32(p: usize): f32 {
  return load<f32>(p);
}
