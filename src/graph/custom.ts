/**
 * Custom ops: the user supplies forward and backward over Tensors (usually with the eager
 * kernels of `sg`), the engine runs them in topological order like any other node.
 */
import type { Shape } from "../runtime/shape.js";
import type { Tensor } from "../runtime/tensor.js";

export interface CustomOp {
  /** Names the node in messages and in `g.order()`. */
  readonly name: string;
  /**
   * Computes the output from the input values. It may return a new tensor (the engine
   * copies it into the node's planned buffer and disposes it) or one it keeps.
   */
  forward(ctx: CustomContext, ...inputs: Tensor[]): Tensor;
  /**
   * Given the upstream gradient dy (shaped like the output), returns one gradient per
   * input, each shaped like that input, or null where there is none. The engine adds them
   * into the inputs' gradients and disposes the returned tensors it does not know.
   */
  backward?(ctx: CustomContext, dy: Tensor): (Tensor | null)[];
  /** The output shape for these input shapes; without it the engine finds it by one dry run on zeros. */
  shape?(...inputs: Shape[]): readonly number[];
}

export interface CustomContext {
  /** Keeps tensors for backward (PyTorch's save_for_backward). Replaced on every forward. */
  save(...tensors: Tensor[]): void;
  /** What forward saved. */
  readonly saved: readonly Tensor[];
  /** For each input, whether backward must return its gradient. */
  readonly needsInputGrad: readonly boolean[];
}

/** @internal the engine's implementation of the context of one custom node. */
export class CustomState implements CustomContext {
  saved: Tensor[] = [];
  constructor(readonly needsInputGrad: readonly boolean[]) {}
  save(...tensors: Tensor[]): void {
    this.saved = tensors;
  }
}
