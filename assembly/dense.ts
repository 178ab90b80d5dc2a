// The dense kernel set's export list: what a network of dense layers trains with (GEMM,
// activations, elementwise maps and broadcasting, reductions, strided copies, losses, softmax,
// optimizers, the health checks), and nothing else: init({ kernels: "dense" }) loads it, a
// smaller .wasm for pages that train no convolutions, pooling, attention, layer norm,
// embeddings or dropout. assembly/index.ts (every kernel) exports this list and those
// families; src/runtime/kernel-set.ts names the families for the runtime's messages.
// gemm.ts also exports its blocking constants and packing helpers to the convolutions;
// only the kernels are module exports.
export * from "./info";
export { gemm_scratch_bytes, gemm, gemm_bias_act, gemm_wide, gemm_bias_act_wide, gemm_4x8, gemm_bias_act_4x8, outer } from "./gemm";
export * from "./check";
export * from "./elementwise";
export * from "./reduce";
export * from "./optim";
export * from "./losses";
export * from "./activations";
export * from "./linear";
export * from "./stats";
export * from "./strided";
export * from "./unary";
export * from "./softmax";
