/**
 * A node of a graph: an input (fed per run), a parameter (holds its value from creation),
 * or the result of an op on other nodes.
 */
import type { OpDef } from "../ops/op.js";
import type { Shape } from "../runtime/shape.js";
import { fmtShape } from "../runtime/shape.js";
import { type Tensor, type TensorHost, typeName } from "../runtime/tensor.js";
import type { CustomOp } from "./custom.js";

export type NodeKind = "input" | "param" | "op" | "custom";

/** What a node needs of its graph (kept narrow so node.ts does not import graph.ts). */
export interface NodeOwner {
  readonly disposed: boolean;
  /** @internal the runtime whose memory holds the graph's tensors. */
  readonly _host: TensorHost;
  /** @internal */
  _valueOf(node: Node): Tensor;
  /** @internal */
  _assign(node: Node, values: Tensor | ArrayLike<number>, op: string): void;
  /** @internal a leaf's value was changed outside forward (optimizer steps). */
  _changed(node: Node): void;
  /** @internal renames a node (g.name). */
  _rename(node: Node, name: string): void;
  /** @internal the node's gradient (formed first for a folded view). */
  _gradOf(node: Node): Tensor | null;
}

export class Node {
  /** Gradient buffer: leaves own theirs from creation, op nodes get one from the plan. @internal */
  _grad: Tensor | null = null;
  /** Value buffer: inputs and params from creation, op nodes from the plan. @internal */
  _value: Tensor | null = null;
  /** An input that has been fed (or handed out through `.value`) at least once. @internal */
  _provided = false;
  /**
   * The forward run that last computed this node (op nodes) or read it (leaves); -1 after a
   * leaf's value was set since. Backward compares it with the graph's run counter. @internal
   */
  _stamp = 0;
  /**
   * The backward run (the graph's count of them) that last ran this node's backward step: a
   * folded view's gradient replays only the consumers that ran in the last backward. @internal
   */
  _gradStamp = -1;
  /**
   * In the current plan its consumers read its input through its layout (a transpose folded
   * into a matmul's GEMM flags): no run computes it; its value and gradient are formed when
   * read. @internal
   */
  _folded = false;
  /** @internal the name; rename with `g.name(node, name)` or by assigning `node.name`. */
  _name: string;
  readonly #requiresGrad: boolean;

  /** @internal use the graph's methods */
  constructor(
    readonly graph: NodeOwner,
    readonly id: number,
    readonly kind: NodeKind,
    readonly opName: string,
    readonly inputs: readonly Node[],
    shape: Shape,
    name: string,
    requiresGrad: boolean,
    /** @internal */ readonly op: OpDef<unknown> | null = null,
    /** @internal */ readonly attrs: unknown = undefined,
    /** @internal */ readonly custom: CustomOp | null = null,
  ) {
    this._name = name;
    this.#requiresGrad = requiresGrad;
    this.declShape = shape;
    this._shape = shape;
  }

  /**
   * The shape as declared when the node was built: a dimension that depends on an input's -1
   * dimension (set by each feed) is -1 here.
   */
  readonly declShape: Shape;
  /** The shape of the current plan (declShape until a feed sets the -1 dimensions). @internal */
  _shape: Shape;

  /**
   * The node's shape: for a graph fed with a -1 dimension, the shape of the last run (before
   * any run, declShape with its -1 entries).
   */
  get shape(): Shape {
    return this._shape;
  }

  /** The node's name (inputs are fed by it); assigning renames it, as `g.name(node, name)` does. */
  get name(): string {
    return this._name;
  }
  set name(name: string) {
    this.graph._rename(this, name);
  }

  /** Whether backward computes a gradient for this node; fixed when the node is created. */
  get requiresGrad(): boolean {
    return this.#requiresGrad;
  }
  set requiresGrad(_v: boolean) {
    throw new Error(
      `requiresGrad: ${this.describe()}: whether a node needs a gradient is fixed when the node is created ` +
        `(g.input(shape, name, { requiresGrad: true }); params always have one)`,
    );
  }

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
    return this._folded ? this.graph._gradOf(this) : this._grad;
  }

  /** `name [shape] (op)`, for messages. */
  describe(): string {
    return `'${this.name}' ${fmtShape(this.shape)}${this.kind === "op" || this.kind === "custom" ? ` (${this.opName})` : ` (${this.kind})`}`;
  }

  toString(): string {
    return `Node ${this.describe()}`;
  }
}

/**
 * The one check for a node handed to something that updates or reads a leaf's value and
 * gradient (optimizers, gradcheck's `wrt`): a node, of a live graph of this runtime, and a
 * param or an input with requiresGrad. `what` names the entry in the message.
 */
export function checkLeafNode(p: unknown, op: string, host: TensorHost, what: string): Node {
  if (!(p instanceof Node)) throw new TypeError(`${op}: ${what} must be a param node (g.params), got ${typeName(p)}`);
  if (p.graph._host !== host) throw new Error(`${op}: ${p.describe()} belongs to a graph of another simdgrad runtime`);
  if (p.graph.disposed) throw new Error(`${op}: the graph of ${p.describe()} has been disposed`);
  if (p.kind !== "param" && !(p.kind === "input" && p.requiresGrad)) {
    throw new Error(
      p.kind === "input"
        ? `${op}: ${p.describe()} has no gradient (create it with g.input(shape, name, { requiresGrad: true }) to train it)`
        : `${op}: ${p.describe()} is computed by the graph; only params (and inputs created with requiresGrad) can be trained`,
    );
  }
  return p;
}

/** checkLeafNode over a list that must be non-empty and hold each node once. */
export function checkLeafNodes(params: unknown, op: string, host: TensorHost, twice: string): Node[] {
  if (!Array.isArray(params) || params.length === 0) {
    throw new TypeError(`${op}: expected a non-empty array of params (g.params), got ${typeName(params)}`);
  }
  const seen = new Set<Node>();
  for (let i = 0; i < params.length; i++) {
    const n = checkLeafNode(params[i], op, host, `entry ${i + 1}`);
    if (seen.has(n)) throw new Error(`${op}: ${n.describe()} is listed twice (${twice})`);
    seen.add(n);
  }
  return params.slice() as Node[];
}
