// Vector math shared by kernel families: elementary functions and activation functions on
// one v128 of four f32 lanes, used by the activation kernels, the losses and the fused GEMM
// epilogue.
//
// Two forms of each function, one formula. The @inline forms (exp_v, tanh_v, …) are for
// hot loops: each loop of assembly/activations.ts and assembly/losses.ts inlines the math
// it needs once (a call per vector inside a loop measured 10–30% slower in V8). The
// out-of-line forms (sigmoid_call, tanh_call, …, most built on one out-of-line exponential)
// serve per-vector callers that are not hot loops: act_v for the GEMM epilogue, vmath_map,
// one log per softmax row, the last 1–3 elements of some loss loops. One copy of each in
// the module keeps it small. Both forms give the same results bit for bit: calling X_v(x,
// true) calls X's out-of-line copy, and the `ool` flag (always a constant) swaps the inner
// exponential and polynomials of an @inline body for their out-of-line copies.
// (asc-transform.js keeps binaryen from inlining the out-of-line copies back.)
//
// Method. Each function reduces its argument to a short interval and evaluates a polynomial
// there (Horner steps through `fmadd`, so the relaxed build fuses them). The coefficients
// are our own minimax fits (Lawson-weighted least squares in float64, rounded to f32).
// Branches become lane selects: both sides are computed and `v128.bitselect` keeps the
// right one, so no lane ever leaves the vector unit and no scalar Mathf call is made.
//
// Special values follow IEEE expectations: NaN in gives NaN out, ±Inf and huge arguments
// saturate (never NaN), ±0 keep their sign where the function is odd.
//
// Accuracy. Each function states a bound, checked by test/vmath.test.ts on both builds over
// dense sweeps against float64, and the maximum measured over 2^20-point sweeps of the same
// ranges (the worse of the two builds). "ulp" means units of 2^-23 relative, i.e.
// |got − want| / |want| ≤ k · 1.19e-7; denormal results may add one denormal step.
//
// Clamping uses pmin/pmax with the argument first: pmax(x, lo) = x < lo ? lo : x, which
// keeps NaN (the comparison is false), and compiles to one instruction.

import { fmadd, fnmadd } from "./simd";

// Activation codes (the `kind` argument): defined once, in src/ops/act-codes.ts, which the
// TypeScript side reads too.
export {
  ACT_IDENTITY, ACT_STEP, ACT_SIGMOID, ACT_TANH, ACT_HARDTANH, ACT_RELU, ACT_LEAKY_RELU,
  ACT_SWISH, ACT_GELU, ACT_GELU_TANH, ACT_SLOPE_FLAG,
} from "../src/ops/act-codes";
import {
  ACT_IDENTITY, ACT_STEP, ACT_SIGMOID, ACT_TANH, ACT_HARDTANH, ACT_RELU, ACT_LEAKY_RELU,
  ACT_SWISH, ACT_GELU, ACT_GELU_TANH,
} from "../src/ops/act-codes";

// ln 2 split so that n·LN2_HI is exact for |n| < 512 (LN2_HI has 15 significant bits).
const LN2_HI: f32 = 0.693145751953125; // 0x3f317200
const LN2_LO: f32 = 1.428606765330187e-6;
const LOG2E: f32 = 1.4426950216293335;
/** 1.5·2^23: adding it to |v| < 2^22 rounds v to an integer held in the low mantissa bits. */
const ROUND_MAGIC: f32 = 12582912.0;
const ROUND_MAGIC_BITS: i32 = 0x4b400000;
const SQRT_HALF_BITS: i32 = 0x3f3504f3; // √½ as f32 bits
const MIN_NORMAL: f32 = 1.17549435e-38;
const SIGN_MASK: i32 = 0x80000000;
// e^r = 1 + r + r²·P(r) on |r| ≤ 0.354, P(r) = EXP_P0 + EXP_P1·r + … + EXP_P4·r⁴ (exp_split_body).
const EXP_P4: f32 = 0.0013811651151627302;
const EXP_P3: f32 = 0.008370140567421913;
const EXP_P2: f32 = 0.04166853055357933;
const EXP_P1: f32 = 0.16666509211063385;
const EXP_P0: f32 = 0.4999999403953552;
// erf(x)/x ≈ ERF_P0 + ERF_P1·x² + … + ERF_P6·x¹² on |x| ≤ 0.75 (erf_small_p_body).
const ERF_P6: f32 = 9.461263107368723e-05;
const ERF_P5: f32 = -0.0008355366881005466;
const ERF_P4: f32 = 0.0052166897803545;
const ERF_P3: f32 = -0.02686474286019802;
const ERF_P2: f32 = 0.1128377839922905;
const ERF_P1: f32 = -0.37612637877464294;
const ERF_P0: f32 = 1.128379225730896;
// erfc(a)·e^a² ≈ t·(ERFC_Q0 + ERFC_Q1·t + … + ERFC_Q10·t¹⁰), t = 1/(1 + a/2), a ∈ [0, 10.5]
// (erfc_tq_body; made by scripts/fit-erfc.py).
const ERFC_Q10: f32 = 0.0363011471927166;
const ERFC_Q9: f32 = -0.19420115649700165;
const ERFC_Q8: f32 = 0.38965439796447754;
const ERFC_Q7: f32 = -0.3019183278083801;
const ERFC_Q6: f32 = -0.010222965851426125;
const ERFC_Q5: f32 = 0.02799609676003456;
const ERFC_Q4: f32 = 0.05801041051745415;
const ERFC_Q3: f32 = 0.1847216635942459;
const ERFC_Q2: f32 = 0.24533241987228394;
const ERFC_Q1: f32 = 0.28223714232444763;
const ERFC_Q0: f32 = 0.2820891737937927;

// ------------------------------------------------------------------ partial vectors

/**
 * The k floats at p (1 ≤ k ≤ 3) in lanes 0..k−1 and `fill` in the others, reading nothing
 * past p + 4k: how loops run their last 1–3 elements through the same vector code.
 */
// @ts-ignore: decorator
@inline export function load_part(p: usize, k: i32, fill: f32): v128 {
  let v = f32x4.splat(fill);
  v = f32x4.replace_lane(v, 0, load<f32>(p));
  if (k > 1) v = f32x4.replace_lane(v, 1, load<f32>(p, 4));
  if (k > 2) v = f32x4.replace_lane(v, 2, load<f32>(p, 8));
  return v;
}

/** Stores lanes 0..k−1 of v at p (1 ≤ k ≤ 3), writing nothing past p + 4k. */
// @ts-ignore: decorator
@inline export function store_part(p: usize, v: v128, k: i32): void {
  store<f32>(p, f32x4.extract_lane(v, 0));
  if (k > 1) store<f32>(p, f32x4.extract_lane(v, 1), 4);
  if (k > 2) store<f32>(p, f32x4.extract_lane(v, 2), 8);
}

/** Four floats at p if k ≥ 4, else the first k as load_part with zeros. */
// @ts-ignore: decorator
@inline export function load_upto4(p: usize, k: i32): v128 {
  return k >= 4 ? v128.load(p) : load_part(p, k, 0);
}

/** Stores the four lanes of v at p if k ≥ 4, else the first k as store_part. */
// @ts-ignore: decorator
@inline export function store_upto4(p: usize, v: v128, k: i32): void {
  if (k >= 4) v128.store(p, v);
  else store_part(p, v, k);
}

/** All-ones in lanes 0..k−1 and zeros in the others (k ≤ 0: none; k ≥ 4: all). */
// @ts-ignore: decorator
@inline export function lanes_below(k: i32): v128 {
  return i32x4.lt_s(i32x4(0, 1, 2, 3), i32x4.splat(k));
}

/**
 * The largest of the n ≥ 1 contiguous floats at x (the row maximum of softmax, the
 * cross-entropies and attention). NaN values are passed over (pmax keeps the running
 * maximum); they still reach those results through e^(x − max).
 */
// @ts-ignore: decorator
@inline export function row_max(x: usize, n: i32): f32 {
  let m0 = f32x4.splat(-Infinity), m1 = m0;
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const o = <usize>i << 2;
    m0 = f32x4.pmax(m0, v128.load(x + o));
    m1 = f32x4.pmax(m1, v128.load(x + o, 16));
  }
  if (i + 4 <= n) {
    m0 = f32x4.pmax(m0, v128.load(x + (<usize>i << 2)));
    i += 4;
  }
  let m = f32x4.pmax(m0, m1);
  m = f32x4.pmax(m, i32x4.shuffle(m, m, 2, 3, 0, 1));
  m = f32x4.pmax(m, i32x4.shuffle(m, m, 1, 0, 3, 2));
  let s = f32x4.extract_lane(m, 0);
  for (; i < n; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    s = s < v ? v : s;
  }
  return s;
}

// ------------------------------------------------------------------ exp

/**
 * e^(hi + lo) for a reduced-and-split argument, internal: n = round((hi + lo)/ln 2),
 * r = hi − n·ln2 + lo, e^r by a degree-6 polynomial on |r| ≤ 0.36, then · 2^n applied as
 * two factors 2^⌊n/2⌋·2^(n−⌊n/2⌋) so that results down to the denormals and up to
 * overflow come out right. Needs |hi + lo| ≤ 174 (callers clamp) and |lo| small.
 * `ool`: call the out-of-line copy (exp_split_call) instead of inlining it.
 */
// @ts-ignore: decorator
@inline function exp_split_v(hi: v128, lo: v128, ool: bool = false): v128 {
  return ool ? exp_split_call(hi, lo) : exp_split_body(hi, lo);
}

/**
 * exp_split_v's math; `nonpos` (a constant): the caller guarantees −131 ≤ hi + lo ≤ 0 (or
 * NaN; then n ≥ −189), and 2^n is applied as exp_nonpos_v applies it, 2^(n+64) (exact, a
 * normal number) then 2^−64 (the one rounding): fewer operations, and the same bits as the
 * two factors, which also round exactly once.
 */
// @ts-ignore: decorator
@inline function exp_split_body(hi: v128, lo: v128, nonpos: bool = false): v128 {
  const t = fmadd(f32x4.add(hi, lo), f32x4.splat(LOG2E), f32x4.splat(ROUND_MAGIC));
  const n = f32x4.sub(t, f32x4.splat(ROUND_MAGIC));
  // hi − n·LN2_HI is exact (Cody–Waite), then the small parts.
  let r = fnmadd(n, f32x4.splat(LN2_HI), hi);
  r = f32x4.add(r, lo);
  r = fnmadd(n, f32x4.splat(LN2_LO), r);
  // e^r = 1 + r + r²·P(r); P is a minimax fit of (e^r − 1 − r)/r² on |r| ≤ 0.354
  // (relative error of the polynomial 3.5e-9).
  let p = f32x4.splat(EXP_P4);
  p = fmadd(p, r, f32x4.splat(EXP_P3));
  p = fmadd(p, r, f32x4.splat(EXP_P2));
  p = fmadd(p, r, f32x4.splat(EXP_P1));
  p = fmadd(p, r, f32x4.splat(EXP_P0));
  let y = fmadd(f32x4.mul(r, r), p, r);
  y = f32x4.add(y, f32x4.splat(1.0));
  // 2^n: n sits in the low bits of t. NaN lanes give garbage here, but y is NaN already.
  if (nonpos) {
    const s = i32x4.shl(i32x4.add(t, i32x4.splat(64 + 127 - ROUND_MAGIC_BITS)), 23);
    return f32x4.mul(f32x4.mul(y, s), f32x4.splat(5.421010862427522e-20)); // · 2^−64
  }
  const ni = i32x4.sub(t, i32x4.splat(ROUND_MAGIC_BITS));
  const n1 = i32x4.shr_s(ni, 1);
  const n2 = i32x4.sub(ni, n1);
  const s1 = i32x4.shl(i32x4.add(n1, i32x4.splat(127)), 23);
  const s2 = i32x4.shl(i32x4.add(n2, i32x4.splat(127)), 23);
  return f32x4.mul(f32x4.mul(y, s1), s2);
}

/**
 * e^x, lane-wise.
 * Max relative error 1 ulp (measured 0.68 ulp, 8.0e-8) for results in the normal range
 * (x ≥ −87.33); denormal results are within one denormal step more. x > 88.73 gives +Inf,
 * x < −103.98 gives
 * +0, exp(±0) = 1, exp(−Inf) = 0, exp(+Inf) = +Inf, NaN → NaN.
 */
// @ts-ignore: decorator
@inline export function exp_v(x: v128, ool: bool = false): v128 {
  const xc = f32x4.pmin(f32x4.pmax(x, f32x4.splat(-174.0)), f32x4.splat(174.0));
  return exp_split_v(xc, f32x4.splat(0.0), ool);
}

/**
 * e^z for z ≤ 0 (or NaN), lane-wise: the same reduction, polynomial and rounding as exp_v,
 * so the same results bit for bit (NaN → NaN, −Inf → 0), in fewer operations: no upper
 * clamp, no split argument, and 2^n applied as 2^(n+64) (exact, a normal number for the
 * n ≥ −185 the clamp at −128 allows) then 2^−64 (the one rounding, into the denormals where
 * the result is that small). exp_v applies 2^n as two factors instead, the second doing
 * that same one rounding. Below z = −104 both give +0. Positive z: wrong (not clamped).
 */
// @ts-ignore: decorator
@inline export function exp_nonpos_v(z: v128, ool: bool = false): v128 {
  return ool ? exp_nonpos_call(z) : exp_nonpos_body(z);
}

// @ts-ignore: decorator
@inline function exp_nonpos_body(z: v128): v128 {
  const zc = f32x4.pmax(z, f32x4.splat(-128.0));
  const t = fmadd(zc, f32x4.splat(LOG2E), f32x4.splat(ROUND_MAGIC));
  const n = f32x4.sub(t, f32x4.splat(ROUND_MAGIC));
  let r = fnmadd(n, f32x4.splat(LN2_HI), zc);
  r = fnmadd(n, f32x4.splat(LN2_LO), r);
  let p = f32x4.splat(EXP_P4);
  p = fmadd(p, r, f32x4.splat(EXP_P3));
  p = fmadd(p, r, f32x4.splat(EXP_P2));
  p = fmadd(p, r, f32x4.splat(EXP_P1));
  p = fmadd(p, r, f32x4.splat(EXP_P0));
  let y = fmadd(f32x4.mul(r, r), p, r);
  y = f32x4.add(y, f32x4.splat(1.0));
  // n sits in the low bits of t: (n + 64 + 127) << 23 is 2^(n+64).
  const s = i32x4.shl(i32x4.add(t, i32x4.splat(64 + 127 - ROUND_MAGIC_BITS)), 23);
  return f32x4.mul(f32x4.mul(y, s), f32x4.splat(5.421010862427522e-20)); // · 2^−64
}

// ------------------------------------------------------------------ log

/**
 * log(1 + s)/(1 − s) = 2·atanh(s) for |s| ≤ 1/3, internal: 2s + s·z·P(z), z = s².
 * P is a minimax fit (relative error of the result ≤ 4.6e-9 on |s| ≤ 1/3).
 */
// @ts-ignore: decorator
@inline function atanh2_v(s: v128): v128 {
  const z = f32x4.mul(s, s);
  let p = f32x4.splat(0.2802473306655884);
  p = fmadd(p, z, f32x4.splat(0.27999091148376465));
  p = fmadd(p, z, f32x4.splat(0.4002170264720917));
  p = fmadd(p, z, f32x4.splat(0.6666641235351562));
  return fmadd(f32x4.mul(s, z), p, f32x4.add(s, s));
}

/**
 * Natural logarithm, lane-wise: x = m·2^e with m ∈ [√½, √2), log x = e·ln 2 + 2·atanh(s),
 * s = (m − 1)/(m + 1).
 * Max relative error 2 ulp (measured 1.46 ulp, 1.74e-7).
 * Denormal x is handled exactly (scaled by 2^23 first). log(±0) = −Inf, log(x < 0) = NaN,
 * log(+Inf) = +Inf, NaN → NaN.
 */
// @ts-ignore: decorator
@inline export function log_v(x: v128, ool: bool = false): v128 {
  return ool ? log_call(x) : log_body(x);
}

// @ts-ignore: decorator
@inline function log_body(x: v128): v128 {
  const den = f32x4.lt(x, f32x4.splat(MIN_NORMAL));
  const xs = v128.bitselect(f32x4.mul(x, f32x4.splat(8388608.0)), x, den);
  const eAdj = v128.and(den, i32x4.splat(23));
  const k = i32x4.shr_s(i32x4.sub(xs, i32x4.splat(SQRT_HALF_BITS)), 23);
  const m = i32x4.sub(xs, i32x4.shl(k, 23));
  const e = f32x4.convert_i32x4_s(i32x4.sub(k, eAdj));
  const s = f32x4.div(f32x4.sub(m, f32x4.splat(1.0)), f32x4.add(m, f32x4.splat(1.0)));
  let r = atanh2_v(s);
  r = fmadd(e, f32x4.splat(LN2_LO), r);
  r = fmadd(e, f32x4.splat(LN2_HI), r);
  // Special lanes: x ≥ 0 is false for negatives and NaN; 0 → −Inf; +Inf → +Inf.
  r = v128.bitselect(r, f32x4.splat(NaN), f32x4.ge(x, f32x4.splat(0.0)));
  r = v128.bitselect(f32x4.splat(-Infinity), r, f32x4.eq(x, f32x4.splat(0.0)));
  r = v128.bitselect(x, r, f32x4.eq(x, f32x4.splat(Infinity)));
  return r;
}

/**
 * log(1 + t) for t ∈ [0, 1] (internal; accurate relative to t for tiny t, denormals
 * included): with r = 2/(2 + t) and s = t·r/2, log(1 + t) = 2·atanh(s) = t·r·(1 + s²·P(s²)/2),
 * P as in atanh2_v (halved coefficients here), arranged so that t enters in one final product.
 */
// @ts-ignore: decorator
@inline function log1p_unit_v(t: v128): v128 {
  const r = f32x4.div(f32x4.splat(2.0), f32x4.add(t, f32x4.splat(2.0)));
  const s = f32x4.mul(f32x4.mul(t, r), f32x4.splat(0.5));
  const z = f32x4.mul(s, s);
  let p = f32x4.splat(0.1401236653327942);
  p = fmadd(p, z, f32x4.splat(0.13999545574188232));
  p = fmadd(p, z, f32x4.splat(0.20010851323604584));
  p = fmadd(p, z, f32x4.splat(0.3333320617675781));
  const q = fmadd(f32x4.mul(z, p), r, r);
  return f32x4.mul(t, q);
}

/**
 * softplus(x) = log(1 + eˣ) = max(x, 0) + log(1 + e^−|x|), lane-wise; never overflows.
 * Max relative error 2 ulp (measured 1.85 ulp, 2.2e-7), including x ≪ 0 where
 * softplus(x) ≈ eˣ.
 * softplus(+Inf) = +Inf, softplus(−Inf) = 0, NaN → NaN.
 */
// @ts-ignore: decorator
@inline export function softplus_v(x: v128, ool: bool = false): v128 {
  return ool ? softplus_call(x) : softplus_body(x, false);
}

// @ts-ignore: decorator
@inline function softplus_body(x: v128, ool: bool): v128 {
  const t = exp_nonpos_v(f32x4.neg(f32x4.abs(x)), ool);
  return f32x4.add(f32x4.pmax(x, f32x4.splat(0.0)), log1p_unit_v(t));
}

// ------------------------------------------------------------------ sigmoid, tanh

/** σ's argument range: σ(x) is 0 in f32 below −104 and 1 above 17; clamping there keeps 2^n normal. */
export const SIG_LO: f32 = -130.0;
export const SIG_HI: f32 = 40.0;
/** 2^−64: σ = C/(C + C·e^−x), so that C·e^−x is a normal float for every clamped x. */
export const SIG_C: f32 = 5.421010862427522e-20;
/** ROUND_MAGIC + 63: rounds like it, and leaves n + 63 (2^(n−64)'s exponent field) in the low bits. */
const SIG_MAGIC: f32 = 12582975.0;

/**
 * σ(x) = 1/(1 + e^−x), lane-wise, computed as C/(C + E) with C = 2^−64 and E = C·e^−x
 * (x clamped to [−130, 40]): one division, no select; E is the same polynomial as exp_v,
 * with 2^(n−64) applied as one exact factor (a normal number over the whole clamped range,
 * E ≤ 2^124), so neither tail overflows and the left tail keeps full relative accuracy
 * (σ ≈ C/E there; results below the normal range are rounded once, by the division).
 * Max relative error 2 ulp (measured 1.20 ulp, 1.44e-7) down to σ(−87); smaller results
 * reach the denormals and then 0. σ(+Inf) = 1, σ(−Inf) = 0, σ(±0) = ½, NaN → NaN.
 */
// @ts-ignore: decorator
@inline export function sigmoid_v(x: v128, ool: bool = false): v128 {
  return ool ? sigmoid_call(x) : sigmoid_body(x, false);
}

// @ts-ignore: decorator
@inline function sigmoid_body(x: v128, ool: bool): v128 {
  return sigmoid_lo_v(f32x4.pmax(x, f32x4.splat(SIG_LO)), ool);
}

/**
 * σ(v) for v ≥ SIG_LO or NaN (the caller clamped below already, as swish does): sigmoid_v
 * without its lower clamp, same results.
 */
// @ts-ignore: decorator
@inline export function sigmoid_lo_v(v: v128, ool: bool = false): v128 {
  const e = sig_e_v(f32x4.pmin(v, f32x4.splat(SIG_HI)), ool);
  return f32x4.div(f32x4.splat(SIG_C), f32x4.add(f32x4.splat(SIG_C), e));
}

/**
 * E = 2^−64·e^−v for v already in [SIG_LO, SIG_HI] (NaN stays NaN): the denominator term
 * of sigmoid_v, also shared by the derivative kernels (σ = C/(C + E), 1 − σ = E/(C + E)).
 * The reduction of exp_nonpos_v mirrored (s = v + n·ln 2 = −r, odd coefficients negated),
 * so that no negation of v is needed: e^−v = 2^n·e^−s.
 */
// @ts-ignore: decorator
@inline export function sig_e_v(v: v128, ool: bool = false): v128 {
  return ool ? sig_e_call(v) : sig_e_body(v);
}

// @ts-ignore: decorator
@inline function sig_e_body(v: v128): v128 {
  const t = sig_t(v);
  // e^−s = 1 − (s − s²·P(−s)).
  const y = f32x4.sub(f32x4.splat(1.0), sig_q(v, t));
  // The low 9 bits of t are n + 63 ∈ [5, 251] (the magic's own low 22 bits are 0), so
  // t << 23 is the f32 2^(n−64): the exponent field n + 63, sign bit 0.
  const sc = i32x4.shl(t, 23);
  return f32x4.mul(y, sc);
}

/**
 * σ's reduction of v (internal; sig_e_body, tanh_abs): the rounding constant carries the
 * exponent bias, t = 1.5·2^23 + 63 + n with n = round(−v/ln 2).
 */
// @ts-ignore: decorator
@inline function sig_t(v: v128): v128 {
  return fmadd(v, f32x4.splat(-LOG2E), f32x4.splat(SIG_MAGIC));
}

/** 1 − e^−s = s − s²·P(−s) for the reduced s = v + n·ln 2 (internal; t from sig_t). */
// @ts-ignore: decorator
@inline function sig_q(v: v128, t: v128): v128 {
  const n = f32x4.sub(t, f32x4.splat(SIG_MAGIC));
  let s = fmadd(n, f32x4.splat(LN2_HI), v);
  s = fmadd(n, f32x4.splat(LN2_LO), s);
  let p = f32x4.splat(EXP_P4);
  p = fmadd(p, s, f32x4.splat(-EXP_P3));
  p = fmadd(p, s, f32x4.splat(EXP_P2));
  p = fmadd(p, s, f32x4.splat(-EXP_P1));
  p = fmadd(p, s, f32x4.splat(EXP_P0));
  return fnmadd(f32x4.mul(s, s), p, s);
}

/**
 * σ of two whole vectors (sigmoid_v's operations per lane, the same bits), written one
 * operation for each in turn (see gelu_pair); σ(x1) is stored at p1, σ(x0) returned. What it
 * bought is JavaScriptCore's (Bun 1.31×, sigmoid_forward); the V8 engines read it level,
 * since the optimizer folds this chain's single-use steps back into one expression per vector
 * (the .wasm runs them one vector after the other); GeLU's reused values keep their order.
 */
// @ts-ignore: decorator
@inline export function sigmoid_pair(x0: v128, x1: v128, p1: usize): v128 {
  const v0 = f32x4.pmin(f32x4.pmax(x0, f32x4.splat(SIG_LO)), f32x4.splat(SIG_HI));
  const v1 = f32x4.pmin(f32x4.pmax(x1, f32x4.splat(SIG_LO)), f32x4.splat(SIG_HI));
  const t0 = fmadd(v0, f32x4.splat(-LOG2E), f32x4.splat(SIG_MAGIC));
  const t1 = fmadd(v1, f32x4.splat(-LOG2E), f32x4.splat(SIG_MAGIC));
  const n0 = f32x4.sub(t0, f32x4.splat(SIG_MAGIC));
  const n1 = f32x4.sub(t1, f32x4.splat(SIG_MAGIC));
  let s0 = fmadd(n0, f32x4.splat(LN2_HI), v0);
  let s1 = fmadd(n1, f32x4.splat(LN2_HI), v1);
  s0 = fmadd(n0, f32x4.splat(LN2_LO), s0);
  s1 = fmadd(n1, f32x4.splat(LN2_LO), s1);
  let q0 = f32x4.splat(EXP_P4), q1 = q0;
  q0 = fmadd(q0, s0, f32x4.splat(-EXP_P3));
  q1 = fmadd(q1, s1, f32x4.splat(-EXP_P3));
  q0 = fmadd(q0, s0, f32x4.splat(EXP_P2));
  q1 = fmadd(q1, s1, f32x4.splat(EXP_P2));
  q0 = fmadd(q0, s0, f32x4.splat(-EXP_P1));
  q1 = fmadd(q1, s1, f32x4.splat(-EXP_P1));
  q0 = fmadd(q0, s0, f32x4.splat(EXP_P0));
  q1 = fmadd(q1, s1, f32x4.splat(EXP_P0));
  const y0 = f32x4.sub(f32x4.splat(1.0), fnmadd(f32x4.mul(s0, s0), q0, s0));
  const y1 = f32x4.sub(f32x4.splat(1.0), fnmadd(f32x4.mul(s1, s1), q1, s1));
  const e0 = f32x4.mul(y0, i32x4.shl(t0, 23));
  const e1 = f32x4.mul(y1, i32x4.shl(t1, 23));
  const r0 = f32x4.div(f32x4.splat(SIG_C), f32x4.add(f32x4.splat(SIG_C), e0));
  const r1 = f32x4.div(f32x4.splat(SIG_C), f32x4.add(f32x4.splat(SIG_C), e1));
  v128.store(p1, r1);
  return r0;
}

/**
 * tanh(x), lane-wise: sign(x)·tanh_abs(|x|), one form on the whole range.
 * Max relative error 2 ulp (measured 1.38 ulp, 1.64e-7, on test/vmath.test.ts's sweeps).
 * tanh(±Inf) = ±1 (and |x| > 9.1 gives ±1 exactly), tanh(±0) = ±0, NaN → NaN.
 */
// @ts-ignore: decorator
@inline export function tanh_v(x: v128, ool: bool = false): v128 {
  return ool ? tanh_call(x) : tanh_body(x);
}

// @ts-ignore: decorator
@inline function tanh_body(x: v128): v128 {
  // Computed on a = |x|, then the sign of x is put back (keeps tanh odd, and tanh(−0) = −0).
  // (Its exponential is inline in both forms: tanh_abs uses the reduction's 1 − e^−s itself.)
  return v128.or(tanh_abs(f32x4.abs(x)), v128.and(x, i32x4.splat(SIGN_MASK)));
}

/**
 * tanh(a) for a = |x| ≥ 0 (NaN stays NaN): M/(2 − M) with M = 1 − e^−2a, which has no
 * cancellation anywhere. e^−2a = 2^n·(1 − q) from σ's reduction (sig_e_body: n = round(−2a/ln 2),
 * s = 2a + n·ln 2, q = 1 − e^−s = s − s²·P(−s), 2a clamped to SIG_HI = 40, where the result is
 * 1); then M = (1 − 2^n) + 2^n·q: for n = 0 it is q itself (a < 0.18, full relative
 * accuracy near 0), for n ≤ −1 a sum of two terms of one sign. Until 2026-12-06 tanh took
 * an odd polynomial below |x| = 0.625 and (1 − t)/(1 + t), t = e^−2|x|, above, both computed
 * for every lane: this one form ran 1.41× (SIMD128) and 1.56× (relaxed) the speed
 * (bench/act-ab.mjs --kernels=tanh_forward, 4096 and 262144 values), 1.37–1.38× under Node 24,
 * Deno and Chromium and 1.23× under Bun (bench/engines-ab.mjs --differ); its worst error
 * 1.38 ulp where the two had 1.23, against the same bound of 2.
 */
// @ts-ignore: decorator
@inline export function tanh_abs(a: v128): v128 {
  const v = f32x4.pmin(f32x4.add(a, a), f32x4.splat(SIG_HI));
  const t = sig_t(v);
  const q = sig_q(v, t);
  // t << 23 is 2^(n−64) (see sig_e_body); times 2^64, exactly 2^n.
  const sc = f32x4.mul(i32x4.shl(t, 23), f32x4.splat(18446744073709551616.0));
  const m = fmadd(sc, q, f32x4.sub(f32x4.splat(1.0), sc));
  return f32x4.div(m, f32x4.sub(f32x4.splat(2.0), m));
}

// ------------------------------------------------------------------ erf, erfc, Φ

/** Below this |x|, erf uses its odd polynomial; above it, 1 − erfc. */
const ERF_SPLIT: f32 = 0.75;
/** erfc(x) = 0 in f32 beyond this (erfc(10.06) < 2^-150); arguments are clamped to it. */
const ERFC_MAX: f32 = 10.5;
/** Φ(x) is 0 or 1 in f32 beyond this |x| (|x|/√2 = ERFC_MAX); arguments are clamped to it. */
const PHI_MAX: f32 = 14.85;

/** erf(x)/x ≈ P(x²) for |x| ≤ 0.75 (internal; minimax, relative error 2.5e-11). */
// @ts-ignore: decorator
@inline function erf_small_p(z: v128, ool: bool = false): v128 {
  return ool ? erf_small_p_call(z) : erf_small_p_body(z);
}

// @ts-ignore: decorator
@inline function erf_small_p_body(z: v128): v128 {
  let p = f32x4.splat(ERF_P6);
  p = fmadd(p, z, f32x4.splat(ERF_P5));
  p = fmadd(p, z, f32x4.splat(ERF_P4));
  p = fmadd(p, z, f32x4.splat(ERF_P3));
  p = fmadd(p, z, f32x4.splat(ERF_P2));
  p = fmadd(p, z, f32x4.splat(ERF_P1));
  p = fmadd(p, z, f32x4.splat(ERF_P0));
  return p;
}

/**
 * erfc(a)·e^a² for a ∈ [0, 10.5] (internal): t·Q(t), t = 1/(1 + a/2), Q of degree 10 fitted
 * to erfc(a)·e^a²/t for the least largest relative error, its coefficients rounded to f32
 * one at a time from Q0 with the rest fitted again (5.0e-9 after rounding). Φ uses it on the
 * whole range (no cancellation near 0: there ½erfc is near ½); erf only from |x| = 0.75,
 * below which 1 − erfc would cancel. Callers multiply by e^−a² from
 * exp_neg_sq_v, which they may share with other terms (the GeLU derivative does).
 */
// @ts-ignore: decorator
@inline function erfc_tq(a: v128, ool: bool = false): v128 {
  return ool ? erfc_tq_call(a) : erfc_tq_body(a);
}

// @ts-ignore: decorator
@inline function erfc_tq_body(a: v128): v128 {
  const t = f32x4.div(f32x4.splat(1.0), fmadd(a, f32x4.splat(0.5), f32x4.splat(1.0)));
  let q = f32x4.splat(ERFC_Q10);
  q = fmadd(q, t, f32x4.splat(ERFC_Q9));
  q = fmadd(q, t, f32x4.splat(ERFC_Q8));
  q = fmadd(q, t, f32x4.splat(ERFC_Q7));
  q = fmadd(q, t, f32x4.splat(ERFC_Q6));
  q = fmadd(q, t, f32x4.splat(ERFC_Q5));
  q = fmadd(q, t, f32x4.splat(ERFC_Q4));
  q = fmadd(q, t, f32x4.splat(ERFC_Q3));
  q = fmadd(q, t, f32x4.splat(ERFC_Q2));
  q = fmadd(q, t, f32x4.splat(ERFC_Q1));
  q = fmadd(q, t, f32x4.splat(ERFC_Q0));
  return f32x4.mul(t, q);
}

/**
 * e^(−c·u²) for u ≥ 0 with c = 1 or ½ (internal), without rounding error in the exponent:
 * u = uh + ul where uh keeps 12 significant bits, so uh² is exact and
 * u² = uh² + (u − uh)(u + uh). Needs c·u² ≤ 131 (callers clamp u to 10.5, or to 14.85 with
 * c = ½: at most 110.3); inline it takes the non-positive form of the scaling (the same bits
 * as the out-of-line call).
 */
// @ts-ignore: decorator
@inline export function exp_neg_sq_v(u: v128, c: f32, ool: bool = false): v128 {
  const uh = v128.and(u, i32x4.splat(0xfffff000));
  const hi = f32x4.mul(f32x4.mul(uh, uh), f32x4.splat(-c));
  const lo = f32x4.mul(f32x4.mul(f32x4.sub(u, uh), f32x4.add(u, uh)), f32x4.splat(-c));
  return ool ? exp_split_call(hi, lo) : exp_split_body(hi, lo, true);
}

/**
 * erf(x), lane-wise: x·P(x²) for |x| < 0.75, else sign(x)·(1 − erfc(|x|)).
 * Max relative error 2 ulp (measured 1.50 ulp, 1.78e-7). erf(±Inf) = ±1 (|x| ≥ 3.92 gives ±1
 * exactly), erf(±0) = ±0, NaN → NaN.
 */
// @ts-ignore: decorator
@inline export function erf_v(x: v128, ool: bool = false): v128 {
  return ool ? erf_call(x) : erf_body(x, false);
}

// @ts-ignore: decorator
@inline function erf_body(x: v128, ool: bool): v128 {
  const a = f32x4.pmin(f32x4.abs(x), f32x4.splat(ERFC_MAX));
  const small = f32x4.mul(x, erf_small_p(f32x4.mul(x, x), ool));
  const c = f32x4.mul(erfc_tq(a, ool), exp_neg_sq_v(a, 1.0, ool));
  const big = v128.or(f32x4.sub(f32x4.splat(1.0), c), v128.and(x, i32x4.splat(SIGN_MASK)));
  return v128.bitselect(small, big, f32x4.lt(a, f32x4.splat(ERF_SPLIT)));
}

/**
 * Φ(xc) for xc already clamped to ±PHI_MAX, given e = e^(−xc²/2), so that Φ and the
 * density φ(xc) = e/√(2π) of the GeLU derivative Φ(x) + x·φ(x) share one exponential.
 * One form on the whole range, ½erfc(|xc|/√2) or 1 minus it (erfc_tq covers a = 0 up): until
 * 2026-12-06 |xc| < 0.71 took erf's odd polynomial as well, both computed for every lane and
 * one kept; without it the exact GeLU's kernels ran 1.15× (forward) and 1.11× (backward)
 * faster in the SIMD128 build, 1.20× and 1.19× in the relaxed one (bench/act-ab.mjs,
 * 262144 elements), 1.10–1.13× under Node 24, Deno, Bun and Chromium (bench/engines-ab.mjs
 * --differ), with the measured bound unchanged (3.13 ulp).
 */
// @ts-ignore: decorator
@inline export function phi_clamped_v(xc: v128, e: v128, ool: bool): v128 {
  const a = f32x4.mul(f32x4.abs(xc), f32x4.splat(0.7071067690849304));
  // The normal factors first, so a denormal result is rounded once.
  const hc = f32x4.mul(f32x4.mul(erfc_tq(a, ool), f32x4.splat(0.5)), e);
  return v128.bitselect(f32x4.sub(f32x4.splat(1.0), hc), hc, f32x4.ge(xc, f32x4.splat(0.0)));
}

/**
 * Exact GeLU's work for two whole vectors x0, x1 (assembly/activations.ts, gelu_loop), written
 * one operation for x0, the same for x1, and so on: per lane the operations of phi_clamp,
 * exp_neg_sq_v (c = ½, inline) and phi_clamped_v (erfc_tq), the same bits as one vector
 * at a time. Newer V8 (Node 24's 13.6, Deno's, Chromium's) emits operations in the order
 * written, so a vector's chain written whole (divisions, polynomials) was waited out before
 * the other's began; interleaved here, the two overlap as V8 11.3 and 12.4, which schedule,
 * made them overlap themselves. The optimizer would fold each step whose value is used once
 * back into its use, one vector's chain after the other's; the functions built on this keep
 * the order written instead (asc-transform.js, SOURCE_ORDER). Outputs, as gelu_loop's
 * modes: with `slope`, f′ = Φ + x·φ stored at d and d + 16; with `grad`, out (+)= dy·f′
 * (dy read at d, d + 16), else out = max(x, GELU_MIN)·Φ; out at out and out + 16.
 */
// @ts-ignore: decorator
@inline export function gelu_pair(slope: bool, grad: bool, x0: v128, x1: v128, d: usize, out: usize, accumulate: bool): void {
  const xc0 = f32x4.pmin(f32x4.pmax(x0, f32x4.splat(-PHI_MAX)), f32x4.splat(PHI_MAX));
  const xc1 = f32x4.pmin(f32x4.pmax(x1, f32x4.splat(-PHI_MAX)), f32x4.splat(PHI_MAX));
  // e = e^(−xc²/2): exp_neg_sq_v, then exp_split_body's non-positive form.
  const u0 = f32x4.abs(xc0);
  const u1 = f32x4.abs(xc1);
  const uh0 = v128.and(u0, i32x4.splat(0xfffff000));
  const uh1 = v128.and(u1, i32x4.splat(0xfffff000));
  const hi0 = f32x4.mul(f32x4.mul(uh0, uh0), f32x4.splat(-0.5));
  const hi1 = f32x4.mul(f32x4.mul(uh1, uh1), f32x4.splat(-0.5));
  const lo0 = f32x4.mul(f32x4.mul(f32x4.sub(u0, uh0), f32x4.add(u0, uh0)), f32x4.splat(-0.5));
  const lo1 = f32x4.mul(f32x4.mul(f32x4.sub(u1, uh1), f32x4.add(u1, uh1)), f32x4.splat(-0.5));
  const t0 = fmadd(f32x4.add(hi0, lo0), f32x4.splat(LOG2E), f32x4.splat(ROUND_MAGIC));
  const t1 = fmadd(f32x4.add(hi1, lo1), f32x4.splat(LOG2E), f32x4.splat(ROUND_MAGIC));
  const n0 = f32x4.sub(t0, f32x4.splat(ROUND_MAGIC));
  const n1 = f32x4.sub(t1, f32x4.splat(ROUND_MAGIC));
  let r0 = fnmadd(n0, f32x4.splat(LN2_HI), hi0);
  let r1 = fnmadd(n1, f32x4.splat(LN2_HI), hi1);
  r0 = f32x4.add(r0, lo0);
  r1 = f32x4.add(r1, lo1);
  r0 = fnmadd(n0, f32x4.splat(LN2_LO), r0);
  r1 = fnmadd(n1, f32x4.splat(LN2_LO), r1);
  let p0 = f32x4.splat(EXP_P4), p1 = p0;
  p0 = fmadd(p0, r0, f32x4.splat(EXP_P3));
  p1 = fmadd(p1, r1, f32x4.splat(EXP_P3));
  p0 = fmadd(p0, r0, f32x4.splat(EXP_P2));
  p1 = fmadd(p1, r1, f32x4.splat(EXP_P2));
  p0 = fmadd(p0, r0, f32x4.splat(EXP_P1));
  p1 = fmadd(p1, r1, f32x4.splat(EXP_P1));
  p0 = fmadd(p0, r0, f32x4.splat(EXP_P0));
  p1 = fmadd(p1, r1, f32x4.splat(EXP_P0));
  let y0 = fmadd(f32x4.mul(r0, r0), p0, r0);
  let y1 = fmadd(f32x4.mul(r1, r1), p1, r1);
  y0 = f32x4.add(y0, f32x4.splat(1.0));
  y1 = f32x4.add(y1, f32x4.splat(1.0));
  const s0 = i32x4.shl(i32x4.add(t0, i32x4.splat(64 + 127 - ROUND_MAGIC_BITS)), 23);
  const s1 = i32x4.shl(i32x4.add(t1, i32x4.splat(64 + 127 - ROUND_MAGIC_BITS)), 23);
  const e0 = f32x4.mul(f32x4.mul(y0, s0), f32x4.splat(5.421010862427522e-20));
  const e1 = f32x4.mul(f32x4.mul(y1, s1), f32x4.splat(5.421010862427522e-20));
  // erfc_tq: t·Q(t), t = 1/(1 + a/2), a = |xc|/√2.
  const a0 = f32x4.mul(u0, f32x4.splat(0.7071067690849304));
  const a1 = f32x4.mul(u1, f32x4.splat(0.7071067690849304));
  const w0 = f32x4.div(f32x4.splat(1.0), fmadd(a0, f32x4.splat(0.5), f32x4.splat(1.0)));
  const w1 = f32x4.div(f32x4.splat(1.0), fmadd(a1, f32x4.splat(0.5), f32x4.splat(1.0)));
  let q0 = f32x4.splat(ERFC_Q10), q1 = q0;
  q0 = fmadd(q0, w0, f32x4.splat(ERFC_Q9));
  q1 = fmadd(q1, w1, f32x4.splat(ERFC_Q9));
  q0 = fmadd(q0, w0, f32x4.splat(ERFC_Q8));
  q1 = fmadd(q1, w1, f32x4.splat(ERFC_Q8));
  q0 = fmadd(q0, w0, f32x4.splat(ERFC_Q7));
  q1 = fmadd(q1, w1, f32x4.splat(ERFC_Q7));
  q0 = fmadd(q0, w0, f32x4.splat(ERFC_Q6));
  q1 = fmadd(q1, w1, f32x4.splat(ERFC_Q6));
  q0 = fmadd(q0, w0, f32x4.splat(ERFC_Q5));
  q1 = fmadd(q1, w1, f32x4.splat(ERFC_Q5));
  q0 = fmadd(q0, w0, f32x4.splat(ERFC_Q4));
  q1 = fmadd(q1, w1, f32x4.splat(ERFC_Q4));
  q0 = fmadd(q0, w0, f32x4.splat(ERFC_Q3));
  q1 = fmadd(q1, w1, f32x4.splat(ERFC_Q3));
  q0 = fmadd(q0, w0, f32x4.splat(ERFC_Q2));
  q1 = fmadd(q1, w1, f32x4.splat(ERFC_Q2));
  q0 = fmadd(q0, w0, f32x4.splat(ERFC_Q1));
  q1 = fmadd(q1, w1, f32x4.splat(ERFC_Q1));
  q0 = fmadd(q0, w0, f32x4.splat(ERFC_Q0));
  q1 = fmadd(q1, w1, f32x4.splat(ERFC_Q0));
  const tq0 = f32x4.mul(w0, q0);
  const tq1 = f32x4.mul(w1, q1);
  // Φ = 1 − ½erfc(a) or ½erfc(a) (phi_clamped_v).
  const hc0 = f32x4.mul(f32x4.mul(tq0, f32x4.splat(0.5)), e0);
  const hc1 = f32x4.mul(f32x4.mul(tq1, f32x4.splat(0.5)), e1);
  const cdf0 = v128.bitselect(f32x4.sub(f32x4.splat(1.0), hc0), hc0, f32x4.ge(xc0, f32x4.splat(0.0)));
  const cdf1 = v128.bitselect(f32x4.sub(f32x4.splat(1.0), hc1), hc1, f32x4.ge(xc1, f32x4.splat(0.0)));
  // The outputs, as gelu_loop's vectors.
  if (slope) {
    v128.store(d, fmadd(xc0, f32x4.mul(e0, f32x4.splat(0.3989422917366028)), cdf0));
    v128.store(d, fmadd(xc1, f32x4.mul(e1, f32x4.splat(0.3989422917366028)), cdf1), 16);
  }
  let o0: v128, o1: v128;
  if (grad) {
    o0 = f32x4.mul(v128.load(d), fmadd(xc0, f32x4.mul(e0, f32x4.splat(0.3989422917366028)), cdf0));
    o1 = f32x4.mul(v128.load(d, 16), fmadd(xc1, f32x4.mul(e1, f32x4.splat(0.3989422917366028)), cdf1));
    if (accumulate) {
      o0 = f32x4.add(v128.load(out), o0);
      o1 = f32x4.add(v128.load(out, 16), o1);
    }
  } else {
    o0 = f32x4.mul(f32x4.pmax(x0, f32x4.splat(GELU_MIN)), cdf0);
    o1 = f32x4.mul(f32x4.pmax(x1, f32x4.splat(GELU_MIN)), cdf1);
  }
  v128.store(out, o0);
  v128.store(out, o1, 16);
}

/** x clamped to ±PHI_MAX (NaN stays NaN): Φ's argument range. */
// @ts-ignore: decorator
@inline export function phi_clamp(x: v128): v128 {
  return f32x4.pmin(f32x4.pmax(x, f32x4.splat(-PHI_MAX)), f32x4.splat(PHI_MAX));
}

/**
 * Φ(x) = ½(1 + erf(x/√2)), the standard normal CDF, lane-wise: 1 − ½erfc(x/√2) for x ≥ 0,
 * ½erfc(|x|/√2) below, so the left tail keeps full relative accuracy (no cancellation).
 * Max relative error 4 ulp (measured 3.13 ulp, 3.7e-7, on test/vmath.test.ts's sweeps) while
 * Φ(x) is a normal float (x ≥ −13).
 * Φ(−Inf) = 0, Φ(+Inf) = 1, NaN → NaN.
 */
// @ts-ignore: decorator
@inline export function phi_cdf_v(x: v128, ool: bool = false): v128 {
  return ool ? phi_cdf_call(x) : phi_cdf_body(x, false);
}

// @ts-ignore: decorator
@inline function phi_cdf_body(x: v128, ool: bool): v128 {
  // |x| ≤ 14.85 keeps |x|/√2 ≤ 10.5, where erfc is already 0.
  const xc = phi_clamp(x);
  return phi_clamped_v(xc, exp_neg_sq_v(f32x4.abs(xc), 0.5, ool), ool);
}

// ------------------------------------------------------------------ activations

/** Lower clamp of swish (x·σ(x) is −0 in f32 there: −0 instead of −Inf·0); σ's own. */
export const SWISH_MIN: f32 = SIG_LO;
/** Lower clamp of both GeLUs (their value is −0 in f32 there). */
export const GELU_MIN: f32 = -20.0;

/** The tanh form of GeLU, x·σ(v), v = B·(x + A·x³) with B = 2√(2/π); A3 = 3A for dv/dx. */
export const GELU_TANH_A: f32 = 0.044715;
export const GELU_TANH_A3: f32 = 0.134145;
export const GELU_TANH_B: f32 = 1.5957691669464111;

/**
 * v = 2√(2/π)(x + 0.044715x³), the argument of σ in the tanh form of GeLU:
 * ½x(1 + tanh(u)) = x·σ(2u), u = √(2/π)(x + 0.044715x³): no cancellation for x < 0.
 * a and b are GELU_TANH_A and GELU_TANH_B splatted (loops pass them in; as constants they
 * would be loaded before the loop by the build anyway, asc-transform.js).
 */
// @ts-ignore: decorator
@inline export function gelu_tanh_arg(x: v128, a: v128, b: v128): v128 {
  return f32x4.mul(fmadd(f32x4.mul(f32x4.mul(x, x), x), a, x), b);
}

/** dv/dx of gelu_tanh_arg: 2√(2/π)(1 + 0.134145x²); a3, b: GELU_TANH_A3, GELU_TANH_B splatted. */
// @ts-ignore: decorator
@inline export function gelu_tanh_darg(x: v128, a3: v128, b: v128): v128 {
  return f32x4.mul(fmadd(f32x4.mul(x, x), a3, f32x4.splat(1.0)), b);
}

/**
 * The piecewise-linear activations `kind` with parameter p (threshold θ for STEP, slope for
 * LEAKY_RELU), lane-wise; any other kind returns x. NaN in gives NaN out (STEP included).
 * With a constant `kind` the switch folds away.
 */
// @ts-ignore: decorator
@inline export function act_linear_v(kind: i32, x: v128, p: f32): v128 {
  switch (kind) {
    case ACT_STEP: {
      const y = v128.and(f32x4.gt(x, f32x4.splat(p)), f32x4.splat(1.0));
      return v128.bitselect(x, y, f32x4.ne(x, x));
    }
    case ACT_HARDTANH: return f32x4.pmin(f32x4.pmax(x, f32x4.splat(-1.0)), f32x4.splat(1.0));
    case ACT_RELU: return f32x4.pmax(x, f32x4.splat(0.0));
    case ACT_LEAKY_RELU: return v128.bitselect(x, f32x4.mul(x, f32x4.splat(p)), f32x4.gt(x, f32x4.splat(0.0)));
    default: return x;
  }
}

/**
 * Vector activation `kind` with parameter p (threshold θ for STEP, slope for LEAKY_RELU;
 * ignored by the others), lane-wise, for a run-time kind: one out-of-line call per vector but
 * for ReLU (the fused GEMM epilogue uses it; the activation kernels have their own loops, same
 * results). NaN in gives NaN out for every kind (STEP included).
 */
// @ts-ignore: decorator
@inline export function act_v(kind: i32, x: v128, p: f32): v128 {
  // ReLU, the layers' common case, inline (act_call's own ReLU case, without the call):
  // the fused conv2d's direct forward ran its 1→16 layer at half the speed of the plain
  // convolution with one call per output vector (bench/step-profile.mjs --model=cnn).
  return kind == ACT_RELU ? act_linear_v(ACT_RELU, x, p) : act_call(kind, x, p);
}

/** act_v out of line. */
function act_call(kind: i32, x: v128, p: f32): v128 {
  switch (kind) {
    case ACT_SIGMOID: return sigmoid_call(x);
    case ACT_TANH: return tanh_call(x);
    case ACT_SWISH: {
      // x·σ(x); x < −200 gives −0 instead of −Inf·0.
      const xc = f32x4.pmax(x, f32x4.splat(SWISH_MIN));
      return f32x4.mul(xc, sigmoid_call(xc));
    }
    case ACT_GELU: {
      const xc = f32x4.pmax(x, f32x4.splat(GELU_MIN));
      return f32x4.mul(xc, phi_cdf_call(xc));
    }
    case ACT_GELU_TANH: {
      const xc = f32x4.pmax(x, f32x4.splat(GELU_MIN));
      return f32x4.mul(xc, sigmoid_call(gelu_tanh_arg(xc, f32x4.splat(GELU_TANH_A), f32x4.splat(GELU_TANH_B))));
    }
    case ACT_IDENTITY: return x;
    case ACT_STEP: return act_linear_v(ACT_STEP, x, p);
    case ACT_HARDTANH: return act_linear_v(ACT_HARDTANH, x, p);
    case ACT_RELU: return act_linear_v(ACT_RELU, x, p);
    case ACT_LEAKY_RELU: return act_linear_v(ACT_LEAKY_RELU, x, p);
    // A code without its case is a mistake here, never a silent identity: trap.
    default: unreachable(); return x;
  }
}

// ------------------------------------------------------------------ out of line

/** exp_split_v, out of line: the one copy the other out-of-line functions share. */
function exp_split_call(hi: v128, lo: v128): v128 {
  return exp_split_body(hi, lo);
}

function erf_small_p_call(z: v128): v128 {
  return erf_small_p_body(z);
}

function erfc_tq_call(a: v128): v128 {
  return erfc_tq_body(a);
}

function log_call(x: v128): v128 {
  return log_body(x);
}

function softplus_call(x: v128): v128 {
  return softplus_body(x, true);
}

function exp_nonpos_call(z: v128): v128 {
  return exp_nonpos_body(z);
}

function sig_e_call(v: v128): v128 {
  return sig_e_body(v);
}

function sigmoid_call(x: v128): v128 {
  return sigmoid_body(x, true);
}

function tanh_call(x: v128): v128 {
  return tanh_body(x);
}

function erf_call(x: v128): v128 {
  return erf_body(x, true);
}

function phi_cdf_call(x: v128): v128 {
  return phi_cdf_body(x, true);
}
