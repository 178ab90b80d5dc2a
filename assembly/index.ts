// The module's export list: every kernel family, nothing else — the dense set
// (assembly/dense.ts, which init({ kernels: "dense" }) loads on its own) and the families it
// leaves out. (assembly/simd.ts and assembly/vmath.ts hold inline helpers and are not exported.)
export * from "./dense";
export * from "./attention";
export * from "./layernorm";
export * from "./embedding";
export * from "./dropout";
export * from "./conv";
export * from "./pool";
