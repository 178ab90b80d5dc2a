// Vector math shared by kernel families: activation functions on one v128 of four f32
// lanes, used by the activation kernels and by the fused GEMM epilogue.
//
// Activation codes (the `kind` argument); the TypeScript side mirrors them in
// src/ops/activations.ts (ACT).
export const ACT_IDENTITY: i32 = 0;
export const ACT_STEP: i32 = 1; //       x > p ? 1 : 0        (p = threshold θ)
export const ACT_SIGMOID: i32 = 2;
export const ACT_TANH: i32 = 3;
export const ACT_HARDTANH: i32 = 4; //   clamp(x, -1, 1)
export const ACT_RELU: i32 = 5;
export const ACT_LEAKY_RELU: i32 = 6; // x > 0 ? x : p·x      (p = slope)
export const ACT_SWISH: i32 = 7; //      x·sigmoid(x)
export const ACT_GELU: i32 = 8; //       x·Φ(x), exact (erf)
export const ACT_GELU_TANH: i32 = 9; //  tanh approximation of GeLU

// PLACEHOLDER IMPLEMENTATION: lane-by-lane Mathf calls, correct but slow. To be replaced
// by vectorized polynomial/rational code with stated error bounds.

/** Scalar activation `kind` with parameter p (threshold or slope; ignored by the others). */
// @ts-ignore: decorator
@inline export function act_s(kind: i32, x: f32, p: f32): f32 {
  switch (kind) {
    case ACT_STEP: return x > p ? 1 : 0;
    case ACT_SIGMOID: return 1 / (1 + Mathf.exp(-x));
    case ACT_TANH: return Mathf.tanh(x);
    case ACT_HARDTANH: return x < -1 ? -1 : x > 1 ? 1 : x;
    case ACT_RELU: return x > 0 ? x : 0;
    case ACT_LEAKY_RELU: return x > 0 ? x : p * x;
    case ACT_SWISH: return x / (1 + Mathf.exp(-x));
    case ACT_GELU: return <f32>(0.5 * <f64>x * (1 + erf64(<f64>x / Math.SQRT2)));
    case ACT_GELU_TANH: return 0.5 * x * (1 + Mathf.tanh(0.7978845608 * (x + 0.044715 * x * x * x)));
    default: return x;
  }
}

/** Vector activation `kind` with parameter p, lane-wise. */
// @ts-ignore: decorator
@inline export function act_v(kind: i32, x: v128, p: f32): v128 {
  switch (kind) {
    case ACT_RELU: return f32x4.max(x, f32x4.splat(0));
    case ACT_IDENTITY: return x;
    default: {
      let r = f32x4.splat(act_s(kind, f32x4.extract_lane(x, 0), p));
      r = f32x4.replace_lane(r, 1, act_s(kind, f32x4.extract_lane(x, 1), p));
      r = f32x4.replace_lane(r, 2, act_s(kind, f32x4.extract_lane(x, 2), p));
      r = f32x4.replace_lane(r, 3, act_s(kind, f32x4.extract_lane(x, 3), p));
      return r;
    }
  }
}

// Abramowitz–Stegun 7.1.26 (|error| ≤ 1.5e-7): placeholder until the vector erf lands.
function erf64(x: f64): f64 {
  const s: f64 = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-a * a);
  return s * y;
}
