// Helpers shared by every kernel family. The only place where the SIMD128
// and relaxed-SIMD builds differ.

/** a·b + c, lane-wise. One fused instruction (relaxed_madd) in the relaxed build,
 *  a multiply and an add in the SIMD128 build. */
// @ts-ignore: decorator
@inline export function fmadd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    return f32x4.relaxed_madd(a, b, c);
  } else {
    return f32x4.add(f32x4.mul(a, b), c);
  }
}

/** c − a·b, lane-wise (fused negative multiply-add in the relaxed build). */
// @ts-ignore: decorator
@inline export function fnmadd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    return f32x4.relaxed_nmadd(a, b, c);
  } else {
    return f32x4.sub(c, f32x4.mul(a, b));
  }
}
