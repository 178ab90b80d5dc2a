/**
 * What every part of a graph shares (src/graph/builder.ts, plan.ts, run.ts, custom-host.ts,
 * health.ts): the nodes, their names, the leaf tensors, the run counters and mode. The
 * public `Graph` (graph.ts) owns one and hands it to its parts; nothing here is public API.
 */
import type { RunMode } from "../ops/op.js";
import type { Runtime } from "../runtime/runtime.js";
import type { Shape } from "../runtime/shape.js";
import { type Tensor, allocTensor, typeName } from "../runtime/tensor.js";
import { Node, type NodeOwner } from "./node.js";
import { topoSort } from "./topo.js";

/** Whether a shape has a -1 dimension (set by each feed). */
export const hasFree = (s: Shape): boolean => s.includes(-1);

/** @internal the shared state of one graph. */
export class GraphCore {
  readonly nodes: Node[] = [];
  readonly byName = new Map<string, Node>();
  readonly paramList: Node[] = [];
  /** Tensors owned by the graph outside plans (leaf values and gradients, row sets, statistics). */
  readonly leafTensors: Tensor[] = [];
  /** Training mode and run count, shared with the nodes (dropout reads them). */
  readonly mode: RunMode = { training: true, step: -1 };
  disposed = false;
  /** Whether node values hold the results of a forward run of the current plan. */
  ranForward = false;
  /** Counts forward runs; a node computed (or a leaf read) by the last one carries it in `_stamp`. */
  runs = 0;
  /** Counts backward runs (a folded view's gradient, formed when read, is current for one). */
  backwardRuns = 0;
  /** The forward run the last backward differentiated (-1: no backward since the plan changed). */
  gradForwardRun = -1;
  /** Called at the end of every backward run (gradient statistics and the anomaly hook use it). */
  afterBackward: ((output: Node) => void) | null = null;
  private fullOrder: Node[] | null = null;
  private dynamic: Node[] | null = null;
  private dynamicCount = -1;

  constructor(
    readonly rt: Runtime,
    /** The public graph: what nodes call back and what messages and optimizers see. */
    readonly owner: NodeOwner,
  ) {}

  /** Throws when the graph or its runtime is gone. */
  alive(op: string): void {
    if (this.disposed) throw new Error(`${op}: this graph has been disposed`);
    if (this.rt.closed) throw new Error(`${op}: the runtime of this graph has been closed`);
  }

  own(n: Node, op: string): void {
    if (!(n instanceof Node)) throw new TypeError(`${op}: expected a node, got ${typeName(n)}`);
    if (n.graph !== this.owner) throw new Error(`${op}: ${n.describe()} belongs to another graph`);
  }

  checkInputs(op: string, inputs: readonly Node[]): void {
    for (let i = 0; i < inputs.length; i++) {
      const n = inputs[i];
      if (!(n instanceof Node)) throw new TypeError(`${op}: input ${i + 1} must be a node of this graph, got ${typeName(n)}`);
      this.own(n, op);
    }
  }

  /** A tensor that lives as long as the graph. */
  leafTensor(shape: Shape, label: string): Tensor {
    const t = allocTensor(this.rt, shape, label, "graph", label);
    this.leafTensors.push(t);
    return t;
  }

  /** Adds a built node; the default order is found again. */
  register(node: Node): Node {
    this.nodes.push(node);
    this.byName.set(node.name, node);
    this.fullOrder = null;
    return node;
  }

  /** Computed nodes nothing consumes, and everything they depend on, in topological order. */
  defaultOrder(): Node[] {
    if (this.fullOrder === null) {
      const consumed = new Set<number>();
      for (const n of this.nodes) for (const i of n.inputs) consumed.add(i.id);
      // An unused input or param needs no computing.
      this.fullOrder = topoSort(this.nodes.filter((n) => !consumed.has(n.id) && n.kind !== "input" && n.kind !== "param"));
    }
    return this.fullOrder;
  }

  /** Inputs declared with a -1 dimension, in creation order. */
  dynamicInputs(): Node[] {
    if (this.dynamic === null || this.dynamicCount !== this.nodes.length) {
      this.dynamic = this.nodes.filter((n) => n.kind === "input" && hasFree(n.declShape));
      this.dynamicCount = this.nodes.length;
    }
    return this.dynamic;
  }
}
