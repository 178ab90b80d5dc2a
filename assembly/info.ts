/** 1 when built with relaxed SIMD, else 0. Lets the loader confirm which build it has. */
export function build_has_relaxed_simd(): i32 {
  return ASC_FEATURE_RELAXED_SIMD ? 1 : 0;
}
