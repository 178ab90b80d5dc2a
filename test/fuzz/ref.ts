/**
 * The float64 reference of the generated-graph tests: plain loops written for clarity, one
 * forward and one vector-Jacobian product (vjp) per op, over a tiny N-D tensor type.
 *
 * Error bounds come from the reference itself. Every place where a float32 implementation
 * rounds goes through `rnd(x, ulps)`: in exact mode it only saturates to ±Inf where float32
 * would overflow; in noisy mode it also multiplies by (1 + δ) with |δ| ≤ ulps·2⁻²⁴, δ drawn
 * with a bias (so errors can pile up the way a long float32 sum's do, not only as a random
 * walk) shared by the run, or drawn per op call (so the errors of a forward's sum and its
 * backward's need not cancel), or with none (so errors need not cancel where the values
 * do), in runs that also add sums in SIMD lanes or fuse products into sums as the relaxed
 * build does (see Rounding). Running the same graph a few times in noisy mode shows how far float32
 * rounding can move each value and gradient: the op's own conditioning, through everything
 * upstream of it. The bound a test allows is a fixed multiple of that spread (see
 * `boundFrom`), so a well-conditioned value is held to a few ulps and a value computed by
 * cancellation, or sitting at a kink where rounding decides the branch, gets the room it
 * really has. Transcendental functions take ulps = 4, covering the 1–3.4 ulp error bounds
 * of the vector math (test/vmath.test.ts).
 */
import { erf64, geluTanh64, pdf64, phi64, sigmoid64 } from "../vmath-reference.js";

export const U = 2 ** -24;
export const F32_MAX = 3.4028234663852886e38;
/** The smallest normal float32 (2^−126). */
const F32_MIN_NORMAL = 2 ** -126;
/** Half the smallest float32 subnormal (2^−150): it and what is below round to zero. */
const F32_UNDERFLOW = 2 ** -150;

/** The rounding model: exact (δ = 0) or noisy with a seeded stream. */
class Rounding {
  noisy = false;
  /**
   * Whether each op call (a forward, a vector-Jacobian product) draws its own bias (`call`),
   * rather than the whole run sharing one. One shared bias rounds every sum of a run the
   * same way, so two sums the math makes equal cancel their errors where float32's do not:
   * softmax's backward Σ dy·y against its forward's Σ e^x (Σ y = 1), whose errors float32
   * makes independently (and in a long sum, one way: 12 ulps over 130 terms).
   *
   * Drawn at random, a forward's bias and a backward's would still have one sign in both
   * runs of this kind a quarter of the time, and cancel there too (seed 12121212: softmax
   * over a column of 130, Σ y − 1 = 8.9·10⁻⁷ in float32, dy − Σ dy·y 20 times smaller than
   * dy). So the second run of this kind takes the biases the first drew, call by call, and
   * negates those of the backward calls (`flipBackward`): every forward call and backward
   * call have opposite biases in one of the two.
   */
  perCall = false;
  /** In a run with a bias per op call, whether the backward calls negate the bias they draw (see perCall). */
  flipBackward = false;
  /**
   * Whether each rounding draws δ without a bias (uniform in ±ulps·2⁻²⁴), independently of
   * every other. A one-signed δ makes errors proportional to the values, so they cancel
   * wherever the values do, where float32's errors, independent of the values' signs, do
   * not: w's gradient Σ_i x_i·dz_i of a linear whose dz_i, from z_i = b + x_i·w near −5
   * through gelu′, each carry their own error of about 25 ulps.
   */
  unbiased = false;
  /**
   * Whether `sumOf` adds in 16 interleaved lanes, then the lanes pairwise (the order of the
   * kernels' SIMD sums), rather than in sequence. A float32 sum's partial sums depend on the
   * order: Σ of outer(u, u) row by row stays near (Σu)², small, while the kernels' lanes
   * hold values near 1 whose roundings are left when they cancel to 0.03.
   */
  laneSums = false;
  /**
   * Whether `madd` fuses its product into the sum (one rounding), as the relaxed build's
   * FMA does: a product past float32's range then overflows nothing by itself (Inf +
   * (−3·10³⁹) is Inf where Inf + (−Inf) is NaN).
   */
  fused = false;
  /**
   * Whether a result past float32's largest value keeps its (float64) magnitude instead of
   * becoming ±Inf: runs that show how far past the edge an overflow lies (overflowEdges in
   * graphs.ts).
   */
  unbounded = false;
  private s = 1;
  private bias = 0;
  /** The per-call biases of the last run that drew them, in call order (see perCall). */
  private drawn: number[] = [];
  private calls = 0;

  /**
   * Seeds a noisy run of one of three kinds: 0, one bias for the run, sums in sequence,
   * products rounded apart from their sums; 1, a bias per op call, fused products; 2, no
   * bias, sums in SIMD lanes, fused products (see above). `flipBackward`: the second run of
   * kind 1, which takes the first's biases (see perCall).
   */
  seed(seed: number, kind: 0 | 1 | 2 = 0, flipBackward = false): void {
    this.s = (seed >>> 0) || 1;
    this.perCall = kind === 1;
    this.flipBackward = kind === 1 && flipBackward;
    this.calls = 0;
    if (this.perCall && !this.flipBackward) this.drawn = [];
    this.unbiased = kind === 2;
    this.laneSums = kind === 2;
    this.fused = kind !== 0;
    this.drawBias();
  }

  exact(): void {
    this.noisy = false;
    this.perCall = false;
    this.unbiased = false;
    this.laneSums = false;
    this.fused = false;
    this.flipBackward = false;
    this.unbounded = false;
  }

  /** An op call begins (a forward, or a backward: a vector-Jacobian product): with `perCall`, it draws its own bias. */
  call(backward = false): void {
    if (!this.noisy || !this.perCall) return;
    const k = this.calls++;
    if (!this.flipBackward) {
      this.drawBias();
      this.drawn.push(this.bias);
      return;
    }
    // The first run's bias for this call (a new draw past its calls), negated for a backward.
    if (k < this.drawn.length) this.bias = this.drawn[k]!;
    else this.drawBias();
    if (backward) this.bias = -this.bias;
  }

  private drawBias(): void {
    this.bias = this.next() < 0.5 ? -0.5 : 0.5;
  }

  private next(): number {
    let s = this.s;
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    this.s = s >>> 0;
    return this.s / 4294967296;
  }

  apply(x: number, ulps: number): number {
    if (this.noisy && x !== 0 && Number.isFinite(x)) {
      const r = this.unbiased ? 2 * this.next() - 1 : this.bias + (this.next() - 0.5);
      // Below float32's smallest normal (2^−126) the spacing is 2^−149 whatever the value, so
      // a rounding moves it by up to 2^−150 absolutely, not relatively: −a·dy/b² at b = e^50
      // is 8·10⁻⁴⁵, six spacings, and a product by e^50 downstream keeps that error (1.7%
      // there). A value is never moved across zero.
      if (Math.abs(x) < F32_MIN_NORMAL) {
        // What lies below half the smallest subnormal is 0 in float32 (below), but a value
        // within a factor 2 of that may round either way: the kernels' subnormal
        // intermediates carry errors of a few percent (Φ(−14.17) = 0.98·2^−150 exactly comes
        // out 2^−149, so gelu there is −1.96·10⁻⁴⁴, not −0, and log of it NaN, not −Inf).
        // Further below, it is 0, noise or not.
        if (Math.abs(x) < F32_UNDERFLOW / 2) return x < 0 ? -0 : 0;
        const y = x + ulps * F32_UNDERFLOW * r;
        x = Math.sign(y) === Math.sign(x) ? y : x < 0 ? -0 : 0;
      } else x *= 1 + ulps * U * r;
    }
    if (!this.unbounded) {
      if (x > F32_MAX) return Infinity;
      if (x < -F32_MAX) return -Infinity;
    }
    // Below float32's smallest normal a float32 result lies on the grid of 2^−149, rounded to
    // nearest (even at a tie), and so does the reference's, exact or noisy: below half the
    // smallest subnormal it is ±0 (e^−488 in a softmax, Φ(−20) in a GeLU), which a log
    // downstream turns into −Inf, not a finite value or NaN; at exactly half, 0 (½·2^−149,
    // tanh′'s least slope times dy = ½, and log's gradient over it at log(0) 0/0 = NaN); and
    // above it a whole number of spacings: σ′'s least slope 2^−149 times dy = 0.52 is 2^−149,
    // not 0.52·2^−149, whose product by 0.58 downstream would fall below half a spacing, to 0,
    // where float32 keeps 2^−149 (seed 2957: that 0 over a divisor of −0 was NaN in the
    // reference, and float32's −2^−149/−0 is +Inf). The sign of a zero is kept (−0 from a
    // product such as −0.37·0, or from rounding a tiny negative), as float32 keeps it.
    if (Math.abs(x) < F32_MIN_NORMAL) return Math.fround(x);
    return x;
  }
}

export const rounding = new Rounding();

/** One rounding of a float32 kernel (ulps = 1), or of a vector-math function (ulps = 4). */
export function rnd(x: number, ulps = 1): number {
  return rounding.apply(x, ulps);
}

/** acc + a·b as a kernel's multiply-add forms it: two roundings, or one where fused (Rounding.fused). */
export function madd(a: number, b: number, acc: number): number {
  return rounding.fused ? rnd(acc + a * b) : rnd(acc + rnd(a * b));
}

/** A float64 tensor: row-major data and a shape ([] is a scalar). */
export class T {
  constructor(
    readonly shape: readonly number[],
    readonly data: Float64Array,
  ) {
    if (data.length !== sizeOf(shape)) throw new Error(`ref: shape [${shape}] needs ${sizeOf(shape)} values, got ${data.length}`);
  }

  static zeros(shape: readonly number[]): T {
    return new T(shape, new Float64Array(sizeOf(shape)));
  }

  static of(shape: readonly number[], values: ArrayLike<number>): T {
    return new T(shape, Float64Array.from(values));
  }

  get size(): number {
    return this.data.length;
  }

  map(f: (v: number, i: number) => number): T {
    const out = new Float64Array(this.size);
    for (let i = 0; i < out.length; i++) out[i] = f(this.data[i]!, i);
    return new T(this.shape, out);
  }
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1]! * shape[i + 1]!;
  return s;
}

/** The NumPy broadcast of two shapes, or null. */
export function broadcastShape(a: readonly number[], b: readonly number[]): number[] | null {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) return null;
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** For each element of `out` (a broadcast shape), the index of the element of `a` it reads. */
export function broadcastIndex(a: readonly number[], out: readonly number[]): Int32Array {
  const idx = new Int32Array(sizeOf(out));
  const sa = strides(a);
  const off = out.length - a.length;
  const coord = new Array<number>(out.length).fill(0);
  for (let i = 0; i < idx.length; i++) {
    let j = 0;
    for (let d = 0; d < a.length; d++) if (a[d] !== 1) j += coord[d + off]! * sa[d]!;
    idx[i] = j;
    for (let d = out.length - 1; d >= 0; d--) {
      if (++coord[d]! < out[d]!) break;
      coord[d] = 0;
    }
  }
  return idx;
}

/** Sums `g` (shaped `out`) back onto shape `a` (the gradient of a broadcast), one rounding per addition. */
export function unbroadcast(g: T, a: readonly number[]): T {
  const idx = broadcastIndex(a, g.shape);
  const out = T.zeros(a);
  for (let i = 0; i < g.size; i++) out.data[idx[i]!] = rnd(out.data[idx[i]!]! + g.data[i]!);
  return out;
}

/** Elementwise binary op with NumPy broadcasting. */
export function binary(a: T, b: T, f: (x: number, y: number) => number): T {
  const shape = broadcastShape(a.shape, b.shape);
  if (shape === null) throw new Error(`ref: [${a.shape}] and [${b.shape}] do not broadcast`);
  const ia = broadcastIndex(a.shape, shape);
  const ib = broadcastIndex(b.shape, shape);
  const out = T.zeros(shape);
  for (let i = 0; i < out.size; i++) out.data[i] = f(a.data[ia[i]!]!, b.data[ib[i]!]!);
  return out;
}

/**
 * A sum of terms with one rounding per addition (a float32 running sum's error model): in
 * sequence, or (Rounding.laneSums) in 16 interleaved lanes added pairwise at the end.
 */
export function sumOf(terms: ArrayLike<number>): number {
  if (rounding.laneSums && terms.length > 16) {
    const lanes = new Array<number>(16).fill(0);
    for (let i = 0; i < terms.length; i++) lanes[i & 15] = rnd(lanes[i & 15]! + terms[i]!);
    for (let w = 8; w >= 1; w >>= 1) for (let k = 0; k < w; k++) lanes[k] = rnd(lanes[k]! + lanes[k + w]!);
    return lanes[0]!;
  }
  let s = 0;
  for (let i = 0; i < terms.length; i++) s = rnd(s + terms[i]!);
  return s;
}

/** x viewed as [outer, len, inner] around `axis`. */
export function axisView(shape: readonly number[], axis: number): { outer: number; len: number; inner: number } {
  const a = axis < 0 ? axis + shape.length : axis;
  return { outer: sizeOf(shape.slice(0, a)), len: shape[a]!, inner: sizeOf(shape.slice(a + 1)) };
}

/** Sum over one axis (dropping it), or over everything to []. */
export function sumAxis(x: T, axis: number | undefined): T {
  if (axis === undefined) return new T([], Float64Array.of(sumOf(x.data)));
  const { outer, len, inner } = axisView(x.shape, axis);
  const a = axis < 0 ? axis + x.shape.length : axis;
  const out = T.zeros(x.shape.filter((_, i) => i !== a));
  const terms = new Float64Array(len);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      for (let l = 0; l < len; l++) terms[l] = x.data[(o * len + l) * inner + j]!;
      out.data[o * inner + j] = sumOf(terms);
    }
  }
  return out;
}

/** Spreads g (x's shape without `axis`) back over x's shape, times alpha. */
export function spreadAxis(g: T, shape: readonly number[], axis: number | undefined, alpha: number): T {
  if (axis === undefined) return T.zeros(shape).map(() => rnd(g.data[0]! * alpha));
  const { outer, len, inner } = axisView(shape, axis);
  const out = T.zeros(shape);
  for (let o = 0; o < outer; o++) {
    for (let l = 0; l < len; l++) {
      for (let j = 0; j < inner; j++) out.data[(o * len + l) * inner + j] = rnd(g.data[o * inner + j]! * alpha);
    }
  }
  return out;
}

/** C = op(A)·op(B) for 2-D A, B (transposes as flags), one rounding per multiply-add. */
export function matmul2d(a: T, b: T, ta: boolean, tb: boolean): T {
  const m = ta ? a.shape[1]! : a.shape[0]!;
  const k = ta ? a.shape[0]! : a.shape[1]!;
  const n = tb ? b.shape[0]! : b.shape[1]!;
  const out = T.zeros([m, n]);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) {
        const av = ta ? a.data[p * m + i]! : a.data[i * k + p]!;
        const bv = tb ? b.data[j * k + p]! : b.data[p * n + j]!;
        s = madd(av, bv, s);
      }
      out.data[i * n + j] = s;
    }
  }
  return out;
}

/** The transpose of a 2-D tensor (exact). */
export function transpose2d(a: T): T {
  const [r, c] = a.shape as [number, number];
  const out = T.zeros([c, r]);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out.data[j * r + i] = a.data[i * c + j]!;
  return out;
}

/** Elementwise sum of gradients (exact in float64, one rounding each as the kernels add). */
export function addInto(acc: T | null, g: T): T {
  if (acc === null) return g;
  return acc.map((v, i) => rnd(v + g.data[i]!));
}

// ---------------------------------------------------------------- scalar functions

export const sigmoid = sigmoid64;
export const normalCdf = phi64;
export const normalPdf = pdf64;
export const geluTanh = geluTanh64;
const GELU_C = Math.sqrt(2 / Math.PI);
/** d/dx of x·σ(2u), u = √(2/π)(x + 0.044715x³), written without cancellation on either tail. */
export function geluTanhGrad(x: number): number {
  const v = 2 * GELU_C * (x + 0.044715 * x * x * x);
  const s = sigmoid64(v);
  return s + x * s * sigmoid64(-v) * 2 * GELU_C * (1 + 3 * 0.044715 * x * x);
}

/** Whether two results are of one kind: both NaN, both finite, or the same infinity. */
export function sameKind(a: number, b: number): boolean {
  return Number.isNaN(a) ? Number.isNaN(b) : Number.isFinite(a) ? Number.isFinite(b) : a === b;
}

/**
 * How far float32 rounding can move each value: `factor` times the largest deviation of the
 * noisy runs from the exact one, over the runs whose result is of the same kind (finite, NaN,
 * the same infinity; 0 for a NaN or an infinity all runs share). A run whose result changes
 * kind (a cancellation rounded below zero under a sqrt, a sum that overflows) does not count
 * here: its result is an outcome of its own (`kindAlternatives`). No floor: a value no run
 * moved (a leaf, an exact op on one) has spread 0, as float32 holds it exactly too.
 */
export function spreadFrom(exact: Float64Array, noisy: readonly Float64Array[], factor = 16): Float64Array {
  const out = new Float64Array(exact.length);
  for (let i = 0; i < exact.length; i++) {
    const e = exact[i]!;
    if (!Number.isFinite(e)) continue;
    let dev = 0;
    for (const r of noisy) {
      const v = r[i]!;
      if (Number.isFinite(v)) dev = Math.max(dev, Math.abs(v - e));
    }
    out[i] = factor * dev;
  }
  return out;
}

/**
 * How close a float32 result must be to the exact reference: `factor` times the largest
 * deviation the noisy runs showed, plus a floor of a few ulps of the result (values whose
 * noisy runs happened to agree exactly still get float32's own rounding) and an absolute
 * floor for results that are zero up to rounding. A NaN or an infinity is matched only by
 * itself.
 */
export function boundFrom(exact: Float64Array, noisy: readonly Float64Array[], factor = 16, ulps = 8, abs = 1e-30): Float64Array {
  const out = spreadFrom(exact, noisy, factor);
  for (let i = 0; i < exact.length; i++) out[i] = Number.isFinite(exact[i]!) ? out[i]! + ulps * U * Math.abs(exact[i]!) + abs : 0;
  return out;
}

/** Another outcome a float32 result may have: `value` within `bound` (NaN and infinities only themselves). */
export interface Outcome {
  value: number;
  bound: number;
}

/**
 * Per element (only where there are any), the outcomes other than the exact value ± its bound
 * that a float32 result may have: where runs of the reference under rounding noise or with
 * branches decided the other way give a result of another kind than the exact one (NaN where
 * it is finite, a finite value where it is NaN), float32 may give that too. No distance
 * covers a change of kind, so each kind is an outcome of its own: NaN for NaN, an infinity
 * for itself, and finite results within `factor` times their own spread (plus `ulps` of them).
 * Nothing else: a NaN where no run gives one, or a finite value near none, still fails.
 */
export type Alternatives = Map<number, Outcome[]>;

/**
 * The outcomes of another kind than `exact`'s among `runs` (see Alternatives), added to `into`.
 * `roomOf(k)`, when given, is run k's own rounding room (its noisy runs' bound, for a branch
 * run); otherwise the room of a finite outcome is how far the finite runs of another kind
 * spread among themselves.
 */
export function kindAlternatives(exact: Float64Array, runs: readonly Float64Array[], into: Alternatives = new Map(), roomOf?: (k: number) => Float64Array, factor = 16, ulps = 8, abs = 1e-30): Alternatives {
  for (let i = 0; i < exact.length; i++) {
    const e = exact[i]!;
    let list: Outcome[] | undefined;
    let lo = Infinity, hi = -Infinity;
    for (let k = 0; k < runs.length; k++) {
      const v = runs[k]![i]!;
      if (sameKind(v, e)) continue;
      list ??= into.get(i) ?? [];
      if (!Number.isFinite(v)) {
        if (!list.some((o) => Object.is(o.value, v))) list.push({ value: v, bound: 0 });
      } else if (roomOf) list.push({ value: v, bound: roomOf(k)[i]! });
      else {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
    }
    if (!list) continue;
    if (lo <= hi) list.push({ value: (lo + hi) / 2, bound: (hi - lo) / 2 + factor * (hi - lo) + ulps * U * Math.max(Math.abs(lo), Math.abs(hi)) + abs });
    into.set(i, list);
  }
  return into;
}

/** Whether a float32 result `got` is `want` within `bound` (NaN only for NaN, an infinity only for itself). */
export function within(got: number, want: number, bound: number): boolean {
  if (Number.isNaN(want)) return Number.isNaN(got);
  return got === want || Math.abs(got - want) <= bound;
}

/**
 * Widens `bound` by twice how far each branch run (a run with comparisons near their
 * thresholds decided the other way, see graphs.ts) lies from the exact run, over the runs
 * whose result is of the same kind: a result may follow either branch, plus rounding. A run
 * whose result is of another kind (NaN where the exact one is finite, hardTanh's selected 0
 * where it is NaN) widens nothing: that result is an outcome of its own (Alternatives).
 */
export function widenByBranches(bound: Float64Array, exact: Float64Array, branchRuns: readonly Float64Array[]): Float64Array {
  for (let i = 0; i < exact.length; i++) {
    const e = exact[i]!;
    if (!Number.isFinite(e)) continue;
    let dev = 0;
    for (const r of branchRuns) {
      const v = r[i]!;
      if (Number.isFinite(v)) dev = Math.max(dev, Math.abs(v - e));
    }
    if (dev > 0) bound[i] = bound[i]! + 2 * dev;
  }
  return bound;
}
