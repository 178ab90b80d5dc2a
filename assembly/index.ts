// The module's export list: every kernel family, nothing else.
// (assembly/simd.ts and assembly/vmath.ts hold inline helpers and are not exported.)
export * from "./info";
// gemm.ts also exports its blocking constants and packing helpers to the convolutions;
// only the kernels are module exports.
export { gemm_scratch_bytes, gemm, gemm_bias_act, gemm_wide, gemm_bias_act_wide, outer } from "./gemm";
export * from "./check";
export * from "./elementwise";
export * from "./reduce";
export * from "./optim";
export * from "./losses";
export * from "./activations";
export * from "./linear";
export * from "./stats";
export * from "./attention";
export * from "./strided";
export * from "./unary";
export * from "./softmax";
export * from "./layernorm";
export * from "./embedding";
export * from "./dropout";
export * from "./conv";
export * from "./pool";
