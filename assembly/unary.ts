// Elementwise math functions of one tensor and their gradients: exp, log, sqrt. The
// transcendental ones are vector polynomials from vmath.ts (error bounds stated there), a
// whole vector per step; the last 1–3 elements run as one partial vector through the same
// code (out of line). Conventions as in elementwise.ts (y may be x: in place).
import { exp_v, load_part, log_v, store_part } from "./vmath";

/** y[i] = e^x[i], i < n. Relative error ≤ 1 ulp in the normal range (vmath exp_v). */
export function exp_f32(x: usize, y: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, exp_v(v128.load(x + o)));
  }
  if (i < n) {
    const o = <usize>i << 2;
    store_part(y + o, exp_v(load_part(x + o, n - i, 0), true), n - i);
  }
}

/** y[i] = ln x[i], i < n. Relative error ≤ 2 ulp; ln 0 = −Inf, ln(x < 0) = NaN (vmath log_v). */
export function log_f32(x: usize, y: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, log_v(v128.load(x + o)));
  }
  if (i < n) {
    const o = <usize>i << 2;
    store_part(y + o, log_v(load_part(x + o, n - i, 1), true), n - i);
  }
}

/** y[i] = √x[i], i < n (correctly rounded; √−0 = −0, √(x < 0) = NaN). */
export function sqrt_f32(x: usize, y: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, f32x4.sqrt(v128.load(x + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, Mathf.sqrt(load<f32>(x + o)));
  }
}

// @ts-ignore: decorator
@inline function sqrt_grad(acc: bool, y: usize, dy: usize, dx: usize, n: i32): void {
  const half = f32x4.splat(0.5);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    let g = f32x4.div(f32x4.mul(half, v128.load(dy + o)), v128.load(y + o));
    if (acc) g = f32x4.add(v128.load(dx + o), g);
    v128.store(dx + o, g);
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const g = <f32>0.5 * load<f32>(dy + o) / load<f32>(y + o);
    store<f32>(dx + o, acc ? load<f32>(dx + o) + g : g);
  }
}

/**
 * Gradient of y = √x from the output: dx[i] (+)= dy[i]/(2·y[i]), i < n (+Inf·sign(dy) at
 * y = 0, where √ has no finite slope).
 */
export function sqrt_backward(y: usize, dy: usize, dx: usize, n: i32, accumulate: i32): void {
  if (accumulate) sqrt_grad(true, y, dy, dx, n);
  else sqrt_grad(false, y, dy, dx, n);
}

/** y[i] = x[i]², i < n (one rounding; y may be x). */
export function square_f32(x: usize, y: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const v = v128.load(x + o);
    v128.store(y + o, f32x4.mul(v, v));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const v = load<f32>(x + o);
    store<f32>(y + o, v * v);
  }
}

// @ts-ignore: decorator
@inline function square_grad(acc: bool, x: usize, dy: usize, dx: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const v = v128.load(x + o);
    let g = f32x4.mul(f32x4.add(v, v), v128.load(dy + o));
    if (acc) g = f32x4.add(v128.load(dx + o), g);
    v128.store(dx + o, g);
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const v = load<f32>(x + o);
    const g = (v + v) * load<f32>(dy + o);
    store<f32>(dx + o, acc ? load<f32>(dx + o) + g : g);
  }
}

/**
 * Gradient of y = x²: dx[i] (+)= (2·x[i])·dy[i], i < n (2x is exact, so one rounding per
 * product, and one more when accumulating). dx may be dy.
 */
export function square_backward(x: usize, dy: usize, dx: usize, n: i32, accumulate: i32): void {
  if (accumulate) square_grad(true, x, dy, dx, n);
  else square_grad(false, x, dy, dx, n);
}
