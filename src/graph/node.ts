/**
 * A node of a graph: an input (fed per run), a parameter (holds its value from creation),
 * or the result of an op on other nodes.
 */
import type { OpDef } from "../ops/op.js";
import type { Shape } from "../runtime/shape.js";
import { fmtShape } from "../runtime/shape.js";
import type { Tensor } from "../runtime/tensor.js";
import type { CustomOp } from "./custom.js";

export type NodeKind = "input" | "param" | "op" | "custom";

/** What a node needs of its graph (kept narrow so node.ts does not import graph.ts). */
export interface NodeOwner {
  readonly disposed: boolean;
  /** @internal */
  _valueOf(node: Node): Tensor;
  /** @internal */
  _assign(node: Node, values: Tensor | ArrayLike<number>, op: string): void;
}

export class Node {
  /** Gradient buffer: leaves own theirs from creation, op nodes get one from the plan. @internal */
  _grad: Tensor | null = null;
  /** Value buffer: inputs and params from creation, op nodes from the plan. @internal */
  _value: Tensor | null = null;
  /** An input that has been fed (or handed out through `.value`) at least once. @internal */
  _provided = false;

  /** @internal use the graph's methods */
  constructor(
    readonly graph: NodeOwner,
    readonly id: number,
    readonly kind: NodeKind,
    readonly opName: string,
    readonly inputs: readonly Node[],
    readonly shape: Shape,
    public name: string,
    public requiresGrad: boolean,
    /** @internal */ readonly op: OpDef<unknown> | null = null,
    /** @internal */ readonly attrs: unknown = undefined,
    /** @internal */ readonly custom: CustomOp | null = null,
  ) {}

  get size(): number {
    let n = 1;
    for (const d of this.shape) n *= d;
    return n;
  }

  /**
   * The node's value as a Tensor in linear memory. Inputs and params have one from creation;
   * an op node has one after the first forward run (or `g.compile()`).
   */
  get value(): Tensor {
    return this.graph._valueOf(this);
  }

  /** Copies `values` (a Tensor or exactly `size` numbers) into this input's or param's value. */
  set value(values: Tensor | ArrayLike<number>) {
    this.graph._assign(this, values, "value");
  }

  /**
   * d(output)/d(this node), shaped like the node (the shape convention), after a backward
   * run; null for nodes that need no gradient. Leaves (params, inputs created with
   * requiresGrad) accumulate across backward calls until `zeroGrad()`.
   */
  get grad(): Tensor | null {
    if (this.graph.disposed) throw new Error(`grad: the graph of ${this.describe()} has been disposed`);
    return this._grad;
  }

  /** `name [shape] (op)`, for messages. */
  describe(): string {
    return `'${this.name}' ${fmtShape(this.shape)}${this.kind === "op" || this.kind === "custom" ? ` (${this.opName})` : ` (${this.kind})`}`;
  }

  toString(): string {
    return `Node ${this.describe()}`;
  }
}
