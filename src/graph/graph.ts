/**
 * Graphs: build once, run forward and backward many times.
 *
 * Building records nodes and infers (and checks) shapes. The first run, or `compile()`,
 * plans every buffer in linear memory: values and gradients of op nodes in one block each,
 * saved tensors and kernel scratch in others. A plan also holds, per node, the prepared
 * argument lists of its kernel calls, so a forward or backward run is a loop over nodes
 * making one op call each, with no allocation in linear memory and none in JS beyond what
 * the engine cannot avoid.
 *
 * Backward follows the notes: d(loss)/d(loss) = 1, then visit the nodes in reverse
 * topological order and turn each node's upstream gradient into downstream gradients with
 * its local rule (downstream = upstream × local). Every op's backward adds into its inputs'
 * gradients, so a node used by several consumers sums what they send back.
 */
import type { Buf, OpDef, OpEnv, RunMode } from "../ops/op.js";
import type { Kernels } from "../runtime/kernels.js";
import type { Runtime } from "../runtime/runtime.js";
import { type Shape, checkShape, fmtShape, sameShape, sizeOf } from "../runtime/shape.js";
import { Tensor, allocTensor, checkTensor, pinView, staleHint, typeName, unpinView } from "../runtime/tensor.js";
import { INIT_NAMES, type InitName, initValues } from "../nn/init.js";
import { type CustomOp, CustomState } from "./custom.js";
import { Node } from "./node.js";
import { topoSort } from "./topo.js";
import { type AnomalyCallback, type AnomalyOptions, type GraphStats, StatsTracker } from "./stats.js";
import { type LoadParamsOptions, type SaveParamsOptions, loadParams, saveParams } from "../io/params.js";
import { type ExportOnnxOptions, exportOnnx } from "../io/onnx.js";

import { type GraphOps, installMethods } from "../ops/registry.js";
import type { Method } from "../ops/define.js";
import { embeddingOp, anyRowSet, attachRowSet, rowSetOf } from "../ops/embedding.js";

declare module "../runtime/kernels.js" {
  interface Kernels {
    /** assembly/check.ts: how many of n values are NaN or ±Inf. */
    count_nonfinite(x: number, n: number): number;
  }
}

export interface ParamOptions {
  /** Initial values: a scheme (default "zeros" for 0-D/1-D, "xavier" otherwise)… */
  init?: InitName;
  /** …or exactly `size` numbers (an array, a typed array, or a Tensor of the same runtime, copied). */
  data?: ArrayLike<number> | Tensor;
  name?: string;
  /** Seed of the initialiser (reproducible across runtimes). */
  seed?: number;
  /** Standard deviation for "normal" (default 0.01), half-width for "uniform" (default 0.05). */
  std?: number;
}

export interface InputOptions {
  /** Give this input a gradient too (dS/dx, the loss's gradient with respect to the input itself: saliency, adversarial examples). */
  requiresGrad?: boolean;
}

export interface RunOptions {
  /** After each node, check its value (and in backward its gradient) for NaN/Inf, and name the first node that has any. */
  checkFinite?: boolean;
}

export type Feeds = Record<string, Tensor | ArrayLike<number>>;

/** One prepared kernel call of a plan. */
interface Step {
  node: Node;
  xs: Buf[];
  y: Buf;
  dy: Buf | null;
  dxs: (Buf | null)[];
  env: OpEnv;
  custom: CustomState | null;
}

interface Plan {
  nodeCount: number;
  /** The dimensions of the inputs with a -1 dimension this plan is for, flattened ([] when none). */
  key: number[];
  /** Each node's shape in this plan, by node id. */
  shapes: Shape[];
  /** Value and gradient buffers of op nodes and of inputs with a -1 dimension, by node id. */
  vals: (Tensor | null)[];
  grads: (Tensor | null)[];
  blocks: number[];
  steps: Map<number, Step>;
  /** Gradients of op nodes, one contiguous block zeroed before each backward run. */
  gradBlock: { ptr: number; n: number };
  tensors: Tensor[];
  orders: Map<number, Node[]>;
}

let graphIds = 0;

/** Plans a graph keeps for its distinct input shapes (least recently used dropped first). */
export const MAX_PLANS = 8;

/** Whether two plan keys are equal. */
function sameKey(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** An input shape whose dimensions are non-negative integers or -1 (set by each feed). */
function checkInputShape(shape: unknown, op: string): Shape {
  if (Array.isArray(shape) && shape.includes(-1)) {
    for (const d of shape) {
      if (typeof d !== "number" || !Number.isInteger(d) || d < -1) {
        throw new RangeError(`${op}: shape ${fmtShape(shape as number[])} has a dimension that is neither a non-negative integer nor -1 (${String(d)})`);
      }
    }
    return Object.freeze((shape as number[]).slice());
  }
  return checkShape(shape, op);
}

const hasFree = (s: Shape): boolean => s.includes(-1);

/**
 * The declared output shape of a shape rule over inputs that may have -1 dimensions: the rule
 * runs with every -1 set to 2 and again set to 3, and the output dimensions that differ are
 * -1 (they follow the fed dimension).
 */
function declaredShape(rule: (shapes: Shape[]) => Shape, decl: readonly Shape[]): Shape {
  if (!decl.some(hasFree)) return rule(decl.slice());
  const probe = (v: number) => {
    try {
      return rule(decl.map((s) => s.map((d) => (d === -1 ? v : d))));
    } catch (e) {
      if (e instanceof Error) e.message += ` (checked with each -1 dimension set to ${v}; inputs: ${decl.map(fmtShape).join(", ")})`;
      throw e;
    }
  };
  const a = probe(2), b = probe(3);
  if (a.length !== b.length) throw new Error(`shape: the rank of the result depends on the -1 dimension (inputs ${decl.map(fmtShape).join(", ")})`);
  return Object.freeze(a.map((d, i) => (d === b[i] ? d : -1)));
}

/**
 * The op methods (g.relu, g.gelu, …) come from the op definitions through src/ops/registry.ts
 * (see src/ops/define.ts): typed here, installed on the prototype below the class.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface, @typescript-eslint/no-unsafe-declaration-merging
export interface Graph extends GraphOps<Node> {}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class Graph {
  readonly id = ++graphIds;
  private readonly nodes: Node[] = [];
  private readonly byName = new Map<string, Node>();
  private readonly paramList: Node[] = [];
  /** The plan of the last run (one per distinct shape of the -1 inputs; see `plans`). */
  private plan: Plan | null = null;
  /** Every plan kept, least recently used first (at most MAX_PLANS). */
  private plans: Plan[] = [];
  private fullOrder: Node[] | null = null;
  private _disposed = false;
  private ranForward = false;
  /** Counts forward runs; a node computed (or a leaf read) by the last one carries it in `_stamp`. */
  private runs = 0;
  /** Called at the end of every backward run (gradient statistics and the anomaly hook use it). @internal */
  _afterBackward: ((output: Node) => void) | null = null;
  /** Tensors owned by the graph outside plans (leaf values and gradients). */
  private readonly leafTensors: Tensor[] = [];
  /** Training mode and run count, shared with the nodes (dropout reads them). */
  private readonly mode: RunMode = { training: true, step: -1 };

  /** @internal use sg.graph() */
  constructor(private readonly rt: Runtime) {}

  get disposed(): boolean {
    return this._disposed || this.rt.closed;
  }

  /** The trainable parameters, in creation order. */
  get params(): Node[] {
    return this.paramList.slice();
  }

  /** The inputs, in creation order. */
  get inputs(): Node[] {
    return this.nodes.filter((n) => n.kind === "input");
  }

  /** A node by name (inputs and params are named; ops get `op#id` unless named). */
  node(name: string): Node | undefined {
    return this.byName.get(name);
  }

  // ------------------------------------------------------------------ leaves

  /** An input, fed by `name` in `forward`. */
  input(shape: readonly number[], name: string, opts: InputOptions = {}): Node {
    opts ??= {};
    this.alive("input");
    const s = checkInputShape(shape, "input");
    if (typeof name !== "string" || name.length === 0) throw new TypeError(`input: a name is required to feed it, got ${String(name)}`);
    this.claimName(name, "input");
    const node = new Node(this, this.nodes.length, "input", "input", [], s, name, opts.requiresGrad === true);
    if (hasFree(s)) {
      // A -1 dimension is set by each feed: the value (and gradient) buffers belong to the plan of each shape.
      this.dropPlan();
      return this.register(node);
    }
    node._value = this.leafTensor(s, name);
    node._value.fill(0);
    if (node.requiresGrad) node._grad = this.leafTensor(s, `grad of ${name}`).fill(0);
    return this.register(node);
  }

  /** A trainable parameter; it holds its value from creation. */
  param(shape: readonly number[], opts: ParamOptions = {}): Node {
    opts ??= {};
    this.alive("param");
    const s = checkShape(shape, "param");
    const name = opts.name ?? `param${this.paramList.length}`;
    this.claimName(name, "param");
    if (opts.init !== undefined && !INIT_NAMES.includes(opts.init)) {
      throw new Error(`param: unknown init '${String(opts.init)}' for '${name}'; use one of ${INIT_NAMES.join(", ")}`);
    }
    if (opts.data instanceof Tensor) {
      checkTensor(opts.data, "param", this.rt, `data for '${name}'`);
      if (opts.data.size !== sizeOf(s)) throw new RangeError(`param: '${name}' ${fmtShape(s)} takes ${sizeOf(s)} values, the data tensor ${fmtShape(opts.data.shape)} has ${opts.data.size}`);
    }
    if (opts.data !== undefined) {
      if (opts.init !== undefined) throw new Error(`param: '${name}' has both init and data; give one`);
      if (!(opts.data instanceof Tensor) && (opts.data === null || typeof opts.data.length !== "number" || opts.data.length !== sizeOf(s))) {
        throw new RangeError(`param: '${name}' ${fmtShape(s)} takes ${sizeOf(s)} values, data has ${opts.data?.length ?? typeName(opts.data)}${opts.data ? staleHint(opts.data) : ""}`);
      }
    }
    // Data that is a view of linear memory (t.data) is re-derived after the allocation.
    const data = opts.data === undefined || opts.data instanceof Tensor ? opts.data : pinView(this.rt, opts.data);
    const node = new Node(this, this.nodes.length, "param", "param", [], s, name, true);
    node._value = this.leafTensor(s, name);
    if (data !== undefined) node._value.set(data instanceof Tensor ? data : unpinView(this.rt, data));
    else initValues(node._value.data, s, opts.init ?? (s.length >= 2 ? "xavier" : "zeros"), opts.seed ?? 1 + this.paramList.length, opts.std);
    node._grad = this.leafTensor(s, `grad of ${name}`).fill(0);
    node._provided = true;
    this.paramList.push(node);
    return this.register(node);
  }

  // ------------------------------------------------------------------ ops

  /**
   * Training mode (default on): dropout drops only while it is on. Returns the graph.
   */
  train(on = true): this {
    this.mode.training = on !== false;
    return this;
  }
  /** Whether the graph is in training mode (see train()). */
  get training(): boolean {
    return this.mode.training;
  }

  /** A user-defined op (see CustomOp): forward and backward over Tensors. */
  custom(op: CustomOp, ...inputs: Node[]): Node {
    this.alive("custom");
    if (op === null || typeof op !== "object" || typeof op.forward !== "function") {
      throw new TypeError("custom: op must be an object with a forward(ctx, ...inputs) function");
    }
    const name = typeof op.name === "string" && op.name ? op.name : "custom";
    this.checkInputs(name, inputs);
    let shape: Shape;
    if (typeof op.shape === "function") {
      const rule = op.shape;
      shape = declaredShape((shapes) => checkShape(rule(...shapes), name), inputs.map((n) => n.declShape));
    } else if (inputs.some((n) => hasFree(n.declShape))) {
      throw new Error(`${name}: an input has a -1 dimension (${inputs.map((n) => n.describe()).join(", ")}); give the custom op a shape(...inputShapes) function`);
    } else {
      shape = this.dryRunShape(op, name, inputs);
    }
    const requiresGrad = inputs.some((n) => n.requiresGrad) && typeof op.backward === "function";
    const node = new Node(this, this.nodes.length, "custom", name, inputs, shape, this.autoName(name), requiresGrad, null, undefined, op);
    return this.register(node);
  }

  /** Gives a node a name (for messages, `g.order()` and `g.node(name)`; inputs are fed by it); returns the node. */
  name(node: Node, name: string): Node {
    this.alive("name");
    this.own(node, "name");
    if (typeof name !== "string" || name.length === 0) throw new TypeError(`name: a name must be a non-empty string, got ${typeName(name)}`);
    if (name === node.name) return node;
    this.claimName(name, "name");
    this.byName.delete(node.name);
    node._name = name;
    this.byName.set(name, node);
    return node;
  }

  // ------------------------------------------------------------------ running

  /**
   * The topological order the graph runs: every node the outputs depend on, each after its
   * inputs (default outputs: the nodes nothing else consumes).
   */
  order(outputs?: readonly Node[]): Node[] {
    this.alive("order");
    if (outputs === undefined) return this.defaultOrder().slice();
    for (const o of outputs) this.own(o, "order");
    return topoSort(outputs);
  }

  /** Plans every buffer now (otherwise the first forward does). */
  compile(): this {
    this.alive("compile");
    // With a -1 input dimension, each feed shape is planned by its first forward run.
    if (this.dynamicInputs().length === 0 || this.plan !== null) this.ensurePlan();
    return this;
  }

  /** How many plans the graph keeps: one per distinct shape fed to its -1 dimensions (at most 8). */
  get planCount(): number {
    return this.plans.length;
  }

  /**
   * Feeds inputs by name, then computes every node in topological order (or only what
   * `outputs` depend on). An input keeps its last fed value; an input never fed is an error.
   */
  forward(feeds: Feeds = {}, opts: RunOptions & { outputs?: readonly Node[] } = {}): void {
    opts ??= {};
    this.alive("forward");
    feeds ??= {};
    if (typeof feeds !== "object") throw new TypeError(`forward: feeds must be an object of input name → data, got ${typeName(feeds)}`);
    // Validate every feed before writing any, so a bad call changes nothing.
    for (const name in feeds) {
      const node = this.byName.get(name);
      if (node === undefined || node.kind !== "input") {
        const known = this.inputs.map((n) => `'${n.name}'`).join(", ") || "none";
        throw new Error(`forward: no input named '${name}' (inputs: ${known})`);
      }
      if (!hasFree(node.declShape)) this.checkValues(node, feeds[name]!, "forward");
    }
    const key = this.feedKey(feeds);
    let plan = this.plan;
    if (plan === null || plan.nodeCount !== this.nodes.length || !sameKey(plan.key, key)) {
      // Planning allocates (and may grow memory): feeds that are views of it (t.data) are re-derived.
      const pinned: Record<string, unknown> = {};
      for (const name in feeds) pinned[name] = feeds[name] instanceof Tensor ? feeds[name] : pinView(this.rt, feeds[name] as ArrayLike<number>);
      plan = this.selectPlan(key);
      const fresh: Feeds = {};
      for (const name in pinned) fresh[name] = pinned[name] instanceof Tensor ? (pinned[name] as Tensor) : unpinView(this.rt, pinned[name] as ArrayLike<number>);
      feeds = fresh;
    }
    const order = opts.outputs ? this.order(opts.outputs) : this.defaultOrder();
    for (const node of order) {
      if (node.kind === "input" && !node._provided && !(node.name in feeds)) {
        throw new Error(`forward: input ${node.describe()} was not fed (pass { ${node.name}: data } to forward)`);
      }
    }
    for (const name in feeds) this.write(this.byName.get(name)!, feeds[name]!);
    if (this.mode.training) this.mode.step++; // dropout draws a new mask per training run
    const k = this.rt.kernels;
    const run = ++this.runs;
    for (const node of order) {
      node._stamp = run;
      if (node.kind === "input" || node.kind === "param") continue;
      const st = plan.steps.get(node.id)!;
      if (st.custom) this.runCustomForward(node, st);
      else node.op!.forward(k, st.xs, st.y, node.attrs, st.env);
      if (opts.checkFinite) this.assertFinite(k, node, st.y, "forward", "value");
    }
    this.ranForward = true;
  }

  /**
   * Backpropagation from `output`: its gradient is seeded with 1 (or `upstream`, required
   * when the output is not a scalar), then every node it depends on, in reverse topological
   * order, adds its inputs' gradients. Leaf gradients accumulate until `zeroGrad()`.
   */
  backward(output: Node, upstream?: Tensor | ArrayLike<number> | null, opts: RunOptions = {}): void {
    opts ??= {};
    this.alive("backward");
    this.own(output, "backward");
    if (upstream === null) upstream = undefined;
    if (upstream === undefined && output.size !== 1) {
      throw new Error(`backward: ${output.describe()} is not a scalar; pass an upstream gradient of shape ${fmtShape(output.shape)}`);
    }
    if (upstream !== undefined) this.checkValues(output, upstream, "backward", "upstream gradient");
    if (!output.requiresGrad) {
      throw new Error(`backward: ${output.describe()} does not depend on any param or input with requiresGrad`);
    }
    const pinned = upstream === undefined || upstream instanceof Tensor ? upstream : pinView(this.rt, upstream);
    const plan = this.ensurePlan();
    if (pinned !== undefined && !(pinned instanceof Tensor)) upstream = unpinView(this.rt, pinned);
    if (!this.ranForward) {
      throw new Error(`backward: run forward before backward (no values for ${output.describe()} since the graph last changed)`);
    }
    let order = plan.orders.get(output.id);
    if (order === undefined) {
      order = topoSort([output]);
      plan.orders.set(output.id, order);
    }
    // Backward differentiates the values of the last forward: every node it visits must have
    // been computed by that run, and no leaf set since (one integer compare per node).
    const run = this.runs;
    for (let i = 0; i < order.length; i++) {
      const n = order[i]!;
      if (n._stamp === run || order.length === 1) continue;
      if (n._stamp === -1) {
        throw new Error(`backward: ${n.describe()} was set after the last forward; run g.forward() again so backward differentiates the current values`);
      }
      if (n.kind === "op" || n.kind === "custom") {
        throw new Error(
          `backward: the last forward did not compute ${n.describe()}, which ${output.describe()} depends on; ` +
            `run g.forward() (or g.forward(feeds, { outputs: [..., ${output.name}] })) before backward`,
        );
      }
    }
    const k = this.rt.kernels;
    // Gradients of op nodes start from zero on every run; leaves keep accumulating.
    if (plan.gradBlock.n > 0) k.fill_f32(plan.gradBlock.ptr, plan.gradBlock.n, 0);
    const seed = output._grad!;
    if (upstream === undefined) {
      if (output.kind === "op" || output.kind === "custom") k.fill_f32(seed.ptr, seed.size, 1);
      else {
        // A leaf's gradient accumulates: d(leaf)/d(leaf) = 1 is added to it.
        const d = seed.data;
        d[0] = d[0]! + 1;
      }
    } else if (output.kind === "op" || output.kind === "custom") this.writeInto(seed, upstream);
    else {
      // A leaf's gradient accumulates: add the upstream gradient to it.
      const d = seed.data;
      const u = upstream instanceof Tensor ? upstream.data : upstream;
      for (let i = 0; i < d.length; i++) d[i] = d[i]! + u[i]!;
    }
    for (let i = order.length - 1; i >= 0; i--) {
      const node = order[i]!;
      if (!node.requiresGrad || node.kind === "input" || node.kind === "param") continue;
      const st = plan.steps.get(node.id)!;
      if (st.custom) this.runCustomBackward(node, st);
      else if (node.op!.backward) node.op!.backward(k, st.xs, st.y, st.dy!, st.dxs, node.attrs, st.env);
      if (opts.checkFinite) {
        for (let j = 0; j < node.inputs.length; j++) {
          const dx = st.dxs[j];
          if (dx) this.assertFinite(k, node.inputs[j]!, dx, "backward", `gradient (sent back by ${node.describe()})`);
        }
      }
    }
    this._afterBackward?.(output);
  }

  // ---- gradient health: stats, anomaly hook (src/graph/stats.ts) ----

  /** Gradient statistics and anomaly listeners (created on first use). */
  private _health: StatsTracker | null = null;

  private health(): StatsTracker {
    if (this._health === null) {
      this._health = new StatsTracker({
        rt: this.rt,
        params: this.paramList,
        nodes: this.nodes,
        ranForward: () => this.ranForward,
        allocBlock: (floats) => this.leafTensor([floats], "gradient statistics"),
        releaseBlock: (t) => {
          const i = this.leafTensors.indexOf(t);
          if (i >= 0) this.leafTensors.splice(i, 1);
          if (!t.disposed) this.rt.arena.release(t.ptr);
          t._kill();
        },
        order: (output) => topoSort([output]),
        setHook: (hook) => {
          this._afterBackward = hook;
        },
      });
      this._health.attach(this);
    }
    return this._health;
  }

  /**
   * Starts (or with `false` stops) collecting gradient statistics: after every backward run
   * one kernel pass over the params' gradients records each one's ‖g‖₂ and max |g|, and a
   * step of `sg.sgd` / `sg.adam` over these params also records ‖Δw‖ in the same pass as its
   * update. Read them with `stats()`. Off by default; on, it adds one small block of linear
   * memory (allocated now) and 2–3% to a training step of a 784→256→10 MLP (SGD, batch 64;
   * bench/stats-overhead.mjs).
   */
  trackStats(on = true): this {
    this.alive("trackStats");
    if (typeof on !== "boolean") throw new TypeError(`trackStats: expected true or false, got ${typeName(on)}`);
    if (on || this._health !== null) this.health().setTracking(on);
    return this;
  }

  /** Whether `trackStats(true)` is in effect. */
  get tracksStats(): boolean {
    return this._health?.on === true;
  }

  /**
   * Where training stands, as plain objects: per param its gradient norm and max |g| after
   * the last backward run, its weight norm, and the norm and ratio ‖Δw‖/‖w‖ of the last
   * optimizer step; per activation node with a flat region (relu, sigmoid, tanh, hardTanh,
   * step, also fused into linear) the share of values and of units in that region over the
   * batch of the last forward run (dead ReLUs, saturated sigmoid/tanh, clipped hardTanh).
   * Needs `trackStats(true)`.
   */
  stats(): GraphStats {
    this.alive("stats");
    if (this._health === null || !this._health.on) {
      throw new Error("stats: gradient statistics are not being collected; call g.trackStats(true) before training");
    }
    return this._health.stats();
  }

  /**
   * Each param's ‖g‖₂ after the last backward run, in `g.params` order, into `out` (or a
   * new Float64Array); NaN before the first run. Allocates nothing when given `out`: made
   * for plotting every step. Needs `trackStats(true)`.
   */
  gradNorms(out?: Float64Array): Float64Array {
    this.alive("gradNorms");
    if (this._health === null || !this._health.on) {
      throw new Error("gradNorms: gradient statistics are not being collected; call g.trackStats(true) before training");
    }
    const n = this.paramList.length;
    if (out === undefined) out = new Float64Array(n);
    else if (!(out instanceof Float64Array) || out.length < n) {
      throw new TypeError(`gradNorms: out must be a Float64Array of at least ${n} values (one per param), got ${typeName(out)}`);
    }
    return this._health.gradNorms(out);
  }

  /**
   * Calls `cb` after a backward run in which the loss (the backward output) or a param's
   * gradient holds NaN or Inf, or, with `growthFactor`, a param's gradient norm grew by more
   * than that factor since the previous run. The event names the node and what happened
   * (and, for NaN/Inf, the first node whose value or gradient has one). At most one call per
   * run: the first event, and all of them as the second argument. Costs one kernel pass over
   * the gradients per run (shared with trackStats). Returns a function that unsubscribes.
   */
  onAnomaly(cb: AnomalyCallback, opts: AnomalyOptions = {}): () => void {
    this.alive("onAnomaly");
    if (typeof cb !== "function") throw new TypeError(`onAnomaly: expected a callback function, got ${typeName(cb)}`);
    if (opts === null || typeof opts !== "object") throw new TypeError(`onAnomaly: options must be { growthFactor? }, got ${typeName(opts)}`);
    const f = opts.growthFactor ?? Infinity;
    if (typeof f !== "number" || Number.isNaN(f) || f <= 1) {
      throw new RangeError(`onAnomaly: growthFactor must be a number > 1, got ${String(f)}`);
    }
    return this.health().addListener(cb, f);
  }
  // ---- end gradient health ----

  /** Sets every leaf gradient (params, inputs with requiresGrad) to zero. */
  zeroGrad(): void {
    this.alive("zeroGrad");
    const k = this.rt.kernels;
    for (const n of this.nodes) {
      if ((n.kind !== "param" && n.kind !== "input") || !n._grad) continue;
      const rs = rowSetOf(n._grad);
      if (rs !== null) k.rowset_zero(n._grad.ptr, rs.dim, rs.ptr); // only the rows used
      else k.fill_f32(n._grad.ptr, n._grad.size, 0);
    }
  }

  /** Frees every buffer of the graph; its nodes and tensors become unusable. */
  dispose(): void {
    if (this._disposed) return;
    this.dropPlan();
    for (const t of this.leafTensors) {
      if (!this.rt.closed) this.rt.arena.release(t.ptr);
      t._kill();
    }
    this.leafTensors.length = 0;
    this._disposed = true;
  }

  // ------------------------------------------------------------------ saving, loading, exporting (src/io/)

  /** The params as a safetensors file (F32), each under its name. */
  saveParams(opts?: SaveParamsOptions): Uint8Array {
    this.alive("saveParams");
    return saveParams(this, opts);
  }

  /**
   * Sets the params from a safetensors file (F32, F16 or BF16), by name. Every name and shape
   * is checked first: a missing or extra name or a shape mismatch is an error naming it, and
   * then nothing has changed.
   */
  loadParams(bytes: Uint8Array | ArrayBuffer, opts?: LoadParamsOptions): void {
    this.alive("loadParams");
    loadParams(this, bytes, opts);
  }

  /** An ONNX model (opset 17+) computing `outputs` from `inputs` with the params' current values. */
  exportOnnx(opts: ExportOnnxOptions): Promise<Uint8Array> {
    this.alive("exportOnnx");
    return exportOnnx(this, opts);
  }

  // ------------------------------------------------------------------ NodeOwner

  /** @internal */
  _valueOf(node: Node): Tensor {
    if (this.disposed) throw new Error(`value: the graph of ${node.describe()} has been disposed`);
    if (node._value === null) {
      throw new Error(`value: ${node.describe()} has no value yet; run g.forward (or g.compile) first`);
    }
    if (node.kind === "input") node._provided = true;
    return node._value;
  }

  /** @internal */
  _assign(node: Node, values: Tensor | ArrayLike<number>, op: string): void {
    if (this.disposed) throw new Error(`${op}: the graph of ${node.describe()} has been disposed`);
    if (node.kind !== "input" && node.kind !== "param") {
      throw new Error(`${op}: ${node.describe()} is computed by the graph; only inputs and params can be set`);
    }
    if (node._value === null) {
      throw new Error(`${op}: input '${node.name}' ${fmtShape(node.declShape)} has a -1 dimension set by its feeds: feed it with g.forward({ ${node.name}: data })`);
    }
    this.checkValues(node, values, op);
    this.write(node, values);
    node._stamp = -1;
  }

  /** @internal a leaf's value changed outside forward (an optimizer step): backward must wait for the next forward. */
  _changed(node: Node): void {
    node._stamp = -1;
  }

  /** @internal the runtime whose memory holds this graph's tensors. */
  get _host(): Runtime {
    return this.rt;
  }

  /** @internal */
  _rename(node: Node, name: string): void {
    this.name(node, name);
  }

  // ------------------------------------------------------------------ internals

  /** @internal a node applying any op definition (the generic op test uses it) */
  _applyOp<A>(op: OpDef<A>, inputs: Node[], attrs: A): Node {
    return this.op(op, inputs, attrs);
  }

  /** @internal runs a registry method's call on nodes */
  _method(m: Method, args: unknown[]): Node {
    const c = m.call(...args);
    return this.op(c.op, c.inputs as unknown as Node[], c.attrs);
  }

  private op<A>(op: OpDef<A>, inputs: Node[], attrs: A): Node {
    this.alive(op.name);
    this.checkInputs(op.name, inputs);
    const shape = declaredShape((shapes) => op.shape(shapes, attrs), inputs.map((n) => n.declShape));
    const requiresGrad = op.backward !== undefined && inputs.some((n) => n.requiresGrad);
    const id = this.nodes.length;
    const node = new Node(this, id, "op", op.name, inputs, shape, this.autoName(op.name), requiresGrad, op as OpDef<unknown>, attrs);
    return this.register(node);
  }

  private register(node: Node): Node {
    this.trackLookupTables(node);
    this.nodes.push(node);
    this.byName.set(node.name, node);
    this.fullOrder = null;
    return node;
  }

  /**
   * A param used as an embedding table gets a row set on its gradient (the rows a step used,
   * so zeroGrad and optimizers touch only those); a table that any other op also uses may
   * get a dense gradient and is then treated as a whole.
   */
  private trackLookupTables(node: Node): void {
    const table = node.op === embeddingOp ? node.inputs[1]! : null;
    if (table !== null && table.kind === "param" && table._grad !== null && anyRowSet(table._grad) === null) {
      const V = table.shape[0]!, D = table.shape[1]!;
      const k = this.rt.kernels;
      const t = this.leafTensor([Math.ceil(k.rowset_bytes(V) / 4)], `rows used of ${table.name}`);
      k.rowset_init(t.ptr, V);
      const usedElsewhere = this.nodes.some((n) => n.inputs.includes(table));
      attachRowSet(table._grad, { ptr: t.ptr, rows: V, dim: D, dense: usedElsewhere });
    }
    node.inputs.forEach((inp, i) => {
      const rs = inp._grad !== null && !(node.op === embeddingOp && i === 1) ? anyRowSet(inp._grad) : null;
      if (rs !== null) rs.dense = true;
    });
  }

  private checkInputs(op: string, inputs: readonly Node[]): void {
    for (let i = 0; i < inputs.length; i++) {
      const n = inputs[i];
      if (!(n instanceof Node)) throw new TypeError(`${op}: input ${i + 1} must be a node of this graph, got ${typeName(n)}`);
      this.own(n, op);
    }
  }

  private own(n: Node, op: string): void {
    if (!(n instanceof Node)) throw new TypeError(`${op}: expected a node, got ${typeName(n)}`);
    if (n.graph !== this) throw new Error(`${op}: ${n.describe()} belongs to another graph`);
  }

  private alive(op: string): void {
    if (this._disposed) throw new Error(`${op}: this graph has been disposed`);
    if (this.rt.closed) throw new Error(`${op}: the runtime of this graph has been closed`);
  }

  private claimName(name: string, op: string): void {
    const prev = this.byName.get(name);
    if (prev !== undefined && (prev.kind === "input" || prev.kind === "param" || prev.name === name)) {
      throw new Error(`${op}: the name '${name}' is already used by ${prev.describe()}`);
    }
  }

  /** `op#id`, or with a suffix if a user already took that name. */
  private autoName(op: string): string {
    const base = `${op}#${this.nodes.length}`;
    let name = base;
    for (let k = 2; this.byName.has(name); k++) name = `${base}.${k}`;
    return name;
  }

  private leafTensor(shape: Shape, label: string): Tensor {
    const t = allocTensor(this.rt, shape, label, "graph", label);
    this.leafTensors.push(t);
    return t;
  }

  private defaultOrder(): Node[] {
    if (this.fullOrder === null) {
      const consumed = new Set<number>();
      for (const n of this.nodes) for (const i of n.inputs) consumed.add(i.id);
      // Computed nodes nothing consumes; an unused input or param needs no computing.
      this.fullOrder = topoSort(this.nodes.filter((n) => !consumed.has(n.id) && n.kind !== "input" && n.kind !== "param"));
    }
    return this.fullOrder;
  }

  private checkValues(node: Node, values: unknown, op: string, what = "data"): void {
    if (values instanceof Tensor) {
      checkTensor(values, op, this.rt, `${what} for ${node.describe()}`);
      if (!sameShape(values.shape, node.shape)) {
        throw new Error(`${op}: ${what} for ${node.describe()} has shape ${fmtShape(values.shape)}`);
      }
      return;
    }
    if (values === null || typeof values !== "object" || typeof (values as ArrayLike<number>).length !== "number") {
      throw new TypeError(`${op}: ${what} for ${node.describe()} must be a Tensor or an array of ${node.size} numbers, got ${typeName(values)}`);
    }
    const len = (values as ArrayLike<number>).length;
    if (len !== node.size) {
      throw new RangeError(`${op}: ${what} for ${node.describe()} must have ${node.size} values, got ${len}${staleHint(values as ArrayLike<number>)}`);
    }
  }

  private write(node: Node, values: Tensor | ArrayLike<number>): void {
    this.writeInto(node._value!, values);
    node._provided = true;
  }

  private writeInto(dst: Tensor, values: Tensor | ArrayLike<number>): void {
    if (values instanceof Tensor) {
      if (values.ptr !== dst.ptr) this.rt.kernels.copy_f32(values.ptr, dst.ptr, dst.size);
    } else {
      dst.data.set(values);
    }
  }

  private dryRunShape(op: CustomOp, name: string, inputs: readonly Node[]): Shape {
    const temps = inputs.map((n) => allocTensor(this.rt, n.shape, name).fill(0));
    const ctx = new CustomState(inputs.map(() => false), null, name);
    let out: unknown;
    try {
      out = op.forward(ctx, ...temps);
      if (!(out instanceof Tensor)) throw new TypeError(`${name}: forward must return a Tensor, got ${typeName(out)}`);
      return out.shape;
    } finally {
      const keep = new Set<Tensor>();
      if (out instanceof Tensor && !temps.includes(out) && out.host === this.rt) out.dispose();
      for (const t of ctx.saved) if (!temps.includes(t) && !keep.has(t) && t !== out) t.dispose();
      for (const t of temps) t.dispose();
    }
  }

  private runCustomForward(node: Node, st: Step): void {
    const ctx = st.custom!;
    const old = ctx.saved;
    const mem = this.rt.memory;
    let buf = mem.buffer;
    let out = this.callCustomForward(node, ctx);
    if (mem.buffer !== buf) {
      // Memory grew while the user's forward ran: any t.data view it read before allocating
      // went stale, so its result cannot be trusted. Run it again; now its allocations fit.
      const first = ctx.saved;
      ctx.saved = [];
      for (const t of first) if (!old.includes(t)) this.disposeForeign(t);
      if (!first.includes(out) && !old.includes(out)) this.disposeForeign(out);
      buf = mem.buffer;
      out = this.callCustomForward(node, ctx);
      if (mem.buffer !== buf) throw new Error(growthMessage(node.custom!.name, "forward"));
    }
    this.writeInto(node._value!, out);
    for (const t of old) if (!ctx.saved.includes(t)) this.disposeForeign(t);
    if (!ctx.saved.includes(out)) this.disposeForeign(out);
  }

  /** Calls a custom op's forward and checks what it returns (a live tensor of this runtime, of the node's shape). */
  private callCustomForward(node: Node, ctx: CustomState): Tensor {
    const op = node.custom!;
    ctx.saved = [];
    const args = node.inputs.map((n) => n._value!);
    const out = op.forward(ctx, ...args);
    if (!(out instanceof Tensor)) throw new TypeError(`${op.name}: forward must return a Tensor, got ${typeName(out)}`);
    checkTensor(out, op.name, this.rt, "the tensor forward returned");
    if (!sameShape(out.shape, node.shape)) {
      throw new Error(`${op.name}: forward returned ${fmtShape(out.shape)}, the node's shape is ${fmtShape(node.shape)}`);
    }
    for (let i = 0; i < ctx.saved.length; i++) checkTensor(ctx.saved[i], op.name, this.rt, `saved tensor ${i + 1} (ctx.save)`);
    return out;
  }

  private runCustomBackward(node: Node, st: Step): void {
    const op = node.custom!;
    if (!op.backward) return;
    const mem = this.rt.memory;
    let buf = mem.buffer;
    let grads = this.callCustomBackward(node, st);
    if (mem.buffer !== buf) {
      // As in forward: views read before an allocation went stale; run it once more.
      for (const g of grads) if (g) this.disposeForeign(g);
      buf = mem.buffer;
      grads = this.callCustomBackward(node, st);
      if (mem.buffer !== buf) throw new Error(growthMessage(op.name, "backward"));
    }
    const k = this.rt.kernels;
    for (let i = 0; i < grads.length; i++) {
      const g = grads[i];
      const dx = st.dxs[i];
      if (g && dx) k.axpy_f32(g.ptr, dx.ptr, dx.size, 1);
    }
    for (const g of grads) if (g) this.disposeForeign(g);
  }

  /** Calls a custom op's backward and checks its gradients (one per input, null or a live tensor of this runtime shaped like the input). */
  private callCustomBackward(node: Node, st: Step): (Tensor | null)[] {
    const op = node.custom!;
    const grads = op.backward!(st.custom!, node._grad!);
    if (!Array.isArray(grads) || grads.length !== node.inputs.length) {
      throw new Error(
        `${op.name}: backward must return one gradient (or null) per input: expected ${node.inputs.length}, got ${Array.isArray(grads) ? grads.length : typeName(grads)}`,
      );
    }
    for (let i = 0; i < grads.length; i++) {
      const g = grads[i];
      const input = node.inputs[i]!;
      if (g === null || g === undefined) continue;
      if (!(g instanceof Tensor)) throw new TypeError(`${op.name}: backward's gradient ${i + 1} must be a Tensor or null, got ${typeName(g)}`);
      checkTensor(g, op.name, this.rt, `backward's gradient ${i + 1}`);
      if (!sameShape(g.shape, input.shape)) {
        throw new Error(`${op.name}: backward's gradient ${i + 1} has shape ${fmtShape(g.shape)}, but input ${input.describe()} has shape ${fmtShape(input.shape)}`);
      }
    }
    return grads;
  }

  /** Disposes a tensor the user's code made, but never one the graph owns or still uses. */
  private disposeForeign(t: Tensor): void {
    if (t.disposed || t.host !== this.rt) return;
    if (t.owner === "graph") return;
    for (const n of this.nodes) if (n._value === t || n._grad === t) return;
    for (const st of this.plan?.steps.values() ?? []) if (st.custom && st.custom.saved.includes(t)) return;
    t.dispose();
  }

  private assertFinite(k: Kernels, node: Node, buf: Buf, phase: string, what: string): void {
    const bad = k.count_nonfinite(buf.ptr, buf.size);
    if (bad > 0) {
      const ins = node.inputs.map((n) => n.describe()).join(", ");
      throw new Error(`${phase}: ${node.describe()} has NaN or Inf in its ${what} (${bad} of ${buf.size} values)${ins ? `; its inputs: ${ins}` : ""}`);
    }
  }

  private ensurePlan(): Plan {
    const p = this.plan;
    if (p !== null && p.nodeCount === this.nodes.length) return p;
    if (this.dynamicInputs().length > 0 && p === null) {
      throw new Error(`the graph has inputs with a -1 dimension (${this.dynamicInputs().map((n) => n.describe()).join(", ")}): run g.forward with them first`);
    }
    return this.selectPlan(p !== null ? p.key : []);
  }

  /** Inputs declared with a -1 dimension, in creation order. */
  private dynamicInputs(): Node[] {
    if (this._dynamic === null || this._dynamicCount !== this.nodes.length) {
      this._dynamic = this.nodes.filter((n) => n.kind === "input" && hasFree(n.declShape));
      this._dynamicCount = this.nodes.length;
    }
    return this._dynamic;
  }
  private _dynamic: Node[] | null = null;
  private _dynamicCount = -1;

  /**
   * The plan key of a forward call: the shapes of the inputs with a -1 dimension, from the
   * feeds (checked here) or, for one not fed, from the current plan. [] for a graph without
   * such inputs.
   */
  private feedKey(feeds: Feeds): number[] {
    const dyn = this.dynamicInputs();
    if (dyn.length === 0) return [];
    const key: number[] = [];
    const cur = this.plan !== null && this.plan.nodeCount === this.nodes.length ? this.plan : null;
    let fedAll = true;
    for (const n of dyn) {
      if (n.name in feeds) {
        for (const d of this.feedShape(n, feeds[n.name]!, "forward")) key.push(d);
      } else {
        fedAll = false;
        if (cur === null) throw new Error(`forward: input ${n.describe()} was not fed (pass { ${n.name}: data } to forward; its -1 dimension is set by the data)`);
        for (const d of cur.shapes[n.id]!) key.push(d);
      }
    }
    if (!fedAll && cur !== null && !sameKey(cur.key, key)) {
      const missing = dyn.filter((n) => !(n.name in feeds)).map((n) => n.describe());
      throw new Error(`forward: the feeds set new shapes for the -1 dimensions; feed ${missing.join(", ")} too`);
    }
    return key;
  }

  /** The shape `values` gives input `node` (declared with a -1 dimension), or an error naming both. */
  private feedShape(node: Node, values: unknown, op: string): Shape {
    const decl = node.declShape;
    const what = `data for input '${node.name}' ${fmtShape(decl)}`;
    if (values instanceof Tensor) {
      checkTensor(values, op, this.rt, what);
      const s = values.shape;
      if (s.length !== decl.length || decl.some((d, i) => d !== -1 && d !== s[i])) {
        throw new Error(`${op}: ${what} has shape ${fmtShape(s)}, which does not fit ${fmtShape(decl)}`);
      }
      return s;
    }
    if (values === null || typeof values !== "object" || typeof (values as ArrayLike<number>).length !== "number") {
      throw new TypeError(`${op}: ${what} must be a Tensor or an array of numbers, got ${typeName(values)}`);
    }
    const len = (values as ArrayLike<number>).length;
    const free = decl.filter((d) => d === -1).length;
    let known = 1;
    for (const d of decl) if (d !== -1) known *= d;
    if (free > 1) throw new Error(`${op}: ${what} has ${free} dimensions of -1: feed a Tensor of the shape wanted`);
    if (known === 0 ? len !== 0 : len % known !== 0) {
      throw new RangeError(`${op}: ${what} has ${len} values, not a multiple of ${known} (the product of its other dimensions)`);
    }
    if (known === 0) throw new Error(`${op}: ${what}: the -1 dimension cannot be found from an empty array; feed a Tensor`);
    return decl.map((d) => (d === -1 ? len / known : d));
  }

  /**
   * Makes the plan for `key` current: a kept one, or a new one (shapes inferred first, so a
   * shape error changes nothing). Keeps at most MAX_PLANS, dropping the least recently used.
   */
  private selectPlan(key: number[]): Plan {
    if (this.plan !== null && this.plan.nodeCount !== this.nodes.length) this.dropPlan();
    let p = this.plans.find((q) => sameKey(q.key, key)) ?? null;
    if (p === null) {
      const shapes = this.inferShapes(key);
      const prev = this.plan;
      try {
        p = this.makePlan(shapes, key);
      } catch (e) {
        this.plan = null;
        if (prev !== null) this.activate(prev);
        else for (const n of this.nodes) n._shape = n.declShape;
        throw e;
      }
      this.plans.push(p);
      while (this.plans.length > MAX_PLANS) this.releasePlan(this.plans.shift()!);
    } else {
      this.plans.splice(this.plans.indexOf(p), 1);
      this.plans.push(p);
    }
    this.activate(p);
    return p;
  }

  /** Each node's shape for the -1 dimensions in `key` (shape errors name the op and the shapes). */
  private inferShapes(key: readonly number[]): Shape[] {
    const shapes: Shape[] = new Array(this.nodes.length);
    let k = 0;
    for (const n of this.nodes) {
      // A node is re-checked when it or one of its inputs has a -1 dimension.
      if (!hasFree(n.declShape) && !n.inputs.some((i) => hasFree(i.declShape))) shapes[n.id] = n.declShape;
      else if (n.kind === "input") {
        shapes[n.id] = Object.freeze(key.slice(k, k + n.declShape.length));
        k += n.declShape.length;
      } else if (n.kind === "op") {
        shapes[n.id] = checkShape(n.op!.shape(n.inputs.map((i) => shapes[i.id]!), n.attrs), n.opName);
      } else {
        shapes[n.id] = checkShape(n.custom!.shape!(...n.inputs.map((i) => shapes[i.id]!)), n.opName);
      }
    }
    return shapes;
  }

  /** Points every node at plan p's shapes and buffers. */
  private activate(p: Plan): void {
    if (this.plan === p) return;
    for (const n of this.nodes) {
      if (n.id >= p.nodeCount) break;
      n._shape = p.shapes[n.id]!;
      if (n.kind === "op" || n.kind === "custom" || (n.kind === "input" && hasFree(n.declShape))) {
        n._value = p.vals[n.id]!;
        n._grad = p.grads[n.id]!;
      }
    }
    this.plan = p;
    this.ranForward = false;
  }

  /** Drops every plan (the graph changed, or is disposed). */
  private dropPlan(): void {
    for (const n of this.nodes) {
      if (n.kind === "op" || n.kind === "custom" || (n.kind === "input" && hasFree(n.declShape))) {
        n._value = null;
        n._grad = null;
        n._provided = n._provided && n.kind === "input" && !hasFree(n.declShape);
      }
      n._shape = n.declShape;
    }
    for (const p of this.plans) this.releasePlan(p);
    if (this.plan !== null && !this.plans.includes(this.plan)) this.releasePlan(this.plan);
    this.plans = [];
    this.plan = null;
    this.ranForward = false;
  }

  /** Frees one plan's buffers. */
  private releasePlan(p: Plan): void {
    // Tensors kept with ctx.save belong to the engine: free them with the plan.
    const saved: Tensor[] = [];
    for (const st of p.steps.values()) {
      if (st.custom) {
        saved.push(...st.custom.saved);
        st.custom.saved = [];
      }
    }
    for (const t of saved) this.disposeForeign(t);
    for (const t of p.tensors) t._kill();
    if (!this.rt.closed) for (const b of p.blocks) this.rt.arena.release(b);
    p.blocks.length = 0;
  }

  private makePlan(shapes: readonly Shape[], key: number[]): Plan {
    // Every node takes this plan's shape while its buffers are laid out.
    for (const n of this.nodes) n._shape = shapes[n.id]!;
    const dynInputs = this.dynamicInputs();
    const computed = this.nodes.filter((n) => n.kind === "op" || n.kind === "custom");
    // Views (reshape) share their input's value buffer, and its gradient buffer when that
    // one is planned here (an op node's); a leaf's gradient accumulates across runs, so a
    // view of a leaf gets a gradient of its own and adds it in backward.
    const viewOf = (n: Node): Node | null => (n.op?.view !== undefined ? n.inputs[n.op.view]! : null);
    const sharesGrad = (n: Node): boolean => {
      const src = viewOf(n);
      return src !== null && n.requiresGrad && src.requiresGrad && (src.kind === "op" || src.kind === "custom");
    };
    const valueFloats = computed.reduce((s, n) => s + (viewOf(n) ? 0 : pad4(n.size)), 0);
    const gradNodes = computed.filter((n) => n.requiresGrad && !sharesGrad(n));
    const gradFloats = gradNodes.reduce((s, n) => s + pad4(n.size), 0);
    const savedShapes = computed.map((n) => (n.op?.saved ? n.op.saved(n.inputs.map((i) => i.shape), n.attrs) : []));
    const savedFloats = savedShapes.reduce((s, list) => s + list.reduce((t, sh) => t + pad4(sizeOf(sh)), 0), 0);
    const scratchBytes = computed.reduce(
      (m, n) => Math.max(m, n.op?.scratchBytes ? n.op.scratchBytes(n.inputs.map((i) => i.shape), n.attrs) : 0),
      0,
    );
    const blocks: number[] = [];
    const tensors: Tensor[] = [];
    const alloc = (floats: number, what: string) => {
      const ptr = this.rt.arena.alloc(floats * 4, what);
      blocks.push(ptr);
      return ptr;
    };
    try {
      const valuesPtr = alloc(valueFloats, "graph values");
      const gradPtr = alloc(gradFloats, "graph gradients");
      const savedPtr = alloc(savedFloats, "graph saved tensors");
      const scratch = scratchBytes > 0 ? alloc(Math.ceil(scratchBytes / 4), "graph scratch") : 0;
      const view = (ptr: number, shape: Shape, label: string) => {
        const t = new Tensor(this.rt, shape, ptr, "graph", label);
        tensors.push(t);
        return t;
      };
      // Inputs with a -1 dimension: value (and gradient) buffers of this plan's shape, zeroed
      // (their gradients accumulate across runs, as leaves' do, until zeroGrad).
      if (dynInputs.length > 0) {
        const floats = dynInputs.reduce((a, n) => a + pad4(n.size) * (n.requiresGrad ? 2 : 1), 0);
        let ip = alloc(floats, "graph inputs");
        this.rt.kernels.fill_f32(ip, floats, 0);
        for (const n of dynInputs) {
          n._value = view(ip, n.shape, n.name);
          ip += pad4(n.size) * 4;
          n._provided = false;
          if (n.requiresGrad) {
            n._grad = view(ip, n.shape, `grad of ${n.name}`);
            ip += pad4(n.size) * 4;
          }
        }
      }
      let v = valuesPtr;
      for (const n of computed) {
        const src = viewOf(n);
        if (src) n._value = view(src._value!.ptr, n.shape, n.name);
        else {
          n._value = view(v, n.shape, n.name);
          v += pad4(n.size) * 4;
        }
      }
      let gp = gradPtr;
      for (const n of computed) {
        if (!n.requiresGrad) continue;
        if (sharesGrad(n)) n._grad = view(viewOf(n)!._grad!.ptr, n.shape, `grad of ${n.name}`);
        else {
          n._grad = view(gp, n.shape, `grad of ${n.name}`);
          gp += pad4(n.size) * 4;
        }
      }
      const steps = new Map<number, Step>();
      let sp = savedPtr;
      computed.forEach((n, idx) => {
        const saved = savedShapes[idx]!.map((sh) => {
          const t = view(sp, sh, `saved by ${n.name}`);
          sp += pad4(sizeOf(sh)) * 4;
          return t;
        });
        steps.set(n.id, {
          node: n,
          xs: n.inputs.map((i) => i._value!),
          y: n._value!,
          dy: n._grad,
          dxs: n.inputs.map((i) => (i.requiresGrad ? i._grad : null)),
          env: { saved, scratch, mode: this.mode },
          custom: n.kind === "custom" ? new CustomState(n.inputs.map((i) => i.requiresGrad), n._value!, n.custom!.name) : null,
        });
      });
      const vals: (Tensor | null)[] = this.nodes.map((n) => (n.kind === "op" || n.kind === "custom" || dynInputs.includes(n) ? n._value : null));
      const grads: (Tensor | null)[] = this.nodes.map((n) => (n.kind === "op" || n.kind === "custom" || dynInputs.includes(n) ? n._grad : null));
      return {
        nodeCount: this.nodes.length, key, shapes: shapes.slice(), vals, grads,
        blocks, steps, gradBlock: { ptr: gradPtr, n: gradFloats }, tensors, orders: new Map(),
      };
    } catch (e) {
      for (const t of tensors) t._kill();
      for (const b of blocks) this.rt.arena.release(b);
      for (const n of [...computed, ...dynInputs]) {
        n._value = null;
        n._grad = null;
      }
      throw e;
    }
  }
}

function growthMessage(op: string, phase: string): string {
  return (
    `${op}: linear memory grew while its ${phase} ran, twice in a row; a Float32Array view (t.data) read before an ` +
    `allocation is stale after it (detached, reading undefined). Write the result into ctx.output (allocated by the ` +
    `graph), dispose what the op allocates, and read .data again after every allocation`
  );
}

/** Rounds a float count up to a multiple of 4 so every buffer starts 16-byte aligned. */
function pad4(n: number): number {
  return Math.max(4, Math.ceil(n / 4) * 4);
}

installMethods(Graph.prototype, (g: Graph, m, args) => g._method(m, args));
