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
   * Computes the output from the input values. The simplest and fastest way: write the
   * values into `ctx.output` (the node's own buffer, allocated by the graph) and return it;
   * nothing is allocated or copied. It may also return a new tensor (the engine copies it
   * into the node's buffer and disposes it) or one it keeps.
   *
   * A `t.data` view goes stale when an allocation grows linear memory: read views after
   * allocating. If memory grows while forward (or backward) runs, the engine runs it once
   * more (on the second run the allocations fit), so views read before an allocation on the
   * first run cannot leak wrong values; if memory grows on that second run too, it throws.
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
  /**
   * The node's output buffer (shaped like the output, owned by the graph): write the result
   * into it and return it to avoid any allocation. Needs the op's `shape` function (it is not
   * known during the dry run that finds the shape).
   */
  readonly output: Tensor;
}

/** @internal the engine's implementation of the context of one custom node. */
export class CustomState implements CustomContext {
  saved: Tensor[] = [];
  constructor(
    readonly needsInputGrad: readonly boolean[],
    private readonly out: Tensor | null,
    private readonly opName: string,
  ) {}
  save(...tensors: Tensor[]): void {
    this.saved = tensors;
  }
  get output(): Tensor {
    if (this.out === null) {
      throw new Error(`${this.opName}: ctx.output is not known while the engine finds the output shape; give the op a shape(...inputShapes) function`);
    }
    return this.out;
  }
}
