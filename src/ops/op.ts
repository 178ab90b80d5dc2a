/**
 * The contract every op of src/ops/ fulfils. An op knows its shape rule, its forward
 * kernel call and its local gradient; it knows nothing of graphs or loading. The same
 * definition serves the eager API (sg.relu(x)) and graph nodes (g.relu(x)).
 */
import type { Kernels } from "../runtime/kernels.js";
import type { Shape } from "../runtime/shape.js";

/** A float32 buffer in linear memory: what a kernel call needs of a tensor. */
export interface Buf {
  readonly ptr: number;
  readonly shape: Shape;
  readonly size: number;
}

/** Per-call extras an op may ask for. */
export interface OpEnv {
  /** Buffers the op asked for with `saved`, kept from forward to backward. */
  readonly saved: readonly Buf[];
  /** Start of a scratch area of at least `scratchBytes(...)` bytes, 16-byte aligned. */
  readonly scratch: number;
}

export interface OpDef<A = void> {
  readonly name: string;
  /**
   * The output shape for these input shapes. Throws an Error whose message starts with
   * the op's name and shows the shapes, e.g. `matmul: inner dimensions differ: a is [2, 3], b is [4, 5]`.
   */
  shape(inputs: readonly Shape[], attrs: A): Shape;
  /** Shapes of extra buffers forward fills for backward (e.g. softmax probabilities). */
  saved?(inputs: readonly Shape[], attrs: A): Shape[];
  /** Bytes of scratch forward or backward needs at most. */
  scratchBytes?(inputs: readonly Shape[], attrs: A): number;
  /** Writes the output `y` from inputs `x` (overwrites y). */
  forward(k: Kernels, x: readonly Buf[], y: Buf, attrs: A, env: OpEnv): void;
  /**
   * Adds each input's share of the gradient into `dx[i]` (dx[i] += (∂y/∂x_i)ᵀ·dy, never
   * overwrites; gradients are shaped like their inputs). `dx[i]` is null where that
   * gradient is not wanted. `y` holds the forward output, `env.saved` what forward saved.
   * Omitted for ops with no gradient to any input.
   */
  backward?(k: Kernels, x: readonly Buf[], y: Buf, dy: Buf, dx: readonly (Buf | null)[], attrs: A, env: OpEnv): void;
}

/** Shorthand for shape errors: `${op}: ${what}: a is [..], b is [..]`. */
export function shapeError(op: string, what: string, named: Record<string, Shape>): Error {
  const parts = Object.entries(named).map(([n, s]) => `${n} is [${s.join(", ")}]`);
  return new Error(`${op}: ${what}${parts.length ? ": " + parts.join(", ") : ""}`);
}
