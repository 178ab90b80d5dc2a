// Activation kernels over flat float32 buffers of n elements:
//   <name>_forward(x, y, n, …params)                   y = f(x)
//   <name>_backward(xOrY, dy, dx, n, …params, accumulate)
//                                                      dx = dy·f′ (accumulate = 0) or
//                                                      dx += dy·f′ (accumulate = 1), one pass
// Each kernel is one line on top of act_forward_impl / act_backward_impl with a constant
// activation code, so the per-activation math lives once, in assembly/vmath.ts (act_v,
// act_grad_v), shared with the fused linear layer (assembly/linear.ts, whose act_backward
// is the run-time-code form of these backward kernels).
//
// Preconditions for all: n ≥ 0; buffers hold n floats (any alignment); y may be x
// (in place) and dx may be dy or x; otherwise buffers must not overlap.
//
// Kinks, by convention: relu′(0) = 0, leaky_relu′(0) = slope, prelu′(0) = slope,
// hardtanh′(±1) = 0 (gradient only strictly inside (−1, 1)), step′ = 0 everywhere.

import {
  ACT_GELU, ACT_GELU_TANH, ACT_HARDTANH, ACT_LEAKY_RELU, ACT_RELU, ACT_SIGMOID, ACT_STEP,
  ACT_SWISH, ACT_TANH, act_grad_s, act_grad_v, act_v, erf_v, exp_v, log_v, phi_cdf_v, sigmoid_v,
  softplus_v, tanh_v,
} from "./vmath";

// ------------------------------------------------------------------ shared loops

/** y[i] = f(x[i]) for activation `kind` with parameter p. */
// @ts-ignore: decorator
@inline function act_forward_impl(kind: i32, x: usize, y: usize, n: i32, p: f32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, act_v(kind, v128.load(x + o), p));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, f32x4.extract_lane(act_v(kind, f32x4.splat(load<f32>(x + o)), p), 0));
  }
}

/**
 * dy·f′ for one vector (v is x or y, whichever act_grad_v reads for this kind). The
 * piecewise kinds select dy instead of multiplying, so an infinite dy where f′ = 0 gives 0.
 */
// @ts-ignore: decorator
@inline function act_dx_v(kind: i32, v: v128, dy: v128, p: f32): v128 {
  switch (kind) {
    case ACT_STEP: return f32x4.splat(0.0);
    case ACT_RELU: return v128.and(dy, f32x4.gt(v, f32x4.splat(0.0)));
    case ACT_HARDTANH: return v128.and(dy, f32x4.lt(f32x4.abs(v), f32x4.splat(1.0)));
    case ACT_LEAKY_RELU: return v128.bitselect(dy, f32x4.mul(dy, f32x4.splat(p)), f32x4.gt(v, f32x4.splat(0.0)));
    default: return f32x4.mul(dy, act_grad_v(kind, v, v, p));
  }
}

/** dx[i] (+)= dy[i]·f′ for activation `kind`, reading v = x or y as act_grad_v does. */
// @ts-ignore: decorator
@inline function act_backward_impl(kind: i32, v: usize, dy: usize, dx: usize, n: i32, p: f32, accumulate: i32): void {
  let i = 0;
  if (accumulate) {
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const g = act_dx_v(kind, v128.load(v + o), v128.load(dy + o), p);
      v128.store(dx + o, f32x4.add(v128.load(dx + o), g));
    }
    for (; i < n; i++) {
      const o = <usize>i << 2;
      const g = f32x4.extract_lane(act_dx_v(kind, f32x4.splat(load<f32>(v + o)), f32x4.splat(load<f32>(dy + o)), p), 0);
      store<f32>(dx + o, load<f32>(dx + o) + g);
    }
  } else {
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(dx + o, act_dx_v(kind, v128.load(v + o), v128.load(dy + o), p));
    }
    for (; i < n; i++) {
      const o = <usize>i << 2;
      store<f32>(dx + o, f32x4.extract_lane(act_dx_v(kind, f32x4.splat(load<f32>(v + o)), f32x4.splat(load<f32>(dy + o)), p), 0));
    }
  }
}

// ------------------------------------------------------------------ step

/** y = x > θ ? 1 : 0 (NaN stays NaN). */
export function step_forward(x: usize, y: usize, n: i32, theta: f32): void {
  act_forward_impl(ACT_STEP, x, y, n, theta);
}

/** dx = 0 (accumulate = 0) or dx unchanged (accumulate = 1): step′ = 0 everywhere, θ included. */
export function step_backward(x: usize, dy: usize, dx: usize, n: i32, theta: f32, accumulate: i32): void {
  if (accumulate) return;
  act_backward_impl(ACT_STEP, x, dy, dx, n, theta, 0);
}

// ------------------------------------------------------------------ sigmoid, tanh

/** y = σ(x) = 1/(1 + e^−x). Max relative error 2 ulp (measured 1.9e-7). */
export function sigmoid_forward(x: usize, y: usize, n: i32): void {
  act_forward_impl(ACT_SIGMOID, x, y, n, 0);
}

/** dx (+)= dy·y(1 − y), from the OUTPUT y = σ(x). f′ within 1.2e-7 absolute of exact. */
export function sigmoid_backward(y: usize, dy: usize, dx: usize, n: i32, accumulate: i32): void {
  act_backward_impl(ACT_SIGMOID, y, dy, dx, n, 0, accumulate);
}

/** y = tanh(x). Max relative error 2 ulp (measured 1.5e-7). */
export function tanh_forward(x: usize, y: usize, n: i32): void {
  act_forward_impl(ACT_TANH, x, y, n, 0);
}

/** dx (+)= dy·(1 − y²), from the OUTPUT y = tanh(x). f′ within 2.1e-7 absolute of exact. */
export function tanh_backward(y: usize, dy: usize, dx: usize, n: i32, accumulate: i32): void {
  act_backward_impl(ACT_TANH, y, dy, dx, n, 0, accumulate);
}

// ------------------------------------------------------------------ piecewise linear

/** y = clamp(x, −1, 1) (NaN stays NaN). */
export function hardtanh_forward(x: usize, y: usize, n: i32): void {
  act_forward_impl(ACT_HARDTANH, x, y, n, 0);
}

/** dx (+)= −1 < x < 1 ? dy : 0; x or y may be passed (same result). hardtanh′(±1) = 0. */
export function hardtanh_backward(x: usize, dy: usize, dx: usize, n: i32, accumulate: i32): void {
  act_backward_impl(ACT_HARDTANH, x, dy, dx, n, 0, accumulate);
}

/** y = max(x, 0) (NaN stays NaN; relu(−0) = −0). */
export function relu_forward(x: usize, y: usize, n: i32): void {
  act_forward_impl(ACT_RELU, x, y, n, 0);
}

/** dx (+)= x > 0 ? dy : 0; x or y may be passed (same result). relu′(0) = 0. */
export function relu_backward(x: usize, dy: usize, dx: usize, n: i32, accumulate: i32): void {
  act_backward_impl(ACT_RELU, x, dy, dx, n, 0, accumulate);
}

/** y = x > 0 ? x : slope·x. */
export function leaky_relu_forward(x: usize, y: usize, n: i32, slope: f32): void {
  act_forward_impl(ACT_LEAKY_RELU, x, y, n, slope);
}

/** dx (+)= x > 0 ? dy : slope·dy, from the INPUT x. leaky_relu′(0) = slope. */
export function leaky_relu_backward(x: usize, dy: usize, dx: usize, n: i32, slope: f32, accumulate: i32): void {
  act_backward_impl(ACT_LEAKY_RELU, x, dy, dx, n, slope, accumulate);
}

// ------------------------------------------------------------------ prelu

/**
 * y = x > 0 ? x : a·x with a learned slope a: `slope` points at c floats, a[j] applies to
 * the elements of index ≡ j (mod c), i.e. c is the last dimension of x (c = 1: one slope
 * for all). Preconditions: c ≥ 1 and n a multiple of c.
 */
export function prelu_forward(x: usize, y: usize, n: i32, slope: usize, c: i32): void {
  if (c == 1) {
    act_forward_impl(ACT_LEAKY_RELU, x, y, n, load<f32>(slope));
    return;
  }
  const rowBytes = <usize>c << 2;
  for (let r: usize = 0, end = <usize>n << 2; r < end; r += rowBytes) {
    const xr = x + r;
    const yr = y + r;
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
 * PReLU backward from the INPUT x, in one pass over x and dy:
 *   dx (+)= x > 0 ? dy : a·dy                    (prelu′(0) = a, as leaky_relu)
 *   dslope[j] (+)= Σ over rows of dy·min(x, 0)   (the slope's gradient)
 * accumulate: 0 overwrites dx and dslope, 1 adds into them. Pass dx = 0 or dslope = 0
 * (null pointers) to skip that output. Slope layout and preconditions as prelu_forward;
 * dslope holds c floats and must not overlap the other buffers.
 */
export function prelu_backward(x: usize, dy: usize, dx: usize, n: i32, slope: usize, c: i32, dslope: usize, accumulate: i32): void {
  if (c == 1) {
    if (dx != 0) act_backward_impl(ACT_LEAKY_RELU, x, dy, dx, n, load<f32>(slope), accumulate);
    if (dslope != 0) {
      // Two vector accumulators, then the lanes, then the scalar tail.
      let s0 = f32x4.splat(0.0);
      let s1 = f32x4.splat(0.0);
      let i = 0;
      for (; i + 8 <= n; i += 8) {
        const o = <usize>i << 2;
        s0 = f32x4.add(s0, f32x4.mul(v128.load(dy + o), f32x4.pmin(v128.load(x + o), f32x4.splat(0.0))));
        s1 = f32x4.add(s1, f32x4.mul(v128.load(dy + o, 16), f32x4.pmin(v128.load(x + o, 16), f32x4.splat(0.0))));
      }
      for (; i + 4 <= n; i += 4) {
        const o = <usize>i << 2;
        s0 = f32x4.add(s0, f32x4.mul(v128.load(dy + o), f32x4.pmin(v128.load(x + o), f32x4.splat(0.0))));
      }
      s0 = f32x4.add(s0, s1);
      let s = (f32x4.extract_lane(s0, 0) + f32x4.extract_lane(s0, 1)) + (f32x4.extract_lane(s0, 2) + f32x4.extract_lane(s0, 3));
      for (; i < n; i++) {
        const o = <usize>i << 2;
        const v = load<f32>(x + o);
        if (v < 0) s += load<f32>(dy + o) * v;
      }
      store<f32>(dslope, accumulate ? load<f32>(dslope) + s : s);
    }
    return;
  }
  if (dslope != 0 && !accumulate) {
    for (let j = 0; j < c; j++) store<f32>(dslope + (<usize>j << 2), 0);
  }
  const rowBytes = <usize>c << 2;
  for (let r: usize = 0, end = <usize>n << 2; r < end; r += rowBytes) {
    const xr = x + r;
    const dyr = dy + r;
    const dxr = dx + r;
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
        v128.store(dslope + o, f32x4.add(v128.load(dslope + o), f32x4.mul(g, f32x4.pmin(v, f32x4.splat(0.0)))));
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
      if (dslope != 0 && v < 0) store<f32>(dslope + o, load<f32>(dslope + o) + g * v);
    }
  }
}

// ------------------------------------------------------------------ smooth

/** y = x·σ(x) (swish / SiLU). Max relative error 3 ulp (measured 2.4e-7) for normal results. */
export function swish_forward(x: usize, y: usize, n: i32): void {
  act_forward_impl(ACT_SWISH, x, y, n, 0);
}

/** dx (+)= dy·σ(x)(1 + x(1 − σ(x))), from the INPUT x. f′ within 2e-7 absolute of exact. */
export function swish_backward(x: usize, dy: usize, dx: usize, n: i32, accumulate: i32): void {
  act_backward_impl(ACT_SWISH, x, dy, dx, n, 0, accumulate);
}

/**
 * y = x·Φ(x) = ½x(1 + erf(x/√2)), exact GeLU, with full relative accuracy on the left tail.
 * Max relative error 5 ulp (measured 3.9e-7) for normal results.
 */
export function gelu_forward(x: usize, y: usize, n: i32): void {
  act_forward_impl(ACT_GELU, x, y, n, 0);
}

/** dx (+)= dy·(Φ(x) + x·φ(x)), from the INPUT x. f′ within 1.4e-7 absolute of exact. */
export function gelu_backward(x: usize, dy: usize, dx: usize, n: i32, accumulate: i32): void {
  act_backward_impl(ACT_GELU, x, dy, dx, n, 0, accumulate);
}

/**
 * y = ½x(1 + tanh(√(2/π)(x + 0.044715x³))) = x·σ(2√(2/π)(x + 0.044715x³)), the tanh
 * approximation of GeLU. Measured: relative error ≤ 2.6e-7 for x ≥ −1; further left the
 * rounding of the inner argument v, amplified by |v|, dominates (relative error up to 1.2e-5
 * at x ≈ −9, where y ≈ −1e-28), absolute error ≤ 4.7e-8 for all x < 0.
 */
export function gelu_tanh_forward(x: usize, y: usize, n: i32): void {
  act_forward_impl(ACT_GELU_TANH, x, y, n, 0);
}

/** dx (+)= dy·f′(x) for the tanh approximation of GeLU, from the INPUT x. f′ within 2.1e-7 absolute. */
export function gelu_tanh_backward(x: usize, dy: usize, dx: usize, n: i32, accumulate: i32): void {
  act_backward_impl(ACT_GELU_TANH, x, dy, dx, n, 0, accumulate);
}

// ------------------------------------------------------------------ derivative by code

/**
 * g[i] = f′ of activation code `kind` (ACT_* of assembly/vmath.ts, parameter p) at element
 * i, given both the input x and the output y = f(x): act_grad_v over buffers, the same
 * derivative the fused linear layer applies. For callers holding a code at run time (and
 * for checking act_grad_v); the named backward kernels above are faster. g may alias x
 * or y.
 */
export function act_derivative(kind: i32, x: usize, y: usize, g: usize, n: i32, p: f32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(g + o, act_grad_v(kind, v128.load(x + o), v128.load(y + o), p));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(g + o, act_grad_s(kind, load<f32>(x + o), load<f32>(y + o), p));
  }
}

// ------------------------------------------------------------------ vector math

/**
 * y[i] = fn(x[i]) for i < n, where fn is 0: exp, 1: log, 2: softplus, 3: sigmoid, 4: tanh,
 * 5: erf, 6: Φ (standard normal CDF); any other code copies x. The vector functions of
 * assembly/vmath.ts with their error bounds, exposed for elementwise use and for tests.
 * y may be x (in place); otherwise they must not overlap.
 */
export function vmath_map(fn: i32, x: usize, y: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, vmath_one(fn, v128.load(x + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, f32x4.extract_lane(vmath_one(fn, f32x4.splat(load<f32>(x + o))), 0));
  }
}

// @ts-ignore: decorator
@inline function vmath_one(fn: i32, v: v128): v128 {
  switch (fn) {
    case 0: return exp_v(v);
    case 1: return log_v(v);
    case 2: return softplus_v(v);
    case 3: return sigmoid_v(v);
    case 4: return tanh_v(v);
    case 5: return erf_v(v);
    case 6: return phi_cdf_v(v);
    default: return v;
  }
}
