/**
 * Planning: one plan per distinct shape of the -1 input dimensions (at most MAX_PLANS kept,
 * least recently used dropped). A plan lays out every buffer in linear memory (values and
 * gradients of op nodes in one block each, saved tensors and kernel scratch in others) and
 * prepares, per node, everything its kernel calls need that does not change from run to run:
 * argument buffers, the op's `prepare` result (GEMM dimensions, broadcast case, conv
 * geometry), and input layouts. A run is then a loop over prepared steps.
 *
 * Layout folding: a node whose op only re-lays its input out (a transpose of the last two
 * axes, `OpDef.layoutOf`) and whose every consumer can read that layout (`OpDef.readsLayout`,
 * e.g. matmul, through the GEMM's transpose flags) is folded: it runs nothing per step, its
 * consumers read its input's buffer and add their gradients into its input's gradient. Its
 * own value and gradient are formed only when a user reads them (see `formValue`,
 * `formGrad`), so what users observe is unchanged.
 *
 * Memory: the plans of one graph share one region of linear memory (a block each for values,
 * gradients, saved tensors, kernel scratch and the -1 inputs), as large as the largest plan
 * made so far needs. A plan for smaller shapes lays its buffers out from the start of the
 * same blocks (every buffer 16-byte aligned, as in a region of its own, so its results are
 * bitwise those of a fresh plan), so a context or batch that grows and shrinks plans without
 * allocating once the largest shape has been seen (`compile(shapes)` makes it up front). Only
 * one plan's data lives in the region at a time: a plan whose shapes need more than the region
 * holds gets a new region of the larger size, and the plans of the old one are dropped (made
 * again, in the new region, when their shapes come back). A tensor of a plan whose region has
 * since held another plan's run refuses to be read (see PlanLease) instead of showing that
 * other run's numbers.
 */
import type { Buf, Layout, OpDef, OpEnv } from "../ops/op.js";
import { type Shape, checkShape, fmtShape, sizeOf } from "../runtime/shape.js";
import { Tensor, type TensorLease, checkTensor, typeName } from "../runtime/tensor.js";
import { type GraphCore, hasFree } from "./core.js";
import { CustomState } from "./custom.js";
import type { Node } from "./node.js";

/** Plans a graph keeps for its distinct input shapes (least recently used dropped first). */
export const MAX_PLANS = 8;

/** One prepared node of a plan. @internal */
export interface Step {
  readonly node: Node;
  readonly op: OpDef<unknown> | null;
  readonly attrs: unknown;
  readonly xs: Buf[];
  readonly y: Buf;
  readonly dy: Buf | null;
  readonly dxs: (Buf | null)[];
  /** The nodes whose gradients `dxs` are (an input, or the source of a folded input): for messages. */
  readonly gradNodes: Node[];
  readonly env: OpEnv;
  readonly custom: CustomState | null;
  /** A folded view: skipped by runs; how its value and gradient are formed when read. */
  readonly fold: Fold | null;
}

/** How a folded node's value and gradient are formed on demand. */
interface Fold {
  /** Each consumer's backward as if the node were not folded, adding into the node's gradient only. */
  readonly replays: readonly { readonly node: Node; readonly step: Step }[];
  /** The forward run whose value was formed (-1: none). */
  valueRun: number;
  /** The backward run whose gradient was formed (-1: none). */
  gradRun: number;
}

/** @internal */
export interface Plan {
  nodeCount: number;
  /** The dimensions of the inputs with a -1 dimension this plan is for, flattened ([] when none). */
  key: number[];
  /** Each node's shape in this plan, by node id. */
  shapes: Shape[];
  /** Value and gradient buffers of op nodes and of inputs with a -1 dimension, by node id. */
  vals: (Tensor | null)[];
  grads: (Tensor | null)[];
  /** Which nodes are folded in this plan, by node id. */
  folded: boolean[];
  /** The linear memory the plan's buffers lie in (shared with the graph's other plans). */
  region: Region;
  /** The -1 inputs' values and gradients: zeroed whenever the plan takes the region over. */
  inputBlock: { ptr: number; n: number };
  /** What the plan's tensors check before they are read (see PlanLease). */
  lease: PlanLease;
  /** The prepared step of each computed node, by node id. */
  steps: (Step | undefined)[];
  /** Gradients of op nodes, one contiguous block (what a backward run does not overwrite it zeroes). */
  gradBlock: { ptr: number; n: number };
  /** The gradient buffers in gradBlock, in order: start, size and floats (padded to 4). */
  gradBufs: { ptr: number; size: number; floats: number }[];
  tensors: Tensor[];
  /** Backward orders by output node id. */
  orders: Map<number, Node[]>;
  /** How a backward run from an output node (by id) prepares the gradients (backwardPrep). */
  backwardPreps: Map<number, BackwardPrep>;
}

/**
 * What a backward run from one output needs besides its order: which inputs each step's
 * backward writes fresh (its op's `overwrites`, where it is the first writer of an op node's
 * gradient buffer), and the ranges of gradBlock to zero first (every other buffer). @internal
 */
export interface BackwardPrep {
  /** `env.fresh` of each node's step, by node id. */
  fresh: Int32Array;
  /** [ptr, floats, ptr, floats, …]: merged ranges to zero. */
  zero: number[];
}

/**
 * The BackwardPrep of a run over `order` (topological, the output last), visiting the steps
 * as Runner.backward does: from the output back, skipping nodes without a gradient, leaves
 * and folded views. A gradient buffer is written fresh by its first writer when that step's
 * op lists the input in `overwrites`, the buffer is in gradBlock and written whole (an op
 * node's gradient, or a reshape's that shares it), the input is not read through a layout,
 * and no other input of the same step is the same buffer. A reshape sharing its input's
 * gradient writes nothing (its dx is its dy). The output's gradient is written whole by the
 * seed. @internal
 */
export function backwardPrep(plan: Plan, order: readonly Node[], output: Node, on = true): BackwardPrep {
  const fresh = new Int32Array(plan.nodeCount);
  if (!on) return { fresh, zero: plan.gradBlock.n > 0 ? [plan.gradBlock.ptr, plan.gradBlock.n] : [] };
  const own = new Map(plan.gradBufs.map((b) => [b.ptr, b.size]));
  const seen = new Set<number>();
  const covered = new Set<number>();
  // A write covers a buffer when it is an op node's gradient (in gradBlock) and the tensor
  // written is the whole of it (a reshape's shared gradient is: same start, same size).
  const whole = (b: Buf) => own.get(b.ptr) === b.size;
  if ((output.kind === "op" || output.kind === "custom") && output._grad) {
    seen.add(output._grad.ptr);
    if (whole(output._grad)) covered.add(output._grad.ptr);
  }
  for (let i = order.length - 1; i >= 0; i--) {
    const node = order[i]!;
    if (!node.requiresGrad) continue;
    const st = plan.steps[node.id];
    if (st === undefined || st.fold !== null) continue;
    const writes = st.custom !== null || st.op?.backward !== undefined;
    if (!writes) continue;
    const can = st.custom === null ? st.op!.overwrites : undefined;
    let mask = 0;
    st.dxs.forEach((dx, j) => {
      // A view's gradient that is its input's own (the same buffer as dy) is not written.
      if (!dx || seen.has(dx.ptr) || dx.ptr === st.dy?.ptr) return;
      seen.add(dx.ptr);
      const alone = st.dxs.every((d, k) => k === j || !d || d.ptr !== dx.ptr);
      if (can?.includes(j) && whole(dx) && !st.env.layouts?.[j] && alone) {
        mask |= 1 << j;
        covered.add(dx.ptr);
      }
    });
    fresh[node.id] = mask;
  }
  const zero: number[] = [];
  for (const b of plan.gradBufs) {
    if (covered.has(b.ptr)) continue;
    const last = zero.length - 2;
    if (last >= 0 && zero[last]! + 4 * zero[last + 1]! === b.ptr) zero[last + 1]! += b.floats;
    else zero.push(b.ptr, b.floats);
  }
  return { fresh, zero };
}

/** Floats a plan needs in each block of its region. */
interface Needs {
  values: number;
  grads: number;
  saved: number;
  scratch: number;
  inputs: number;
}
const BLOCKS = ["values", "grads", "saved", "scratch", "inputs"] as const;
const BLOCK_NAMES = { values: "graph values", grads: "graph gradients", saved: "graph saved tensors", scratch: "graph scratch", inputs: "graph inputs" };

/**
 * Linear memory for plans: one arena block per kind, each holding `cap` floats. Several plans
 * of a graph lay their buffers out in the same region; `holder` is the one whose data it holds.
 */
interface Region {
  readonly cap: Needs;
  readonly ptr: Needs;
  /** The arena blocks, released with the region. */
  readonly blocks: number[];
  /** Plans laid out in it, kept or current; the region is released when it drops to 0. */
  users: number;
  /** The plan whose run the memory holds (last activated on it). */
  holder: Plan | null;
}

/** Whether every block a plan needs fits the region's. */
function fits(r: Region, need: Needs): boolean {
  for (const b of BLOCKS) if (need[b] > r.cap[b]) return false;
  return true;
}

/** The -1 inputs' shapes of a plan key, for messages: ids [1, 5], pos [1, 5]. */
function describeKey(dyn: readonly Node[], key: readonly number[]): string {
  const parts: string[] = [];
  let k = 0;
  for (const n of dyn) {
    parts.push(`${n.name} ${fmtShape(key.slice(k, k + n.declShape.length))}`);
    k += n.declShape.length;
  }
  return parts.join(", ");
}

/**
 * The lease of a plan's tensors on their memory: live while the plan's region holds this
 * plan's data. Once another plan of the graph (other shapes of the -1 inputs) has run in the
 * same memory, reading a tensor kept from this one is an error saying so (until this plan is
 * current again).
 */
class PlanLease implements TensorLease {
  constructor(
    private readonly plan: Plan,
    private readonly dyn: readonly Node[],
  ) {}
  get live(): boolean {
    return this.plan.region.holder === this.plan;
  }
  get why(): string {
    const other = this.plan.region.holder;
    return (
      `is from a run of its graph for ${describeKey(this.dyn, this.plan.key)}; the graph has run for ` +
      `${other !== null ? describeKey(this.dyn, other.key) : "other shapes"} since, in the same memory: read node.value (or node.grad) again`
    );
  }
}

/** Whether two plan keys are equal. */
export function sameKey(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Rounds a float count up to a multiple of 4 so every buffer starts 16-byte aligned. */
function pad4(n: number): number {
  return Math.max(4, Math.ceil(n / 4) * 4);
}

/** @internal the planning side of one graph. */
export class Planner {
  /** The plan of the last run (one per distinct shape of the -1 inputs; see `plans`). */
  plan: Plan | null = null;
  /** Every plan kept, least recently used first (at most MAX_PLANS). */
  plans: Plan[] = [];
  /** Fold views into their consumers (on by default; off only to compare with the copied path). */
  foldLayouts = true;
  /** Whether backward writes gradients fresh where it can (backwardPrep); off: zero them all first. */
  freshGrads = true;
  /** How many plans are kept (sg.graph({ maxPlans }), default MAX_PLANS). */
  maxPlans = MAX_PLANS;
  /** Plans share one region of memory (on by default; off only to compare with a region per plan). */
  shareMemory = true;
  /** The region new plans are laid out in when they fit (with shareMemory). */
  private region: Region | null = null;

  constructor(
    private readonly core: GraphCore,
    /** Disposes a tensor a custom op kept with ctx.save (unless the graph still uses it). */
    private readonly freeSaved: (t: Tensor) => void,
  ) {}

  /** The current plan, made if needed (a graph with -1 inputs must have been fed once); `op` names the caller in the error. */
  ensurePlan(op: string): Plan {
    const p = this.plan;
    const core = this.core;
    if (p !== null && p.nodeCount === core.nodes.length) return p;
    if (core.dynamicInputs().length > 0 && p === null) {
      throw new Error(`${op}: the graph has inputs with a -1 dimension (${core.dynamicInputs().map((n) => n.describe()).join(", ")}): run g.forward with them first`);
    }
    return this.selectPlan(p !== null ? p.key : []);
  }

  /** The current plan if it covers every node, else null. */
  current(): Plan | null {
    return this.plan !== null && this.plan.nodeCount === this.core.nodes.length ? this.plan : null;
  }

  /** Whether `t` is kept with ctx.save by a custom node of the current plan. */
  savedByPlan(t: Tensor): boolean {
    for (const st of this.plan?.steps ?? []) if (st?.custom && st.custom.saved.includes(t)) return true;
    return false;
  }

  /**
   * The plan key of a forward call: the shapes of the inputs with a -1 dimension, from the
   * feeds (checked here) or, for one not fed, from the current plan. [] for a graph without
   * such inputs.
   */
  feedKey(feeds: Record<string, unknown>): number[] {
    const dyn = this.core.dynamicInputs();
    if (dyn.length === 0) return [];
    const key: number[] = [];
    const cur = this.current();
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

  /**
   * The plan key of shapes given by name for the inputs with a -1 dimension (g.compile), each
   * checked against its declared shape; an input not given keeps the current plan's shape.
   */
  shapesKey(shapes: Record<string, readonly number[]>, op: string): number[] {
    if (typeof shapes !== "object") throw new TypeError(`${op}: shapes must be an object of input name → shape, got ${typeName(shapes)}`);
    const dyn = this.core.dynamicInputs();
    const names = dyn.map((n) => `'${n.name}'`).join(", ") || "none";
    for (const name in shapes) {
      if (!dyn.some((n) => n.name === name)) throw new Error(`${op}: no input with a -1 dimension named '${name}' (those inputs: ${names})`);
    }
    const cur = this.current();
    const key: number[] = [];
    for (const n of dyn) {
      const decl = n.declShape;
      if (!(n.name in shapes)) {
        if (cur === null) throw new Error(`${op}: give the shape of input ${n.describe()} too (shapes: { ${n.name}: [...] })`);
        for (const d of cur.shapes[n.id]!) key.push(d);
        continue;
      }
      const s = shapes[n.name];
      const ok = Array.isArray(s) && s.length === decl.length &&
        s.every((d, i) => typeof d === "number" && Number.isInteger(d) && d >= 0 && (decl[i] === -1 || decl[i] === d));
      if (!ok) throw new Error(`${op}: shape ${Array.isArray(s) ? fmtShape(s) : typeName(s)} for input '${n.name}' does not fit ${fmtShape(decl)}`);
      for (const d of s) key.push(d);
    }
    return key;
  }

  /** The shape `values` gives input `node` (declared with a -1 dimension), or an error naming both. */
  private feedShape(node: Node, values: unknown, op: string): Shape {
    const decl = node.declShape;
    const what = `data for input '${node.name}' ${fmtShape(decl)}`;
    if (values instanceof Tensor) {
      checkTensor(values, op, this.core.rt, what);
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
  selectPlan(key: number[]): Plan {
    const nodes = this.core.nodes;
    if (this.plan !== null && this.plan.nodeCount !== nodes.length) this.dropPlan();
    let p = this.plans.find((q) => sameKey(q.key, key)) ?? null;
    if (p === null) {
      const shapes = this.inferShapes(key);
      const prev = this.plan;
      const shared = this.region;
      try {
        p = this.makePlan(shapes, key);
      } catch (e) {
        this.plan = null;
        if (prev !== null) this.activate(prev);
        else for (const n of nodes) n._shape = n.declShape;
        throw e;
      }
      if (this.shareMemory && p.region !== shared) {
        // A larger region: the plans of the smaller one are dropped (made again in this one
        // when their shapes come back), so the graph holds one region.
        if (shared !== null) {
          const old = this.plans.filter((q) => q.region === shared);
          this.plans = this.plans.filter((q) => q.region !== shared);
          for (const q of old) this.releasePlan(q);
          if (prev !== null && prev.region === shared && !old.includes(prev)) this.releasePlan(prev);
        }
        this.region = p.region;
      }
      this.plans.push(p);
      while (this.plans.length > this.maxPlans) this.releasePlan(this.plans.shift()!);
    } else {
      this.plans.splice(this.plans.indexOf(p), 1);
      this.plans.push(p);
    }
    this.activate(p);
    return p;
  }

  /** Each node's shape for the -1 dimensions in `key` (shape errors name the op and the shapes). */
  private inferShapes(key: readonly number[]): Shape[] {
    const nodes = this.core.nodes;
    const shapes: Shape[] = new Array(nodes.length);
    let k = 0;
    for (const n of nodes) {
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

  /**
   * Points every node at plan p's shapes and buffers. When p takes its region over from
   * another plan (or is new), its -1 inputs start from zero, as in a fresh plan: their values
   * are fed before any run, and their gradients accumulate from zero.
   */
  private activate(p: Plan): void {
    if (p.region.holder !== p) {
      p.region.holder = p;
      if (p.inputBlock.n > 0) this.core.rt.kernels.fill_f32(p.inputBlock.ptr, p.inputBlock.n, 0);
      for (const n of this.core.dynamicInputs()) n._provided = false;
    }
    if (this.plan === p) return;
    for (const n of this.core.nodes) {
      if (n.id >= p.nodeCount) break;
      n._shape = p.shapes[n.id]!;
      n._folded = p.folded[n.id] === true;
      if (n.kind === "op" || n.kind === "custom" || (n.kind === "input" && hasFree(n.declShape))) {
        n._value = p.vals[n.id]!;
        n._grad = p.grads[n.id]!;
      }
    }
    this.plan = p;
    this.core.ranForward = false;
    this.core.gradForwardRun = -1;
  }

  /** Drops every plan (the graph changed, or is disposed). */
  dropPlan(): void {
    for (const n of this.core.nodes) {
      if (n.kind === "op" || n.kind === "custom" || (n.kind === "input" && hasFree(n.declShape))) {
        n._value = null;
        n._grad = null;
        n._provided = n._provided && n.kind === "input" && !hasFree(n.declShape);
      }
      n._shape = n.declShape;
      n._folded = false;
    }
    for (const p of this.plans) this.releasePlan(p);
    if (this.plan !== null && !this.plans.includes(this.plan)) this.releasePlan(this.plan);
    this.plans = [];
    this.plan = null;
    this.region = null;
    this.core.ranForward = false;
    this.core.gradForwardRun = -1;
  }

  /** Frees one plan's buffers. */
  private releasePlan(p: Plan): void {
    // Tensors kept with ctx.save belong to the engine: free them with the plan.
    const saved: Tensor[] = [];
    for (const st of p.steps) {
      if (st?.custom) {
        saved.push(...st.custom.saved);
        st.custom.saved = [];
      }
    }
    for (const t of saved) this.freeSaved(t);
    for (const t of p.tensors) t._kill();
    const r = p.region;
    if (r.holder === p) r.holder = null;
    if (--r.users === 0) this.releaseRegion(r);
  }

  /** Frees a region's blocks. */
  private releaseRegion(r: Region): void {
    if (!this.core.rt.closed) for (const b of r.blocks) this.core.rt.arena.release(b);
    r.blocks.length = 0;
    if (this.region === r) this.region = null;
  }

  /** A region holding `cap` floats per block (throws, allocating nothing, when memory cannot hold it). */
  private allocRegion(cap: Needs): Region {
    const arena = this.core.rt.arena;
    const blocks: number[] = [];
    const ptr: Needs = { values: 0, grads: 0, saved: 0, scratch: 0, inputs: 0 };
    try {
      for (const b of BLOCKS) {
        // As before regions were shared: values, gradients and saved tensors always have a
        // block (at least 16 bytes), scratch and inputs only when some plan needs them.
        if (cap[b] === 0 && (b === "scratch" || b === "inputs")) continue;
        ptr[b] = arena.alloc(cap[b] * 4, BLOCK_NAMES[b]);
        blocks.push(ptr[b]);
      }
    } catch (e) {
      for (const b of blocks) arena.release(b);
      throw e;
    }
    return { cap, ptr, blocks, users: 0, holder: null };
  }

  /**
   * The nodes to fold in a plan of these shapes: a node whose op re-lays out its input
   * (layoutOf) with at least one consumer, every one of which reads that layout.
   */
  private foldable(shapes: readonly Shape[]): { folded: boolean[]; layouts: (Layout | null)[] } {
    const nodes = this.core.nodes;
    const folded: boolean[] = new Array(nodes.length).fill(false);
    const layouts: (Layout | null)[] = new Array(nodes.length).fill(null);
    if (!this.foldLayouts) return { folded, layouts };
    for (const n of nodes) {
      if (n.kind !== "op" || n.op!.layoutOf === undefined) continue;
      const lay = n.op!.layoutOf(n.inputs.map((i) => shapes[i.id]!), n.attrs);
      if (lay !== null) layouts[n.id] = lay;
    }
    const consumers = new Array<number>(nodes.length).fill(0);
    const ok = new Array<boolean>(nodes.length).fill(true);
    for (const c of nodes) {
      c.inputs.forEach((inp, slot) => {
        const lay = layouts[inp.id];
        if (lay === null || lay === undefined) return;
        consumers[inp.id]!++;
        const reads = c.kind === "op" && c.op!.readsLayout !== undefined &&
          c.op!.readsLayout(slot, lay, c.inputs.map((i) => shapes[i.id]!), c.attrs);
        if (!reads) ok[inp.id] = false;
      });
    }
    for (const n of nodes) if (layouts[n.id] !== null && consumers[n.id]! > 0 && ok[n.id]) folded[n.id] = true;
    return { folded, layouts };
  }

  private makePlan(shapes: readonly Shape[], key: number[]): Plan {
    const core = this.core;
    const nodes = core.nodes;
    // Every node takes this plan's shape while its buffers are laid out.
    for (const n of nodes) n._shape = shapes[n.id]!;
    const dynInputs = core.dynamicInputs();
    const computed = nodes.filter((n) => n.kind === "op" || n.kind === "custom");
    const { folded, layouts } = this.foldable(shapes);
    // Views (reshape) share their input's value buffer, and its gradient buffer when that one
    // is planned here (an op node's) and the view is its one reader (otherwise the input's
    // gradient also holds what its other readers send back). A leaf's gradient accumulates
    // across runs, so a view of a leaf gets a gradient of its own and adds it in backward.
    const viewOf = (n: Node): Node | null => (n.op?.view !== undefined ? n.inputs[n.op.view]! : null);
    const readers = new Array<number>(nodes.length).fill(0);
    for (const c of nodes) for (const inp of c.inputs) readers[inp.id]!++;
    const sharesGrad = (n: Node): boolean => {
      const src = viewOf(n);
      return src !== null && n.requiresGrad && src.requiresGrad && (src.kind === "op" || src.kind === "custom") && readers[src.id] === 1;
    };
    const valueFloats = computed.reduce((s, n) => s + (viewOf(n) ? 0 : pad4(n.size)), 0);
    const gradNodes = computed.filter((n) => n.requiresGrad && !sharesGrad(n));
    const gradFloats = gradNodes.reduce((s, n) => s + pad4(n.size), 0);
    const savedShapes = computed.map((n) => (n.op?.saved ? n.op.saved(n.inputs.map((i) => i.shape), n.attrs) : []));
    const savedFloats = savedShapes.reduce((s, list) => s + list.reduce((t, sh) => t + pad4(sizeOf(sh)), 0), 0);
    // A step may run with its folded inputs' layouts or without them (makeStep below): the
    // scratch holds the larger need of the two geometries.
    const scratchBytes = computed.reduce((m, n) => {
      const op = n.op;
      if (!op?.scratchBytes) return m;
      const x = n.inputs.map((i) => i.shape);
      const lays = n.inputs.some((i) => folded[i.id]) ? n.inputs.map((i) => (folded[i.id] ? layouts[i.id]! : null)) : undefined;
      return Math.max(m, op.scratchBytes(x, n.attrs), lays ? op.scratchBytes(x, n.attrs, lays) : 0);
    }, 0);
    const inputFloats = dynInputs.reduce((a, n) => a + pad4(n.size) * (n.requiresGrad ? 2 : 1), 0);
    const need: Needs = { values: valueFloats, grads: gradFloats, saved: savedFloats, scratch: Math.ceil(scratchBytes / 4), inputs: inputFloats };
    const tensors: Tensor[] = [];
    const rt = core.rt;
    // Workers split some kernels (attention) only when their scratch holds what the call needs.
    rt.reserveWorkerScratch(scratchBytes);
    // The shared region when this plan fits it; otherwise a new one, as large as this plan
    // and every plan of the shared one need (those are dropped by selectPlan).
    const shared = this.shareMemory ? this.region : null;
    let fresh: Region | null = null;
    let region: Region;
    if (shared !== null && fits(shared, need)) region = shared;
    else {
      const cap = { ...need };
      if (shared !== null) for (const b of BLOCKS) cap[b] = Math.max(cap[b], shared.cap[b]);
      region = fresh = this.allocRegion(cap);
    }
    try {
      const valuesPtr = region.ptr.values;
      const gradPtr = region.ptr.grads;
      const savedPtr = region.ptr.saved;
      const scratch = need.scratch > 0 ? region.ptr.scratch : 0;
      const view = (ptr: number, shape: Shape, label: string) => {
        const t = new Tensor(rt, shape, ptr, "graph", label);
        tensors.push(t);
        return t;
      };
      // Inputs with a -1 dimension: value (and gradient) buffers of this plan's shape, zeroed
      // when the plan takes the region (their gradients accumulate across runs, as leaves' do,
      // until zeroGrad).
      if (dynInputs.length > 0) {
        let ip = region.ptr.inputs;
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
      const gradBufs: { ptr: number; size: number; floats: number }[] = [];
      for (const n of computed) {
        if (!n.requiresGrad) continue;
        if (sharesGrad(n)) n._grad = view(viewOf(n)!._grad!.ptr, n.shape, `grad of ${n.name}`);
        else {
          n._grad = view(gp, n.shape, `grad of ${n.name}`);
          gradBufs.push({ ptr: gp, size: n.size, floats: pad4(n.size) });
          gp += pad4(n.size) * 4;
        }
      }
      const steps: (Step | undefined)[] = new Array(nodes.length);
      const mode = core.mode;
      // A step as the node's op sees it: inputs read through the layouts of folded inputs when `fold`.
      const makeStep = (n: Node, saved: Buf[], fold: boolean, only: Node | null = null): Step => {
        // Arrays of the exact length (a graph may keep a plan per length of a growing context:
        // arrays grown by push would hold room for 17 entries each, a third of a plan's heap).
        const k = n.inputs.length;
        const xs: Buf[] = new Array(k);
        const dxs: (Buf | null)[] = new Array(k);
        const gnodes: Node[] = new Array(k);
        let lays: (Layout | null)[] | undefined;
        n.inputs.forEach((inp, slot) => {
          if (fold && folded[inp.id]) {
            const src = inp.inputs[0]!;
            (lays ??= n.inputs.map(() => null))[slot] = layouts[inp.id]!;
            xs[slot] = src._value!;
            dxs[slot] = src.requiresGrad ? src._grad : null;
            gnodes[slot] = src;
          } else {
            xs[slot] = inp._value!;
            dxs[slot] = inp.requiresGrad && (only === null || inp === only) ? inp._grad : null;
            gnodes[slot] = inp;
          }
        });
        const op = n.op;
        const prep = op?.prepare ? op.prepare(n.inputs.map((i) => i.shape), n.attrs, lays) : undefined;
        return {
          node: n, op, attrs: n.attrs, xs, y: n._value!, dy: n._grad, dxs, gradNodes: gnodes,
          env: lays ? { saved, scratch, mode, prep, layouts: lays, fresh: 0 } : { saved, scratch, mode, prep, fresh: 0 },
          custom: n.kind === "custom" && only === null ? new CustomState(n.inputs.map((i) => i.requiresGrad), n._value!, n.custom!.name) : null,
          fold: null,
        };
      };
      let sp = savedPtr;
      const savedOf: Buf[][] = new Array(nodes.length);
      computed.forEach((n, idx) => {
        savedOf[n.id] = savedShapes[idx]!.map((sh) => {
          const t = view(sp, sh, `saved by ${n.name}`);
          sp += pad4(sizeOf(sh)) * 4;
          return t;
        });
        steps[n.id] = makeStep(n, savedOf[n.id]!, true);
      });
      for (const n of computed) {
        if (!folded[n.id]) continue;
        const replays = nodes
          .filter((c) => c.kind === "op" && c.requiresGrad && c.op!.backward !== undefined && c.inputs.includes(n))
          .map((c) => ({ node: c, step: makeStep(c, savedOf[c.id]!, false, n) }));
        (steps[n.id] as { fold: Fold | null }).fold = { replays, valueRun: -1, gradRun: -1 };
      }
      const keep = (n: Node) => n.kind === "op" || n.kind === "custom" || dynInputs.includes(n);
      const plan: Plan = {
        nodeCount: nodes.length, key, shapes: shapes.slice(), folded,
        vals: nodes.map((n) => (keep(n) ? n._value : null)),
        grads: nodes.map((n) => (keep(n) ? n._grad : null)),
        region, inputBlock: { ptr: region.ptr.inputs, n: inputFloats }, lease: null as unknown as PlanLease,
        steps, gradBlock: { ptr: gradPtr, n: gradFloats }, gradBufs, tensors, orders: new Map(), backwardPreps: new Map(),
      };
      plan.lease = new PlanLease(plan, dynInputs.slice());
      for (const t of tensors) t._lease = plan.lease;
      region.users++;
      return plan;
    } catch (e) {
      for (const t of tensors) t._kill();
      if (fresh !== null) this.releaseRegion(fresh);
      for (const n of [...computed, ...dynInputs]) {
        n._value = null;
        n._grad = null;
      }
      throw e;
    }
  }

  /**
   * Forms a folded node's value (its op's forward, run now) if the last forward run computed
   * the node and it was not formed since. Refuses when its input changed since that run (the
   * value would no longer be the one the run used).
   */
  formValue(node: Node): void {
    const st = this.current()?.steps[node.id];
    const fold = st?.fold;
    if (!st || !fold) return;
    const run = this.core.runs;
    if (node._stamp !== run || fold.valueRun === run) return;
    const src = node.inputs[0]!;
    if (src._stamp !== run) throw this.changedError(node, src, "value");
    st.op!.forward(this.core.rt.kernels, st.xs, st.y, st.attrs, st.env);
    fold.valueRun = run;
  }

  /**
   * Forms a folded node's gradient after a backward run: zero, then each consumer's backward
   * as if unfolded, adding into this node's gradient only (a consumer the backward did not
   * reach has a zero upstream gradient and adds nothing).
   */
  formGrad(node: Node): void {
    const st = this.current()?.steps[node.id];
    const fold = st?.fold;
    if (!st || !fold || node._grad === null) return;
    const b = this.core.backwardRuns;
    if (fold.gradRun === b || this.core.gradForwardRun < 0) return;
    const run = this.core.runs;
    if (this.core.gradForwardRun !== run) {
      throw new Error(
        `grad: ${node.describe()} is read by its consumers through its layout (no copy), so its gradient is formed when read; ` +
          `a forward ran since the last backward: read it right after backward, or run backward again`,
      );
    }
    this.formValue(node);
    for (const r of fold.replays) {
      for (const i of r.node.inputs) {
        if (i === node) continue;
        if (i._stamp !== run) throw this.changedError(node, i, "gradient");
        if (i._folded) this.formValue(i);
      }
    }
    const k = this.core.rt.kernels;
    k.fill_f32(node._grad.ptr, node._grad.size, 0);
    // Only the consumers the last backward ran: the others' dy is zeros, not a gradient that
    // flowed, and replaying them would send back 0·x (NaN where their other input is NaN or
    // infinite) to a view no gradient reached.
    for (const { node: c, step: s } of fold.replays) if (c._gradStamp === b) s.op!.backward!(k, s.xs, s.y, s.dy!, s.dxs, s.attrs, s.env);
    fold.gradRun = b;
  }

  private changedError(node: Node, changed: Node, what: string): Error {
    return new Error(
      `${what === "value" ? "value" : "grad"}: ${node.describe()} is read by its consumers through its layout (no copy), so its ${what} is ` +
        `formed when read, but ${changed.describe()} changed since the last forward: run g.forward() again (and backward) first`,
    );
  }
}
