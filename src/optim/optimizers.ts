/**
 * Optimizers over a graph's params. Each step is one kernel call per parameter over the
 * planned buffers: no allocation after construction.
 *
 * Lookup tables (params used only through g.embedding) are updated lazily: a step touches
 * only the rows used since the last zeroGrad, so it costs O(rows used · D), not O(V·D).
 * SGD applies its rule (momentum and weight decay included) to those rows only; Adam is
 * lazy Adam, PyTorch's SparseAdam rule: a row's moments advance only on the steps that use
 * it, with the bias corrections of the global step count. Gradient statistics
 * (g.trackStats) do not measure the updates of such tables.
 */
import { type Node, checkLeafNodes } from "../graph/node.js";
import type { Runtime } from "../runtime/runtime.js";
import { Tensor, allocTensor, typeName } from "../runtime/tensor.js";
import { adamBiasCorrections } from "./kernels.js"; // also its Kernels declarations
import { updateStatsPtr } from "../graph/stats.js";
import { rowSetOf } from "../ops/embedding.js";

export interface SgdOptions {
  lr: number;
  /** Heavy-ball momentum μ (PyTorch's form: v ← μ·v + g, w ← w − lr·v). Default 0. */
  momentum?: number;
  /** L2 penalty added to the gradient (g + λ·w). Default 0. */
  weightDecay?: number;
}

export interface AdamOptions {
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

export interface AdamWOptions extends AdamOptions {
  /**
   * Which params decay (default: those with two or more axes — weight matrices and
   * embedding tables; biases and layer-norm gains do not).
   */
  decay?: (param: Node) => boolean;
}

function checkNumber(v: unknown, op: string, name: string, lo: number, hi = Infinity, loOpen = false): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < lo || v > hi || (loOpen && v === lo)) {
    throw new RangeError(`${op}: ${name} must be a number in ${loOpen ? "(" : "["}${lo}, ${hi === Infinity ? "∞)" : hi + "]"}, got ${String(v)}`);
  }
  return v;
}

/** The smallest normal float32. */
const F32_MIN_NORMAL = 2 ** -126;
/** The largest float32 below 1. */
const F32_BELOW_ONE = 1 - 2 ** -24;

function checkBeta(v: unknown, name: string): number {
  const b = checkNumber(v, "adam", name, 0, 1);
  if (b === 1) throw new RangeError(`adam: ${name} must be below 1, got 1`);
  if (Math.fround(b) === 1) {
    throw new RangeError(`adam: ${name} ${b} is 1 in float32 (the step computes in float32), which would stop the moving average; use at most 0.9999999 (float32's largest value below 1 is ${F32_BELOW_ONE})`);
  }
  return b;
}

/**
 * What a checkpoint keeps of an optimizer: its kind, the numbers it restores (`restored`:
 * the learning rate, Adam's step count), the settings that must match to resume (`fixed`),
 * and its per-param buffers by slot name, aligned with `params` (null where a param has none).
 * @internal
 */
export interface OptimizerState {
  kind: "sgd" | "adam" | "adamw";
  params: readonly Node[];
  restored: Record<string, number>;
  fixed: Record<string, number>;
  slots: Record<string, readonly (Tensor | null)[]>;
}

abstract class Optimizer {
  protected readonly params: Node[];
  protected readonly state: Tensor[] = [];
  private disposed = false;

  constructor(protected readonly rt: Runtime, params: unknown, op: string) {
    this.params = checkLeafNodes(params, op, rt, "it would be updated twice");
  }

  protected buffer(p: Node, what: string): Tensor {
    const t = allocTensor(this.rt, p.shape, what, "self", `${what} of ${p.name}`).fill(0);
    this.state.push(t);
    return t;
  }

  protected live(op: string): void {
    if (this.disposed) throw new Error(`${op}: this optimizer has been disposed`);
    if (this.rt.closed) throw new Error(`${op}: the runtime has been closed`);
    for (const p of this.params) if (p.graph.disposed) throw new Error(`${op}: the graph of ${p.describe()} has been disposed`);
  }

  /** Updates every param from its gradient. */
  abstract step(): void;

  /** @internal the state a checkpoint saves (see OptimizerState); `op` names the caller in errors. */
  _state(op: string): OptimizerState {
    this.live(op);
    return this.describeState();
  }

  /** @internal sets the numbers of `_state().restored` (the caller writes the buffers). */
  abstract _restore(numbers: Record<string, number>): void;

  /** @internal */
  protected abstract describeState(): OptimizerState;

  /** Sets the params' gradients to zero. */
  zeroGrad(): void {
    this.live("zeroGrad");
    const k = this.rt.kernels;
    for (const p of this.params) {
      const rs = rowSetOf(p._grad);
      if (rs !== null) k.rowset_zero(p._grad!.ptr, rs.dim, rs.ptr); // only the rows used
      else k.fill_f32(p._grad!.ptr, p._grad!.size, 0);
    }
  }

  /** Frees the optimizer state. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of this.state) t.dispose();
  }
}

export class SGD extends Optimizer {
  lr: number;
  readonly momentum: number;
  readonly weightDecay: number;
  private readonly velocity: (Tensor | null)[];

  constructor(rt: Runtime, params: unknown, opts: SgdOptions) {
    super(rt, params, "sgd");
    if (opts === null || typeof opts !== "object") throw new TypeError("sgd: options { lr } are required");
    this.lr = checkNumber(opts.lr, "sgd", "lr", 0);
    this.momentum = checkNumber(opts.momentum ?? 0, "sgd", "momentum", 0, 1);
    this.weightDecay = checkNumber(opts.weightDecay ?? 0, "sgd", "weightDecay", 0);
    this.velocity = this.params.map((p) => (this.momentum > 0 ? this.buffer(p, "velocity") : null));
  }

  step(): void {
    this.live("step");
    const k = this.rt.kernels;
    for (let i = 0; i < this.params.length; i++) {
      const p = this.params[i]!;
      const v = this.velocity[i];
      p.graph._changed(p);
      const rs = rowSetOf(p._grad);
      if (rs !== null) {
        // A lookup table: only the rows used since the last zeroGrad (lazy momentum and decay).
        k.sgd_step_rows(p._value!.ptr, p._grad!.ptr, v ? v.ptr : 0, rs.dim, rs.ptr, this.lr, this.momentum, this.weightDecay);
        continue;
      }
      const s = updateStatsPtr(p); // nonzero when the graph collects statistics (g.trackStats)
      if (s !== 0) k.sgd_step_tracked(p._value!.ptr, p._grad!.ptr, v ? v.ptr : 0, p.size, this.lr, this.momentum, this.weightDecay, s);
      else k.sgd_step(p._value!.ptr, p._grad!.ptr, v ? v.ptr : 0, p.size, this.lr, this.momentum, this.weightDecay);
    }
  }

  /** @internal */
  protected describeState(): OptimizerState {
    return {
      kind: "sgd",
      params: this.params,
      restored: { lr: this.lr },
      fixed: { momentum: this.momentum, weightDecay: this.weightDecay },
      slots: this.momentum > 0 ? { velocity: this.velocity } : {},
    };
  }

  /** @internal */
  _restore(numbers: Record<string, number>): void {
    this.lr = numbers.lr!;
  }
}

export class Adam extends Optimizer {
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** Steps taken. */
  t = 0;
  private readonly m: Tensor[];
  private readonly v: Tensor[];
  /** AdamW: decay decoupled from the gradient, per param (0 where a param does not decay). */
  private readonly decoupled: boolean;
  private readonly decays: number[];

  constructor(rt: Runtime, params: unknown, opts: AdamOptions = {}, op: "adam" | "adamw" = "adam") {
    opts ??= {};
    super(rt, params, op);
    this.decoupled = op === "adamw";
    this.lr = checkNumber(opts.lr ?? 1e-3, op, "lr", 0);
    // The kernel computes in float32: β and ε are what float32 holds of them, and the bias
    // corrections 1 − βᵗ are computed from those same values.
    this.beta1 = checkBeta(opts.beta1 ?? 0.9, "beta1");
    this.beta2 = checkBeta(opts.beta2 ?? 0.999, "beta2");
    this.eps = checkNumber(opts.eps ?? 1e-8, op, "eps", 0, Infinity, true);
    if (this.eps < F32_MIN_NORMAL) {
      throw new RangeError(`${op}: eps ${this.eps} is below what float32 holds at full precision (the step computes in float32); use at least 1.2e-38`);
    }
    this.weightDecay = checkNumber(opts.weightDecay ?? (this.decoupled ? 0.01 : 0), op, "weightDecay", 0);
    const decay = (opts as AdamWOptions).decay;
    if (decay !== undefined && typeof decay !== "function") throw new TypeError(`${op}: decay must be a function (param) => boolean, got ${typeName(decay)}`);
    this.decays = this.params.map((p) => (!this.decoupled || (decay ? decay(p) === true : p.shape.length >= 2) ? this.weightDecay : 0));
    this.m = this.params.map((p) => this.buffer(p, "adam m"));
    this.v = this.params.map((p) => this.buffer(p, "adam v"));
  }

  step(): void {
    this.live("step");
    this.t++;
    const [bc1, bc2] = adamBiasCorrections(this.t, this.beta1, this.beta2);
    const k = this.rt.kernels;
    for (let i = 0; i < this.params.length; i++) {
      const p = this.params[i]!;
      p.graph._changed(p);
      const rs = rowSetOf(p._grad);
      if (rs !== null) {
        // A lookup table: lazy Adam (PyTorch's SparseAdam rule), only the rows used since the last zeroGrad.
        // AdamW's decay is decoupled here too, and per param like the dense path.
        k.adam_step_rows(p._value!.ptr, p._grad!.ptr, this.m[i]!.ptr, this.v[i]!.ptr, rs.dim, rs.ptr, this.lr, this.beta1, this.beta2, this.eps, bc1, bc2, this.decays[i]!, this.decoupled ? 1 : 0);
        continue;
      }
      const s = updateStatsPtr(p); // nonzero when the graph collects statistics (g.trackStats)
      const wd = this.decays[i]!;
      if (this.decoupled) {
        if (s !== 0) k.adamw_step_tracked(p._value!.ptr, p._grad!.ptr, this.m[i]!.ptr, this.v[i]!.ptr, p.size, this.lr, this.beta1, this.beta2, this.eps, bc1, bc2, wd, s);
        else k.adamw_step(p._value!.ptr, p._grad!.ptr, this.m[i]!.ptr, this.v[i]!.ptr, p.size, this.lr, this.beta1, this.beta2, this.eps, bc1, bc2, wd);
      } else if (s !== 0) k.adam_step_tracked(p._value!.ptr, p._grad!.ptr, this.m[i]!.ptr, this.v[i]!.ptr, p.size, this.lr, this.beta1, this.beta2, this.eps, bc1, bc2, wd, s);
      else k.adam_step(p._value!.ptr, p._grad!.ptr, this.m[i]!.ptr, this.v[i]!.ptr, p.size, this.lr, this.beta1, this.beta2, this.eps, bc1, bc2, wd);
    }
  }

  /** @internal */
  protected describeState(): OptimizerState {
    return {
      kind: this.decoupled ? "adamw" : "adam",
      params: this.params,
      restored: { lr: this.lr, t: this.t },
      fixed: { beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.weightDecay },
      slots: { m: this.m, v: this.v },
    };
  }

  /** @internal */
  _restore(numbers: Record<string, number>): void {
    this.lr = numbers.lr!;
    this.t = numbers.t!;
  }
}

export type { Optimizer };
export { Tensor };
