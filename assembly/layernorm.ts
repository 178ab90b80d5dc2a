// Layer normalisation over the last axis, forward and backward, each fused into few passes
// over a row: forward reads a row three times (sum, centred squares, output) and saves the
// row's mean and 1/σ; backward reads it twice (two row sums, then dx with dγ and dβ added in
// the same pass). Row sums run in f32 lanes over the row (rows are short enough: the
// relative error of a sum of n terms is ≤ n·2⁻²⁴ of the sum of magnitudes) and are added
// in f64 where they meet. The variance is the mean of centred squares (two-pass), so
// rows with a large mean and small spread keep their precision.
import { fmadd } from "./simd";

// @ts-ignore: decorator
@inline function hsum(v: v128): f64 {
  return <f64>(f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + <f64>(f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/**
 * Layer norm of x [rows, cols] over each row, with per-column γ (gamma) and β (beta) [cols]:
 *   μ_r = (1/cols)·Σ_c x[r, c],  σ²_r = (1/cols)·Σ_c (x[r, c] − μ_r)²  (biased, as PyTorch)
 *   rstd_r = 1/√(σ²_r + eps),   y[r, c] = (x[r, c] − μ_r)·rstd_r·γ[c] + β[c]
 * and saves mean[r] = μ_r, rstd[r] = rstd_r for the backward pass. cols ≥ 1 when rows > 0;
 * eps > 0 keeps constant rows finite (their output is β). y may alias x; mean and rstd
 * must not overlap the others.
 */
export function layernorm_forward(x: usize, gamma: usize, beta: usize, y: usize, mean: usize, rstd: usize, rows: i32, cols: i32, eps: f32): void {
  const stride = <usize>cols << 2;
  const invN: f64 = 1 / <f64>cols;
  for (let r = 0; r < rows; r++) {
    const xr = x + <usize>r * stride, yr = y + <usize>r * stride;
    // Pass 1: the mean.
    let s0 = f32x4.splat(0), s1 = f32x4.splat(0);
    let i = 0;
    for (; i + 8 <= cols; i += 8) {
      const o = <usize>i << 2;
      s0 = f32x4.add(s0, v128.load(xr + o));
      s1 = f32x4.add(s1, v128.load(xr + o, 16));
    }
    for (; i + 4 <= cols; i += 4) s0 = f32x4.add(s0, v128.load(xr + (<usize>i << 2)));
    let s = hsum(f32x4.add(s0, s1));
    for (; i < cols; i++) s += <f64>load<f32>(xr + (<usize>i << 2));
    const mu = <f32>(s * invN);
    const mv = f32x4.splat(mu);
    // Pass 2: the variance, from centred values.
    s0 = f32x4.splat(0);
    s1 = f32x4.splat(0);
    i = 0;
    for (; i + 8 <= cols; i += 8) {
      const o = <usize>i << 2;
      const d0 = f32x4.sub(v128.load(xr + o), mv), d1 = f32x4.sub(v128.load(xr + o, 16), mv);
      s0 = fmadd(d0, d0, s0);
      s1 = fmadd(d1, d1, s1);
    }
    for (; i + 4 <= cols; i += 4) {
      const d = f32x4.sub(v128.load(xr + (<usize>i << 2)), mv);
      s0 = fmadd(d, d, s0);
    }
    let q = hsum(f32x4.add(s0, s1));
    for (; i < cols; i++) {
      const d = load<f32>(xr + (<usize>i << 2)) - mu;
      q += <f64>(d * d);
    }
    const rs = <f32>(1 / Math.sqrt(q * invN + <f64>eps));
    store<f32>(mean + (<usize>r << 2), mu);
    store<f32>(rstd + (<usize>r << 2), rs);
    // Pass 3: y = (x − μ)·rstd·γ + β.
    const rv = f32x4.splat(rs);
    i = 0;
    for (; i + 4 <= cols; i += 4) {
      const o = <usize>i << 2;
      const xh = f32x4.mul(f32x4.sub(v128.load(xr + o), mv), rv);
      v128.store(yr + o, fmadd(xh, v128.load(gamma + o), v128.load(beta + o)));
    }
    for (; i < cols; i++) {
      const o = <usize>i << 2;
      store<f32>(yr + o, (load<f32>(xr + o) - mu) * rs * load<f32>(gamma + o) + load<f32>(beta + o));
    }
  }
}

/**
 * Gradients of layernorm_forward from the saved mean and rstd, with x̂ = (x − μ)·rstd and
 * g = dy ⊙ γ (per row, n = cols):
 *   dx[r, c]  (+)= rstd_r·(g[c] − (1/n)·Σ g − x̂[c]·(1/n)·Σ g·x̂)
 *   dgamma[c]  += Σ_r dy[r, c]·x̂[r, c]      (always accumulates)
 *   dbeta[c]   += Σ_r dy[r, c]               (always accumulates)
 * A pointer of 0 for dx, dgamma or dbeta skips that gradient. dx's accumulate flag is
 * `accumulate`. dx must not overlap the others (it may be exactly dy with accumulate = 0).
 */
export function layernorm_backward(x: usize, gamma: usize, mean: usize, rstd: usize, dy: usize, dx: usize, dgamma: usize, dbeta: usize, rows: i32, cols: i32, accumulate: i32): void {
  const stride = <usize>cols << 2;
  const invN: f32 = <f32>(1 / <f64>cols);
  for (let r = 0; r < rows; r++) {
    const off = <usize>r * stride;
    const xr = x + off, gr = dy + off, dr = dx + off;
    const mu = load<f32>(mean + (<usize>r << 2)), rs = load<f32>(rstd + (<usize>r << 2));
    const mv = f32x4.splat(mu), rv = f32x4.splat(rs);
    let i = 0;
    if (dx != 0) {
      // Pass 1: a = Σ g, b = Σ g·x̂.
      let a0 = f32x4.splat(0), b0 = f32x4.splat(0);
      for (; i + 4 <= cols; i += 4) {
        const o = <usize>i << 2;
        const g = f32x4.mul(v128.load(gr + o), v128.load(gamma + o));
        const xh = f32x4.mul(f32x4.sub(v128.load(xr + o), mv), rv);
        a0 = f32x4.add(a0, g);
        b0 = fmadd(g, xh, b0);
      }
      let a = hsum(a0), b = hsum(b0);
      for (; i < cols; i++) {
        const o = <usize>i << 2;
        const g = load<f32>(gr + o) * load<f32>(gamma + o);
        a += <f64>g;
        b += <f64>(g * ((load<f32>(xr + o) - mu) * rs));
      }
      const am = <f32>a * invN, bm = <f32>b * invN;
      const amv = f32x4.splat(am), bmv = f32x4.splat(bm);
      // Pass 2: dx, and dγ, dβ on the way.
      i = 0;
      for (; i + 4 <= cols; i += 4) {
        const o = <usize>i << 2;
        const dyv = v128.load(gr + o);
        const xh = f32x4.mul(f32x4.sub(v128.load(xr + o), mv), rv);
        const g = f32x4.mul(dyv, v128.load(gamma + o));
        let d = f32x4.mul(rv, f32x4.sub(f32x4.sub(g, amv), f32x4.mul(xh, bmv)));
        if (accumulate) d = f32x4.add(d, v128.load(dr + o));
        v128.store(dr + o, d);
        if (dgamma != 0) v128.store(dgamma + o, fmadd(dyv, xh, v128.load(dgamma + o)));
        if (dbeta != 0) v128.store(dbeta + o, f32x4.add(v128.load(dbeta + o), dyv));
      }
      for (; i < cols; i++) {
        const o = <usize>i << 2;
        const dyv = load<f32>(gr + o);
        const xh = (load<f32>(xr + o) - mu) * rs;
        let d = rs * ((dyv * load<f32>(gamma + o) - am) - xh * bm);
        if (accumulate) d += load<f32>(dr + o);
        store<f32>(dr + o, d);
        if (dgamma != 0) store<f32>(dgamma + o, load<f32>(dgamma + o) + dyv * xh);
        if (dbeta != 0) store<f32>(dbeta + o, load<f32>(dbeta + o) + dyv);
      }
    } else if (dgamma != 0 || dbeta != 0) {
      for (; i + 4 <= cols; i += 4) {
        const o = <usize>i << 2;
        const dyv = v128.load(gr + o);
        const xh = f32x4.mul(f32x4.sub(v128.load(xr + o), mv), rv);
        if (dgamma != 0) v128.store(dgamma + o, fmadd(dyv, xh, v128.load(dgamma + o)));
        if (dbeta != 0) v128.store(dbeta + o, f32x4.add(v128.load(dbeta + o), dyv));
      }
      for (; i < cols; i++) {
        const o = <usize>i << 2;
        const dyv = load<f32>(gr + o);
        const xh = (load<f32>(xr + o) - mu) * rs;
        if (dgamma != 0) store<f32>(dgamma + o, load<f32>(dgamma + o) + dyv * xh);
        if (dbeta != 0) store<f32>(dbeta + o, load<f32>(dbeta + o) + dyv);
      }
    }
  }
}
