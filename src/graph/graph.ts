/**
 * Graphs: build once, run forward and backward many times.
 *
 * `Graph` is the public face; the work is done by one part per responsibility, over the
 * graph's shared state (./core.ts):
 *   - ./builder.ts: inputs, params, op and custom nodes, shapes checked as they are built;
 *   - ./plan.ts: one plan per feed shape: every buffer laid out in linear memory, each op's
 *     geometry prepared once (OpDef.prepare), views folded into their consumers' layouts;
 *   - ./run.ts: forward and backward as loops over the plan's prepared steps;
 *   - ./custom-host.ts: running users' custom ops, with every check on what they return;
 *   - ./health.ts: gradient statistics and the anomaly hook (./stats.ts).
 * Saving, loading and exporting live in src/io/ and are reached from here.
 */
import type { OpDef } from "../ops/op.js";
import type { Runtime } from "../runtime/runtime.js";
import { fmtShape } from "../runtime/shape.js";
import type { Tensor } from "../runtime/tensor.js";
import type { CustomOp } from "./custom.js";
import { Node } from "./node.js";
import { topoSort } from "./topo.js";
import type { AnomalyCallback, AnomalyOptions, GraphStats } from "./stats.js";
import { type LoadParamsOptions, type SaveParamsOptions, loadParams, saveParams } from "../io/params.js";
import type { ExportOnnxOptions } from "../io/onnx.js";
import { type GraphOps, installMethods } from "../ops/registry.js";
import type { Method } from "../ops/define.js";
import { GraphCore } from "./core.js";
import { type InputOptions, type ParamOptions, Builder } from "./builder.js";
import { MAX_PLANS, Planner } from "./plan.js";
import { type Feeds, type RunOptions, Runner } from "./run.js";
import { CustomHost } from "./custom-host.js";
import { Health } from "./health.js";

declare module "../runtime/kernels.js" {
  interface Kernels {
    /** assembly/check.ts: how many of n values are NaN or ±Inf. */
    count_nonfinite(x: number, n: number): number;
  }
}

export type { Feeds, InputOptions, ParamOptions, RunOptions };
export { MAX_PLANS } from "./plan.js";

export interface GraphOptions {
  /**
   * How many plans the graph keeps, one per distinct shape fed to its -1 dimensions (default
   * 8, least recently used dropped first). The plans share one region of linear memory, as
   * large as the largest plan needs (a plan for smaller shapes lays its buffers out in it), so
   * a plan kept costs only its bookkeeping in JavaScript (about 65 KB for the demo's char model). A graph fed
   * more distinct shapes than this in rotation plans again on every run (without allocating
   * when the shapes fit the region); raise it to keep them all.
   */
  maxPlans?: number;
}

let graphIds = 0;

/**
 * The op methods (g.relu, g.gelu, …) come from the op definitions through src/ops/registry.ts
 * (see src/ops/define.ts): typed here, installed on the prototype below the class.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface, @typescript-eslint/no-unsafe-declaration-merging
export interface Graph extends GraphOps<Node> {}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class Graph {
  readonly id = ++graphIds;
  readonly #core: GraphCore;
  readonly #planner: Planner;
  readonly #customs: CustomHost;
  readonly #builder: Builder;
  readonly #runner: Runner;
  readonly #health: Health;

  /** @internal use sg.graph() */
  constructor(rt: Runtime, opts: GraphOptions = {}) {
    if (opts === null || typeof opts !== "object") throw new TypeError(`graph: options must be an object, got ${opts === null ? "null" : typeof opts}`);
    const maxPlans = opts.maxPlans ?? MAX_PLANS;
    if (typeof maxPlans !== "number" || !Number.isInteger(maxPlans) || maxPlans < 1) throw new RangeError(`graph: maxPlans must be a whole number ≥ 1, got ${String(maxPlans)}`);
    const core = (this.#core = new GraphCore(rt, this));
    let planner: Planner | null = null;
    const customs = (this.#customs = new CustomHost(core, (t) => planner!.savedByPlan(t)));
    planner = this.#planner = new Planner(core, (t) => customs.disposeForeign(t));
    planner.maxPlans = maxPlans;
    this.#builder = new Builder(core, planner, customs);
    this.#runner = new Runner(core, planner, customs);
    this.#health = new Health(core);
  }

  get disposed(): boolean {
    return this.#core.disposed || this.#core.rt.closed;
  }

  /** The trainable parameters, in creation order. */
  get params(): Node[] {
    return this.#core.paramList.slice();
  }

  /** The inputs, in creation order. */
  get inputs(): Node[] {
    return this.#core.nodes.filter((n) => n.kind === "input");
  }

  /** A node by name (inputs and params are named; ops get `op#id` unless named). */
  node(name: string): Node | undefined {
    return this.#core.byName.get(name);
  }

  // ------------------------------------------------------------------ building (./builder.ts)

  /** An input, fed by `name` in `forward`. */
  input(shape: readonly number[], name: string, opts: InputOptions = {}): Node {
    this.#core.alive("input");
    return this.#builder.input(shape, name, opts ?? {});
  }

  /** A trainable parameter; it holds its value from creation. */
  param(shape: readonly number[], opts: ParamOptions = {}): Node {
    this.#core.alive("param");
    return this.#builder.param(shape, opts ?? {});
  }

  /**
   * Training mode (default on): dropout drops only while it is on. Returns the graph.
   */
  train(on = true): this {
    this.#core.mode.training = on !== false;
    return this;
  }
  /** Whether the graph is in training mode (see train()). */
  get training(): boolean {
    return this.#core.mode.training;
  }

  /**
   * @internal The number of training-mode forward runs so far: with the dropout seeds, what
   * decides the next masks (checkpoints save and restore it).
   */
  get _trainingRuns(): number {
    return this.#core.mode.step + 1;
  }
  /** @internal see _trainingRuns; a non-negative integer. */
  set _trainingRuns(n: number) {
    this.#core.mode.step = n - 1;
  }

  /** A user-defined op (see CustomOp): forward and backward over Tensors. */
  custom(op: CustomOp, ...inputs: Node[]): Node {
    this.#core.alive("custom");
    return this.#builder.custom(op, inputs);
  }

  /** Gives a node a name (for messages, `g.order()` and `g.node(name)`; inputs are fed by it); returns the node. */
  name(node: Node, name: string): Node {
    this.#core.alive("name");
    return this.#builder.rename(node, name);
  }

  // ------------------------------------------------------------------ planning (./plan.ts) and running (./run.ts)

  /**
   * The topological order the graph runs: every node the outputs depend on, each after its
   * inputs (default outputs: the nodes nothing else consumes).
   */
  order(outputs?: readonly Node[]): Node[] {
    this.#core.alive("order");
    if (outputs === undefined) return this.#core.defaultOrder().slice();
    for (const o of outputs) this.#core.own(o, "order");
    return topoSort(outputs);
  }

  /**
   * Plans every buffer now (otherwise the first forward does). With inputs with a -1
   * dimension, `shapes` gives each such input's shape (`{ ids: [1, 64] }`) and that plan is
   * made now and becomes current (an input left out keeps the current plan's shape). The
   * graph's plans share one region of memory as large as the largest plan: compiling for the
   * largest shapes first lets every smaller one be planned without allocating, e.g. a context
   * that grows one token per run up to 64.
   */
  compile(shapes?: Record<string, readonly number[]>): this {
    this.#core.alive("compile");
    if (shapes !== undefined && shapes !== null) {
      this.#planner.selectPlan(this.#planner.shapesKey(shapes, "compile"));
      return this;
    }
    // With a -1 input dimension, each feed shape is planned by its first forward run.
    if (this.#core.dynamicInputs().length === 0 || this.#planner.plan !== null) this.#planner.ensurePlan("compile");
    return this;
  }

  /** How many plans the graph keeps: one per distinct shape fed to its -1 dimensions (at most `maxPlans`, default 8). */
  get planCount(): number {
    return this.#planner.plans.length;
  }

  /**
   * Feeds inputs by name, then computes every node in topological order (or only what
   * `outputs` depend on). An input keeps its last fed value; an input never fed is an error.
   */
  forward(feeds: Feeds = {}, opts: RunOptions & { outputs?: readonly Node[] } = {}): void {
    this.#core.alive("forward");
    this.#runner.forward(feeds ?? {}, opts ?? {});
  }

  /**
   * Backpropagation from `output`: its gradient is seeded with 1 (or `upstream`, required
   * when the output is not a scalar), then every node it depends on, in reverse topological
   * order, adds its inputs' gradients. Leaf gradients accumulate until `zeroGrad()`.
   */
  backward(output: Node, upstream?: Tensor | ArrayLike<number> | null, opts: RunOptions = {}): void {
    this.#core.alive("backward");
    this.#runner.backward(output, upstream, opts ?? {});
  }

  /** Sets every leaf gradient (params, inputs with requiresGrad) to zero. */
  zeroGrad(): void {
    this.#core.alive("zeroGrad");
    this.#runner.zeroGrad();
  }

  /** Frees every buffer of the graph; its nodes and tensors become unusable. */
  dispose(): void {
    const core = this.#core;
    if (core.disposed) return;
    this.#planner.dropPlan();
    for (const t of core.leafTensors) {
      if (!core.rt.closed) core.rt.arena.release(t.ptr);
      t._kill();
    }
    core.leafTensors.length = 0;
    core.disposed = true;
  }

  // ------------------------------------------------------------------ gradient health (./health.ts)

  /**
   * Starts (or with `false` stops) collecting gradient statistics: after every backward run
   * one kernel pass over the params' gradients records each one's ‖g‖₂ and max |g|, and a
   * step of `sg.sgd` / `sg.adam` over these params also records ‖Δw‖ in the same pass as its
   * update. Read them with `stats()`. Off by default; on, it adds one small block of linear
   * memory (allocated now) and 2–3% to a training step of a 784→256→10 MLP (SGD, batch 64;
   * bench/stats-overhead.mjs).
   */
  trackStats(on = true): this {
    this.#core.alive("trackStats");
    this.#health.trackStats(on);
    return this;
  }

  /** Whether `trackStats(true)` is in effect. */
  get tracksStats(): boolean {
    return this.#health.on;
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
    this.#core.alive("stats");
    return this.#health.stats();
  }

  /**
   * Each param's ‖g‖₂ after the last backward run, in `g.params` order, into `out` (or a
   * new Float64Array); NaN before the first run. Allocates nothing when given `out`: made
   * for plotting every step. Needs `trackStats(true)`.
   */
  gradNorms(out?: Float64Array): Float64Array {
    this.#core.alive("gradNorms");
    return this.#health.gradNorms(out);
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
    this.#core.alive("onAnomaly");
    return this.#health.onAnomaly(cb, opts);
  }

  /** Called at the end of every backward run (gradient statistics and the anomaly hook use it). @internal */
  get _afterBackward(): ((output: Node) => void) | null {
    return this.#core.afterBackward;
  }
  set _afterBackward(hook: ((output: Node) => void) | null) {
    this.#core.afterBackward = hook;
  }

  // ------------------------------------------------------------------ saving, loading, exporting (src/io/)

  /** The params as a safetensors file (F32), each under its name. */
  saveParams(opts?: SaveParamsOptions): Uint8Array {
    this.#core.alive("saveParams");
    return saveParams(this, opts);
  }

  /**
   * Sets the params from a safetensors file (F32, F16 or BF16), by name. Every name and shape
   * is checked first: a missing or extra name or a shape mismatch is an error naming it, and
   * then nothing has changed.
   */
  loadParams(bytes: Uint8Array | ArrayBuffer, opts?: LoadParamsOptions): void {
    this.#core.alive("loadParams");
    loadParams(this, bytes, opts);
  }

  /**
   * An ONNX model (opset 17 to 21) computing `outputs` from `inputs` with the params' current
   * values, for inference (dropout is the identity). Asynchronous: resolves to the bytes of a
   * .onnx file. The protobuf encoder (@bufbuild/protobuf, an optional peer dependency) is
   * imported on the first export, so it stays out of every other code path and of the
   * browser bundle; pass `protobuf` (its `wire` module) where the package name cannot be
   * imported. Everything is checked before the encoder loads: a bad option, an input the
   * outputs need but not listed, a custom op or a loss rejects with an error naming the node.
   * Convolutions and pools are written channels first between transposes; inputs and outputs
   * keep this graph's layouts (NHWC). The exporter itself is imported on first use too, so
   * a page that never exports does not fetch it.
   */
  async exportOnnx(opts: ExportOnnxOptions): Promise<Uint8Array> {
    this.#core.alive("exportOnnx"); // (a disposed graph rejects, as every other mistake does)
    const { exportOnnx } = await import("../io/onnx.js");
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
    if (node._folded) this.#planner.formValue(node);
    return node._value;
  }

  /** @internal */
  _gradOf(node: Node): Tensor | null {
    if (node._folded) this.#planner.formGrad(node);
    return node._grad;
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
    this.#runner.checkValues(node, values, op);
    this.#runner.write(node, values);
    node._stamp = -1;
  }

  /** @internal a leaf's value changed outside forward (an optimizer step): backward must wait for the next forward. */
  _changed(node: Node): void {
    node._stamp = -1;
  }

  /** @internal the runtime whose memory holds this graph's tensors. */
  get _host(): Runtime {
    return this.#core.rt;
  }

  /** @internal */
  _rename(node: Node, name: string): void {
    this.name(node, name);
  }

  /** @internal whether views are folded into their consumers' layouts (on by default; off to compare with the copied path). */
  get _foldLayouts(): boolean {
    return this.#planner.foldLayouts;
  }
  set _foldLayouts(on: boolean) {
    if (on !== this.#planner.foldLayouts) {
      this.#planner.dropPlan();
      this.#planner.foldLayouts = on;
    }
  }

  /** @internal whether backward writes gradients fresh where it can (on by default; off to zero them all first and compare). */
  get _freshGrads(): boolean {
    return this.#planner.freshGrads;
  }
  set _freshGrads(on: boolean) {
    if (on !== this.#planner.freshGrads) {
      this.#planner.dropPlan();
      this.#planner.freshGrads = on;
    }
  }

  /** @internal whether the graph's plans share one region of memory (on by default; off to compare with a region per plan). */
  get _sharePlanMemory(): boolean {
    return this.#planner.shareMemory;
  }
  set _sharePlanMemory(on: boolean) {
    if (on !== this.#planner.shareMemory) {
      this.#planner.dropPlan();
      this.#planner.shareMemory = on;
    }
  }

  // ------------------------------------------------------------------ op nodes

  /** @internal a node applying any op definition (the generic op test uses it) */
  _applyOp<A>(op: OpDef<A>, inputs: Node[], attrs: A): Node {
    return this.#builder.op(op, inputs, attrs);
  }

  /** @internal runs a registry method's call on nodes */
  _method(m: Method, args: unknown[]): Node {
    const c = m.call(...args);
    return this.#builder.op(c.op, c.inputs as unknown as Node[], c.attrs);
  }
}

installMethods(Graph.prototype, (g: Graph, m, args) => g._method(m, args));
