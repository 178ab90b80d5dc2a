// Activation kernels over flat float32 buffers of n elements:
//   <name>_forward(x, y, n, …params)                   y = f(x)
//   <name>_backward(xOrY, dy, dx, n, …params, accumulate)
//                                                      dx = dy·f′ (accumulate = 0) or
//                                                      dx += dy·f′ (accumulate = 1), one pass
// The math lives once, in assembly/vmath.ts. Each kernel is one loop that inlines the math
// it needs once: the piecewise-linear forwards and the cheap backwards (relu, leaky relu,
// hardtanh, step, and sigmoid and tanh from their output) with a scalar tail; the smooth
// ones from four @inline loop templates with a constant mode (xsigmoid_forward_loop and
// xsigmoid_backward_loop for x·σ(v(x)): swish, tanh-GeLU; gelu_loop for exact GeLU;
// st_forward_loop for sigmoid and tanh). One shared loop per template with a run-time mode was
// 3 KB smaller but measured 2–4% slower on several of them.
// The heavy loops run whole vectors in a do-while loop (exit test at the bottom: Node 20's
// V8 then keeps the vector constants of the math in registers across iterations instead of
// rebuilding them in each one; a top-tested loop measured 30% slower there; newer V8s and
// JavaScriptCore rebuild them either way, so the build loads them before each loop,
// asc-transform.js), then the last 1–3
// elements as one partial vector through the out-of-line copy of the same math (same
// results; partial loads inside the loop cost 2–3%, a second inlined copy costs size).
//
// Preconditions for all: n ≥ 0; buffers hold n floats (any alignment); y may be x
// (in place) and dx may be dy or x; otherwise buffers must not overlap.
//
// Kinks, by convention: relu′(0) = 0, leaky_relu′(0) = slope, prelu′(0) = slope,
// hardtanh′(±1) = 0 (gradient only strictly inside (−1, 1)), step′ = 0 everywhere.

import { fmadd } from "./simd";
import {
  ACT_GELU, ACT_GELU_TANH, ACT_HARDTANH, ACT_IDENTITY, ACT_LEAKY_RELU, ACT_RELU, ACT_SIGMOID, ACT_STEP,
  ACT_SWISH, ACT_TANH, GELU_MIN, GELU_TANH_A, GELU_TANH_A3, GELU_TANH_B, SWISH_MIN,
  act_linear_v, erf_v, exp_neg_sq_v, exp_v, gelu_tanh_arg, gelu_tanh_darg, load_part, load_upto4,
  gelu_pair, log_v, sigmoid_pair, phi_cdf_v, phi_clamp, phi_clamped_v, sig_e_v, sigmoid_lo_v, sigmoid_v, softplus_v,
  store_part, store_upto4, tanh_v, SIG_C, SIG_HI, SIG_LO,
} from "./vmath";

// ------------------------------------------------------------------ piecewise linear loops

/** The smallest positive float32, 2⁻¹⁴⁹: the least slope σ′ and tanh′ take (cheap_dx_v). */
const SLOPE_MIN: f32 = 1.401298464324817e-45;

/** y[i] = f(x[i]) for a piecewise-linear activation `kind` (constant) with parameter p. */
// @ts-ignore: decorator
@inline function linear_forward_loop(kind: i32, x: usize, y: usize, n: i32, p: f32): void {
  let i = 0;
  // Four vectors a step, each loaded beside its own store: relu_forward 1.26–2.49× (4096
  // values) and 1.09–1.59× (200704) the one-vector loop in every engine, both builds
  // (bench/engines-ab.mjs); all four loaded first read 0.95–1.21× of this.
  for (; i + 16 <= n; i += 16) {
    const o = <usize>i << 2;
    v128.store(y + o, act_linear_v(kind, v128.load(x + o), p));
    v128.store(y + o, act_linear_v(kind, v128.load(x + o, 16), p), 16);
    v128.store(y + o, act_linear_v(kind, v128.load(x + o, 32), p), 32);
    v128.store(y + o, act_linear_v(kind, v128.load(x + o, 48), p), 48);
  }
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, act_linear_v(kind, v128.load(x + o), p));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, f32x4.extract_lane(act_linear_v(kind, f32x4.splat(load<f32>(x + o)), p), 0));
  }
}

/**
 * dy·f′ for one vector of the activations whose derivative is cheap (v is x or y, as the
 * kind reads). The piecewise kinds select dy instead of multiplying, so an infinite dy
 * where f′ = 0 gives 0. Any other kind: f′ = 1.
 *
 * The slopes are formed as y·(1 − y) and (1 − y)(1 + y), not y − y² and 1 − y²: where y is
 * near 1 (or tanh's near −1) the square's rounding error, half an ulp of 1, is a large part
 * of the small slope (7·10⁻⁶ of it at σ = 0.9976, 1/(2k) at 1 − k·2⁻²⁴), while 1 − y and 1 + y
 * are exact there (Sterbenz) and each form rounds about once: within 1.5 ulp of the slope of
 * the float32 y everywhere, in both builds (a relaxed multiply-add need not be fused). Found
 * by the graph fuzzer (seed 2938: log(log(σ(s))) at σ = 0.9976, s's gradient 61 ulp off).
 *
 * σ′ = y(1 − y) and tanh′ = 1 − y² are positive at every finite x, but float32's y is
 * exactly 1 past x ≈ 17 (σ) or 9 (tanh), and σ's 0 below −103, where the formula gives 0 and
 * an infinite dy then NaN. The slope is kept at least the smallest positive float32
 * (SLOPE_MIN), so such a dy passes on as an infinity of its sign, as dy·f′ does exactly; a
 * finite dy gets |dy|·2⁻¹⁴⁹ there, 0 below |dy| = ½. One pmax (s < SLOPE_MIN ? SLOPE_MIN : s,
 * so a NaN slope stays NaN): f32x4.max, several instructions in V8, made the loop 0.54× as
 * fast, and a select of dy where dy·s is NaN 0.65×; pmax costs about 9% of the loop at 4096
 * values (bench/act-ab.mjs), less than its four-vector unrolling gained.
 */
// @ts-ignore: decorator
@inline function cheap_dx_v(kind: i32, v: v128, dy: v128, p: f32): v128 {
  switch (kind) {
    case ACT_STEP: return f32x4.splat(0.0);
    case ACT_RELU: return v128.and(dy, f32x4.gt(v, f32x4.splat(0.0)));
    case ACT_HARDTANH: return v128.and(dy, f32x4.lt(f32x4.abs(v), f32x4.splat(1.0)));
    case ACT_LEAKY_RELU: return v128.bitselect(dy, f32x4.mul(dy, f32x4.splat(p)), f32x4.gt(v, f32x4.splat(0.0)));
    case ACT_SIGMOID: return f32x4.mul(dy, f32x4.pmax(f32x4.mul(v, f32x4.sub(f32x4.splat(1.0), v)), f32x4.splat(SLOPE_MIN)));
    case ACT_TANH: {
      const one = f32x4.splat(1.0);
      return f32x4.mul(dy, f32x4.pmax(f32x4.mul(f32x4.sub(one, v), f32x4.add(one, v)), f32x4.splat(SLOPE_MIN)));
    }
    default: return dy;
  }
}

/** dx[i] (+)= dy[i]·f′ for a cheap kind (constant), reading v = x or y as cheap_dx_v does. */
// @ts-ignore: decorator
@inline function cheap_backward_loop(kind: i32, v: usize, dy: usize, dx: usize, n: i32, p: f32, accumulate: i32): void {
  let i = 0;
  // Four vectors per iteration while 16 values remain (the loop's own work is a share of
  // these light bodies), then one at a time.
  if (accumulate) {
    for (; i + 16 <= n; i += 16) {
      const o = <usize>i << 2;
      const d0 = cheap_dx_v(kind, v128.load(v + o), v128.load(dy + o), p);
      const d1 = cheap_dx_v(kind, v128.load(v + o, 16), v128.load(dy + o, 16), p);
      const d2 = cheap_dx_v(kind, v128.load(v + o, 32), v128.load(dy + o, 32), p);
      const d3 = cheap_dx_v(kind, v128.load(v + o, 48), v128.load(dy + o, 48), p);
      v128.store(dx + o, f32x4.add(v128.load(dx + o), d0));
      v128.store(dx + o, f32x4.add(v128.load(dx + o, 16), d1), 16);
      v128.store(dx + o, f32x4.add(v128.load(dx + o, 32), d2), 32);
      v128.store(dx + o, f32x4.add(v128.load(dx + o, 48), d3), 48);
    }
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(dx + o, f32x4.add(v128.load(dx + o), cheap_dx_v(kind, v128.load(v + o), v128.load(dy + o), p)));
    }
  } else {
    for (; i + 16 <= n; i += 16) {
      const o = <usize>i << 2;
      const d0 = cheap_dx_v(kind, v128.load(v + o), v128.load(dy + o), p);
      const d1 = cheap_dx_v(kind, v128.load(v + o, 16), v128.load(dy + o, 16), p);
      const d2 = cheap_dx_v(kind, v128.load(v + o, 32), v128.load(dy + o, 32), p);
      const d3 = cheap_dx_v(kind, v128.load(v + o, 48), v128.load(dy + o, 48), p);
      v128.store(dx + o, d0);
      v128.store(dx + o, d1, 16);
      v128.store(dx + o, d2, 32);
      v128.store(dx + o, d3, 48);
    }
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(dx + o, cheap_dx_v(kind, v128.load(v + o), v128.load(dy + o), p));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    let g = f32x4.extract_lane(cheap_dx_v(kind, f32x4.splat(load<f32>(v + o)), f32x4.splat(load<f32>(dy + o)), p), 0);
    if (accumulate) g = load<f32>(dx + o) + g;
    store<f32>(dx + o, g);
  }
}

// ------------------------------------------------------------------ smooth loops

/** xsigmoid loop modes. */
const XS_SWISH: i32 = 1; //     x·σ(x)
const XS_GELU_TANH: i32 = 2; // x·σ(v), v = 2√(2/π)(x + 0.044715x³)

/**
 * The activations of the form x·σ(v(x)), one pass over n elements: xc = pmax(x, lo), then
 * out = xc·σ(v) with v = xc (XS_SWISH) or v = 2√(2/π)(xc + 0.044715xc³) (XS_GELU_TANH).
 * out may alias x. (σ alone has its own loop, st_forward_loop: one branch less per vector
 * measured 2–4% faster.)
 */
// @ts-ignore: decorator
@inline function xsigmoid_forward_loop(mode: i32, x: usize, out: usize, n: i32, lo: f32, a: f32, b: f32): void {
  const vlo = f32x4.splat(lo), va = f32x4.splat(a), vb = f32x4.splat(b);
  let i = 0;
  // Four independent vectors per iteration (as sigmoid_forward), then one at a time.
  const whole16 = n & ~15;
  if (whole16 > 0) do {
    const o = <usize>i << 2;
    const v0 = xsigmoid_forward_val(mode, v128.load(x + o), vlo, va, vb);
    const v1 = xsigmoid_forward_val(mode, v128.load(x + o, 16), vlo, va, vb);
    const v2 = xsigmoid_forward_val(mode, v128.load(x + o, 32), vlo, va, vb);
    const v3 = xsigmoid_forward_val(mode, v128.load(x + o, 48), vlo, va, vb);
    v128.store(out + o, v0);
    v128.store(out + o, v1, 16);
    v128.store(out + o, v2, 32);
    v128.store(out + o, v3, 48);
    i += 16;
  } while (i < whole16);
  const whole = n & ~3;
  while (i < whole) {
    xsigmoid_forward_vec(mode, x, out, <usize>i << 2, 4, vlo, va, vb, false);
    i += 4;
  }
  if (i < n) xsigmoid_forward_vec(mode, x, out, <usize>i << 2, n - i, vlo, va, vb, true);
}

/** x·σ(v(x)) for one whole vector (the inlined math of xsigmoid_forward_vec). */
// @ts-ignore: decorator
@inline function xsigmoid_forward_val(mode: i32, xv: v128, vlo: v128, va: v128, vb: v128): v128 {
  const xc = f32x4.pmax(xv, vlo);
  // Swish: xc ≥ SWISH_MIN = SIG_LO already, so σ needs only its upper clamp.
  const s = mode == XS_GELU_TANH ? sigmoid_v(gelu_tanh_arg(xc, va, vb)) : sigmoid_lo_v(xc);
  return f32x4.mul(xc, s);
}

/** One vector of xsigmoid_forward_loop at byte offset o: k lanes (4: whole). */
// @ts-ignore: decorator
@inline function xsigmoid_forward_vec(mode: i32, x: usize, out: usize, o: usize, k: i32, vlo: v128, va: v128, vb: v128, ool: bool): void {
  const xc = f32x4.pmax(load_upto4(x + o, k), vlo);
  const s = mode == XS_GELU_TANH ? sigmoid_v(gelu_tanh_arg(xc, va, vb), ool) : sigmoid_lo_v(xc, ool);
  store_upto4(out + o, f32x4.mul(xc, s), k);
}

/**
 * The derivatives of x·σ(v(x)), one pass over n elements: xc = clamp(x, lo, hi),
 * v = xc (XS_SWISH) or v = 2√(2/π)(xc + 0.044715xc³) clamped to σ's range (XS_GELU_TANH),
 * then with E = 2^−64·e^−v and q = 1/(2^−64 + E): σ(v) = 2^−64·q, 1 − σ(v) = E·q, and
 *   out (+)= dy·(σ + xc·v′·σ(1 − σ))      (accumulate: 0 or 1)
 * so neither factor cancels and one division serves both. out may alias x or dy. Inlined
 * into each kernel with a constant mode. (No "dy = 1" variant: a branch on it cost 2–3%
 * here; act_derivative writes ones.)
 */
// @ts-ignore: decorator
@inline function xsigmoid_backward_loop(mode: i32, x: usize, dy: usize, out: usize, n: i32, lo: f32, hi: f32, a: f32, a3: f32, b: f32, accumulate: i32): void {
  const vlo = f32x4.splat(lo), vhi = f32x4.splat(hi);
  const va = f32x4.splat(a), va3 = f32x4.splat(a3), vb = f32x4.splat(b);
  let i = 0;
  // Two independent vectors per iteration, then one at a time.
  const whole8 = n & ~7;
  if (whole8 > 0) do {
    const o = <usize>i << 2;
    let r0 = f32x4.mul(v128.load(dy + o), xsigmoid_dval(mode, v128.load(x + o), vlo, vhi, va, va3, vb, false));
    let r1 = f32x4.mul(v128.load(dy + o, 16), xsigmoid_dval(mode, v128.load(x + o, 16), vlo, vhi, va, va3, vb, false));
    if (accumulate) {
      r0 = f32x4.add(v128.load(out + o), r0);
      r1 = f32x4.add(v128.load(out + o, 16), r1);
    }
    v128.store(out + o, r0);
    v128.store(out + o, r1, 16);
    i += 8;
  } while (i < whole8);
  while (i < n) {
    const o = <usize>i << 2, k = n - i;
    let r = f32x4.mul(load_upto4(dy + o, k), xsigmoid_dval(mode, load_upto4(x + o, k), vlo, vhi, va, va3, vb, true));
    if (accumulate) r = f32x4.add(load_upto4(out + o, k), r);
    store_upto4(out + o, r, k);
    i += 4;
  }
}

/** f′(x) of x·σ(v(x)) for one vector (xsigmoid_backward_loop's math). */
// @ts-ignore: decorator
@inline function xsigmoid_dval(mode: i32, xv: v128, vlo: v128, vhi: v128, va: v128, va3: v128, vb: v128, ool: bool): v128 {
  const xc = f32x4.pmin(f32x4.pmax(xv, vlo), vhi);
  let v = xc, xk = xc;
  if (mode == XS_GELU_TANH) {
    v = f32x4.pmin(f32x4.pmax(gelu_tanh_arg(xc, va, vb), f32x4.splat(SIG_LO)), f32x4.splat(SIG_HI));
    xk = f32x4.mul(xc, gelu_tanh_darg(xc, va3, vb));
  }
  const e = sig_e_v(v, ool);
  const q = f32x4.div(f32x4.splat(1.0), f32x4.add(f32x4.splat(SIG_C), e));
  const s = f32x4.mul(q, f32x4.splat(SIG_C));
  return fmadd(f32x4.mul(xk, f32x4.mul(e, q)), s, s);
}

/** gelu_loop modes (bits). */
const GE_GRAD: i32 = 1; // backward; else forward
const GE_SLOPE: i32 = 2; // forward that also stores the slope f′(x) at `dy` (not read)

/**
 * Exact GeLU and its derivative, one pass over n elements, sharing Φ(x) and e^(−x²/2):
 *   forward:            out = x·Φ(x)                      (x < −20 as −20: gives −0)
 *   backward (GE_GRAD): out (+)= dy·(Φ(x) + x·φ(x))        (accumulate: 0 or 1)
 *   GE_SLOPE:           the forward, and dy[i] = Φ(x) + x·φ(x), the slope the backward
 *                       multiplies by, formed as it does (so dy·slope is its result)
 * out may alias x or dy (dy is not read by the forward); with GE_SLOPE, dy must not alias
 * x or out.
 */
// @ts-ignore: decorator
@inline function gelu_loop(mode: i32, x: usize, dy: usize, out: usize, n: i32, accumulate: i32): void {
  let i = 0;
  // Two independent vectors per iteration (1.37× one at a time on the forward, measured
  // with bench/act-ab.mjs; level on the backward; four measured no better), then one.
  const whole8 = n & ~7;
  if (whole8 > 0) do {
    const o = <usize>i << 2;
    gelu_vec2(mode, x, dy, out, o, accumulate);
    i += 8;
  } while (i < whole8);
  const whole = n & ~3;
  while (i < whole) {
    gelu_vec(mode, x, dy, out, <usize>i << 2, 4, accumulate, false);
    i += 4;
  }
  if (i < n) gelu_vec(mode, x, dy, out, <usize>i << 2, n - i, accumulate, true);
}

/**
 * Two whole vectors of gelu_loop at byte offset o, as two independent chains written
 * interleaved (gelu_pair), in every mode. The functions built on it keep that order in the
 * .wasm (asc-transform.js, SOURCE_ORDER); so kept, the plain forward read 1.11–1.14×
 * (SIMD128) and 1.08–1.15× (relaxed) in Node 24, Deno, Bun and Chromium against the two
 * vectors one after the other, level in Node 20 and 22 (bench/engines-ab.mjs
 * --kernels=gelu_forward, 15 pairs).
 */
// @ts-ignore: decorator
@inline function gelu_vec2(mode: i32, x: usize, dy: usize, out: usize, o: usize, accumulate: i32): void {
  gelu_pair((mode & GE_SLOPE) != 0, (mode & GE_GRAD) != 0, v128.load(x + o), v128.load(x + o, 16), dy + o, out + o, accumulate != 0);
}

/** One vector of gelu_loop at byte offset o: k lanes (4: whole). */
// @ts-ignore: decorator
@inline function gelu_vec(mode: i32, x: usize, dy: usize, out: usize, o: usize, k: i32, accumulate: i32, ool: bool): void {
  const xv = load_upto4(x + o, k);
  const xc = phi_clamp(xv);
  const e = exp_neg_sq_v(f32x4.abs(xc), 0.5, ool);
  const cdf = phi_clamped_v(xc, e, ool);
  let res: v128;
  if (mode & GE_SLOPE) store_upto4(dy + o, fmadd(xc, f32x4.mul(e, f32x4.splat(0.3989422917366028)), cdf), k);
  if (mode & GE_GRAD) {
    res = f32x4.mul(load_upto4(dy + o, k), fmadd(xc, f32x4.mul(e, f32x4.splat(0.3989422917366028)), cdf));
    if (accumulate) res = f32x4.add(load_upto4(out + o, k), res);
  } else {
    res = f32x4.mul(f32x4.pmax(xv, f32x4.splat(GELU_MIN)), cdf);
  }
  store_upto4(out + o, res, k);
}

// ------------------------------------------------------------------ step

/** y = x > θ ? 1 : 0 (NaN stays NaN). */
export function step_forward(x: usize, y: usize, n: i32, theta: f32): void {
  linear_forward_loop(ACT_STEP, x, y, n, theta);
}

/** dx = 0 (accumulate = 0) or dx unchanged (accumulate = 1): step′ = 0 everywhere, θ included. */
export function step_backward(x: usize, dy: usize, dx: usize, n: i32, theta: f32, accumulate: i32): void {
  if (accumulate) return;
  cheap_backward_loop(ACT_STEP, x, dy, dx, n, theta, 0);
}

// ------------------------------------------------------------------ sigmoid, tanh

/**
 * y = f(x) for f = σ or tanh (`kind`, a constant: ACT_SIGMOID or ACT_TANH), four independent
 * vectors per iteration (tanh one after another, σ as two interleaved pairs, below): their
 * long dependency chains (an exponential, a division) overlap in the core instead of one
 * waiting on the other (tanh's earlier two-branch form ran 0.6× as fast one vector at a time,
 * 0.8× two at a time: bench/act-ab.mjs). Then whole vectors one at a time, then the last 1–3
 * values through the out-of-line math.
 */
// @ts-ignore: decorator
@inline function st_forward_loop(kind: i32, x: usize, y: usize, n: i32): void {
  let i = 0;
  const whole16 = n & ~15;
  if (kind == ACT_TANH) {
    // Four vectors one after another, each one form (tanh_abs: an exponential and a division).
    if (whole16 > 0) do {
      const o = <usize>i << 2;
      const x0 = v128.load(x + o), x1 = v128.load(x + o, 16), x2 = v128.load(x + o, 32), x3 = v128.load(x + o, 48);
      v128.store(y + o, tanh_v(x0));
      v128.store(y + o, tanh_v(x1), 16);
      v128.store(y + o, tanh_v(x2), 32);
      v128.store(y + o, tanh_v(x3), 48);
      i += 16;
    } while (i < whole16);
  } else {
    // Two pairs of vectors, each pair's operations written interleaved (sigmoid_pair): the
    // same bits; bench/engines-ab.mjs --kernels=sigmoid_forward --n=65536, 15 pairs, against
    // four vectors one after another: Bun 1.31×, the V8 engines 1.00× (SIMD128) and
    // 1.00–1.02× (relaxed). (Swish and the tanh GeLU so, xc·σ for two pairs, read 0.79–0.90×
    // everywhere: they keep four vectors one after another.)
    if (whole16 > 0) do {
      const o = <usize>i << 2;
      const x0 = v128.load(x + o), x1 = v128.load(x + o, 16), x2 = v128.load(x + o, 32), x3 = v128.load(x + o, 48);
      v128.store(y + o, sigmoid_pair(x0, x1, y + o + 16));
      v128.store(y + o, sigmoid_pair(x2, x3, y + o + 48), 32);
      i += 16;
    } while (i < whole16);
  }
  const whole = n & ~3;
  while (i < whole) {
    const o = <usize>i << 2;
    v128.store(y + o, st_v(kind, v128.load(x + o)));
    i += 4;
  }
  if (i < n) {
    const o = <usize>i << 2;
    store_part(y + o, st_v(kind, load_part(x + o, n - i, 0), true), n - i);
  }
}

/** σ(v) or tanh(v) by a constant `kind` (st_forward_loop's math). */
// @ts-ignore: decorator
@inline function st_v(kind: i32, v: v128, ool: bool = false): v128 {
  return kind == ACT_SIGMOID ? sigmoid_v(v, ool) : tanh_v(v, ool);
}

/** y = σ(x) = 1/(1 + e^−x). Max relative error 2 ulp (measured 1.44e-7). */
export function sigmoid_forward(x: usize, y: usize, n: i32): void {
  st_forward_loop(ACT_SIGMOID, x, y, n);
}

/** dx (+)= dy·y(1 − y), from the OUTPUT y = σ(x), the slope at least 2⁻¹⁴⁹ (cheap_dx_v). f′ within 1.2e-7 absolute of exact, and within 1.5 ulp of y(1 − y) of the float32 y. */
export function sigmoid_backward(y: usize, dy: usize, dx: usize, n: i32, accumulate: i32): void {
  cheap_backward_loop(ACT_SIGMOID, y, dy, dx, n, 0, accumulate);
}

/** y = tanh(x). Max relative error 2 ulp (measured 1.5e-7). */
export function tanh_forward(x: usize, y: usize, n: i32): void {
  st_forward_loop(ACT_TANH, x, y, n);
}

/** dx (+)= dy·(1 − y²), from the OUTPUT y = tanh(x), formed as (1 − y)(1 + y), the slope at least 2⁻¹⁴⁹ (cheap_dx_v). f′ within 2.1e-7 absolute of exact, and within 1.5 ulp of (1 − y)(1 + y) of the float32 y. */
export function tanh_backward(y: usize, dy: usize, dx: usize, n: i32, accumulate: i32): void {
  cheap_backward_loop(ACT_TANH, y, dy, dx, n, 0, accumulate);
}

// ------------------------------------------------------------------ piecewise linear

/** y = clamp(x, −1, 1) (NaN stays NaN). */
export function hardtanh_forward(x: usize, y: usize, n: i32): void {
  linear_forward_loop(ACT_HARDTANH, x, y, n, 0);
}

/** dx (+)= −1 < x < 1 ? dy : 0; x or y may be passed (same result). hardtanh′(±1) = 0. */
export function hardtanh_backward(x: usize, dy: usize, dx: usize, n: i32, accumulate: i32): void {
  cheap_backward_loop(ACT_HARDTANH, x, dy, dx, n, 0, accumulate);
}

/** y = max(x, 0) (NaN stays NaN; relu(−0) = −0). */
export function relu_forward(x: usize, y: usize, n: i32): void {
  linear_forward_loop(ACT_RELU, x, y, n, 0);
}

/** dx (+)= x > 0 ? dy : 0; x or y may be passed (same result). relu′(0) = 0. */
export function relu_backward(x: usize, dy: usize, dx: usize, n: i32, accumulate: i32): void {
  cheap_backward_loop(ACT_RELU, x, dy, dx, n, 0, accumulate);
}

/** y = x > 0 ? x : slope·x. */
export function leaky_relu_forward(x: usize, y: usize, n: i32, slope: f32): void {
  linear_forward_loop(ACT_LEAKY_RELU, x, y, n, slope);
}

/** dx (+)= x > 0 ? dy : slope·dy, from the INPUT x. leaky_relu′(0) = slope. */
export function leaky_relu_backward(x: usize, dy: usize, dx: usize, n: i32, slope: f32, accumulate: i32): void {
  cheap_backward_loop(ACT_LEAKY_RELU, x, dy, dx, n, slope, accumulate);
}

// ------------------------------------------------------------------ prelu

/**
 * y = x > 0 ? x : a·x with a learned slope a: `slope` points at c floats, a[j] applies to
 * the elements of index ≡ j (mod c), i.e. c is the last dimension of x (c = 1: one slope
 * for all). Preconditions: c ≥ 1 and n a multiple of c.
 */
export function prelu_forward(x: usize, y: usize, n: i32, slope: usize, c: i32): void {
  if (c == 1) {
    leaky_relu_forward(x, y, n, load<f32>(slope));
    return;
  }
  const rowBytes = <usize>c << 2;
  for (let r: usize = 0, end = <usize>n << 2; r < end; r += rowBytes) {
    const xr = x + r, yr = y + r;
    let j = 0;
    for (; j + 4 <= c; j += 4) {
      const o = <usize>j << 2;
      const v = v128.load(xr + o);
      v128.store(yr + o, v128.bitselect(v, f32x4.mul(v, v128.load(slope + o)), f32x4.gt(v, f32x4.splat(0.0))));
    }
    for (; j < c; j++) {
      const o = <usize>j << 2;
      const v = load<f32>(xr + o);
      store<f32>(yr + o, v > 0 ? v : v * load<f32>(slope + o));
    }
  }
}

/**
 * One vector of PReLU's slope gradient terms: x > 0 ? 0 : dy·x. Selected, not dy·min(x, 0),
 * so an infinite or NaN dy where x > 0 adds nothing (not Inf·0 = NaN); a NaN x fails x > 0
 * and gives dy·NaN = NaN.
 */
// @ts-ignore: decorator
@inline function prelu_dslope4(x: v128, dy: v128): v128 {
  return v128.andnot(f32x4.mul(dy, x), f32x4.gt(x, f32x4.splat(0.0)));
}

/**
 * PReLU backward from the INPUT x, in one pass over x and dy:
 *   dx (+)= x > 0 ? dy : a·dy                    (prelu′(0) = a, as leaky_relu)
 *   dslope[j] (+)= Σ over rows of (x > 0 ? 0 : dy·x)   (the slope's gradient)
 * accumulate: 0 overwrites dx and dslope, 1 adds into them. Pass dx = 0 or dslope = 0
 * (null pointers) to skip that output. Slope layout and preconditions as prelu_forward;
 * dslope holds c floats and must not overlap the other buffers.
 */
export function prelu_backward(x: usize, dy: usize, dx: usize, n: i32, slope: usize, c: i32, dslope: usize, accumulate: i32): void {
  if (c == 1) {
    if (dx != 0) leaky_relu_backward(x, dy, dx, n, load<f32>(slope), accumulate);
    if (dslope != 0) {
      // Two vector accumulators, then the lanes (the partial vector's extra lanes are 0).
      let s0 = f32x4.splat(0.0);
      let s1 = f32x4.splat(0.0);
      let i = 0;
      for (; i + 8 <= n; i += 8) {
        const o = <usize>i << 2;
        s0 = f32x4.add(s0, prelu_dslope4(v128.load(x + o), v128.load(dy + o)));
        s1 = f32x4.add(s1, prelu_dslope4(v128.load(x + o, 16), v128.load(dy + o, 16)));
      }
      for (; i < n; i += 4) {
        const o = <usize>i << 2, k = n - i;
        s0 = f32x4.add(s0, prelu_dslope4(load_upto4(x + o, k), load_upto4(dy + o, k)));
      }
      s0 = f32x4.add(s0, s1);
      const s = (f32x4.extract_lane(s0, 0) + f32x4.extract_lane(s0, 1)) + (f32x4.extract_lane(s0, 2) + f32x4.extract_lane(s0, 3));
      store<f32>(dslope, accumulate ? load<f32>(dslope) + s : s);
    }
    return;
  }
  if (dslope != 0 && !accumulate) {
    for (let j = 0; j < c; j++) store<f32>(dslope + (<usize>j << 2), 0);
  }
  const rowBytes = <usize>c << 2;
  for (let r: usize = 0, end = <usize>n << 2; r < end; r += rowBytes) {
    const xr = x + r, dyr = dy + r, dxr = dx + r;
    let j = 0;
    for (; j + 4 <= c; j += 4) {
      const o = <usize>j << 2;
      const v = v128.load(xr + o);
      const g = v128.load(dyr + o);
      if (dx != 0) {
        let d = v128.bitselect(g, f32x4.mul(g, v128.load(slope + o)), f32x4.gt(v, f32x4.splat(0.0)));
        if (accumulate) d = f32x4.add(v128.load(dxr + o), d);
        v128.store(dxr + o, d);
      }
      if (dslope != 0) {
        v128.store(dslope + o, f32x4.add(v128.load(dslope + o), prelu_dslope4(v, g)));
      }
    }
    for (; j < c; j++) {
      const o = <usize>j << 2;
      const v = load<f32>(xr + o);
      const g = load<f32>(dyr + o);
      if (dx != 0) {
        const d = v > 0 ? g : g * load<f32>(slope + o);
        store<f32>(dxr + o, accumulate ? load<f32>(dxr + o) + d : d);
      }
      // As prelu_dslope4: nothing where x > 0; dy·x elsewhere (a NaN x gives NaN).
      if (dslope != 0 && !(v > 0)) store<f32>(dslope + o, load<f32>(dslope + o) + g * v);
    }
  }
}

// ------------------------------------------------------------------ smooth

/** y = x·σ(x) (swish / SiLU). Max relative error 3 ulp (measured 1.73e-7) for normal results. */
export function swish_forward(x: usize, y: usize, n: i32): void {
  xsigmoid_forward_loop(XS_SWISH, x, y, n, SWISH_MIN, 0, 0);
}

/** dx (+)= dy·σ(x)(1 + x(1 − σ(x))), from the INPUT x. f′ within 2e-7 absolute of exact. */
export function swish_backward(x: usize, dy: usize, dx: usize, n: i32, accumulate: i32): void {
  xsigmoid_backward_loop(XS_SWISH, x, dy, dx, n, SIG_LO, SIG_HI, 0, 0, 0, accumulate);
}

/**
 * y = x·Φ(x) = ½x(1 + erf(x/√2)), exact GeLU, with full relative accuracy on the left tail.
 * Max relative error 5 ulp (measured 3.9e-7) for normal results.
 */
export function gelu_forward(x: usize, y: usize, n: i32): void {
  gelu_loop(0, x, 0, y, n, 0);
}

/**
 * y = x·Φ(x) as gelu_forward, and d = Φ(x) + x·φ(x), the slope gelu_backward multiplies dy by,
 * in the same pass (they share Φ(x) and e^(−x²/2)): dy·d is then gelu_backward's result bit
 * for bit. y may alias x; d must not alias x or y.
 */
export function gelu_forward_slope(x: usize, y: usize, d: usize, n: i32): void {
  gelu_loop(GE_SLOPE, x, d, y, n, 0);
}

/** dx (+)= dy·(Φ(x) + x·φ(x)), from the INPUT x. f′ within 1.4e-7 absolute of exact. */
export function gelu_backward(x: usize, dy: usize, dx: usize, n: i32, accumulate: i32): void {
  gelu_loop(GE_GRAD, x, dy, dx, n, accumulate);
}

/**
 * y = ½x(1 + tanh(√(2/π)(x + 0.044715x³))) = x·σ(2√(2/π)(x + 0.044715x³)), the tanh
 * approximation of GeLU. Measured: relative error ≤ 2.6e-7 for x ≥ −1; further left the
 * rounding of the inner argument v, amplified by |v|, dominates (relative error up to 1.2e-5
 * at x ≈ −9, where y ≈ −1e-28), absolute error ≤ 4.7e-8 for all x < 0.
 */
export function gelu_tanh_forward(x: usize, y: usize, n: i32): void {
  xsigmoid_forward_loop(XS_GELU_TANH, x, y, n, GELU_MIN, GELU_TANH_A, GELU_TANH_B);
}

/** dx (+)= dy·f′(x) for the tanh approximation of GeLU, from the INPUT x. f′ within 2.1e-7 absolute. */
export function gelu_tanh_backward(x: usize, dy: usize, dx: usize, n: i32, accumulate: i32): void {
  xsigmoid_backward_loop(XS_GELU_TANH, x, dy, dx, n, GELU_MIN, -GELU_MIN, GELU_TANH_A, GELU_TANH_A3, GELU_TANH_B, accumulate);
}

// ------------------------------------------------------------------ by run-time code

/**
 * g[i] = f′ of activation code `kind` (ACT_* of assembly/vmath.ts, parameter p) at element
 * i, given both the input x and the output y = f(x): the derivative the backward kernels
 * and the fused linear layer multiply dy by. Each kind reads the cheaper one:
 *   IDENTITY 1 · STEP 0 (everywhere, θ included)
 *   SIGMOID y(1 − y) [y] · TANH 1 − y² [y]
 *   HARDTANH 1 strictly inside (−1, 1), else 0, so f′(±1) = 0 [x]
 *   RELU x > 0 ? 1 : 0, so f′(0) = 0 [x] · LEAKY_RELU x > 0 ? 1 : p, so f′(0) = p [x]
 *   SWISH σ(x)(1 + x(1 − σ(x))) [x] · GELU Φ(x) + x·φ(x) [x]
 *   GELU_TANH d/dx of x·σ(2u(x)), u = √(2/π)(x + 0.044715x³) [x]
 * (HARDTANH and RELU give the same with y in place of x.) Accuracy: within 2e-7 absolute
 * of the float64 derivative for the smooth kinds, plus for SIGMOID and TANH the rounding
 * already in y (1 − y² cannot resolve derivatives below ~1e-7 where |y| rounds to 1).
 * Any code not listed traps (unreachable): codes come from src/ops/act-codes.ts and
 * test/ops-registry.test.ts calls this with every one of them.
 * For callers holding a code at run time, and for checking the backward kernels (dx of a
 * named backward kernel is exactly dy·g). g may alias y, and x for every kind but SWISH,
 * GELU and GELU_TANH: those run their backward loop with dy = 1, written into g first.
 */
export function act_derivative(kind: i32, x: usize, y: usize, g: usize, n: i32, p: f32): void {
  const one = f32x4.splat(1.0);
  if (kind == ACT_SWISH || kind == ACT_GELU || kind == ACT_GELU_TANH) {
    for (let i = 0; i < n; i++) store<f32>(g + (<usize>i << 2), 1.0);
    if (kind == ACT_SWISH) swish_backward(x, g, g, n, 0);
    else if (kind == ACT_GELU) gelu_backward(x, g, g, n, 0);
    else gelu_tanh_backward(x, g, g, n, 0);
    return;
  }
  const v = kind == ACT_SIGMOID || kind == ACT_TANH ? y : x;
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const vv = f32x4.splat(load<f32>(v + o));
    let d: v128;
    switch (kind) {
      case ACT_STEP: { d = cheap_dx_v(ACT_STEP, vv, one, p); break; }
      case ACT_SIGMOID: { d = cheap_dx_v(ACT_SIGMOID, vv, one, p); break; }
      case ACT_TANH: { d = cheap_dx_v(ACT_TANH, vv, one, p); break; }
      case ACT_HARDTANH: { d = cheap_dx_v(ACT_HARDTANH, vv, one, p); break; }
      case ACT_RELU: { d = cheap_dx_v(ACT_RELU, vv, one, p); break; }
      case ACT_LEAKY_RELU: { d = cheap_dx_v(ACT_LEAKY_RELU, vv, one, p); break; }
      case ACT_IDENTITY: { d = one; break; }
      // A code without a case is a mistake in this file, not the identity: trap.
      default: { d = one; unreachable(); }
    }
    store<f32>(g + o, f32x4.extract_lane(d, 0));
  }
}

// ------------------------------------------------------------------ vector math

/**
 * y[i] = fn(x[i]) for i < n, where fn is 0: exp, 1: log, 2: softplus, 3: sigmoid, 4: tanh,
 * 5: erf, 6: Φ (standard normal CDF); any other code copies x. The vector functions of
 * assembly/vmath.ts with their error bounds (their out-of-line forms, one call per four
 * elements), exposed for elementwise use and for tests. y may be x (in place); otherwise
 * they must not overlap.
 */
export function vmath_map(fn: i32, x: usize, y: usize, n: i32): void {
  for (let i = 0; i < n; i += 4) {
    const o = <usize>i << 2, k = n - i;
    const v = load_upto4(x + o, k);
    let r: v128;
    switch (fn) {
      case 0: { r = exp_v(v, true); break; }
      case 1: { r = log_v(v, true); break; }
      case 2: { r = softplus_v(v, true); break; }
      case 3: { r = sigmoid_v(v, true); break; }
      case 4: { r = tanh_v(v, true); break; }
      case 5: { r = erf_v(v, true); break; }
      case 6: { r = phi_cdf_v(v, true); break; }
      default: r = v;
    }
    store_upto4(y + o, r, k);
  }
}
