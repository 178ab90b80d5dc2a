// Fused, numerically stable losses and their gradients. Each forward writes one f32 loss
// through a pointer; each backward reads the upstream gradient d(loss) through a pointer
// (so JavaScript never reads it per step) and writes its input gradients with the usual
// `accumulate` flag (0 overwrites, 1 adds). Elementwise math is the vector code of
// vmath.ts, inlined once per loop; the last 1–3 elements run through the same code as one
// partial vector, so every element gets the same formula. The loops around exp, σ and
// softplus are do-while (see assembly/activations.ts), and the build loads their vector
// constants before each loop (asc-transform.js). Sums run in f32 SIMD lanes over runs (1024 values for the
// means, 256 within a softmax row) and in f64 across runs. The mean over zero elements (or
// zero rows) is NaN, 0/0, as in PyTorch.
import { fmadd, fnmadd } from "./simd";
import { exp_nonpos_v, lanes_below, load_part, load_upto4, log_v, row_max, sigmoid_v, softplus_v, store_part, store_upto4 } from "./vmath";
import { SPAN } from "./sums";

// @ts-ignore: decorator
@inline function lane0(v: v128): f32 {
  return f32x4.extract_lane(v, 0);
}

// @ts-ignore: decorator
@inline function hsum(v: v128): f64 {
  return <f64>(f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + <f64>(f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/** Sum of lanes 0..k−1 of v (1 ≤ k ≤ 3). */
// @ts-ignore: decorator
@inline function sum_part(v: v128, k: i32): f64 {
  let s = <f64>f32x4.extract_lane(v, 0);
  if (k > 1) s += <f64>f32x4.extract_lane(v, 1);
  if (k > 2) s += <f64>f32x4.extract_lane(v, 2);
  return s;
}

// ------------------------------------------------------------------ softmax cross-entropy

/** Row sums of softmax cross-entropy run in f32 lanes over this many values, then in f64. */
const ROW_RUN: i32 = 256;

/**
 * Softmax cross-entropy over the rows of z [rows, cols] with targets t [rows, cols]
 * (one-hot or probabilities; cols ≥ 1):
 *   p[r, c] = e^(z[r, c] − m_r) / s_r,  m_r = max_c z[r, c],  s_r = Σ_c e^(z[r, c] − m_r)
 *   loss[0] = (1/rows) · Σ_r Σ_c t[r, c]·((m_r − z[r, c]) + log s_r)     (= −Σ t·log p)
 * Written with m_r − z ≥ 0 and log s_r ∈ [0, log cols], so logits of any size (±1e4 and
 * beyond) give finite results and no cancellation. p is saved for the backward pass (it
 * must not overlap z or t). One scalar log per row.
 */
export function softmax_xent_forward(z: usize, t: usize, p: usize, loss: usize, rows: i32, cols: i32): void {
  const stride = <usize>cols << 2;
  let total: f64 = 0;
  // Bottom-tested loops from the rows down to the exp loop, so V8 builds exp's constants
  // once per call, not once per row.
  if (rows > 0 && cols > 0) for (let r = 0; ; ) {
    const zr = z + <usize>r * stride, tr = t + <usize>r * stride, pr = p + <usize>r * stride;
    const m = row_max(zr, cols);
    const mv = f32x4.splat(m);
    // e = exp(z − m) into p, and its sum: f32 lanes over runs of ROW_RUN values, f64 across runs.
    // The last 1–3 classes run as one partial vector; only their lanes are summed.
    let s: f64 = 0;
    let i = 0;
    do {
      const end = min(cols, i + ROW_RUN);
      let sv = f32x4.splat(0);
      do {
        const o = <usize>i << 2, k = cols - i;
        let e = exp_nonpos_v(f32x4.sub(load_upto4(zr + o, k), mv));
        store_upto4(pr + o, e, k);
        if (k < 4) e = v128.and(e, lanes_below(k));
        sv = f32x4.add(sv, e);
        i += 4;
      } while (i < end);
      s += hsum(sv);
    } while (i < cols);
    // s ∈ [1, cols]: its f32 logarithm by the vector log (no lookup tables).
    const logS = lane0(log_v(f32x4.splat(<f32>s), true));
    const inv = f32x4.splat(<f32>(1 / s));
    const lv = f32x4.splat(logS);
    // p = e / s, and Σ t·((m − z) + log s), summed as s.
    let l: f64 = 0;
    i = 0;
    while (i + 4 <= cols) {
      const end = min(cols, i + ROW_RUN);
      let lsum = f32x4.splat(0);
      for (; i + 4 <= end; i += 4) {
        const o = <usize>i << 2;
        v128.store(pr + o, f32x4.mul(v128.load(pr + o), inv));
        const d = f32x4.add(f32x4.sub(mv, v128.load(zr + o)), lv);
        lsum = fmadd(v128.load(tr + o), d, lsum);
      }
      l += hsum(lsum);
    }
    const invS = f32x4.extract_lane(inv, 0);
    for (; i < cols; i++) {
      const o = <usize>i << 2;
      store<f32>(pr + o, load<f32>(pr + o) * invS);
      l += <f64>(load<f32>(tr + o) * ((m - load<f32>(zr + o)) + logS));
    }
    total += l;
    if (++r >= rows) break;
  }
  store<f32>(loss, <f32>(total / <f64>rows));
}

/**
 * Gradient of softmax_xent_forward for the logits, with p the saved probabilities:
 *   dz[r, c] (+)= (p[r, c]·S_r − t[r, c]) · dloss[0] / rows,   S_r = Σ_c t[r, c].
 * That is the derivative of the loss as stated for any targets; for rows that sum to 1
 * (one-hot or probability rows) it is the familiar p − t. (The targets get no gradient.)
 */
export function softmax_xent_backward(p: usize, t: usize, dloss: usize, dz: usize, rows: i32, cols: i32, accumulate: i32): void {
  const g = <f32>(<f64>load<f32>(dloss) / <f64>rows);
  const gv = f32x4.splat(g);
  const stride = <usize>cols << 2;
  for (let r = 0; r < rows; r++) {
    const pr = p + <usize>r * stride, tr = t + <usize>r * stride, dr = dz + <usize>r * stride;
    // S_r: f32 lanes over runs of ROW_RUN values, f64 across runs (exactly 1 for one-hot rows).
    let st: f64 = 0;
    let i = 0;
    while (i + 4 <= cols) {
      const end = min(cols, i + ROW_RUN);
      let sv = f32x4.splat(0);
      for (; i + 4 <= end; i += 4) sv = f32x4.add(sv, v128.load(tr + (<usize>i << 2)));
      st += hsum(sv);
    }
    for (; i < cols; i++) st += <f64>load<f32>(tr + (<usize>i << 2));
    const sf = <f32>st;
    const sv = f32x4.splat(sf);
    i = 0;
    for (; i + 4 <= cols; i += 4) {
      const o = <usize>i << 2;
      const d = f32x4.sub(f32x4.mul(v128.load(pr + o), sv), v128.load(tr + o));
      v128.store(dr + o, accumulate ? fmadd(d, gv, v128.load(dr + o)) : f32x4.mul(d, gv));
    }
    for (; i < cols; i++) {
      const o = <usize>i << 2;
      const d = (load<f32>(pr + o) * sf - load<f32>(tr + o)) * g;
      store<f32>(dr + o, accumulate ? load<f32>(dr + o) + d : d);
    }
  }
}

// ------------------------------------------------------------------ elementwise-mean losses

const K_SIGMOID: i32 = 0;
const K_MSE: i32 = 1;

/** The per-element loss term; `ool` takes softplus out of line (same results). */
// @ts-ignore: decorator
@inline function term(kind: i32, x: v128, t: v128, ool: bool = false): v128 {
  if (kind == K_SIGMOID) {
    // max(x, 0) − x·t + log(1 + e^−|x|); softplus(−|x|) is exactly the last term.
    return f32x4.add(fnmadd(x, t, f32x4.pmax(x, f32x4.splat(0))), softplus_v(f32x4.neg(f32x4.abs(x)), ool));
  }
  const d = f32x4.sub(x, t);
  return f32x4.mul(d, d);
}

/**
 * (1/n)·Σ_{i<n} term(x[i], t[i]), summed as described at the top of this file. Whole
 * vectors in a bottom-tested loop (MSE, whose term is cheap, with two accumulators; the
 * sigmoid term's math inlined once), then the last 1–3 elements as one partial vector with
 * the out-of-line softplus, only their lanes summed.
 */
// @ts-ignore: decorator
@inline function mean_terms(kind: i32, x: usize, t: usize, n: i32): f64 {
  let total: f64 = 0;
  let i = 0;
  const whole = n & ~3;
  if (whole > 0) do {
    const end = min(whole, i + SPAN);
    let s0 = f32x4.splat(0), s1 = f32x4.splat(0);
    if (kind == K_MSE) {
      for (; i + 8 <= end; i += 8) {
        const o = <usize>i << 2;
        s0 = f32x4.add(s0, term(kind, v128.load(x + o), v128.load(t + o)));
        s1 = f32x4.add(s1, term(kind, v128.load(x + o, 16), v128.load(t + o, 16)));
      }
    }
    if (i < end) do {
      const o = <usize>i << 2;
      s0 = f32x4.add(s0, term(kind, v128.load(x + o), v128.load(t + o)));
      i += 4;
    } while (i < end);
    total += hsum(f32x4.add(s0, s1));
  } while (i < whole);
  if (i < n) {
    const o = <usize>i << 2, k = n - i;
    total += sum_part(term(kind, load_part(x + o, k, 0), load_part(t + o, k, 0), true), k);
  }
  return total / <f64>n;
}

/**
 * Sigmoid cross-entropy with logits, mean over all n elements, stable for any |x|:
 *   loss[0] = (1/n)·Σ_i max(x[i], 0) − x[i]·t[i] + log(1 + e^−|x[i]|)
 * (= −t·log σ(x) − (1 − t)·log(1 − σ(x)); t in [0, 1]).
 */
export function sigmoid_xent_forward(x: usize, t: usize, loss: usize, n: i32): void {
  store<f32>(loss, <f32>mean_terms(K_SIGMOID, x, t, n));
}

/**
 * σ(x) − t from s = σ(−|x|), the smaller of σ(x) and σ(−x): (1 − t) − s where x ≥ 0 (σ(x) is
 * 1 − s there), s − t elsewhere. So a confident prediction keeps its digits: −s = −σ(−x) for
 * t = 1 (≈ −e^−x: relatively accurate to x = 87, then on the denormals' grid, 0 past x ≈ 103)
 * where σ(x) − 1 rounds to 0 once x passes 17, and s = σ(x) for t = 0 likewise below −17. NaN
 * in x or t gives NaN; x = +Inf gives 1 − t and −Inf gives −t, σ(x) − t's limits.
 */
// @ts-ignore: decorator
@inline function sigmoid_minus(x: v128, t: v128, ool: bool): v128 {
  const s = sigmoid_v(f32x4.neg(f32x4.abs(x)), ool);
  const up = f32x4.ge(x, f32x4.splat(0.0));
  return v128.bitselect(f32x4.sub(f32x4.sub(f32x4.splat(1.0), t), s), f32x4.sub(s, t), up);
}

/**
 * Gradient of sigmoid_xent_forward, g = dloss[0]/n:
 *   dx[i] (+)= (σ(x[i]) − t[i])·g (sigmoid_minus);  dt[i] (+)= −x[i]·g  (dt = 0: not computed).
 */
export function sigmoid_xent_backward(x: usize, t: usize, dloss: usize, dx: usize, dt: usize, n: i32, accumulate: i32): void {
  const g = <f32>(<f64>load<f32>(dloss) / <f64>n);
  const gv = f32x4.splat(g);
  const ngv = f32x4.splat(-g);
  // Two passes when both are wanted (the targets rarely are). dx: whole vectors in a
  // bottom-tested loop with σ inlined, then the last 1–3 as one partial vector with the
  // out-of-line σ (same results).
  const whole = n & ~3;
  let i = 0;
  if (dx != 0) {
    if (whole > 0) do {
      const o = <usize>i << 2;
      const d = sigmoid_minus(v128.load(x + o), v128.load(t + o), false);
      v128.store(dx + o, accumulate ? fmadd(d, gv, v128.load(dx + o)) : f32x4.mul(d, gv));
      i += 4;
    } while (i < whole);
    if (i < n) {
      const o = <usize>i << 2, k = n - i;
      const d = sigmoid_minus(load_part(x + o, k, 0), load_part(t + o, k, 0), true);
      store_part(dx + o, accumulate ? fmadd(d, gv, load_part(dx + o, k, 0)) : f32x4.mul(d, gv), k);
    }
  }
  if (dt != 0) {
    for (i = 0; i < n; i += 4) {
      const o = <usize>i << 2, k = n - i;
      const xv = load_upto4(x + o, k);
      store_upto4(dt + o, accumulate ? fmadd(xv, ngv, load_upto4(dt + o, k)) : f32x4.mul(xv, ngv), k);
    }
  }
}

/** Mean squared error over n elements: loss[0] = (1/n)·Σ_i (p[i] − t[i])². */
export function mse_forward(p: usize, t: usize, loss: usize, n: i32): void {
  store<f32>(loss, <f32>mean_terms(K_MSE, p, t, n));
}

/**
 * Gradient of mse_forward, g = 2·dloss[0]/n:
 *   dp[i] (+)= (p[i] − t[i])·g;  dt[i] (+)= −(p[i] − t[i])·g.  dp or dt = 0: not computed.
 */
export function mse_backward(p: usize, t: usize, dloss: usize, dp: usize, dt: usize, n: i32, accumulate: i32): void {
  const g = <f32>(2 * <f64>load<f32>(dloss) / <f64>n);
  const gv = f32x4.splat(g);
  const ngv = f32x4.splat(-g);
  const wantP = dp != 0, wantT = dt != 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const d = f32x4.sub(v128.load(p + o), v128.load(t + o));
    if (wantP) v128.store(dp + o, accumulate ? fmadd(d, gv, v128.load(dp + o)) : f32x4.mul(d, gv));
    if (wantT) v128.store(dt + o, accumulate ? fmadd(d, ngv, v128.load(dt + o)) : f32x4.mul(d, ngv));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const d = load<f32>(p + o) - load<f32>(t + o);
    if (wantP) store<f32>(dp + o, accumulate ? load<f32>(dp + o) + d * g : d * g);
    if (wantT) store<f32>(dt + o, accumulate ? load<f32>(dt + o) - d * g : -(d * g));
  }
}
