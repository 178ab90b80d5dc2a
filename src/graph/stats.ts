/**
 * Gradient health: why a net learns or not, measured while it trains.
 *
 * A StatsTracker belongs to one graph and works through kernels over the buffers the graph
 * already has (assembly/stats.ts); the only memory it adds is one small block in linear
 * memory, allocated when collection starts (or a param is added), never per step:
 *
 *   [scratch 16 B][table: per param (grad offset, length) as two i32][records: per param 5 f64]
 *   record: Σg², max|g|, previous Σg², flag, Σ(Δw)²
 *
 * After every backward run one `grad_stats` call fills the first four fields of every record
 * (and flags NaN/Inf and growth for the anomaly hook); a tracked optimizer step writes the
 * last in the same pass as its update (see `updateStatsPtr`). Activation shares and
 * weight norms are computed when `stats()` is asked for, from the values of the last forward
 * run, so they cost nothing per step.
 */
import type { Runtime } from "../runtime/runtime.js";
import type { Tensor } from "../runtime/tensor.js";
import type { Node } from "./node.js";

import { type FlatRegion, flatRegion } from "../ops/activations.js";

declare module "../runtime/kernels.js" {
  interface Kernels {
    /** assembly/stats.ts: gradient records of `count` buffers listed in `table`; returns how many were flagged. */
    grad_stats(table: number, count: number, rec: number, growth: number): number;
    /** assembly/stats.ts: flat-region counts of an activation output [rows, cols] into two f64 at out. */
    flat_stats(kind: number, y: number, rows: number, cols: number, out: number): void;
    /** assembly/stats.ts: Σx² in f64 (scratch: 16 bytes, 8-aligned). */
    sum_squares(x: number, n: number, scratch: number): number;
    /** assembly/stats.ts: max |x| (NaN if any x is NaN; scratch: 16 bytes, 8-aligned). */
    max_abs(x: number, n: number, scratch: number): number;
    /** assembly/stats.ts: x ← clamp(x, lo, hi) in place; NaN stays NaN. */
    clip_values(x: number, n: number, lo: number, hi: number): void;
  }
}

/** Statistics of one parameter (plain data). */
export interface ParamStats {
  name: string;
  shape: number[];
  /** ‖g‖₂ of its gradient after the last backward run (null before the first). Values below 2.2e-19 count as 0. */
  gradNorm: number | null;
  /** max |g| after the last backward run (null before the first; NaN if g has a NaN). */
  gradMaxAbs: number | null;
  /** ‖w‖₂ now. */
  weightNorm: number;
  /** ‖Δw‖₂ of the last optimizer step (null until a step of sg.sgd or sg.adam since collection began). */
  updateNorm: number | null;
  /** ‖Δw‖ / ‖w‖, w the weights now (after that step): null with no step, or when w is all zeros. */
  updateRatio: number | null;
}

/** The flat region an activation's share counts. */
export type { FlatRegion };

/** Flat-region shares of one activation node over the batch of the last forward run (plain data). */
export interface ActivationStats {
  name: string;
  /** The activation: relu, sigmoid, tanh, hardTanh or step (also inside a fused linear node). */
  activation: "relu" | "sigmoid" | "tanh" | "hardTanh" | "step";
  /** The graph op of the node: the activation's own name, or "linear". */
  op: string;
  shape: number[];
  /**
   * What is counted: "dead" (relu output exactly 0), "saturated" (sigmoid within 0.01 of 0 or
   * 1, tanh within 0.01 of ±1), "clipped" (hardTanh at ±1) or "step" (a threshold unit is
   * flat everywhere).
   */
  region: FlatRegion;
  /** Units: the last dimension. */
  units: number;
  /** Rows of the batch: every dimension but the last. */
  rows: number;
  /** Share of all rows·units values in the flat region, 0..1. */
  flatShare: number;
  /** Units flat for every row of the batch (for relu: dead units). */
  flatUnits: number;
  /** flatUnits / units. */
  flatUnitShare: number;
}

/** What `g.stats()` returns: plain objects, safe to keep, copy or JSON.stringify. */
export interface GraphStats {
  /** Backward runs since collection began. */
  runs: number;
  /** Global ‖g‖₂ over every param (the norm sg.clipGradNorm uses); null before the first run. */
  gradNorm: number | null;
  params: ParamStats[];
  activations: ActivationStats[];
}

export type AnomalyKind = "nonfinite-loss" | "nonfinite-gradient" | "gradient-growth";

/** Where a NaN or Inf first shows: the first value in forward order, else the first gradient in backward order. */
export interface AnomalyOrigin {
  node: Node;
  name: string;
  phase: "forward" | "backward";
  /** How many of its values (forward) or gradient values (backward) are NaN or ±Inf. */
  nonfinite: number;
}

/** One event of `g.onAnomaly`. */
export interface Anomaly {
  kind: AnomalyKind;
  /** The node concerned: the backward output (loss) or the param whose gradient misbehaves. */
  node: Node;
  name: string;
  /** One sentence naming the node and what happened. */
  message: string;
  /** The backward run (counted from 1 since the graph started watching) it happened in. */
  run: number;
  /** The param's ‖g‖₂ now (NaN/Inf for non-finite gradients); absent for the loss. */
  gradNorm?: number;
  /** For "gradient-growth": the previous run's ‖g‖₂ and the ratio now / before. */
  previousGradNorm?: number;
  growth?: number;
  /** For non-finite events: how many values are NaN or ±Inf, and where the first ones appear. */
  nonfinite?: number;
  origin?: AnomalyOrigin | null;
}

export interface AnomalyOptions {
  /**
   * Also fire when a param's gradient norm grows by more than this factor from one backward
   * run to the next (a number > 1). Default: off (only NaN/Inf fire).
   */
  growthFactor?: number;
}

/**
 * Called at most once per backward run: `anomaly` is the first event of the run (the loss
 * before params, params in creation order) and `all` every event of the run this listener
 * asked for, `anomaly` first.
 */
export type AnomalyCallback = (anomaly: Anomaly, all: readonly Anomaly[]) => void;

/** What a tracker needs of its graph. @internal */
export interface StatsHost {
  readonly rt: Runtime;
  /** The graph's params, the live list (creation order). */
  readonly params: readonly Node[];
  /** Every node of the graph, the live list (creation order). */
  readonly nodes: readonly Node[];
  /** Whether node values hold a forward run's results. */
  ranForward(): boolean;
  /** Memory that lives as long as the graph. */
  allocBlock(floats: number): Tensor;
  releaseBlock(t: Tensor): void;
  /** The nodes `output` depends on, in topological order. */
  order(output: Node): Node[];
  /** Installs or removes the after-backward hook. */
  setHook(hook: ((output: Node) => void) | null): void;
}

const REC_F64 = 5;
const REC_BYTES = REC_F64 * 8;
const SCRATCH_BYTES = 16;

/** The activations with a flat region (their codes and regions come from the activation table). */
type FlatActivation = ActivationStats["activation"];

interface Listener {
  cb: AnomalyCallback;
  growth: number;
}

/** Graph → its tracker, so an optimizer step finds where to write its update statistics. */
const trackers = new WeakMap<object, StatsTracker>();

/**
 * Where a tracked optimizer step of param `p` writes Σ(Δw)² (an f64), or 0
 * when its graph is not collecting statistics. Called by the optimizers once per param per
 * step.
 * @internal
 */
export function updateStatsPtr(p: Node): number {
  const t = trackers.get(p.graph);
  return t === undefined ? 0 : t.updatePtr(p);
}

/** @internal one per graph, created by the graph's gradient-health methods. */
export class StatsTracker {
  private tracking = false;
  private readonly listeners: Listener[] = [];
  private minGrowth = Infinity;
  private block: Tensor | null = null;
  private count = 0;
  private table = 0;
  private rec = 0;
  private scratch = 0;
  private readonly index = new Map<Node, number>();
  /** Per param: an optimizer step was recorded since collection began. */
  private updated: Uint8Array = new Uint8Array(0);
  private runs = 0;
  private view: Float64Array | null = null;
  private readonly hook = (output: Node): void => this.afterBackward(output);

  constructor(private readonly host: StatsHost) {}

  /** Registers this tracker under its graph (the object optimizers see as `node.graph`). */
  attach(graph: object): void {
    trackers.set(graph, this);
  }

  get on(): boolean {
    return this.tracking;
  }

  setTracking(on: boolean): void {
    if (on && !this.tracking && this.listeners.length === 0) this.restart();
    else if (on && !this.tracking) {
      // Listeners kept the gradient records current: keep them, count runs afresh.
      this.sync();
      this.updated.fill(0);
      this.runs = 0;
    }
    this.tracking = on;
    this.refreshHook();
  }

  addListener(cb: AnomalyCallback, growth: number): () => void {
    const l: Listener = { cb, growth };
    this.listeners.push(l);
    if (this.listeners.length === 1 && !this.tracking) this.restart();
    this.refreshHook();
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      const i = this.listeners.indexOf(l);
      if (i >= 0) this.listeners.splice(i, 1);
      this.refreshHook();
    };
  }

  /** Starts counting afresh: no previous run, no recorded update. */
  private restart(): void {
    this.release();
    this.sync();
  }

  /** Frees the block. */
  release(): void {
    if (this.block !== null) this.host.releaseBlock(this.block);
    this.block = null;
    this.count = 0;
    this.view = null;
  }

  /** @internal see updateStatsPtr */
  updatePtr(p: Node): number {
    if (!this.tracking) return 0;
    if (this.count !== this.host.params.length) this.sync();
    const k = this.index.get(p);
    if (k === undefined) return 0;
    this.updated[k] = 1;
    return this.rec + k * REC_BYTES + 32;
  }

  /** Per-param ‖g‖₂ of the last backward run into `out` (NaN before the first run). */
  gradNorms(out: Float64Array): Float64Array {
    this.sync();
    const v = this.f64();
    const base = this.rec / 8;
    for (let k = 0; k < this.count && k < out.length; k++) {
      out[k] = this.runs > 0 ? Math.sqrt(v[base + k * REC_F64]!) : NaN;
    }
    return out;
  }

  stats(): GraphStats {
    this.sync();
    const k = this.host.rt.kernels;
    const v = () => this.f64();
    const base = this.rec / 8;
    const params: ParamStats[] = [];
    let total = 0;
    this.host.params.forEach((p, i) => {
      const r = base + i * REC_F64;
      const seen = this.runs > 0;
      const s = v()[r]!;
      const w2now = k.sum_squares(p._value!.ptr, p.size, this.scratch);
      let updateNorm: number | null = null;
      let updateRatio: number | null = null;
      if (this.updated[i]) {
        updateNorm = Math.sqrt(v()[r + 4]!);
        updateRatio = w2now > 0 ? updateNorm / Math.sqrt(w2now) : null;
      }
      if (seen) total += s;
      params.push({
        name: p.name,
        shape: p.shape.slice(),
        gradNorm: seen ? Math.sqrt(s) : null,
        gradMaxAbs: seen ? v()[r + 1]! : null,
        weightNorm: Math.sqrt(w2now),
        updateNorm,
        updateRatio,
      });
    });
    return {
      runs: this.runs,
      gradNorm: this.runs > 0 ? Math.sqrt(total) : null,
      params,
      activations: this.activationStats(),
    };
  }

  /** Flat-region shares of every activation node, from the last forward run's values. */
  activationStats(): ActivationStats[] {
    const out: ActivationStats[] = [];
    if (!this.host.ranForward()) return out;
    this.sync();
    const k = this.host.rt.kernels;
    for (const n of this.host.nodes) {
      const act = flatActivation(n);
      if (act === null || n._value === null) continue;
      const units = n.shape.length > 0 ? n.shape[n.shape.length - 1]! : 1;
      const rows = units > 0 ? n.size / units : 0;
      k.flat_stats(act.code, n._value.ptr, rows, units, this.scratch);
      const v = this.f64();
      const flat = v[this.scratch / 8]!;
      const flatUnits = v[this.scratch / 8 + 1]!;
      out.push({
        name: n.name,
        activation: act.name,
        op: n.opName,
        shape: n.shape.slice(),
        region: act.region,
        units,
        rows,
        flatShare: n.size > 0 ? flat / n.size : 0,
        flatUnits,
        flatUnitShare: units > 0 && rows > 0 ? flatUnits / units : 0,
      });
    }
    return out;
  }

  // ------------------------------------------------------------------ per step

  private afterBackward(output: Node): void {
    if (this.count !== this.host.params.length) this.sync();
    this.runs++;
    const k = this.host.rt.kernels;
    const flagged = this.count > 0 ? k.grad_stats(this.table, this.count, this.rec, this.minGrowth) : 0;
    if (this.listeners.length === 0) return;
    const lossBad = output._value !== null ? k.count_nonfinite(output._value.ptr, output.size) : 0;
    if (flagged > 0 || lossBad > 0) this.report(output, lossBad);
  }

  private report(output: Node, lossBad: number): void {
    const k = this.host.rt.kernels;
    const events: Anomaly[] = [];
    let origin: AnomalyOrigin | null | undefined;
    const findOrigin = () => (origin === undefined ? (origin = this.findOrigin(output)) : origin);
    const run = this.runs;
    if (lossBad > 0) {
      const o = findOrigin();
      events.push({
        kind: "nonfinite-loss",
        node: output,
        name: output.name,
        message: `${output.describe()} is NaN or Inf (${lossBad} of ${output.size} values) in backward run ${run}${originText(o)}`,
        run,
        nonfinite: lossBad,
        origin: o,
      });
    }
    const v = this.f64();
    const base = this.rec / 8;
    this.host.params.forEach((p, i) => {
      if (i >= this.count) return;
      const r = base + i * REC_F64;
      const flag = v[r + 3]!;
      if (flag === 0) return;
      const norm = Math.sqrt(v[r]!);
      if (flag === 1) {
        const bad = k.count_nonfinite(p._grad!.ptr, p.size);
        const o = bad > 0 ? findOrigin() : null;
        events.push({
          kind: "nonfinite-gradient",
          node: p,
          name: p.name,
          message:
            bad > 0
              ? `the gradient of ${p.describe()} has NaN or Inf (${bad} of ${p.size} values) in backward run ${run}${originText(o)}`
              : `the gradient norm of ${p.describe()} overflows float32 (max |g| = ${fmt(v[r + 1]!)}) in backward run ${run}`,
          run,
          gradNorm: norm,
          nonfinite: bad,
          origin: o,
        });
      } else {
        const prev = Math.sqrt(v[r + 2]!);
        const growth = norm / prev;
        events.push({
          kind: "gradient-growth",
          node: p,
          name: p.name,
          message: `the gradient norm of ${p.describe()} grew ${fmt(growth)}× in one step, from ${fmt(prev)} to ${fmt(norm)} (backward run ${run})`,
          run,
          gradNorm: norm,
          previousGradNorm: prev,
          growth,
        });
      }
    });
    for (const l of this.listeners.slice()) {
      const mine = events.filter((e) => e.kind !== "gradient-growth" || e.growth! > l.growth);
      if (mine.length > 0) l.cb(mine[0]!, mine);
    }
  }

  /** The first node whose value has NaN/Inf in forward order, else the first gradient in backward order. */
  private findOrigin(output: Node): AnomalyOrigin | null {
    const k = this.host.rt.kernels;
    const order = this.host.order(output);
    for (const n of order) {
      if (n._value === null) continue;
      const bad = k.count_nonfinite(n._value.ptr, n.size);
      if (bad > 0) return { node: n, name: n.name, phase: "forward", nonfinite: bad };
    }
    for (let i = order.length - 1; i >= 0; i--) {
      const n = order[i]!;
      if (n._grad === null || !n.requiresGrad) continue;
      const bad = k.count_nonfinite(n._grad.ptr, n.size);
      if (bad > 0) return { node: n, name: n.name, phase: "backward", nonfinite: bad };
    }
    return null;
  }

  // ------------------------------------------------------------------ memory

  private refreshHook(): void {
    this.minGrowth = this.listeners.reduce((m, l) => Math.min(m, l.growth), Infinity);
    const wanted = this.tracking || this.listeners.length > 0;
    if (wanted) this.sync();
    this.host.setHook(wanted ? this.hook : null);
  }

  /** (Re)builds the table and records when the param list changed. */
  private sync(): void {
    const params = this.host.params;
    if (this.block !== null && this.count === params.length) return;
    this.release();
    const n = params.length;
    const tableBytes = Math.ceil((n * 8) / 16) * 16;
    const bytes = SCRATCH_BYTES + tableBytes + n * REC_BYTES;
    const block = this.host.allocBlock(Math.ceil(bytes / 4));
    this.block = block;
    this.scratch = block.ptr;
    this.table = block.ptr + SCRATCH_BYTES;
    this.rec = this.table + tableBytes;
    this.count = n;
    const mem = this.host.rt.memory.buffer;
    const t32 = new Int32Array(mem, this.table, n * 2);
    const r64 = new Float64Array(mem, this.rec, n * REC_F64);
    this.index.clear();
    params.forEach((p, i) => {
      t32[2 * i] = p._grad!.ptr;
      t32[2 * i + 1] = p.size;
      r64.fill(0, i * REC_F64, (i + 1) * REC_F64);
      r64[i * REC_F64] = -1; // no previous run: never flagged for growth
      this.index.set(p, i);
    });
    this.updated = new Uint8Array(n);
    this.runs = 0;
    this.view = null;
  }

  private f64(): Float64Array {
    const buf = this.host.rt.memory.buffer;
    if (this.view === null || this.view.buffer !== buf) this.view = new Float64Array(buf);
    return this.view;
  }
}

/** The flat-region activation a node applies (its own op, or a fused linear layer's), or null. */
function flatActivation(n: Node): { name: FlatActivation; code: number; region: FlatRegion } | null {
  if (n.kind !== "op") return null;
  const name = n.opName === "linear" ? (n.attrs as { name?: string } | undefined)?.name : n.opName;
  const f = name === undefined ? null : flatRegion(name);
  return f === null ? null : { name: name as FlatActivation, ...f };
}

function originText(o: AnomalyOrigin | null): string {
  if (o === null) return "";
  return o.phase === "forward"
    ? `; the first NaN/Inf in forward order is in the value of ${o.node.describe()}`
    : `; the first NaN/Inf in backward order is in the gradient of ${o.node.describe()}`;
}

function fmt(x: number): string {
  return Number.isFinite(x) ? x.toPrecision(3) : String(x);
}
