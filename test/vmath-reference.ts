/**
 * Float64 references for the vector math and activation tests: plain, naive formulas
 * (series and continued fractions where JavaScript's Math has no function), accurate to
 * ~1e-14 relative, far below the float32 errors under test.
 */

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

/** erf(x): 2/√π·e^(−x²)·Σ 2ⁿx^(2n+1)/(1·3·…·(2n+1)) (all terms positive) below 2.5, else 1 − erfc. */
export function erf64(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const a = Math.abs(x);
  if (a >= 2.5) return Math.sign(x) * (1 - erfc64(a));
  let term = a;
  let sum = a;
  for (let n = 1; n < 300; n++) {
    term *= (2 * a * a) / (2 * n + 1);
    sum += term;
    if (term < 1e-17 * sum) break;
  }
  return Math.sign(x) * TWO_OVER_SQRT_PI * Math.exp(-a * a) * sum;
}

/** erfc(x) with full relative accuracy for large x: a continued fraction (modified Lentz) from 2.5 on. */
export function erfc64(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 2.5) return 1 - erf64(x);
  if (x === Infinity) return 0;
  // erfc(x) = e^(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …))))
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let k = 1; k < 1000; k++) {
    const an = k / 2;
    d = x + an * d;
    if (d === 0) d = tiny;
    d = 1 / d;
    c = x + an / c;
    if (c === 0) c = tiny;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
}

/** Φ(x), the standard normal CDF, accurate on both tails. */
export function phi64(x: number): number {
  return x < 0 ? 0.5 * erfc64(-x / Math.SQRT2) : 1 - 0.5 * erfc64(x / Math.SQRT2);
}

/** φ(x), the standard normal density. */
export function pdf64(x: number): number {
  return Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
}

export function sigmoid64(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

export function softplus64(x: number): number {
  return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}

const K_GELU = Math.sqrt(2 / Math.PI);

/** ½x(1 + tanh(u)) = x·σ(2u), u = √(2/π)(x + 0.044715x³). */
export function geluTanh64(x: number): number {
  return x * sigmoid64(2 * K_GELU * (x + 0.044715 * x * x * x));
}

/** The activations in float64, by the names of src/ops/activations.ts; p is θ or the slope. */
export const ACTIVATIONS64: Record<string, (x: number, p: number) => number> = {
  step: (x, p) => (x > p ? 1 : 0),
  sigmoid: (x) => sigmoid64(x),
  tanh: (x) => Math.tanh(x),
  hardTanh: (x) => Math.min(1, Math.max(-1, x)),
  relu: (x) => (x > 0 ? x : 0),
  leakyRelu: (x, p) => (x > 0 ? x : p * x),
  swish: (x) => x * sigmoid64(x),
  gelu: (x) => x * phi64(x),
  geluTanh: (x) => geluTanh64(x),
};

/** Two-sided numeric derivative (f(x + h) − f(x − h))/2h of a float64 function. */
export function numericDerivative(f: (x: number) => number, x: number, h = 1e-4): number {
  return (f(x + h) - f(x - h)) / (2 * h);
}

/** One unit in the last place of float32 relative terms: 2^-23. */
export const ULP = 2 ** -23;
/** Smallest positive normal float32. */
export const MIN_NORMAL = 2 ** -126;
export const F32_MAX = 3.4028234663852886e38;
