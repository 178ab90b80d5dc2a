/**
 * Random graphs from a list of integer choices, run on simdgrad and on the float64
 * reference, compared value by value and gradient by gradient.
 *
 * A case is a list of integers; `generate` reads it through a Chooser and always yields a
 * valid graph (an op that cannot fit makes new leaves that do), so fast-check can shrink the
 * list freely and every shrunk list is still a graph. A failure is reported as code that
 * rebuilds the graph (`toCode`).
 */
import type { Graph, Node, SimdGrad } from "../../src/index.js";
import type { OpDef } from "../../src/ops/op.js";
import { auditScratch } from "../scratch-audit.js";
import { Chooser, FUZZ_OPS, type FuzzOp, MAX_LEAF, type Pool, type SpecNode, decidedOver, nearThresholds } from "./ops.js";
import { type Alternatives, F32_MAX, type Outcome, T, addInto, boundFrom, broadcastIndex, kindAlternatives, rounding, sameKind, sizeOf, spreadFrom, widenByBranches, within } from "./ref.js";

/**
 * A time limit for long fuzz runs, checked between the nodes of a graph as it is generated and
 * between the nodes of every reference run (the slow part: plain float64 loops, run 7–9 times
 * per graph), so one large graph cannot hold a run far past its limit. Infinity: none.
 */
export const timeLimit = { until: Infinity };

/** Thrown when the time limit passes in the middle of a graph (the graph is then not checked). */
export class OutOfTime extends Error {
  constructor() {
    super("fuzz: the time limit passed while a graph was being checked");
  }
}

function checkTime(): void {
  if (timeLimit.until !== Infinity && performance.now() > timeLimit.until) throw new OutOfTime();
}

export interface GraphSpec {
  nodes: SpecNode[];
  /** The node backward starts from, and its upstream gradient (non-unit). */
  output: number;
  upstream: Float32Array;
}

/** Dimensions drawn for shapes: 1 first (what shrinking reaches), then small, odd and tile-edge sizes. */
const DIMS = [1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17, 1, 2, 3, 33];
/** Sizes that cross the thread split thresholds (GEMM ≥ 2^16 MACs, elementwise ≥ 8192), drawn now and then. */
const BIG_DIMS = [96, 97, 130];

/** Leaf values: ordinary, tiny, large, kink points (0, ±1) and repeats (ties for max). */
function leafValues(c: Chooser, n: number, kind: SpecNode["kind"]): Float32Array {
  const out = new Float32Array(n);
  const style = c.int(6);
  let s = (c.int(1 << 30) ^ 0x9e3779b9) >>> 0 || 1;
  const u = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
  for (let i = 0; i < n; i++) {
    const r = u() * 2 - 1;
    if (kind === "target") out[i] = u();
    else if (style === 0) out[i] = r;
    else if (style === 1) out[i] = r * 1e-3;
    else if (style === 2) out[i] = r * 20;
    else if (style === 3) out[i] = [0, 1, -1, 0.5, r][Math.floor(u() * 5)]!;
    else if (style === 4) out[i] = Math.round(r * 3) / 2;
    else out[i] = r * 3;
  }
  return out;
}

export function generate(choices: readonly number[], ops: readonly FuzzOp[] = FUZZ_OPS): GraphSpec {
  const c = new Chooser(choices);
  const nodes: SpecNode[] = [];
  const nOps = 1 + c.int(12);
  const big = c.chance(8);
  const pool: Pool = {
    nodes,
    c,
    existing(ok) {
      const fits = nodes.filter((n) => n.kind !== "target" && n.kind !== "ids" && ok(n.shape));
      // Prefer recent nodes (chains), but any earlier one can be reused (fan-out).
      if (fits.length === 0 || c.chance(4)) return null;
      return fits[fits.length - 1 - c.int(Math.min(fits.length, 4))]!;
    },
    leaf(shape, kind) {
      const k = kind ?? c.pick(["param", "param", "input", "input"] as const);
      const requiresGrad = k === "param" || (k === "input" && c.chance(2));
      const node: SpecNode = { id: nodes.length, shape, kind: k, requiresGrad, values: leafValues(c, sizeOf(shape), k) };
      nodes.push(node);
      return node;
    },
    ids(shape, below) {
      const n = sizeOf(shape);
      const values = new Float32Array(n);
      // Repeated ids (gradient rows that sum) and unused ones come up on their own.
      for (let i = 0; i < n; i++) values[i] = c.int(below);
      const node: SpecNode = { id: nodes.length, shape, kind: "ids", requiresGrad: false, values };
      nodes.push(node);
      return node;
    },
    ofShape(shape) {
      const fits = nodes.filter((n) => n.kind !== "target" && n.kind !== "ids" && n.shape.length === shape.length && n.shape.every((d, i) => d === shape[i]));
      if (fits.length > 0 && c.chance(3)) return c.pick(fits); // a param used twice, a node with two consumers
      return pool.leaf(shape.slice());
    },
    dim(allowZero = false) {
      if (allowZero && c.chance(12)) return 0;
      if (big && c.chance(2)) return c.pick(BIG_DIMS);
      return c.pick(DIMS);
    },
    shape(minRank, maxRank) {
      const r = minRank + c.int(maxRank - minRank + 1);
      const s = Array.from({ length: r }, () => pool.dim());
      // Three or four large dimensions would make a leaf of up to 2.9·10⁸ values (1.1 GB as
      // float32; its sum's reference then outgrew a JS array and ended the process): past
      // MAX_LEAF values, the last large dimensions become small ones (96 → 1, 97 → 2, 130 → 3).
      for (let i = r - 1; i >= 0 && sizeOf(s) > MAX_LEAF; i--) if (s[i]! > 33) s[i] = (s[i]! % 16) + 1;
      return s;
    },
    apply: () => {
      throw new Error("set below");
    },
  };
  const push = (op: FuzzOp, inputs: SpecNode[], attrs: Record<string, unknown>): SpecNode => {
    checkTime();
    // The shape comes from the reference itself on zeros (cheap for these sizes).
    const y = op.fwd(inputs.map((n) => T.zeros(n.shape)), attrs);
    const node: SpecNode = {
      id: nodes.length,
      shape: y.shape.slice(),
      kind: "op",
      requiresGrad: inputs.some((n) => n.requiresGrad),
      op,
      inputs: inputs.map((n) => n.id),
      attrs,
    };
    nodes.push(node);
    return node;
  };
  pool.apply = push;
  // A graph ends where its choices do: past them every draw would be choice 0 (the first op,
  // on the simplest inputs), and long runs of that spend the budget on one plain pattern.
  for (let i = 0; i < nOps && (i === 0 || !c.exhausted); i++) {
    const op = ops[c.int(ops.length)]!;
    const picked = op.pick(pool);
    if (picked === null) continue;
    push(op, picked.inputs, picked.attrs);
  }
  // Backward from the last op node that needs a gradient (or none).
  let output = -1;
  for (let i = nodes.length - 1; i >= 0; i--) {
    if (nodes[i]!.kind === "op" && nodes[i]!.requiresGrad) {
      output = i;
      break;
    }
  }
  const upstream = output < 0 ? new Float32Array(0) : leafValues(c, sizeOf(nodes[output]!.shape), "input").map((v) => v + 1.5);
  return { nodes, output, upstream };
}

/** The graph as code a user can paste into a test. */
export function toCode(spec: GraphSpec): string {
  const lines = ["const g = sg.graph();"];
  const name = (n: SpecNode) => `n${n.id}`;
  // −0 written as such (String(−0) is "0"): a graph's zeros keep their sign when pasted.
  const fmt = (v: Float32Array) => `[${Array.from(v, (x) => (Object.is(x, -0) ? "-0" : String(x))).join(", ")}]`;
  const feeds: string[] = [];
  for (const n of spec.nodes) {
    if (n.kind === "param") lines.push(`const ${name(n)} = g.param([${n.shape}], { name: "${name(n)}", data: ${fmt(n.values!)} });`);
    else if (n.kind === "input" || n.kind === "target" || n.kind === "ids") {
      lines.push(`const ${name(n)} = g.input([${n.shape}], "${name(n)}"${n.requiresGrad ? ", { requiresGrad: true }" : ""});`);
      feeds.push(`${name(n)}: ${fmt(n.values!)}`);
    } else lines.push(`const ${name(n)} = ${n.op!.code(n.inputs!.map((i) => name(spec.nodes[i]!)), n.attrs!)};`);
  }
  lines.push(`g.forward({ ${feeds.join(", ")} });`);
  if (spec.output >= 0) {
    const out = spec.nodes[spec.output]!;
    lines.push(out.shape.length === 0 && spec.upstream.length === 1 ? `g.backward(n${out.id}, ${fmt(spec.upstream)});` : `g.backward(n${out.id}, ${fmt(spec.upstream)});`);
  }
  return lines.join("\n");
}

/** Values and gradients of every node as the reference computes them. */
export interface RefRun {
  values: Float64Array[];
  grads: (Float64Array | null)[];
  /** Per node whose op makes comparisons rounding may decide, the values it compares (else null). */
  compared: (T | null)[];
}

/** How a node's comparisons are found and decided: the op's own (FuzzOp.branches), or its first input against thresholds. */
interface Branching {
  compared(xs: T[], attrs: Record<string, unknown>): T | null;
  decide(c: T, spread: Float64Array, side: -1 | 1, attrs: Record<string, unknown>): { decided: unknown; count: number };
  decideMiddle?(c: T, spread: Float64Array, rank: number, attrs: Record<string, unknown>): { decided: unknown; count: number } | null;
  /** The decision replaces the first input (else it is passed as attrs.decided). */
  firstInput: boolean;
}

function branchingOf(n: SpecNode): Branching | null {
  if (n.kind !== "op") return null;
  if (n.op!.branches) return { ...n.op!.branches, firstInput: false };
  const th = n.op!.thresholds?.(n.attrs!);
  if (!th) return null;
  return {
    compared: (xs) => xs[0]!,
    decide(c, spread, side) {
      const { moved, count } = nearThresholds(c.data, spread, th, side);
      return { decided: moved && new T(c.shape, moved), count };
    },
    firstInput: true,
  };
}

/**
 * Runs the reference. `branch[i]`, for a node whose op makes comparisons rounding may decide,
 * is their decision for this node's forward and backward (branchInputs): for an op comparing
 * its first input with thresholds, that input with its elements near a threshold moved just
 * to a chosen side of it; for the others (FuzzOp.branches), what their `decide` made.
 * `probe[i][k]`, for a division, values that replace elements of its input k (`undetermined`).
 * `gradProbe[i]`, for log, sqrt or mse, values that replace elements of its first input in
 * its backward alone (its output made again from them), so only the gradients move.
 */
export function runReference(
  spec: GraphSpec,
  branch: readonly unknown[] = [],
  probe: readonly (Map<number, number>[] | undefined)[] = [],
  gradProbe: readonly (Map<number, number> | undefined)[] = [],
): RefRun {
  if (fixedBranch.length > 0) branch = spec.nodes.map((_, i) => fixedBranch[i] ?? branch[i]);
  const vals: T[] = [];
  const compared: (T | null)[] = spec.nodes.map(() => null);
  const args: ({ xs: T[]; attrs: Record<string, unknown> } | null)[] = spec.nodes.map(() => null);
  for (const n of spec.nodes) {
    checkTime();
    if (n.kind !== "op") {
      vals.push(T.of(n.shape, n.values!));
      continue;
    }
    let xs = n.inputs!.map((j) => vals[j]!);
    let attrs = n.attrs!;
    const br = branchingOf(n);
    if (br) {
      const c = br.compared(xs, attrs);
      compared[n.id] = c;
      const d = branch[n.id];
      if (br.firstInput) xs = d ? [decidedOver(xs[0]!, d as T), ...xs.slice(1)] : xs;
      else if (c) attrs = { ...attrs, compared: c, decided: d ?? null };
    }
    // A probe replaces elements of a division's inputs (undetermined, below).
    const pr = probe[n.id];
    if (pr) xs = xs.map((x, k) => (pr[k]?.size ? x.map((v, e) => pr[k]!.get(e) ?? v) : x));
    args[n.id] = { xs, attrs };
    if (noiseAt >= 0) rounding.noisy = false;
    rounding.call(false);
    vals.push(n.op!.fwd(xs, attrs));
  }
  const grads: (T | null)[] = spec.nodes.map(() => null);
  if (spec.output >= 0) {
    grads[spec.output] = T.of(spec.nodes[spec.output]!.shape, spec.upstream);
    for (let i = spec.output; i >= 0; i--) {
      const n = spec.nodes[i]!;
      const dy = grads[i];
      if (n.kind !== "op" || dy == null || !n.requiresGrad) continue;
      checkTime();
      let { xs } = args[i]!;
      const { attrs } = args[i]!;
      let y = vals[i]!;
      if (noiseAt >= 0) rounding.noisy = i === noiseAt;
      const gp = gradProbe[i];
      if (gp?.size) {
        xs = [xs[0]!.map((v, e) => gp.get(e) ?? v), ...xs.slice(1)];
        rounding.call(false);
        y = n.op!.fwd(xs, attrs);
      }
      rounding.call(true);
      const dxs = n.op!.vjp(xs, y, dy, attrs);
      n.inputs!.forEach((j, k) => {
        const d = dxs[k];
        if (!d || !spec.nodes[j]!.requiresGrad) return;
        // Added in float32 as the kernels accumulate (two halves of 3.6·10³⁸ overflow).
        grads[j] = addInto(grads[j] ?? null, d);
      });
    }
  }
  return { values: vals.map((v) => v.data), grads: grads.map((g) => g?.data ?? null), compared };
}

/**
 * For each node whose op makes comparisons that rounding may decide (a compared value within
 * its rounding spread of a threshold, two values within rounding of each other), their
 * decision one way (`side` −1: below, or the first of near-equal candidates) or the other
 * (+1); undefined where no comparison is that close. Exact values (spread 0: a leaf at a
 * kink, a node against itself) are never decided, so the kink and tie conventions stay tested.
 */
function branchInputs(spec: GraphSpec, compared: readonly (T | null)[], spreads: readonly (Float64Array | null)[], side: -1 | 1): { inputs: unknown[]; moved: number } {
  const inputs: unknown[] = [];
  let count = 0;
  for (const n of spec.nodes) {
    const br = branchingOf(n);
    const c = compared[n.id];
    if (!br || !c) continue;
    const r = br.decide(c, spreads[n.id]!, side, n.attrs!);
    if (r.count === 0) continue;
    inputs[n.id] = r.decided;
    count += r.count;
  }
  return { inputs, moved: count };
}

/** The exact reference, the bounds it allows, and how many branch runs widened them (0, or 2 a round). */
export interface Reference {
  exact: RefRun;
  valueBound: Float64Array[];
  gradBound: (Float64Array | null)[];
  branchRuns: number;
  /** Of those, the runs that decided one group of the near comparisons alone (splitRuns). */
  mixRuns: number;
  /** The ops of the nodes whose comparisons the branch runs decided (one name per node). */
  decided: string[];
  /**
   * Per node, the outcomes of another kind (NaN, an infinity, a finite value) than the exact
   * one's that rounding noise or a branch can give some elements (null: none; see ref.ts).
   */
  valueAlts: (Alternatives | null)[];
  gradAlts: (Alternatives | null)[];
  /**
   * Per node, the elements that depend on a quotient whose divisor has no correct digit (1;
   * null: none), which may take any value (`undetermined`).
   */
  valueFree: (Uint8Array | null)[];
  gradFree: (Uint8Array | null)[];
}

/**
 * Runs the reference `count` times under rounding noise (the same noise streams every time).
 * A third of the runs share one bias over the run (errors that pile up through a graph one
 * way; runs 0 and 1 draw − and +) and sum in sequence; a third draw a bias per op call (the
 * errors of two calls do not cancel each other: ref.ts, Rounding.perCall; the second of
 * those runs takes the first's biases and negates the backward calls'); a third round
 * without bias (errors independent of the values' signs: Rounding.unbiased) and sum in
 * SIMD lanes (partial sums of another order: Rounding.laneSums). Those two fuse the
 * products of sums of products (the relaxed build's FMA: Rounding.fused).
 */
function noisyRuns(spec: GraphSpec, count: number, branch: readonly unknown[] = []): RefRun[] {
  return noisyRunsWith(spec, count, () => {}, branch);
}

/**
 * When ≥ 0, runReference computes every value exactly and rounds with noise only in this
 * node's backward (localNoisyRuns).
 */
let noiseAt = -1;

/**
 * Noisy runs with the noise in one op's backward at a time, at the exact values and the exact
 * upstream gradient: `count` runs per op node (count 3: one of each noise kind). For graphs
 * whose whole-graph noisy runs leave the exact run's neighbourhood (leavesExact), where a
 * gradient's spread over those runs can be far smaller than float32's own error at the exact
 * values. Seed 2996: attention over rows with scores near 540 (P one-hot), then a linear
 * layer, exp and logSoftmax; half the noisy runs gave NaN, and in the others the attention's
 * upstream gradient was 17 times smaller than the exact one, so the cancellation dP − dO·O in
 * its backward (exactly 0 where P is 1, float32 roundings of 4.8·10¹⁴-sized terms in the
 * kernels) moved a gradient by 5·10⁷ in those runs and by 10⁹ in float32. Noise in the
 * attention's forward too would move its output into the same downstream cancellation
 * (seed 2996, relaxed: an upstream gradient of 9·10⁷ came out near 50), hence the backward only.
 */
function localNoisyRuns(spec: GraphSpec, count: number): RefRun[] {
  const out: RefRun[] = [];
  for (const n of spec.nodes) {
    if (n.kind !== "op") continue;
    noiseAt = n.id;
    try {
      out.push(...noisyRuns(spec, count));
    } finally {
      noiseAt = -1;
    }
  }
  return out;
}

/**
 * Whether some noisy run leaves the exact run's neighbourhood: a result of another kind than the
 * exact one's (see sameKind), or a tensor moved by more than half its largest exact magnitude
 * (seed 2996, relaxed: an upstream gradient of 9·10⁷ came out near 50 in every noisy run).
 */
function leavesExact(exact: RefRun, noisy: readonly RefRun[]): boolean {
  const differs = (e: ArrayLike<number> | null, r: ArrayLike<number> | null) => {
    if (!e || !r) return false;
    let top = 0;
    let moved = 0;
    for (let k = 0; k < e.length; k++) {
      if (!sameKind(e[k]!, r[k]!)) return true;
      if (!Number.isFinite(e[k]!)) continue;
      top = Math.max(top, Math.abs(e[k]!));
      moved = Math.max(moved, Math.abs(r[k]! - e[k]!));
    }
    return moved > 0.5 * top;
  };
  return noisy.some((r) => r.values.some((v, i) => differs(exact.values[i]!, v)) || r.grads.some((g, i) => differs(exact.grads[i] ?? null, g)));
}

/** noisyRuns, with `setup` adjusting the rounding model after each run's seeding. */
function noisyRunsWith(spec: GraphSpec, count: number, setup: () => void, branch: readonly unknown[] = []): RefRun[] {
  const out: RefRun[] = [];
  for (let r = 0; r < count; r++) {
    rounding.noisy = true;
    const kind = Math.floor((3 * r) / count) as 0 | 1 | 2;
    // The second run of a kind flips the backward calls' biases (Rounding.flipBackward).
    rounding.seed(0x1234 + 7919 * r, kind, r > 0 && Math.floor((3 * (r - 1)) / count) === kind);
    setup();
    try {
      out.push(runReference(spec, branch));
    } finally {
      rounding.exact();
    }
  }
  return out;
}

/** At most this many groups of near comparisons decided on their own (splitRuns). */
const SPLIT_GROUPS = 6;

/**
 * Mixes of branches. Float32 settles each near comparison on its own, so a result that
 * depends on several of them may follow one side for some and the other side for the rest,
 * and the runs that decide them all one way can cancel where a mix does not (seed 2951: dq of
 * a row of selfAttention under maxPool2d, whose window maxima near a tie in columns 40 and 44
 * went one each way; the all-first run moved that gradient by the two flips' sum, which
 * nearly cancels, and the kernel lay 1.5 bounds off with one of them). The comparisons the
 * last round decided (`last`: its below and above inputs) are dealt into groups (each its own
 * where there are at most SPLIT_GROUPS, else by a hash of their order, so neighbours rarely
 * share one), and each group is decided alone, both ways: two runs a group, none when fewer
 * than two comparisons were decided. A result may then lie twice the sum over the groups of
 * their farther run from the exact one (widenByMixes): the reach of any mix while the flips
 * add up linearly, as a gradient's routing does.
 */
function splitRuns(spec: GraphSpec, last: readonly unknown[][]): { sides: unknown[][]; runs: RefRun[] }[] {
  if (last.length === 0) return [];
  const [below, above] = last as [unknown[], unknown[]];
  const where: [number, number][] = [];
  below.forEach((d, id) => {
    for (const e of decidedElements(d)) where.push([id, e]);
  });
  if (where.length < 2) return [];
  const groups = Math.min(SPLIT_GROUPS, where.length);
  const groupOf = new Map<string, number>();
  where.forEach(([id, e], k) => groupOf.set(`${id}:${e}`, where.length <= SPLIT_GROUPS ? k : (Math.imul(k + 1, 0x9e3779b1) >>> 0) % groups));
  const out: { sides: unknown[][]; runs: RefRun[] }[] = [];
  for (let g = 0; g < groups; g++) {
    const only = (side: unknown[]) => side.map((d, id) => decidedSubset(d, (e) => groupOf.get(`${id}:${e}`) === g));
    const pair = [only(below), only(above)];
    out.push({ sides: pair, runs: pair.map((b) => runReference(spec, b)) });
  }
  return out;
}

/** The elements a branch input decides: a number (T, Float64Array; NaN: not decided) or a winner ≥ 0 (maxPool2d's list; −1: not decided). */
function decidedElements(d: unknown): number[] {
  const data = d instanceof T ? d.data : d instanceof Float64Array ? d : Array.isArray(d) ? d : null;
  const out: number[] = [];
  if (data === null) return out;
  for (let e = 0; e < data.length; e++) if (Array.isArray(data) ? data[e]! >= 0 : !Number.isNaN(data[e]!)) out.push(e);
  return out;
}

/** A branch input deciding only the elements `keep` takes (the others computed as the run computes them). */
function decidedSubset(d: unknown, keep: (e: number) => boolean): unknown {
  if (d instanceof T) return new T(d.shape, d.data.map((v, e) => (keep(e) ? v : NaN)));
  if (d instanceof Float64Array) return d.map((v, e) => (keep(e) ? v : NaN));
  if (Array.isArray(d)) return d.map((v: number, e) => (keep(e) ? v : -1));
  return d;
}

/** Widens `bound` by twice the sum, over the groups of splitRuns, of the farther finite run of each from `exact`. */
function widenByMixes(bound: Float64Array, exact: Float64Array, groups: readonly Float64Array[][]): void {
  for (let i = 0; i < exact.length; i++) {
    const e = exact[i]!;
    if (!Number.isFinite(e)) continue;
    let sum = 0;
    for (const runs of groups) {
      let dev = 0;
      for (const r of runs) if (Number.isFinite(r[i]!)) dev = Math.max(dev, Math.abs(r[i]! - e));
      sum += dev;
    }
    bound[i] = bound[i]! + 2 * sum;
  }
}

/**
 * Widens `bound` so that each finite result may lie within `run`'s own rounding room (its
 * noisy runs' bound) of `run`, a branch run, wherever `run` is finite too.
 */
function withinRoom(bound: Float64Array, exact: Float64Array, run: Float64Array, noisy: readonly Float64Array[]): void {
  const room = boundFrom(run, noisy);
  for (let e = 0; e < exact.length; e++) {
    const x = exact[e]!, r = run[e]!;
    if (!Number.isFinite(x) || !Number.isFinite(r)) continue;
    bound[e] = Math.max(bound[e]!, Math.abs(r - x) + room[e]!);
  }
}

/** Decisions every reference run takes (referenceFromRun), by node id; empty: none. */
let fixedBranch: readonly unknown[] = [];

/**
 * The reference with every choice an op can decide from a float32 run's values decided so
 * (FuzzOp.branches.decideFrom: maxPool2d's window maxima, from `got`'s values of its input),
 * in the exact run, the noisy ones and every branch run; null when no node has such choices.
 * A window's maximum among near-equal values is float32's to settle, and it settles it with
 * one order of those values for every window that holds them: seed 2979, graph 30462, the
 * gradient of a value that is the first maximum of all four 2 × 2 windows holding it in
 * float32 (1.05·10⁻⁹ relative above its right neighbour, 5.9·10⁻⁹ below it exactly): 4·dy,
 * where the per-window decisions gave 2·dy (first in two windows, last in the other two).
 * What the values themselves are is checked against the plain reference; this one only
 * stands in for it where that comparison fails.
 */
export function referenceFromRun(spec: GraphSpec, got: SgRun): Reference | null {
  const fixed: unknown[] = [];
  let any = false;
  for (const n of spec.nodes) {
    const from = n.kind === "op" ? n.op!.branches?.decideFrom : undefined;
    if (!from) continue;
    fixed[n.id] = from(n.inputs!.map((j) => new T(spec.nodes[j]!.shape, Float64Array.from(got.values[j]!))), n.attrs!);
    any = true;
  }
  if (!any) return null;
  fixedBranch = fixed;
  try {
    return referenceWithBounds(spec);
  } finally {
    fixedBranch = [];
  }
}

/** Noisy runs of each branch run (of the rounds), made where some result changes kind across the branches and for each run's own rounding room (withinRoom). */
const BRANCH_NOISY_RUNS = 4;

/**
 * The exact reference and the bounds from `noisyRuns` runs under rounding noise.
 *
 * Rounding can also decide a branch: step(tanh(x), −1) with tanh(x) = −1 + 4·10⁻⁸ is 1
 * exactly, but a float32 tanh within its few ulps may give −1 itself, and then 0. Noisy runs
 * find such a flip only by chance (each draws its own noise), so where a compared input lies
 * within its rounding spread of a threshold (16× the noisy runs' deviation: the room the
 * comparison gives that input itself), two more runs decide every such comparison below and
 * above the threshold. Every value and gradient may then also lie twice as far from the exact
 * one as those runs do (either branch), as far as mixes of them reach (splitRuns), and within
 * each side's own rounding room of it, on top of its rounding room. The runs are made again
 * while they bring more compared inputs near a threshold (at most 3 times), and the runs of
 * every round count: a flip's result with and without the decisions it led to.
 *
 * A branch can also change what kind of result follows: sqrt(step(·) − 1) is 0 on one side
 * and NaN on the other; hardTanh's selected 0 slope stops a NaN upstream gradient that its
 * slope 1 passes on. No distance covers that, so where a branch run's result (or a noisy
 * run's: a cancellation rounded below zero under a sqrt) is of another kind (finite, NaN, an
 * infinity) than the exact one, that result is an outcome of its own (ref.ts, Alternatives):
 * NaN for NaN, the same infinity, or a finite value within that branch's rounding room,
 * which `BRANCH_NOISY_RUNS` noisy runs of each branch measure (made only then).
 */
/** At most this many runs for the middle ranks of near-equal candidates (ranks 1 … MIDDLE_RUNS). */
const MIDDLE_RUNS = 7;

export function referenceWithBounds(spec: GraphSpec, noisyCount = 6): Reference {
  rounding.exact();
  const exact = runReference(spec);
  const noisy = noisyRuns(spec, noisyCount);
  // Where the noisy runs leave the exact run's neighbourhood, the gradients' bounds also take
  // the runs with the noise in one op's backward at a time (localNoisyRuns). Not the values': a forward
  // cancellation whose input has no correct digit is bounded by its reach (`undetermined`),
  // which those runs would widen (seed 2956's log, below −20 in float32, would be allowed −10).
  const spreadRuns = leavesExact(exact, noisy) ? [...noisy, ...localNoisyRuns(spec, 3)] : noisy;
  const valueBound = exact.values.map((v, i) => boundFrom(v, noisy.map((n) => n.values[i]!)));
  const gradBound = exact.grads.map((g, i) => (g === null ? null : boundFrom(g, spreadRuns.map((n) => n.grads[i] ?? new Float64Array(g.length).fill(NaN)))));
  const noisyGrads = (runs: RefRun[], i: number, len: number) => runs.map((r) => r.grads[i] ?? new Float64Array(len));
  const orNull = (m: Alternatives) => (m.size > 0 ? m : null);
  const valueAlts = exact.values.map((v, i) => orNull(kindAlternatives(v, noisy.map((n) => n.values[i]!))));
  const gradAlts = exact.grads.map((g, i) => (g === null ? null : orNull(kindAlternatives(g, noisyGrads(noisy, i, g.length)))));
  overflowEdges(spec, noisyCount, exact, valueAlts, gradAlts);
  let spreads = exact.compared.map((c, i) => c && spreadFrom(c.data, noisy.map((n) => n.compared[i]!.data)));
  const runs: RefRun[] = [];
  const sides: unknown[][] = [];
  let decided: string[] = [];
  let moved = 0;
  let last: unknown[][] = [];
  for (let round = 0; round < 3; round++) {
    const below = branchInputs(spec, exact.compared, spreads, -1);
    if (below.moved <= moved) break;
    moved = below.moved;
    const now = [below.inputs, branchInputs(spec, exact.compared, spreads, 1).inputs];
    decided = spec.nodes.filter((n) => below.inputs[n.id] !== undefined).map((n) => n.op!.name);
    const made = now.map((b) => runReference(spec, b));
    // The runs of earlier rounds stay: a comparison a flip brought near its threshold is
    // decided both ways in the next round, but the flip may also leave it where it is
    // (step(tanh(x), −1) at −1 gives 0, and sqrt(0 − (−0.5)) of that is 0.707: the next
    // round takes sqrt's input to 0 and below, seed 888088866, graph 1793).
    sides.push(...now);
    runs.push(...made);
    last = now;
    // A later comparison's values spread as far as the flips before them move them.
    spreads = spreads.map((sp, i) => sp && widenByBranches(sp.slice(), exact.compared[i]!.data, made.map((r) => r.compared[i]!.data)));
  }
  const roundRuns = runs.length;
  const split = splitRuns(spec, last);
  for (const pair of split) {
    sides.push(...pair.sides);
    runs.push(...pair.runs);
  }
  // Choices among three or more near-equal candidates (a window's maximum): one more run per
  // middle rank (the second, the third, …, at most MIDDLE_RUNS), deciding only those, so
  // every candidate float32 may settle on is an outcome the bounds allow.
  for (let rank = 1; rank <= MIDDLE_RUNS; rank++) {
    const inputs: unknown[] = [];
    let any = false;
    for (const n of spec.nodes) {
      const br = branchingOf(n);
      const c = exact.compared[n.id];
      if (!br?.decideMiddle || !c) continue;
      const r = br.decideMiddle(c, spreads[n.id]!, rank, n.attrs!);
      if (r === null || r.count === 0) continue;
      inputs[n.id] = r.decided;
      any = true;
    }
    if (!any) break;
    sides.push(inputs);
    runs.push(runReference(spec, inputs));
  }
  if (runs.length === 0) return undetermined(spec, noisy, { exact, valueBound, gradBound, branchRuns: 0, mixRuns: 0, decided, valueAlts, gradAlts, valueFree: [], gradFree: [] });
  const splits = (e: Float64Array, rs: Float64Array[]) => rs.some((r) => r.some((v, k) => !sameKind(v, e[k]!)));
  const changesKind =
    exact.values.some((v, i) => splits(v, runs.map((r) => r.values[i]!))) ||
    exact.grads.some((g, i) => g !== null && splits(g, noisyGrads(runs, i, g.length)));
  // Noisy runs of branch run k (made once, when first asked for).
  const madeNoisy: RefRun[][] = [];
  const sideNoisy = (k: number) => (madeNoisy[k] ??= noisyRuns(spec, BRANCH_NOISY_RUNS, sides[k]!));
  if (changesKind) {
    // Each branch's own rounding room, widened by how far the other runs of its kind lie.
    // (Made for a branch run only where one of its results is of another kind.)
    // (The noisy runs of the exact inputs count among those: a finite result of sqrt at a
    // domain edge, 0 on one branch, lies as far as sqrt of the noise's positive inputs.)
    const room = (e: Float64Array, vals: Float64Array[], noisyOf: (k: number) => Float64Array[], mainNoisy: Float64Array[]) => {
      const made: Float64Array[] = [];
      return (k: number) => (made[k] ??= widenByBranches(boundFrom(vals[k]!, noisyOf(k)), vals[k]!, [e, ...vals.filter((_, j) => j !== k), ...mainNoisy]));
    };
    exact.values.forEach((v, i) => {
      const vals = runs.map((r) => r.values[i]!);
      if (!splits(v, vals)) return;
      valueAlts[i] = kindAlternatives(v, vals, valueAlts[i] ?? new Map(), room(v, vals, (k) => sideNoisy(k).map((n) => n.values[i]!), noisy.map((n) => n.values[i]!)));
    });
    exact.grads.forEach((g, i) => {
      if (g === null) return;
      const vals = noisyGrads(runs, i, g.length);
      if (!splits(g, vals)) return;
      gradAlts[i] = kindAlternatives(g, vals, gradAlts[i] ?? new Map(), room(g, vals, (k) => noisyGrads(sideNoisy(k), i, g.length), noisyGrads(noisy, i, g.length)));
    });
  }
  for (let i = 0; i < valueBound.length; i++) {
    widenByBranches(valueBound[i]!, exact.values[i]!, runs.map((r) => r.values[i]!));
    const b = gradBound[i];
    if (b) widenByBranches(b, exact.grads[i]!, noisyGrads(runs, i, b.length));
    if (split.length === 0) continue;
    widenByMixes(valueBound[i]!, exact.values[i]!, split.map((p) => p.runs.map((r) => r.values[i]!)));
    if (b) widenByMixes(b, exact.grads[i]!, split.map((p) => noisyGrads(p.runs, i, b.length)));
  }
  // Each side's own rounding. Twice a branch run's distance from the exact one covers its
  // rounding where the flip moves a result far more than rounding does; not where the exact
  // run has nothing to round (a gradient only a flip routes anything to, 0 exactly otherwise)
  // and the flip's terms cancel: seed 2955, dq of a causal attention row that a near tie of
  // maxPool2d sends dy to, Σ_j dS_j·k_j with both keys equal in that column, 0 up to float64
  // in the branch run and 1.7·10⁻⁹ in float32, against a bound of 4.4·10⁻¹⁰. So a result may
  // also lie within a side's own bound (BRANCH_NOISY_RUNS noisy runs of it) of that side.
  for (let k = 0; k < roundRuns; k++) {
    const nz = sideNoisy(k);
    const run = runs[k]!;
    for (let i = 0; i < valueBound.length; i++) {
      withinRoom(valueBound[i]!, exact.values[i]!, run.values[i]!, nz.map((n) => n.values[i]!));
      const b = gradBound[i];
      if (b) withinRoom(b, exact.grads[i]!, noisyGrads([run], i, b.length)[0]!, noisyGrads(nz, i, b.length));
    }
  }
  return undetermined(spec, noisy, { exact, valueBound, gradBound, branchRuns: runs.length, mixRuns: 2 * split.length, decided, valueAlts, gradAlts, valueFree: [], gradFree: [] });
}

/**
 * Overflow at the edge of float32's range. The bounds accept 16 times what the noisy runs
 * deviate, but whether a result past float32's largest value overflows is decided by the
 * runs themselves: where they all overflow, a float32 result that lies inside its bound and
 * stays finite was refused (seed 2942, SIMD128: an attention gradient exactly 3.6·10³⁸ from
 * the reference's upstream gradient, +Inf in float32, and 3.3·10³⁸ from the kernel's, which
 * lies 8% off, inside its own bound). Where some result overflows, or comes within a factor
 * 16 of doing so, the reference runs again without overflow (Rounding.unbounded: exact and
 * noisy), and a result that overflows (±Inf) where the unbounded one is an M past the largest
 * float32 but within its bound b of it (|M| − b ≤ the largest float32) may also be finite:
 * M ± b, up to the largest float32. Likewise a finite result whose bound reaches past the
 * largest float32 may overflow to the infinity of its sign, and a value that overflows only
 * inside its op (its inputs finite, M inside float32's range) may also be M ± b (seed 2978, relaxed: a
 * mean of two 2.4·10³⁸ among eight values, Inf in the reference's float32 sum, 6.06·10³⁷ from
 * the kernel's float64 total). Only those results themselves:
 * what a marginal overflow changes downstream (exp of it, Inf − Inf) is not covered yet.
 */
function overflowEdges(spec: GraphSpec, noisyCount: number, exact: RefRun, valueAlts: (Alternatives | null)[], gradAlts: (Alternatives | null)[]): void {
  const edge = (a: Float64Array | null) => a !== null && a.some((v) => Math.abs(v) > F32_MAX / 16);
  if (!exact.values.some(edge) && !exact.grads.some(edge)) return;
  let ex: RefRun, noisy: RefRun[];
  try {
    rounding.exact();
    rounding.unbounded = true;
    ex = runReference(spec);
    noisy = noisyRunsWith(spec, noisyCount, () => (rounding.unbounded = true));
  } finally {
    rounding.exact();
  }
  // `inner`: the result is a node's value and its inputs are finite, so an overflow to ±Inf
  // where M is in range happened inside the op (a sum's partial sums), not upstream.
  const widen = (e: Float64Array, m: Float64Array, runs: Float64Array[], alts: Alternatives | null, inner = false): Alternatives | null => {
    const b = boundFrom(m, runs);
    for (let k = 0; k < e.length; k++) {
      const mk = m[k]!, bk = b[k]!;
      if (!Number.isFinite(mk)) continue;
      const add = (o: Outcome) => {
        alts ??= new Map();
        const list = alts.get(k) ?? [];
        list.push(o);
        alts.set(k, list);
      };
      // Only where the result itself crosses the edge (|M| past the largest float32, or its
      // bound reaching past it): what lies downstream of an overflow is not covered.
      if (!Number.isFinite(e[k]!) && Math.abs(mk) > F32_MAX && Math.abs(mk) - bk <= F32_MAX) {
        // Finite from M − b (toward 0) up to the largest float32 of M's sign.
        const lo = Math.max(Math.abs(mk) - bk, 0), hi = Math.min(Math.abs(mk) + bk, F32_MAX);
        add({ value: Math.sign(mk) * ((lo + hi) / 2), bound: (hi - lo) / 2 });
      } else if (Number.isFinite(e[k]!) && Math.abs(mk) + bk > F32_MAX) add({ value: Math.sign(mk) * Infinity, bound: 0 });
      else if (inner && (e[k] === Infinity || e[k] === -Infinity) && Math.abs(mk) <= F32_MAX) {
        // Only an intermediate overflowed (M itself lies inside float32's range): float32 that
        // adds in another order, or totals in float64 as the reductions do, keeps M.
        add({ value: mk, bound: bk });
      }
    }
    return alts;
  };
  const finiteInputs = (i: number) => (spec.nodes[i]!.inputs ?? []).every((j) => exact.values[j]!.every(Number.isFinite));
  exact.values.forEach((v, i) => (valueAlts[i] = widen(v, ex.values[i]!, noisy.map((n) => n.values[i]!), valueAlts[i] ?? null, finiteInputs(i))));
  exact.grads.forEach((g, i) => {
    if (g === null || ex.grads[i] === null) return;
    gradAlts[i] = widen(g, ex.grads[i]!, noisy.map((n) => n.grads[i] ?? new Float64Array(g.length)), gradAlts[i] ?? null);
  });
}

/** log(2⁻¹⁴⁹): the least finite log of a positive float32. */
const LOG_LEAST = Math.log(2 ** -149);

/**
 * log's value where its input x has no correct digit (x within its bound) and may be ≥ +0:
 * besides NaN and −Inf (the branch runs' outcomes), any finite value from log(2⁻¹⁴⁹) up to
 * log(`top`), where top is x plus its rounding spread (16 times the noisy runs' deviation,
 * without the bound's floors): seed 2956, relaxed, log of a layerNorm output that cancels to 7.6·10⁻¹²
 * within a bound of 1.6·10⁻⁹, −24.3 in float32 against the exact −25.6 ± 0.64; seed 2958,
 * relaxed, log of a column mean that cancels to +0 exactly (mean(outer(x, w), 0) with Σx = 0),
 * 1.8·10⁻⁹ in float32. An x below 0 that some noisy run makes positive may be positive in
 * float32 too: seed 2987, log of an attention output that cancels to −6.4·10⁻⁹ exactly within a
 * bound of 6.5·10⁻⁷, 1.75·10⁻⁹ in float32 and log −20.2. Still nothing above log(top), nor
 * +Inf; and where x < 0 (or −0) in every run, only those two kinds (gelu of a large negative
 * x, never positive in float32 nor in a noisy run, keeps its finite logs refused). What such a
 * log value changes downstream is not covered.
 */
function logOfNoDigit(ref: Reference, id: number, top: number, e: number): void {
  if (!(top > 0)) return;
  const hi = Math.log(top);
  if (!(hi > LOG_LEAST)) return;
  const alts = (ref.valueAlts[id] ??= new Map());
  const list = alts.get(e) ?? [];
  list.push({ value: (LOG_LEAST + hi) / 2, bound: (hi - LOG_LEAST) / 2 + 8 * 2 ** -24 * Math.max(Math.abs(hi), Math.abs(LOG_LEAST)) });
  alts.set(e, list);
}

/**
 * The results a quotient without a correct digit reaches. Where a division's divisor lies
 * within its own bound of 0 (a computed value, spread > 0, whose float32 result the test
 * would accept as 0: a cancellation such as Σ p·w over weights that sum to 0), float32 may
 * give it any value in that bound, 0 and either sign included, so the quotient may be any
 * value of either sign, ±Inf or NaN (0/0), and so may everything computed from it: the
 * divisor's and the dividend's gradients, and every value and gradient downstream or
 * upstream of those. The reference cannot bound those, so they are free (Reference.
 * valueFree, gradFree); everything else is checked as before. Seed 90210777, graph 2142:
 * div(x, matmul(pᵀ, w)) with columns of w that sum to 0 (exactly 1.4·10⁻¹⁰, float32 0 on the
 * relaxed build, 3·10⁻⁸ on SIMD128), a quotient of −Inf or 3·10⁷ where the exact one is
 * −9·10⁸ or −Inf. Likewise a dividend within its bound of 0 over a divisor of 0: ±Inf, or
 * NaN where float32's dividend is 0 (seed 1234567, graph 2652: logSoftmax's −10⁻⁹ over an
 * input of 0, NaN where the exact quotient is −Inf).
 *
 * log's and sqrt's gradients (dy/x, ½dy/√x) are quotients too, by (a root of) their input:
 * where that input has no correct digit, or is 0 under a dy without one (seed 2967), they and
 * what they reach backward are free, but not the value, which the branch machinery decides
 * (log and sqrt at the edge of their domain, thresholds.test.ts) and, for log of an input
 * that may be ≥ +0, logOfNoDigit's finite range. Seed 2935: log of an attention output that cancels to
 * −4·10⁻⁸ in float32 within its bound of 0, −Inf in v's gradient where the exact one is −10⁸.
 *
 * Which results depend on those elements is found by running the reference again with
 * them (the divisor's, or the dividend's; log's or sqrt's input in the backward alone)
 * replaced (NaN; +0; the bound's half on the other side of 0 than the exact value):
 * the exact runs are deterministic, so a result any of those runs changes depends on them,
 * and one none changes does not (NaN alone would not do: relu's, max's and maxPool2d's
 * gradients select rather than multiply, and a NaN input there selects 0).
 */
function undetermined(spec: GraphSpec, noisy: readonly RefRun[], ref: Reference): Reference {
  // Per probe, per division node, per input (0: dividend, 1: divisor): element → value.
  const probes: Map<number, number>[][][] = [[], [], []];
  const gradProbes: Map<number, number>[][] = [[], [], []];
  let any = false;
  const probeValues = (j: number, e: number) => {
    const v = ref.exact.values[j]![e]!, bound = ref.valueBound[j]![e]!;
    return [NaN, 0, ((v < 0 ? 1 : -1) * bound) / 2];
  };
  const noDigit = (j: number) => {
    const v = ref.exact.values[j]!;
    const spread = spreadFrom(v, noisy.map((r) => r.values[j]!));
    const bound = ref.valueBound[j]!;
    return (e: number) => spread[e]! > 0 && Math.abs(v[e]!) <= bound[e]!;
  };
  // The same for a node's gradient (false where it has none).
  const gradNoDigit = (j: number) => {
    const g = ref.exact.grads[j], bound = ref.gradBound[j];
    if (!g || !bound) return () => false;
    const spread = spreadFrom(g, noisy.map((r) => r.grads[j]!));
    return (e: number) => spread[e]! > 0 && Math.abs(g[e]!) <= bound[e]!;
  };
  for (const n of spec.nodes) {
    if (n.kind !== "op") continue;
    const name = n.op!.name;
    if (name === "log" || name === "sqrt") {
      const [jx] = n.inputs as [number];
      const xFree = noDigit(jx);
      const dyFree = gradNoDigit(n.id);
      const xSpread = spreadFrom(ref.exact.values[jx]!, noisy.map((r) => r.values[jx]!));
      for (let e = 0; e < ref.exact.values[jx]!.length; e++) {
        const xe = ref.exact.values[jx]![e]!;
        const free = xFree(e);
        // (Below 0, only where a noisy run's x is positive: a cancellation's sign is float32's
        // to settle, a sign-definite value's is not.)
        const positive = xe > 0 || Object.is(xe, 0) || noisy.some((r) => r.values[jx]![e]! > 0);
        if (free && name === "log" && positive) logOfNoDigit(ref, n.id, xe + xSpread[e]!, e);
        if (!n.requiresGrad) continue;
        // Or, as for div, the dividend: an upstream gradient without a correct digit over an
        // input of exactly 0 gives ±Inf, or NaN where float32's gradient is 0 (seed 2967:
        // sqrt(x − x) under logSoftmax's gradient, −2·10⁻¹⁶ exactly and 0 in float32).
        if (!free && !(xe === 0 && dyFree(e))) continue;
        probeValues(jx, e).forEach((p, k) => (gradProbes[k]![n.id] ??= new Map()).set(e, p));
        any = true;
      }
      continue;
    }
    if (name === "mse" && n.requiresGrad) {
      // mse's gradient is 2·(a − b)·dy/N: under an infinite dy, a difference without a
      // correct digit may be exactly 0 in float32 (an attention output that is its value row
      // exactly, P = 1 after rounding), and 0·Inf NaN. The backward alone is rerun with a's
      // element set to b's (seed 2946, relaxed).
      const dy = ref.exact.grads[n.id]?.[0];
      if (dy === undefined || Number.isFinite(dy)) continue;
      const [ja, jb] = n.inputs as [number, number];
      const va = ref.exact.values[ja]!, vb = ref.exact.values[jb]!;
      const sa = spreadFrom(va, noisy.map((r) => r.values[ja]!)), sb = spreadFrom(vb, noisy.map((r) => r.values[jb]!));
      const ba = ref.valueBound[ja]!, bb = ref.valueBound[jb]!;
      for (let e = 0; e < va.length; e++) {
        if (!(sa[e]! + sb[e]! > 0 && Math.abs(va[e]! - vb[e]!) <= ba[e]! + bb[e]!)) continue;
        for (const k of [0, 1, 2]) (gradProbes[k]![n.id] ??= new Map()).set(e, vb[e]!);
        any = true;
      }
      continue;
    }
    if (name !== "div") continue;
    const [ja, jb] = n.inputs as [number, number];
    const probe = (input: 0 | 1, j: number, e: number) => {
      probeValues(j, e).forEach((p, k) => ((probes[k]![n.id] ??= [new Map(), new Map()])[input]!).set(e, p));
      any = true;
    };
    const b = ref.exact.values[jb]!;
    const aFree = noDigit(ja), bFree = noDigit(jb);
    for (let e = 0; e < b.length; e++) if (bFree(e)) probe(1, jb, e);
    // A divisor that is 0 (a leaf, or exactly 0 in float32 too) under a dividend without a
    // correct digit: ±Inf, or NaN where float32's dividend is 0 (seed 1234567: logSoftmax's
    // −10⁻⁹ over an input of 0).
    const out = spec.nodes[n.id]!.shape;
    const ia = broadcastIndex(spec.nodes[ja]!.shape, out), ib = broadcastIndex(spec.nodes[jb]!.shape, out);
    for (let i = 0; i < ia.length; i++) if (b[ib[i]!] === 0 && aFree(ia[i]!)) probe(0, ja, ia[i]!);
  }
  if (!any) return ref;
  const runs = probes.map((p, k) => runReference(spec, [], p, gradProbes[k]));
  const differs = (exact: Float64Array, others: (Float64Array | null)[]): Uint8Array | null => {
    let free: Uint8Array | null = null;
    for (const o of others) {
      if (!o) continue;
      for (let e = 0; e < exact.length; e++) if (!Object.is(o[e], exact[e]) && !(Number.isNaN(o[e]!) && Number.isNaN(exact[e]!))) (free ??= new Uint8Array(exact.length))[e] = 1;
    }
    return free;
  };
  const valueFree = ref.exact.values.map((v, i) => differs(v, runs.map((r) => r.values[i]!)));
  const gradFree = ref.exact.grads.map((g, i) => (g === null ? null : differs(g, runs.map((r) => r.grads[i] ?? null))));
  return { ...ref, valueFree, gradFree };
}

/** What simdgrad computes for the spec: every node's value, and gradients of the nodes that have one. */
export interface SgRun {
  values: Float32Array[];
  grads: (Float32Array | null)[];
}

export function buildGraph(sg: SimdGrad, spec: GraphSpec): { g: Graph; nodes: Node[]; feeds: Record<string, Float32Array> } {
  const g = sg.graph();
  const nodes: Node[] = [];
  const feeds: Record<string, Float32Array> = {};
  for (const n of spec.nodes) {
    const name = `n${n.id}`;
    if (n.kind === "param") nodes.push(g.param(n.shape, { name, data: n.values! }));
    else if (n.kind === "input" || n.kind === "target" || n.kind === "ids") {
      nodes.push(g.input(n.shape, name, { requiresGrad: n.requiresGrad }));
      feeds[name] = n.values!;
    } else nodes.push(n.op!.build(g, n.inputs!.map((i) => nodes[i]!), n.attrs!));
  }
  return { g, nodes, feeds };
}

/** What a built graph held: its nodes' registered ops, and how many of its views the plan folded. */
export interface Built {
  ops: (OpDef<any, any> | null)[];
  folded: number;
}

export function runSimdgrad(sg: SimdGrad, spec: GraphSpec, seen?: (b: Built) => void): SgRun {
  const { g, nodes, feeds } = buildGraph(sg, spec);
  try {
    // Every kernel's scratch must fit the block it is in, and no write may pass a scratch
    // block's end (a short one corrupts its neighbours, on two threads only when both pack at
    // once): test/scratch-audit.ts.
    const audit = auditScratch(g._host, () => {
      g.forward(feeds);
      seen?.({ ops: nodes.map((n) => n.op), folded: nodes.filter((n) => n._folded).length });
      if (spec.output >= 0) g.backward(nodes[spec.output]!, spec.upstream);
    });
    if (audit.violations.length > 0) throw new Error(`scratch overrun: ${audit.violations[0]}`);
    return {
      values: nodes.map((n) => n.value.toArray()),
      grads: nodes.map((n, i) => (spec.nodes[i]!.requiresGrad && n.grad ? n.grad.toArray() : null)),
    };
  } finally {
    g.dispose();
  }
}

/** The first disagreement between simdgrad and the reference, or null. */
export function compare(spec: GraphSpec, got: SgRun, ref: Reference): string | null {
  for (let i = 0; i < spec.nodes.length; i++) {
    const bad = firstOutside(got.values[i]!, ref.exact.values[i]!, ref.valueBound[i]!, ref.valueAlts[i], ref.valueFree[i]);
    if (bad) return `value of n${i} (${describe(spec.nodes[i]!)}): ${bad}`;
  }
  if (spec.output < 0) return null;
  for (let i = 0; i < spec.nodes.length; i++) {
    const want = ref.exact.grads[i];
    const n = spec.nodes[i]!;
    if (!n.requiresGrad || i > spec.output) continue;
    const g = got.grads[i];
    if (want === null || want === undefined) {
      // Nothing flows back to it: simdgrad's gradient must be all zeros (or absent).
      if (g && g.some((v) => v !== 0)) return `gradient of n${i} (${describe(n)}) should be zero, got ${Array.from(g.slice(0, 4))}`;
      continue;
    }
    if (!g) return `gradient of n${i} (${describe(n)}) is missing`;
    const bad = firstOutside(g, want, ref.gradBound[i]!, ref.gradAlts[i], ref.gradFree[i]);
    if (bad) return `gradient of n${i} (${describe(n)}): ${bad}`;
  }
  return null;
}

function describe(n: SpecNode): string {
  return `${n.kind === "op" ? n.op!.name : n.kind} [${n.shape}]`;
}

function firstOutside(got: Float32Array, want: Float64Array, bound: Float64Array, alts: Alternatives | null = null, free: Uint8Array | null = null): string | null {
  if (got.length !== want.length) return `length ${got.length}, expected ${want.length}`;
  for (let i = 0; i < want.length; i++) {
    if (free?.[i]) continue;
    const g = got[i]!;
    if (within(g, want[i]!, bound[i]!)) continue;
    const other = alts?.get(i);
    if (other?.some((o) => within(g, o.value, o.bound))) continue;
    const also = other ? ` (or ${other.map((o) => (Number.isFinite(o.value) ? `${o.value} ± ${o.bound.toPrecision(3)}` : String(o.value))).join(", or ")})` : "";
    return Number.isNaN(want[i]!) ? `element ${i} is ${g}, expected NaN${also}` : `element ${i} is ${g}, expected ${want[i]!} ± ${bound[i]!.toPrecision(3)}${also}`;
  }
  return null;
}
