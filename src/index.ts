/**
 * simdgrad: train neural networks on the CPU from JavaScript with WebAssembly SIMD.
 * This file is the public API and nothing else.
 */
export { init, SimdGrad } from "./simdgrad.js";
export type { InitOptions, RandomOptions } from "./simdgrad.js";
export { Tensor } from "./runtime/tensor.js";
export type { Shape } from "./runtime/shape.js";
export type { Features } from "./runtime/runtime.js";
export type { MemoryStats } from "./runtime/arena.js";
export type { WasmSource } from "./runtime/load.js";
export type { KernelSet } from "./runtime/kernel-set.js";
export { Graph } from "./graph/graph.js";
export type { Feeds, ParamOptions, InputOptions, RunOptions, GraphOptions } from "./graph/graph.js";
export { Node } from "./graph/node.js";
export type { CustomOp, CustomContext } from "./graph/custom.js";
export type { SGD, Adam, SgdOptions, AdamOptions, AdamWOptions } from "./optim/optimizers.js";
export type { GradcheckOptions, GradcheckReport, GradcheckEntry } from "./check/gradcheck.js";
export type { InitName } from "./nn/init.js";
export type {
  GraphStats,
  ParamStats,
  ActivationStats,
  Anomaly,
  AnomalyKind,
  AnomalyOrigin,
  AnomalyOptions,
  AnomalyCallback,
} from "./graph/stats.js";
export type { ClipGradNormOptions, Clippable } from "./optim/clip.js";
export type { SafetensorsTensor, SafetensorsInput, SerializeOptions } from "./io/safetensors.js";
export type { SaveParamsOptions, LoadParamsOptions, CheckpointTarget } from "./io/params.js";
export type { ExportOnnxOptions } from "./io/onnx.js";
export { warmupCosine } from "./optim/schedule.js";
export type { WarmupCosineOptions } from "./optim/schedule.js";
export * as nn from "./nn/layers.js";
