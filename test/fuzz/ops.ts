/**
 * The ops the graph generator draws from: for each, how to pick inputs that fit (or make new
 * leaves that do), how to build it on a graph, how to write it as code, and its float64
 * reference (ref.ts): forward and vector-Jacobian product.
 *
 * `pick` reads its choices from a Chooser, whose choice 0 is always the simplest option, so
 * fast-check's shrinking (towards zeros and shorter choice lists) gives small, plain graphs.
 */
import type { Graph, Node } from "../../src/index.js";
import { dropoutMask, dropoutScale } from "./dropout-ref.js";
import { T, binary, broadcastIndex, madd, matmul2d, normalCdf, normalPdf, rnd, sigmoid, sizeOf, sumOf, transpose2d, unbroadcast } from "./ref.js";

/** The most values a drawn shape, or an embedding's output, holds (2^18, 1 MiB of float32: 32 times the elementwise thread split). */
export const MAX_LEAF = 1 << 18;

/** Deterministic choices from a list of integers (fast-check generates and shrinks the list). */
export class Chooser {
  private i = 0;
  constructor(private readonly choices: readonly number[]) {}
  /** An integer in [0, n). */
  int(n: number): number {
    if (n <= 1) return 0;
    const c = this.choices[this.i++] ?? 0;
    return ((c % n) + n) % n;
  }
  pick<V>(options: readonly V[]): V {
    return options[this.int(options.length)]!;
  }
  chance(oneIn: number): boolean {
    return this.int(oneIn) === oneIn - 1;
  }
  /** Whether every choice has been read (what follows would all be choice 0). */
  get exhausted(): boolean {
    return this.i >= this.choices.length;
  }
}

/** A node of a generated graph as the generator knows it. */
export interface SpecNode {
  id: number;
  shape: number[];
  /** Leaves: how they are made; op nodes: the op, inputs and attributes. */
  kind: "param" | "input" | "target" | "ids" | "op";
  requiresGrad: boolean;
  op?: FuzzOp;
  inputs?: number[];
  attrs?: Record<string, unknown>;
  /** Leaf values. */
  values?: Float32Array;
}

/** What an op's `pick` asks of the generator. */
export interface Pool {
  nodes: readonly SpecNode[];
  c: Chooser;
  /** Picks an existing node whose shape passes `ok` (or null). */
  existing(ok: (s: readonly number[]) => boolean): SpecNode | null;
  /** A new leaf (a param, or an input with or without a gradient) of this shape. */
  leaf(shape: number[], kind?: "param" | "input" | "target"): SpecNode;
  /** A new input of integers in [0, below) (class labels, row ids), without a gradient. */
  ids(shape: number[], below: number): SpecNode;
  /** An existing node or a new leaf of exactly this shape. */
  ofShape(shape: number[]): SpecNode;
  /**
   * A new op node of `op` over these inputs, placed before the node being picked (so an
   * operand can be a view made for it: a transpose or reshape that its consumer may fold).
   */
  apply(op: FuzzOp, inputs: SpecNode[], attrs: Record<string, unknown>): SpecNode;
  /** A random shape of rank in [minRank, maxRank]. */
  shape(minRank: number, maxRank: number): number[];
  /** A random dimension (small, odd, around SIMD and tile widths, sometimes 0). */
  dim(allowZero?: boolean): number;
}

export interface FuzzOp {
  name: string;
  /** Picks inputs and attributes; null when it cannot fit here. */
  pick(p: Pool): { inputs: SpecNode[]; attrs: Record<string, unknown> } | null;
  build(g: Graph, xs: Node[], attrs: Record<string, unknown>): Node;
  code(xs: string[], attrs: Record<string, unknown>): string;
  fwd(xs: T[], attrs: Record<string, unknown>): T;
  /** One gradient per input (null where none flows). */
  vjp(xs: T[], y: T, dy: T, attrs: Record<string, unknown>): (T | null)[];
  /**
   * The constants the op compares its first input with, element by element, to pick a branch
   * (step's θ, hardTanh's ±1, relu's 0): where that input lies within rounding distance of
   * one, float32 may take either branch (see graphs.ts, referenceWithBounds).
   */
  thresholds?(attrs: Record<string, unknown>): number[];
  /**
   * Comparisons of values the op computes or pairs itself, which rounding may decide as well
   * (linear's fused activation of x·W + b against its thresholds, max's a against b,
   * maxPool2d's choice of a window's maximum among near-equal values); see graphs.ts,
   * referenceWithBounds. `compared` is what is compared, from the inputs as the reference
   * rounds them (null: nothing here); the reference passes it to fwd and vjp as
   * attrs.compared. `decide` takes the comparisons within `spread` (of the compared values)
   * of going the other way and decides them all one way (side −1: below, or the first of
   * near-equal candidates; +1: above, or the last); fwd and vjp follow attrs.decided where
   * given. `count`: how many it decided.
   */
  branches?: {
    compared(xs: T[], attrs: Record<string, unknown>): T | null;
    decide(c: T, spread: Float64Array, side: -1 | 1, attrs: Record<string, unknown>): { decided: unknown; count: number };
    /**
     * For a choice among more than two near-equal candidates (maxPool2d's window maximum),
     * which float32 may settle on any of, not only the first or last: the candidate of rank
     * `rank` (1: the second, …; the last where there are fewer) decided per element, or null
     * when no element has that many. graphs.ts runs the reference once per middle rank.
     */
    decideMiddle?(c: T, spread: Float64Array, rank: number, attrs: Record<string, unknown>): { decided: unknown; count: number } | null;
    /**
     * Every choice decided as float32 made it, from the inputs a float32 run computed
     * (`xs`: simdgrad's values of this node's inputs): maxPool2d's first maximum of each
     * window among those values. Near-equal candidates are ordered by float32 once for all the
     * windows that share them, which per-window first, last or middle decisions do not mix
     * (graphs.ts, referenceFromRun).
     */
    decideFrom?(xs: T[], attrs: Record<string, unknown>): unknown;
  };
}

/**
 * Every element of `c` within its `spread` of one of the thresholds `th` moved to just below
 * it (`side` −1) or just above (+1), NaN for the others (which keep the value the run
 * computes: `decidedOver`), and how many moved (moved is null when none did). Exact values
 * (spread 0: a leaf at a kink) are never moved, so the kink conventions stay tested.
 */
export function nearThresholds(c: Float64Array, spread: Float64Array, th: readonly number[], side: -1 | 1): { moved: Float64Array | null; count: number } {
  let moved: Float64Array | null = null;
  let count = 0;
  for (let e = 0; e < c.length; e++) {
    const v = c[e]!;
    for (const t of th) {
      if (!(spread[e]! > 0) || !(Math.abs(v - t) <= spread[e]!)) continue;
      // Just past the threshold: far inside the spread, far outside float64 rounding.
      const eps = Math.max(Math.abs(t), 1e-30) * 2 ** -40;
      (moved ??= new Float64Array(c.length).fill(NaN))[e] = t + side * eps;
      count++;
      break;
    }
  }
  return { moved, count };
}

/**
 * `x` as a branch run decided it: the decided elements (`nearThresholds`, `domainEdge`) where
 * `decided` holds a number, the run's own value elsewhere. (A decision is made from the exact
 * run's values; an element it leaves alone takes the value of the run at hand, which a flip
 * upstream may have moved: step(tanh(x), −1) at float32's −1 gives 0, and sqrt(0 − (−0.5))
 * downstream then takes 0.5, not the exact run's 1.5: seed 888088866, graph 1793.)
 */
export function decidedOver(x: T, decided: T | null | undefined): T {
  if (!decided) return x;
  return x.map((v, e) => (Number.isNaN(decided.data[e]!) ? v : decided.data[e]!));
}

/**
 * Math.max of the values (NaN if one is NaN, −Inf for none) by a loop: Math.max(...row)
 * passes every value as an argument, and a row of 2^18 overflows the stack.
 */
function maxOf(values: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isNaN(v)) return NaN;
    if (v > m) m = v;
  }
  return m;
}

const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);
const anyShape = () => true;

// ---------------------------------------------------------------- activations

interface Act {
  name: string;
  call: string;
  f: (x: number, p: number) => number;
  /** f′(x); at kinks the documented convention. */
  d: (x: number, y: number, p: number) => number;
  ulps: number;
  /**
   * The kernel selects instead of multiplying where f′ = 0 (x > 0 ? dy : 0), so an infinite
   * or NaN upstream gradient gives 0 there, not Inf·0 = NaN (PyTorch's masks do the same).
   */
  masked?: boolean;
  param?: () => number;
  build: (g: Graph, x: Node, p: number) => Node;
  /** Where f or f′ switches branch, for the parameter p (see FuzzOp.thresholds). */
  thresholds?: (p: number) => number[];
}

/** The smallest positive float32 (2⁻¹⁴⁹): the least slope the sigmoid and tanh kernels take. */
const SLOPE_MIN = 2 ** -149;

/** √(2/π), and u = √(2/π)(x + 0.044715x³) as float32 computes it (each product rounded). */
const GC = Math.sqrt(2 / Math.PI);
const gtU = (x: number) => rnd(2 * GC * rnd(x + rnd(0.044715 * rnd(x * rnd(x * x)))));

// Each formula rounds where a float32 kernel does, so that the noisy reference runs see the
// same cancellations (gelu′ = Φ(x) + x·φ(x) near x = −0.75, swish′ near x = −1.28).
const ACTS: Act[] = [
  // relu(−0) = −0 (the kernel's documented max(x, 0)): 1/relu(x) keeps the sign of the zero.
  { name: "relu", call: "relu", f: (x) => (x > 0 || Object.is(x, -0) ? x : Number.isNaN(x) ? NaN : 0), d: (x) => (x > 0 ? 1 : 0), ulps: 0, masked: true, build: (g, x) => g.relu(x), thresholds: () => [0] },
  { name: "leakyRelu", call: "leakyRelu", f: (x, p) => (x > 0 ? x : rnd(p * x)), d: (x, _y, p) => (x > 0 ? 1 : p), ulps: 0, build: (g, x, p) => g.leakyRelu(x, p), thresholds: () => [0] },
  // σ′ and tanh′ from y, never below the smallest positive float32 (where float32's y is 1, or
  // σ's 0, the kernels keep the slope's sign: an infinite dy gives ±Inf, not Inf·0 = NaN).
  { name: "sigmoid", call: "sigmoid", f: (x) => rnd(sigmoid(x), 4), d: (_x, y) => Math.max(rnd(y * rnd(1 - y)), SLOPE_MIN), ulps: 1, build: (g, x) => g.sigmoid(x) },
  { name: "tanh", call: "tanh", f: (x) => rnd(Math.tanh(x), 4), d: (_x, y) => Math.max(rnd(rnd(1 - y) * rnd(1 + y)), SLOPE_MIN), ulps: 1, build: (g, x) => g.tanh(x) },
  { name: "hardTanh", call: "hardTanh", f: (x) => Math.max(-1, Math.min(1, x)), d: (x) => (x > -1 && x < 1 ? 1 : 0), ulps: 0, masked: true, build: (g, x) => g.hardTanh(x), thresholds: () => [-1, 1] },
  { name: "step", call: "step", f: (x, p) => (Number.isNaN(x) ? NaN : x > p ? 1 : 0), d: () => 0, ulps: 0, masked: true, build: (g, x, p) => g.step(x, p), thresholds: (p) => [p] },
  {
    name: "swish", call: "swish", f: (x) => rnd(x * rnd(sigmoid(x), 4)), ulps: 1, build: (g, x) => g.swish(x),
    d: (x) => {
      const s = rnd(sigmoid(x), 4);
      return rnd(rnd(s + rnd(x * rnd(s * rnd(sigmoid(-x), 4)))));
    },
  },
  {
    name: "gelu", call: "gelu", f: (x) => rnd(x * rnd(normalCdf(x), 4)), ulps: 1, build: (g, x) => g.gelu(x),
    d: (x) => rnd(rnd(normalCdf(x), 4) + rnd(x * rnd(normalPdf(x), 4))),
  },
  {
    name: "geluTanh", call: "gelu", ulps: 1, build: (g, x) => g.gelu(x, { approximate: "tanh" }),
    f: (x) => rnd(x * rnd(sigmoid(gtU(x)), 4)),
    d: (x) => {
      const v = gtU(x);
      // Past |x| ≈ 10^12 float32's v overflows (x³); the kernel clamps v to σ's range, so the
      // slope is its limit, 1 or 0, where the formula would give Inf·0 (seed 16180339).
      if (v === Infinity) return 1;
      if (v === -Infinity) return 0;
      const s = rnd(sigmoid(v), 4);
      const dv = rnd(2 * GC * rnd(1 + rnd(3 * 0.044715 * rnd(x * x))));
      return rnd(s + rnd(rnd(x * rnd(s * rnd(sigmoid(-v), 4))) * dv));
    },
  },
];

/**
 * x·σ(x)-like activations (swish, both GeLUs) at ±Inf: the documented limits (f(−Inf) = 0,
 * f(Inf) = Inf, f′(−Inf) = 0, f′(Inf) = 1), where the formulas give Inf·0 = NaN. f(−Inf) is
 * −0, as the negative tail underflows (gelu(−30) = −30·0 = −0) and as the kernels give it.
 */
const LIMITS: Record<string, true> = { swish: true, gelu: true, geluTanh: true };
function withLimits(a: Act): Act {
  if (!LIMITS[a.name]) return a;
  return {
    ...a,
    f: (x, p) => (x === -Infinity ? -0 : x === Infinity ? Infinity : a.f(x, p)),
    d: (x, y, p) => (x === -Infinity ? 0 : x === Infinity ? 1 : a.d(x, y, p)),
  };
}

/** dy·f′ as the backward kernel forms it (a selected 0 where a masked activation's f′ is 0). */
function actGrad(a: Act, dy: number, x: number, y: number, p: number): number {
  const d = a.d(x, y, p);
  return a.masked && d === 0 ? 0 : rnd(dy * rnd(d, a.ulps));
}

function actOp(act: Act): FuzzOp {
  const a = withLimits(act);
  const hasParam = a.name === "leakyRelu" || a.name === "step";
  return {
    name: a.name,
    pick(p) {
      const x = p.existing(anyShape) ?? p.leaf(p.shape(0, 3));
      const attrs: Record<string, unknown> = {};
      if (hasParam) attrs.p = p.c.pick(a.name === "step" ? [0, 0.5, -1] : [0.01, 0.2, 0, -0.5]);
      return { inputs: [x], attrs };
    },
    build: (g, [x], attrs) => a.build(g, x!, (attrs.p as number) ?? 0),
    code: ([x], attrs) =>
      a.name === "geluTanh" ? `g.gelu(${x}, { approximate: "tanh" })` : hasParam ? `g.${a.call}(${x}, ${String(attrs.p)})` : `g.${a.call}(${x})`,
    fwd: ([x], attrs) => x!.map((v) => rnd(a.f(v, (attrs.p as number) ?? 0), a.ulps)),
    vjp: ([x], y, dy, attrs) => [x!.map((v, i) => actGrad(a, dy.data[i]!, v, y.data[i]!, (attrs.p as number) ?? 0))],
    ...(a.thresholds ? { thresholds: (attrs: Record<string, unknown>) => a.thresholds!((attrs.p as number) ?? 0) } : {}),
  };
}

// ---------------------------------------------------------------- elementwise

/**
 * A partner shape for b that broadcasts with a by NumPy's rules: the same shape, a scalar, a
 * trailing suffix (a bias), or any mix of a's dimensions and ones, with leading axes dropped
 * or added (so either operand, or both, can broadcast).
 */
function partner(p: Pool, a: SpecNode): SpecNode {
  const choice = p.c.int(4);
  if (choice === 0) return p.ofShape(a.shape);
  if (choice === 1 || a.shape.length === 0) return p.ofShape(p.c.pick([[], [1]]));
  if (choice === 2) return p.ofShape(a.shape.slice(a.shape.length - 1 - p.c.int(a.shape.length)));
  const drop = p.c.int(a.shape.length + 1);
  // A new leading axis only in front of all of a's axes (after a dropped axis it would meet a's).
  const lead = drop === 0 && p.c.chance(3) ? [p.c.pick([2, 3, 1])] : [];
  const rest = a.shape.slice(drop).map((d) => (p.c.chance(2) ? 1 : d));
  // Where a has a 1, b may bring any size (a broadcasts there too).
  return p.ofShape([...lead, ...rest.map((d, i) => (a.shape[drop + i] === 1 && p.c.chance(2) ? p.c.pick([2, 3]) : d))]);
}

function binaryOp(name: "add" | "sub" | "mul" | "div", f: (x: number, y: number) => number, da: (x: number, y: number) => number, db: (x: number, y: number) => number): FuzzOp {
  return {
    name,
    pick(p) {
      const a = p.existing(anyShape) ?? p.leaf(p.shape(0, 3));
      const b = partner(p, a);
      return p.c.chance(3) ? { inputs: [b, a], attrs: {} } : { inputs: [a, b], attrs: {} };
    },
    build: (g, [a, b]) => g[name](a!, b!),
    code: ([a, b]) => `g.${name}(${a}, ${b})`,
    fwd: ([a, b]) => binary(a!, b!, (x, y) => rnd(f(x, y))),
    vjp([a, b], y, dy) {
      const ga = binary(a!, b!, (x, yv) => da(x, yv));
      const gb = binary(a!, b!, (x, yv) => db(x, yv));
      return [
        unbroadcast(dy.map((v, i) => rnd(v * ga.data[i]!)), a!.shape),
        unbroadcast(dy.map((v, i) => rnd(v * gb.data[i]!)), b!.shape),
      ];
    },
  };
}

/** Whether a − b was decided (a near-tie taken one way): its sign, else 0. */
const decidedSign = (d: number | undefined) => (d !== undefined && d !== 0 && !Number.isNaN(d) ? Math.sign(d) : 0);
/** max's weight for a against b: 1, ½ at a tie, 0 (and 0 for a NaN); by the decided sign of a − b where given. */
const maxWeight = (x: number, y: number, d: number | undefined) => {
  const s = decidedSign(d);
  return s !== 0 ? (s > 0 ? 1 : 0) : x > y ? 1 : x === y ? 0.5 : 0;
};

const maxOp: FuzzOp = {
  name: "max",
  pick(p) {
    const a = p.existing(anyShape) ?? p.leaf(p.shape(0, 3));
    // A node against itself gives ties everywhere: the split-in-half convention.
    const b = p.c.chance(5) ? a : partner(p, a);
    return { inputs: [a, b], attrs: {} };
  },
  build: (g, [a, b]) => g.max(a!, b!),
  code: ([a, b]) => `g.max(${a}, ${b})`,
  // Near-ties: a − b within rounding of 0 (computed values a float32 kernel may order either way).
  branches: {
    compared: ([a, b]) => binary(a!, b!, (x, y) => x - y),
    decide(c, spread, side) {
      const { moved, count } = nearThresholds(c.data, spread, [0], side);
      return { decided: moved, count };
    },
  },
  fwd: ([a, b], attrs) => {
    const d = attrs.decided as Float64Array | null | undefined;
    let i = 0;
    return binary(a!, b!, (x, y) => {
      const s = decidedSign(d?.[i++]);
      return Number.isNaN(x) || Number.isNaN(y) ? NaN : s > 0 ? x : s < 0 ? y : Math.max(x, y);
    });
  },
  vjp([a, b], _y, dy, attrs) {
    const d = attrs.decided as Float64Array | null | undefined;
    // The weights once per call (formed inside the map they made this quadratic in the size).
    let i = 0, j = 0;
    const wa = binary(a!, b!, (x, y) => maxWeight(x, y, d?.[i++])).data;
    const wb = binary(a!, b!, (x, y) => maxWeight(y, x, d === null || d === undefined ? undefined : -d[j++]!)).data;
    return [unbroadcast(dy.map((v, k) => v * wa[k]!), a!.shape), unbroadcast(dy.map((v, k) => v * wb[k]!), b!.shape)];
  },
};

const scaleOp: FuzzOp = {
  name: "scale",
  pick(p) {
    const a = p.existing(anyShape) ?? p.leaf(p.shape(0, 3));
    return { inputs: [a], attrs: { s: p.c.pick([2, -0.5, 0, 3.25]) } };
  },
  build: (g, [a], attrs) => g.scale(a!, attrs.s as number),
  code: ([a], attrs) => `g.scale(${a}, ${String(attrs.s)})`,
  fwd: ([a], attrs) => a!.map((v) => rnd(v * (attrs.s as number))),
  vjp: (_xs, _y, dy, attrs) => [dy.map((v) => rnd(v * (attrs.s as number)))],
};

// ---------------------------------------------------------------- reductions

function reduceOp(name: "sum" | "mean"): FuzzOp {
  const axesOf = (shape: readonly number[], attrs: Record<string, unknown>): boolean[] => {
    const ax = attrs.axis as number | number[] | undefined;
    if (ax === undefined) return shape.map(() => true);
    const list = Array.isArray(ax) ? ax : [ax];
    return shape.map((_, i) => list.some((a) => (a + shape.length) % shape.length === i));
  };
  return {
    name,
    pick(p) {
      const a = p.existing((s) => s.length >= 1) ?? p.leaf(p.shape(1, 4));
      const r = a.shape.length;
      const attrs: Record<string, unknown> = {};
      const how = p.c.int(3);
      if (how === 1) attrs.axis = p.c.int(r) - (p.c.chance(2) ? r : 0);
      if (how === 2) attrs.axis = Array.from({ length: r }, (_, i) => i).filter(() => p.c.chance(2)).map((i) => (p.c.chance(2) ? i - r : i));
      if (p.c.chance(3)) attrs.keepDims = true;
      return { inputs: [a], attrs };
    },
    build: (g, [a], attrs) => g[name](a!, attrs.axis as number | number[] | undefined, { keepDims: attrs.keepDims === true }),
    code: ([a], attrs) => `g.${name}(${a}, ${attrs.axis === undefined ? "undefined" : JSON.stringify(attrs.axis)}${attrs.keepDims ? ", { keepDims: true }" : ""})`,
    fwd([a], attrs) {
      const mask = axesOf(a!.shape, attrs);
      const n = a!.shape.reduce((acc, d, i) => (mask[i] ? acc * d : acc), 1);
      const keep = a!.shape.map((d, i) => (mask[i] ? 1 : d));
      const out = T.zeros(keep);
      const idx = broadcastIndex(keep, a!.shape);
      const terms: number[][] = Array.from({ length: out.size }, () => []);
      for (let i = 0; i < a!.size; i++) terms[idx[i]!]!.push(a!.data[i]!);
      // One term is copied, −0 included (the kernels scale it by α = 1); a sum from +0 would make it +0.
      terms.forEach((t, j) => (out.data[j] = t.length === 1 ? t[0]! : name === "sum" ? sumOf(t) : rnd(sumOf(t) / n)));
      return new T(attrs.keepDims ? keep : a!.shape.filter((_, i) => !mask[i]), out.data);
    },
    vjp([a], _y, dy, attrs) {
      const mask = axesOf(a!.shape, attrs);
      const n = a!.shape.reduce((acc, d, i) => (mask[i] ? acc * d : acc), 1);
      const keep = a!.shape.map((d, i) => (mask[i] ? 1 : d));
      const idx = broadcastIndex(keep, a!.shape);
      return [a!.map((_, i) => (name === "sum" ? dy.data[idx[i]!]! : rnd(dy.data[idx[i]!]! / n)))];
    },
  };
}

/**
 * log and sqrt end their domain at 0 (NaN below): an input within rounding of 0 may be
 * negative, zero or positive in float32 (sqrt(logSoftmax(x)) at a row's maximum: −10⁻⁹
 * exactly, 0 in float32). Decided: just below 0 (NaN) or 0 itself (sqrt 0, log −Inf, an
 * infinite gradient); positive inputs are what the exact run and its noisy runs show.
 */
const domainEdge: NonNullable<FuzzOp["branches"]> = {
  compared: ([x]) => x!,
  decide(c, spread, side) {
    let moved: Float64Array | null = null;
    let count = 0;
    for (let e = 0; e < c.size; e++) {
      if (!(spread[e]! > 0) || !(Math.abs(c.data[e]!) <= spread[e]!)) continue;
      (moved ??= new Float64Array(c.size).fill(NaN))[e] = side < 0 ? -1e-300 : 0;
      count++;
    }
    return { decided: moved && new T(c.shape, moved), count };
  },
};

/**
 * `grad(dy, x, y)` is the gradient as the kernel forms it: exp dy·y, log dy/x, sqrt
 * (0.5·dy)/y, each division one rounding. (dy·(1/x) overflows where dy/x does not: at a
 * subnormal x = −2.2·10⁻³⁹, 1/x is −4.5·10³⁸, past float32's range, while 0.16/x is
 * −7·10³⁷.)
 */
function unaryOp(name: "exp" | "log" | "sqrt", f: (x: number) => number, grad: (dy: number, x: number, y: number) => number): FuzzOp {
  const input = (x: T, attrs: Record<string, unknown>) => decidedOver(x, attrs.decided as T | null | undefined);
  return {
    name,
    pick(p) {
      const x = p.existing(anyShape) ?? p.leaf(p.shape(0, 3));
      return { inputs: [x], attrs: {} };
    },
    build: (g, [x]) => g[name](x!),
    code: ([x]) => `g.${name}(${x})`,
    ...(name === "exp" ? {} : { branches: domainEdge }),
    fwd: ([x], attrs) => input(x!, attrs).map((v) => rnd(f(v), 4)),
    vjp: ([x], y, dy, attrs) => [input(x!, attrs).map((v, i) => grad(dy.data[i]!, v, y.data[i]!))],
  };
}

/** x², one rounding; gradient 2x·dy (2x is exact), one rounding. */
const squareOp: FuzzOp = {
  name: "square",
  pick(p) {
    const x = p.existing(anyShape) ?? p.leaf(p.shape(0, 3));
    return { inputs: [x], attrs: {} };
  },
  build: (g, [x]) => g.square(x!),
  code: ([x]) => `g.square(${x})`,
  fwd: ([x]) => x!.map((v) => rnd(v * v)),
  vjp: ([x], _y, dy) => [x!.map((v, i) => rnd(2 * v * dy.data[i]!))],
};

const dotOp: FuzzOp = {
  name: "dot",
  pick(p) {
    const u = p.existing((s) => s.length === 1) ?? p.leaf([p.dim()]);
    return { inputs: [u, p.ofShape(u.shape)], attrs: {} };
  },
  build: (g, [u, v]) => g.dot(u!, v!),
  code: ([u, v]) => `g.dot(${u}, ${v})`,
  fwd: ([u, v]) => new T([], Float64Array.of(sumOf(u!.data.map((x, i) => rnd(x * v!.data[i]!))))),
  vjp: ([u, v], _y, dy) => [v!.map((x) => rnd(x * dy.data[0]!)), u!.map((x) => rnd(x * dy.data[0]!))],
};

// ---------------------------------------------------------------- products

/** Matrix b of a batch over the leading axes (a 2-D operand is shared by every batch). */
function batchMat(x: T, b: number): T {
  const r = x.shape.length;
  if (r === 2) return x;
  const [m, c] = [x.shape[r - 2]!, x.shape[r - 1]!];
  return new T([m, c], x.data.slice(b * m * c, (b + 1) * m * c));
}

/** A shape with its last two axes swapped. */
const swapLast2 = (s: readonly number[]) => [...s.slice(0, -2), s[s.length - 1]!, s[s.length - 2]!];

/**
 * An operand of logical shape `shape` for a product: usually a node of that shape, sometimes
 * a transpose of its last two axes made for it (which the plan folds into the GEMM's
 * transpose flag when the product is its one reader), with the 2-D swap written either as
 * the default perm or as an explicit one.
 */
function operand(p: Pool, shape: number[], pick: () => SpecNode): SpecNode {
  if (!p.c.chance(3)) return pick();
  const src = p.ofShape(swapLast2(shape));
  const r = shape.length;
  const perm = Array.from({ length: r }, (_, i) => (i < r - 2 ? i : 2 * r - 3 - i));
  return p.apply(transposeOp, [src], r === 2 && p.c.chance(2) ? {} : { perm });
}

const matmulOp: FuzzOp = {
  name: "matmul",
  pick(p) {
    const batched = p.c.chance(4);
    const lead = p.c.chance(3) ? [p.c.pick([1, 2, 3]), p.c.pick([2, 1])] : [p.c.pick([1, 2, 3])];
    let a: SpecNode;
    if (!batched && p.c.chance(6)) {
      // A flatten of a larger node ([N, H, W, C] → [N, H·W·C], a reshape view) read by the product.
      const x = p.existing((s) => s.length >= 3) ?? p.leaf([p.dim(), p.c.pick([1, 2, 3]), p.dim()]);
      const rest = x.shape.slice(1).reduce((u, v) => u * v, 1);
      const open = x.shape.every((d) => d > 0) ? p.c.int(3) : 2; // which axis is written -1, if any
      a = p.apply(reshapeOp, [x], { shape: [open === 0 ? -1 : x.shape[0]!, open === 1 ? -1 : rest] });
    } else {
      const pickA = () =>
        batched
          ? p.existing((s) => s.length >= 2 && s.length <= 4) ?? p.leaf([...lead, p.dim(), p.dim()])
          : p.existing((s) => s.length === 2) ?? p.leaf(p.shape(2, 2));
      a = p.c.chance(3) ? operand(p, batched ? [...lead, p.dim(), p.dim()] : p.shape(2, 2), pickA) : pickA();
    }
    const ta = p.c.chance(3);
    const tb = p.c.chance(3);
    const r = a.shape.length;
    const k = ta ? a.shape[r - 2]! : a.shape[r - 1]!;
    const n = p.dim(true);
    const bm = tb ? [n, k] : [k, n];
    // With a 2-D a, a batched b [..., ., .]; with a batched a, b shared (2-D) or batched alike.
    const bShape = !batched ? bm : r === 2 ? [...lead, ...bm] : p.c.chance(2) ? bm : [...a.shape.slice(0, -2), ...bm];
    return { inputs: [a, operand(p, bShape, () => p.ofShape(bShape))], attrs: { transposeA: ta, transposeB: tb } };
  },
  build: (g, [a, b], attrs) => g.matmul(a!, b!, { transposeA: attrs.transposeA as boolean, transposeB: attrs.transposeB as boolean }),
  code: ([a, b], attrs) =>
    attrs.transposeA || attrs.transposeB
      ? `g.matmul(${a}, ${b}, { transposeA: ${String(attrs.transposeA)}, transposeB: ${String(attrs.transposeB)} })`
      : `g.matmul(${a}, ${b})`,
  fwd([a, b], attrs) {
    const ta = attrs.transposeA as boolean, tb = attrs.transposeB as boolean;
    if (a!.shape.length === 2 && b!.shape.length === 2) return matmul2d(a!, b!, ta, tb);
    const lead = (a!.shape.length > 2 ? a! : b!).shape.slice(0, -2);
    const B = lead.reduce((x, y) => x * y, 1);
    const parts = Array.from({ length: B }, (_, i) => matmul2d(batchMat(a!, i), batchMat(b!, i), ta, tb));
    // From the shapes (an empty batch has no matrix 0 to take them from).
    const [ra, rb] = [a!.shape.length, b!.shape.length];
    const m = ta ? a!.shape[ra - 1]! : a!.shape[ra - 2]!;
    const n = tb ? b!.shape[rb - 2]! : b!.shape[rb - 1]!;
    const out = T.zeros([...lead, m, n]);
    parts.forEach((c, i) => out.data.set(c.data, i * m * n));
    return out;
  },
  vjp([a, b], _y, dy, attrs) {
    const ta = attrs.transposeA as boolean, tb = attrs.transposeB as boolean;
    // C = op(A)·op(B): d op(A) = dC·op(B)ᵀ, d op(B) = op(A)ᵀ·dC; a shared operand sums over the batch.
    const one = (A: T, Bm: T, dC: T): [T, T] => {
      const dOpA = matmul2d(dC, Bm, false, !tb);
      const dOpB = matmul2d(A, dC, !ta, false);
      return [ta ? transpose2d(dOpA) : dOpA, tb ? transpose2d(dOpB) : dOpB];
    };
    if (a!.shape.length === 2 && b!.shape.length === 2) return one(a!, b!, dy);
    const r = dy.shape.length;
    const B = dy.shape.slice(0, -2).reduce((x, y) => x * y, 1);
    const [m, n] = [dy.shape[r - 2]!, dy.shape[r - 1]!];
    const daParts: T[] = [], dbParts: T[] = [];
    for (let i = 0; i < B; i++) {
      const [x, y] = one(batchMat(a!, i), batchMat(b!, i), new T([m, n], dy.data.slice(i * m * n, (i + 1) * m * n)));
      daParts.push(x);
      dbParts.push(y);
    }
    const gather = (parts: T[], like: T): T => {
      if (like.shape.length === 2) return parts.length === 0 ? T.zeros(like.shape) : parts.reduce((acc, t) => acc.map((v, i) => rnd(v + t.data[i]!)));
      const out = T.zeros(like.shape);
      parts.forEach((t, i) => out.data.set(t.data, i * t.size));
      return out;
    };
    return [gather(daParts, a!), gather(dbParts, b!)];
  },
};

const outerOp: FuzzOp = {
  name: "outer",
  pick(p) {
    // Two long vectors (a flattened big node) would make an outer product of 10^8 elements.
    const short = (s: readonly number[]) => s.length === 1 && s[0]! <= 512;
    const u = p.existing(short) ?? p.leaf([p.dim()]);
    const v = p.existing(short) ?? p.leaf([p.dim()]);
    return { inputs: [u, v], attrs: {} };
  },
  build: (g, [u, v]) => g.outer(u!, v!),
  code: ([u, v]) => `g.outer(${u}, ${v})`,
  // Each element is one product (a sum started at +0 would turn a −0 product into +0, and 1/−0 is −Inf).
  fwd: ([u, v]) => {
    const y = T.zeros([u!.size, v!.size]);
    for (let i = 0; i < u!.size; i++) for (let j = 0; j < v!.size; j++) y.data[i * v!.size + j] = rnd(u!.data[i]! * v!.data[j]!);
    return y;
  },
  vjp: ([u, v], _y, dy) => [
    new T(u!.shape, matmul2d(dy, new T([v!.size, 1], v!.data), false, false).data),
    new T(v!.shape, matmul2d(new T([1, u!.size], u!.data), dy, false, false).data),
  ],
};

const LINEAR_ACTS = ["relu", "tanh", "sigmoid", "gelu", "leakyRelu", "swish", "hardTanh", "step"] as const;

/** linear's activation by name, with the parameter it takes by default (leakyRelu's slope 0.01, step's θ = 0). */
function linearAct(attrs: Record<string, unknown>): (Act & { p: number }) | undefined {
  const found = ACTS.find((s) => s.name === attrs.act);
  return found && { ...withLimits(found), p: found.name === "leakyRelu" ? 0.01 : 0 };
}

/** x·W (+ b), rounded as the kernel forms it. */
function preActivation(x: T, W: T, b: T | undefined): T {
  const z = matmul2d(x, W, false, false);
  return b ? binary(z, b, (u, v) => rnd(u + v)) : z;
}

const linearOp: FuzzOp = {
  name: "linear",
  pick(p) {
    const x = p.existing((s) => s.length === 2) ?? p.leaf(p.shape(2, 2));
    const n = p.dim(true);
    const W = p.ofShape([x.shape[1]!, n]);
    const withBias = !p.c.chance(4);
    const act = p.c.chance(4) ? undefined : p.c.pick(LINEAR_ACTS);
    const inputs = withBias ? [x, W, p.ofShape([n])] : [x, W];
    return { inputs, attrs: act === undefined ? {} : { act } };
  },
  build: (g, [x, W, b], attrs) => g.linear(x!, W!, b ?? null, attrs.act as "relu" | undefined),
  code: ([x, W, b], attrs) => `g.linear(${x}, ${W}, ${b ?? "null"}${attrs.act ? `, ${JSON.stringify(attrs.act)}` : ""})`,
  // The fused activation compares the pre-activation x·W + b with its thresholds: where that
  // lies within rounding of one, float32 may take either branch (as for a separate relu).
  branches: {
    compared: ([x, W, b], attrs) => (linearAct(attrs)?.thresholds ? preActivation(x!, W!, b) : null),
    decide(c, spread, side, attrs) {
      const a = linearAct(attrs)!;
      const { moved, count } = nearThresholds(c.data, spread, a.thresholds!(a.p), side);
      return { decided: moved && new T(c.shape, moved), count };
    },
  },
  fwd([x, W, b], attrs) {
    const z = decidedOver((attrs.compared as T | null | undefined) ?? preActivation(x!, W!, b), attrs.decided as T | null | undefined);
    const a = linearAct(attrs);
    return a ? z.map((v) => rnd(a.f(v, a.p), a.ulps)) : z;
  },
  vjp([x, W, b], y, dy, attrs) {
    const a = linearAct(attrs);
    const z = decidedOver((attrs.compared as T | null | undefined) ?? preActivation(x!, W!, b), attrs.decided as T | null | undefined);
    const dz = a ? z.map((v, i) => (a.masked && a.d(v, y.data[i]!, a.p) === 0 ? 0 : rnd(dy.data[i]! * a.d(v, y.data[i]!, a.p), a.ulps))) : dy;
    const out: (T | null)[] = [matmul2d(dz, W!, false, true), matmul2d(x!, dz, true, false)];
    if (b) out.push(unbroadcast(dz, b.shape));
    return out;
  },
};

const preluOp: FuzzOp = {
  name: "prelu",
  pick(p) {
    const x = p.existing((s) => s.length >= 1) ?? p.leaf(p.shape(1, 3));
    const c = x.shape[x.shape.length - 1]!;
    const slope = p.leaf(p.c.pick([[c], [], [1]]), "param");
    return { inputs: [x, slope], attrs: {} };
  },
  thresholds: () => [0],
  build: (g, [x, a]) => g.prelu(x!, a!),
  code: ([x, a]) => `g.prelu(${x}, ${a})`,
  fwd: ([x, a]) => {
    const c = a!.size;
    return x!.map((v, i) => (v > 0 ? v : rnd(a!.data[c === 1 ? 0 : i % c]! * v)));
  },
  vjp([x, a], _y, dy) {
    const c = a!.size;
    const dx = x!.map((v, i) => (v > 0 ? dy.data[i]! : rnd(a!.data[c === 1 ? 0 : i % c]! * dy.data[i]!)));
    const terms: number[][] = Array.from({ length: c }, () => []);
    x!.data.forEach((v, i) => {
      if (!(v > 0)) terms[c === 1 ? 0 : i % c]!.push(rnd(v * dy.data[i]!));
    });
    return [dx, new T(a!.shape, Float64Array.from(terms, (t) => sumOf(t)))];
  },
};

// ---------------------------------------------------------------- losses
// Every loss is a mean: over no element (an empty batch) it is 0/0 = NaN, as in PyTorch.

function rowsCols(s: readonly number[]): [number, number] {
  return s.length === 1 ? [1, s[0]!] : [s[0]!, s[1]!];
}

const softmaxCEOp: FuzzOp = {
  name: "softmaxCrossEntropy",
  pick(p) {
    const z = p.existing((s) => (s.length === 1 || s.length === 2) && s[s.length - 1]! > 0) ?? p.leaf([p.dim(), 1 + p.dim()]);
    return { inputs: [z, p.leaf(z.shape.slice(), "target")], attrs: {} };
  },
  build: (g, [z, t]) => g.softmaxCrossEntropy(z!, t!),
  code: ([z, t]) => `g.softmaxCrossEntropy(${z}, ${t})`,
  fwd([z, t]) {
    const [r, c] = rowsCols(z!.shape);
    const losses: number[] = [];
    for (let i = 0; i < r; i++) {
      const row = z!.data.subarray(i * c, i * c + c);
      const m = maxOf(row);
      const lse = m + Math.log(sumOf(row.map((v) => rnd(Math.exp(v - m), 4))));
      losses.push(sumOf(row.map((v, j) => rnd(t!.data[i * c + j]! * (lse - v)))));
    }
    return new T([], Float64Array.of(rnd(sumOf(losses) / r)));
  },
  vjp([z, t], _y, dy) {
    const [r, c] = rowsCols(z!.shape);
    const dz = T.zeros(z!.shape);
    for (let i = 0; i < r; i++) {
      const row = z!.data.subarray(i * c, i * c + c);
      const m = maxOf(row);
      const e = row.map((v) => rnd(Math.exp(v - m), 4));
      const s = sumOf(e);
      const ts = sumOf(t!.data.subarray(i * c, i * c + c));
      for (let j = 0; j < c; j++) dz.data[i * c + j] = rnd((dy.data[0]! / r) * rnd(rnd((e[j]! / s) * ts) - t!.data[i * c + j]!));
    }
    return [dz, null];
  },
};

const sigmoidCEOp: FuzzOp = {
  name: "sigmoidCrossEntropy",
  pick(p) {
    const z = p.existing(anyShape) ?? p.leaf(p.shape(1, 2));
    return { inputs: [z, p.leaf(z.shape.slice(), "target")], attrs: {} };
  },
  build: (g, [z, t]) => g.sigmoidCrossEntropy(z!, t!),
  code: ([z, t]) => `g.sigmoidCrossEntropy(${z}, ${t})`,
  // Each term as the kernel forms it: (max(z, 0) − z·t), a multiply-add that cancels where
  // t is near 1 and z > 0, plus softplus(−|z|) (z = 8, t = 0.99967: 3.5·10⁻³ with an error
  // of 2.4·10⁻⁷ from z·t's rounding; seed 99887766).
  fwd: ([z, t]) =>
    new T([], Float64Array.of(rnd(sumOf(z!.data.map((v, i) => rnd(madd(-v, t!.data[i]!, Math.max(v, 0)) + rnd(Math.log1p(Math.exp(-Math.abs(v))), 4)))) / z!.size))),
  // σ(z) − t as the kernel forms it from s = σ(−|z|): (1 − t) − s where z ≥ 0, s − t elsewhere.
  vjp: ([z, t], _y, dy) => [z!.map((v, i) => rnd((dy.data[0]! / z!.size) * sigmoidMinus(v, t!.data[i]!))), null],
};

function sigmoidMinus(v: number, t: number): number {
  const s = rnd(sigmoid(-Math.abs(v)), 4);
  return v >= 0 ? rnd(rnd(1 - t) - s) : rnd(s - t);
}

const mseOp: FuzzOp = {
  name: "mse",
  pick(p) {
    const a = p.existing(anyShape) ?? p.leaf(p.shape(1, 2));
    return { inputs: [a, p.c.chance(2) ? p.ofShape(a.shape) : p.leaf(a.shape.slice(), "target")], attrs: {} };
  },
  build: (g, [a, b]) => g.mse(a!, b!),
  code: ([a, b]) => `g.mse(${a}, ${b})`,
  fwd: ([a, b]) => new T([], Float64Array.of(rnd(sumOf(a!.data.map((v, i) => rnd(rnd(v - b!.data[i]!) ** 2))) / a!.size))),
  vjp: ([a, b], _y, dy) => {
    const d = a!.map((v, i) => rnd(((2 * dy.data[0]!) / a!.size) * rnd(v - b!.data[i]!)));
    return [d, d.map((v) => -v)];
  },
};

// ---------------------------------------------------------------- shapes

/** The strides of a row-major shape. */
function rowMajor(shape: readonly number[]): number[] {
  const st = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) st[i] = st[i + 1]! * shape[i + 1]!;
  return st;
}

/** Calls f(outIndex, inIndex) for every element of a strided view (shape, strides, offset) of a buffer. */
function walk(shape: readonly number[], st: readonly number[], offset: number, f: (o: number, i: number) => void): void {
  const n = shape.reduce((a, b) => a * b, 1);
  const coord = new Array<number>(shape.length).fill(0);
  for (let o = 0; o < n; o++) {
    let i = offset;
    for (let d = 0; d < shape.length; d++) i += coord[d]! * st[d]!;
    f(o, i);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++coord[d]! < shape[d]!) break;
      coord[d] = 0;
    }
  }
}

const reshapeOp: FuzzOp = {
  name: "reshape",
  pick(p) {
    const x = p.existing(anyShape) ?? p.leaf(p.shape(1, 3));
    const n = x.shape.reduce((a, b) => a * b, 1);
    // Factor n into a random shape, sometimes with one -1.
    const shape: number[] = [];
    let rest = n;
    const rank = p.c.int(4);
    for (let i = 0; i < rank && rest > 1; i++) {
      const divs = [1, 2, 3, 4, 5, 7, 8].filter((d) => rest % d === 0);
      const d = p.c.pick(divs);
      shape.push(d);
      rest /= d;
    }
    shape.push(rest);
    if (p.c.chance(3) && n > 0) shape[p.c.int(shape.length)] = -1;
    return { inputs: [x], attrs: { shape } };
  },
  build: (g, [x], attrs) => g.reshape(x!, attrs.shape as number[]),
  code: ([x], attrs) => `g.reshape(${x}, [${String(attrs.shape)}])`,
  fwd([x], attrs) {
    const want = attrs.shape as number[];
    const known = want.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    return new T(want.map((d) => (d === -1 ? x!.size / known : d)), x!.data.slice());
  },
  vjp: ([x], _y, dy) => [new T(x!.shape, dy.data.slice())],
};

const transposeOp: FuzzOp = {
  name: "transpose",
  pick(p) {
    const x = p.existing((s) => s.length >= 1) ?? p.leaf(p.shape(1, 4));
    const r = x.shape.length;
    if (p.c.chance(3)) return { inputs: [x], attrs: {} };
    const perm = Array.from({ length: r }, (_, i) => i);
    for (let i = r - 1; i > 0; i--) {
      const j = p.c.int(i + 1);
      [perm[i], perm[j]] = [perm[j]!, perm[i]!];
    }
    return { inputs: [x], attrs: { perm } };
  },
  build: (g, [x], attrs) => g.transpose(x!, attrs.perm as number[] | undefined),
  code: ([x], attrs) => (attrs.perm ? `g.transpose(${x}, [${String(attrs.perm)}])` : `g.transpose(${x})`),
  fwd([x], attrs) {
    const r = x!.shape.length;
    const perm = (attrs.perm as number[] | undefined) ?? Array.from({ length: r }, (_, i) => r - 1 - i);
    const st = rowMajor(x!.shape);
    const out = T.zeros(perm.map((a) => x!.shape[a]!));
    walk(out.shape, perm.map((a) => st[a]!), 0, (o, i) => (out.data[o] = x!.data[i]!));
    return out;
  },
  vjp([x], _y, dy, attrs) {
    const r = x!.shape.length;
    const perm = (attrs.perm as number[] | undefined) ?? Array.from({ length: r }, (_, i) => r - 1 - i);
    const st = rowMajor(x!.shape);
    const dx = T.zeros(x!.shape);
    walk(dy.shape, perm.map((a) => st[a]!), 0, (o, i) => (dx.data[i] = dy.data[o]!));
    return [dx];
  },
};

const sliceOp: FuzzOp = {
  name: "slice",
  pick(p) {
    const x = p.existing((s) => s.length >= 1) ?? p.leaf(p.shape(1, 3));
    const begin: number[] = [];
    const size: number[] = [];
    for (const d of x.shape) {
      const b = p.c.int(d + 1);
      begin.push(b);
      size.push(p.c.chance(3) ? -1 : p.c.int(d - b + 1));
    }
    return { inputs: [x], attrs: { begin, size } };
  },
  build: (g, [x], attrs) => g.slice(x!, attrs.begin as number[], attrs.size as number[]),
  code: ([x], attrs) => `g.slice(${x}, [${String(attrs.begin)}], [${String(attrs.size)}])`,
  fwd([x], attrs) {
    const b = attrs.begin as number[];
    const shape = (attrs.size as number[]).map((s, i) => (s === -1 ? x!.shape[i]! - b[i]! : s));
    const st = rowMajor(x!.shape);
    const out = T.zeros(shape);
    walk(shape, st, b.reduce((a, v, i) => a + v * st[i]!, 0), (o, i) => (out.data[o] = x!.data[i]!));
    return out;
  },
  vjp([x], _y, dy, attrs) {
    const b = attrs.begin as number[];
    const st = rowMajor(x!.shape);
    const dx = T.zeros(x!.shape);
    walk(dy.shape, st, b.reduce((a, v, i) => a + v * st[i]!, 0), (o, i) => (dx.data[i] = dy.data[o]!));
    return [dx];
  },
};

const concatOp: FuzzOp = {
  name: "concat",
  pick(p) {
    const a = p.existing((s) => s.length >= 1) ?? p.leaf(p.shape(1, 3));
    const axis = p.c.int(a.shape.length);
    const parts = [a];
    const more = 1 + p.c.int(3);
    for (let i = 0; i < more; i++) {
      const s = a.shape.slice();
      s[axis] = p.c.pick([1, 2, 3, 0, 5]);
      parts.push(p.ofShape(s));
    }
    return { inputs: parts, attrs: { axis: p.c.chance(3) ? axis - a.shape.length : axis } };
  },
  build: (g, xs, attrs) => g.concat(xs, attrs.axis as number),
  code: (xs, attrs) => `g.concat([${xs.join(", ")}], ${String(attrs.axis)})`,
  fwd(xs, attrs) {
    const r = xs[0]!.shape.length;
    const axis = ((attrs.axis as number) + r) % r;
    const shape = xs[0]!.shape.slice();
    shape[axis] = xs.reduce((a, x) => a + x.shape[axis]!, 0);
    const out = T.zeros(shape);
    const ost = rowMajor(shape);
    let off = 0;
    for (const x of xs) {
      walk(x.shape, ost, off * ost[axis]!, (o, i) => (out.data[i] = x.data[o]!));
      off += x.shape[axis]!;
    }
    return out;
  },
  vjp(xs, _y, dy, attrs) {
    const r = xs[0]!.shape.length;
    const axis = ((attrs.axis as number) + r) % r;
    const ost = rowMajor(dy.shape);
    let off = 0;
    return xs.map((x) => {
      const dx = T.zeros(x.shape);
      walk(x.shape, ost, off * ost[axis]!, (o, i) => (dx.data[o] = dy.data[i]!));
      off += x.shape[axis]!;
      return dx;
    });
  },
};

// ---------------------------------------------------------------- probabilities, norms, lookups

/** Rows along `axis`: calls f with the flat indices of each row. */
function rowsAlong(shape: readonly number[], axis: number, f: (idx: number[]) => void): void {
  const r = shape.length;
  const a = ((axis % r) + r) % r;
  const len = shape[a]!;
  const inner = shape.slice(a + 1).reduce((x, y) => x * y, 1);
  const outer = shape.slice(0, a).reduce((x, y) => x * y, 1);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) f(Array.from({ length: len }, (_, l) => (o * len + l) * inner + j));
  }
}

/** Softmax of one row (values at idx of x), with the float32 kernel's roundings. */
function softmaxRow(x: T, idx: number[]): { p: number[]; lse: number } {
  const m = maxOf(idx.map((i) => x.data[i]!));
  const e = idx.map((i) => rnd(Math.exp(rnd(x.data[i]! - m)), 4));
  const s = sumOf(e);
  return { p: e.map((v) => rnd(v / s)), lse: rnd(m + rnd(Math.log(s), 4)) };
}

function softmaxOp(name: "softmax" | "logSoftmax"): FuzzOp {
  return {
    name,
    pick(p) {
      const x = p.existing((s) => s.length >= 1) ?? p.leaf(p.shape(1, 3));
      const r = x.shape.length;
      return { inputs: [x], attrs: p.c.chance(2) ? {} : { axis: p.c.int(r) - (p.c.chance(2) ? r : 0) } };
    },
    build: (g, [x], attrs) => g[name](x!, attrs.axis as number | undefined),
    code: ([x], attrs) => (attrs.axis === undefined ? `g.${name}(${x})` : `g.${name}(${x}, ${String(attrs.axis)})`),
    fwd([x], attrs) {
      const out = T.zeros(x!.shape);
      rowsAlong(x!.shape, (attrs.axis as number | undefined) ?? -1, (idx) => {
        const { p, lse } = softmaxRow(x!, idx);
        idx.forEach((i, k) => (out.data[i] = name === "softmax" ? p[k]! : rnd(x!.data[i]! - lse)));
      });
      return out;
    },
    vjp([x], y, dy, attrs) {
      const dx = T.zeros(x!.shape);
      rowsAlong(x!.shape, (attrs.axis as number | undefined) ?? -1, (idx) => {
        if (name === "softmax") {
          const dot = sumOf(idx.map((i) => rnd(dy.data[i]! * y.data[i]!)));
          for (const i of idx) dx.data[i] = rnd(y.data[i]! * rnd(dy.data[i]! - dot));
        } else {
          const tot = sumOf(idx.map((i) => dy.data[i]!));
          for (const i of idx) dx.data[i] = rnd(dy.data[i]! - rnd(rnd(Math.exp(y.data[i]!), 4) * tot));
        }
      });
      return [dx];
    },
  };
}

const crossEntropyOp: FuzzOp = {
  name: "crossEntropy",
  pick(p) {
    const z = p.existing((s) => s.length === 2 && s[1]! > 0) ?? p.leaf([p.dim(), 1 + p.dim()]);
    return { inputs: [z, p.ids([z.shape[0]!], z.shape[1]!)], attrs: {} };
  },
  build: (g, [z, t]) => g.crossEntropy(z!, t!),
  code: ([z, t]) => `g.crossEntropy(${z}, ${t})`,
  fwd([z, t]) {
    const [n, c] = z!.shape as [number, number];
    const losses: number[] = [];
    for (let i = 0; i < n; i++) {
      const { lse } = softmaxRow(z!, Array.from({ length: c }, (_, j) => i * c + j));
      losses.push(rnd(lse - z!.data[i * c + t!.data[i]!]!));
    }
    return new T([], Float64Array.of(rnd(sumOf(losses) / n)));
  },
  vjp([z, t], _y, dy) {
    const [n, c] = z!.shape as [number, number];
    const dz = T.zeros(z!.shape);
    for (let i = 0; i < n; i++) {
      const { p } = softmaxRow(z!, Array.from({ length: c }, (_, j) => i * c + j));
      // As the kernel: where float32's p − [j = label] is 0 but the exact one is not (p = 0 at
      // a class whose logit is above −Inf; p = 1 at the label while another class's is), the
      // difference is ±2⁻¹⁴⁹ with its true sign (so Inf·it is ±Inf, and a finite dy gives
      // dy·2⁻¹⁴⁹, which a division downstream may lift: seed 2948, relaxed).
      const live = (k: number) => z!.data[i * c + k]! > -Infinity;
      for (let j = 0; j < c; j++) {
        const label = t!.data[i] === j;
        let d = rnd(p[j]! - (label ? 1 : 0));
        if (d === 0 && live(j)) {
          if (!label) d = SLOPE_MIN;
          else if (Array.from({ length: c }, (_, k) => k).some((k) => k !== j && live(k))) d = -SLOPE_MIN;
        }
        dz.data[i * c + j] = rnd(d * rnd(dy.data[0]! / n));
      }
    }
    return [dz, null];
  },
};

/** One row's mean and variance for layerNorm, with the kernel's roundings. */
function layerNormStats(x: T, idx: number[]): { mu: number; v: number } {
  const n = idx.length;
  const mu = rnd(sumOf(idx.map((i) => x.data[i]!)) / n);
  const v = rnd(sumOf(idx.map((i) => rnd(rnd(x.data[i]! - mu) ** 2))) / n);
  return { mu, v };
}

/**
 * layerNorm's x − μ per element, or the value a branch run decided for it (attrs.decided:
 * a number where decided, NaN elsewhere).
 */
function layerNormDiffs(x: T, idx: number[], mu: number, decided: T | null | undefined): number[] {
  return idx.map((i) => {
    const d = decided?.data[i];
    return d !== undefined && !Number.isNaN(d) ? d : rnd(x.data[i]! - mu);
  });
}

const layerNormOp: FuzzOp = {
  name: "layerNorm",
  pick(p) {
    const x = p.existing((s) => s.length >= 1 && s[s.length - 1]! > 0) ?? p.leaf(p.shape(1, 3));
    const d = x.shape[x.shape.length - 1]!;
    return { inputs: [x, p.ofShape([d]), p.ofShape([d])], attrs: { eps: p.c.pick([1e-5, 1e-3]) } };
  },
  build: (g, [x, gm, bt], attrs) => g.layerNorm(x!, gm!, bt!, { eps: attrs.eps as number }),
  code: ([x, gm, bt], attrs) => `g.layerNorm(${x}, ${gm}, ${bt}, { eps: ${String(attrs.eps)} })`,
  // An x − μ within rounding of 0 (a row of values that float32 holds nearly or exactly
  // equal: sigmoids saturated at 1) may be exactly 0 in float32, where it is not exactly:
  // then an infinite γ gives 0·Inf = NaN where the exact result is ±Inf (seed 2952,
  // relaxed: γ = log(0)). Decided: 0 (side −1) or the other sign (+1); noisy runs find the
  // sign flips by chance, never the exact 0.
  branches: {
    compared([x]) {
      const c = T.zeros(x!.shape);
      rowsAlong(x!.shape, -1, (idx) => {
        const { mu } = layerNormStats(x!, idx);
        for (const i of idx) c.data[i] = rnd(x!.data[i]! - mu);
      });
      return c;
    },
    decide(c, spread, side) {
      let moved: Float64Array | null = null;
      let count = 0;
      for (let e = 0; e < c.size; e++) {
        const v = c.data[e]!;
        if (!(spread[e]! > 0) || !(Math.abs(v) <= spread[e]!)) continue;
        (moved ??= new Float64Array(c.size).fill(NaN))[e] = side < 0 ? 0 : (v > 0 ? -1 : 1) * 1e-300;
        count++;
      }
      return { decided: moved && new T(c.shape, moved), count };
    },
  },
  fwd([x, gm, bt], attrs) {
    const out = T.zeros(x!.shape);
    rowsAlong(x!.shape, -1, (idx) => {
      const { mu, v } = layerNormStats(x!, idx);
      const rstd = rnd(1 / Math.sqrt(rnd(v + (attrs.eps as number))), 4);
      const diff = layerNormDiffs(x!, idx, mu, attrs.decided as T | null | undefined);
      idx.forEach((i, k) => (out.data[i] = rnd(rnd(rnd(diff[k]! * rstd) * gm!.data[k]!) + bt!.data[k]!)));
    });
    return out;
  },
  vjp([x, gm], _y, dy, attrs) {
    const dx = T.zeros(x!.shape);
    const d = gm!.size;
    const dgTerms: number[][] = Array.from({ length: d }, () => []);
    const dbTerms: number[][] = Array.from({ length: d }, () => []);
    rowsAlong(x!.shape, -1, (idx) => {
      const n = idx.length;
      const { mu, v } = layerNormStats(x!, idx);
      const rstd = rnd(1 / Math.sqrt(rnd(v + (attrs.eps as number))), 4);
      const xh = layerNormDiffs(x!, idx, mu, attrs.decided as T | null | undefined).map((df) => rnd(df * rstd));
      const g = idx.map((i, k) => rnd(dy.data[i]! * gm!.data[k]!));
      const mg = rnd(sumOf(g) / n);
      const mgx = rnd(sumOf(g.map((v2, k) => rnd(v2 * xh[k]!))) / n);
      idx.forEach((i, k) => {
        dx.data[i] = rnd(rstd * rnd(rnd(g[k]! - mg) - rnd(xh[k]! * mgx)));
        dgTerms[k]!.push(rnd(dy.data[i]! * xh[k]!));
        dbTerms[k]!.push(dy.data[i]!);
      });
    });
    return [dx, new T([d], Float64Array.from(dgTerms, (t) => sumOf(t))), new T([d], Float64Array.from(dbTerms, (t) => sumOf(t)))];
  },
};

const embeddingOp: FuzzOp = {
  name: "embedding",
  pick(p) {
    const table = p.existing((s) => s.length === 2 && s[0]! > 0) ?? p.leaf([1 + p.dim(), p.dim()], "param");
    // Rows of a wide table (a reshape of a large node: [2, 31525]) for [97, 130] ids made
    // 4·10⁸ values, which ran the machine out of memory: past MAX_LEAF values, fewer ids.
    const idShape = p.shape(0, 2);
    for (let i = idShape.length - 1; i >= 0 && idShape.reduce((a, b) => a * b, table.shape[1]!) > MAX_LEAF; i--) idShape[i] = 1;
    const ids = p.ids(idShape, table.shape[0]!);
    return { inputs: [ids, table], attrs: {} };
  },
  build: (g, [ids, table]) => g.embedding(ids!, table!),
  code: ([ids, table]) => `g.embedding(${ids}, ${table})`,
  fwd([ids, table]) {
    const d = table!.shape[1]!;
    const out = T.zeros([...ids!.shape, d]);
    for (let i = 0; i < ids!.size; i++) for (let j = 0; j < d; j++) out.data[i * d + j] = table!.data[ids!.data[i]! * d + j]!;
    return out;
  },
  vjp([ids, table], _y, dy) {
    const d = table!.shape[1]!;
    const dt = T.zeros(table!.shape);
    for (let i = 0; i < ids!.size; i++) for (let j = 0; j < d; j++) dt.data[ids!.data[i]! * d + j] = rnd(dt.data[ids!.data[i]! * d + j]! + dy.data[i * d + j]!);
    return [null, dt];
  },
};

// ---------------------------------------------------------------- convolutions and pooling

type Pad = "valid" | "same" | number;

/** Output length and leading padding of one axis (TensorFlow's rule for "same"), or null. */
function axisOut(len: number, k: number, stride: number, dil: number, pad: Pad): { out: number; before: number } | null {
  const eff = (k - 1) * dil + 1;
  if (pad === "same") {
    const out = Math.ceil(len / stride);
    const total = Math.max((out - 1) * stride + eff - len, 0);
    return out >= 1 && len + total >= eff ? { out, before: Math.floor(total / 2) } : null;
  }
  const p = pad === "valid" ? 0 : pad;
  return len + 2 * p >= eff ? { out: Math.floor((len + 2 * p - eff) / stride) + 1, before: p } : null;
}

/**
 * For every output pixel and tap, the input pixel it reads (or -1 in the padding), for
 * x [N, H, W, C] and a KH × KW window: calls f(n, oy, ox, ky, kx, iy, ix).
 */
function windows(
  x: readonly number[], kh: number, kw: number, st: number[], dl: number[], pad: Pad,
  f: (n: number, oy: number, ox: number, ky: number, kx: number, iy: number, ix: number) => void,
): [number, number] | null {
  const [n, h, w] = x as [number, number, number, number];
  const ay = axisOut(h, kh, st[0]!, dl[0]!, pad);
  const ax = axisOut(w, kw, st[1]!, dl[1]!, pad);
  if (!ay || !ax) return null;
  for (let b = 0; b < n; b++)
    for (let oy = 0; oy < ay.out; oy++)
      for (let ox = 0; ox < ax.out; ox++)
        for (let ky = 0; ky < kh; ky++)
          for (let kx = 0; kx < kw; kx++) {
            const iy = oy * st[0]! + ky * dl[0]! - ay.before;
            const ix = ox * st[1]! + kx * dl[1]! - ax.before;
            f(b, oy, ox, ky, kx, iy >= 0 && iy < h ? iy : -1, ix >= 0 && ix < w ? ix : -1);
          }
  return [ay.out, ax.out];
}

/**
 * conv2d, with a bias [F] and an activation in its options half the time each (fused: false
 * never draws them, the generator's conv2d before it did: the recorded cases of
 * graphs.test.ts replay their choices with it).
 */
const conv2dOf = (fused: boolean): FuzzOp => ({
  name: "conv2d",
  pick(p) {
    const x = p.existing((s) => s.length === 4 && s[1]! > 0 && s[2]! > 0) ?? p.leaf([p.c.pick([1, 2, 3]), p.c.pick([5, 6, 7, 8, 9]), p.c.pick([4, 5, 7, 9]), p.c.pick([1, 2, 3, 4, 5, 16])]);
    const kh = p.c.pick([3, 1, 2, 3, 5]);
    const kw = p.c.chance(4) ? p.c.pick([1, 2, 3]) : kh;
    const stride = p.c.pick([1, 1, 2, [2, 1]]);
    const dilation = p.c.pick([1, 1, 1, 2]);
    const padding: Pad = p.c.pick(["valid", "same", 1, "valid"] as Pad[]);
    const st = Array.isArray(stride) ? stride : [stride, stride];
    const dl = [dilation, dilation];
    if (!axisOut(x.shape[1]!, kh, st[0]!, dl[0]!, padding) || !axisOut(x.shape[2]!, kw, st[1]!, dl[1]!, padding)) return null;
    const F = p.c.pick([1, 3, 4, 8, 5]);
    const filter = p.ofShape([kh, kw, x.shape[3]!, F]);
    // The fused forms (a bias [F] and an activation in the options), half the time each.
    const withBias = fused && p.c.chance(2);
    const act = fused && p.c.chance(2) ? p.c.pick(LINEAR_ACTS) : undefined;
    return { inputs: withBias ? [x, filter, p.ofShape([F])] : [x, filter], attrs: { stride, dilation, padding, ...(act ? { act } : {}) } };
  },
  build: (g, [x, f, b], { act, ...opts }) => g.conv2d(x!, f!, { ...(opts as object), ...(b ? { bias: b } : {}), ...(act ? { activation: act as never } : {}) }),
  code: ([x, f, b], { act, ...opts }) => `g.conv2d(${x}, ${f}, ${JSON.stringify(opts).slice(0, -1)}${b ? `, "bias": ${b}` : ""}${act ? `, "activation": ${JSON.stringify(act)}` : ""}})`,
  // As linear's: the fused activation compares the pre-activation conv2d(x, f) + b with its thresholds.
  branches: {
    compared: ([x, f, b], attrs) => (linearAct(attrs)?.thresholds ? convPre(x!, f!, b, attrs) : null),
    decide(c, spread, side, attrs) {
      const a = linearAct(attrs)!;
      const { moved, count } = nearThresholds(c.data, spread, a.thresholds!(a.p), side);
      return { decided: moved && new T(c.shape, moved), count };
    },
  },
  fwd([x, f, b], attrs) {
    const z = decidedOver((attrs.compared as T | null | undefined) ?? convPre(x!, f!, b, attrs), attrs.decided as T | null | undefined);
    const a = linearAct(attrs);
    return a ? z.map((v) => rnd(a.f(v, a.p), a.ulps)) : z;
  },
  vjp([x, f, b], y, dy, attrs) {
    const a = linearAct(attrs);
    const z = decidedOver((attrs.compared as T | null | undefined) ?? convPre(x!, f!, b, attrs), attrs.decided as T | null | undefined);
    const dz = a ? z.map((v, i) => (a.masked && a.d(v, y.data[i]!, a.p) === 0 ? 0 : rnd(dy.data[i]! * a.d(v, y.data[i]!, a.p), a.ulps))) : dy;
    const out: (T | null)[] = convVjp(x!, f!, y, dz, attrs);
    if (b) out.push(unbroadcast(dz, b.shape));
    return out;
  },
});
const conv2dOp = conv2dOf(true);

/** conv2d(x, f) (+ b), rounded as the kernel forms it (the sum, then the bias added). */
function convPre(x: T, f: T, b: T | undefined, attrs: Record<string, unknown>): T {
  const z = convFwd(x, f, attrs);
  return b ? binary(z, b, (u, v) => rnd(u + v)) : z;
}

function convFwd(x: T | undefined, f: T | undefined, attrs: Record<string, unknown>): T {
  const [kh, kw, c, fo] = f!.shape as [number, number, number, number];
  const st = Array.isArray(attrs.stride) ? (attrs.stride as number[]) : [attrs.stride as number, attrs.stride as number];
  const dl = [attrs.dilation as number, attrs.dilation as number];
  const [, h, w] = x!.shape as [number, number, number, number];
  const ay = axisOut(h, kh, st[0]!, dl[0]!, attrs.padding as Pad)!;
  const ax = axisOut(w, kw, st[1]!, dl[1]!, attrs.padding as Pad)!;
  const out = T.zeros([x!.shape[0]!, ay.out, ax.out, fo]);
  // Padding is zeros that are multiplied (README, "NaN and infinity"): a tap over the
  // padding adds 0·f, which is NaN for a NaN or infinite filter value.
  windows(x!.shape, kh, kw, st, dl, attrs.padding as Pad, (b, oy, ox, ky, kx, iy, ix) => {
    const inside = iy >= 0 && ix >= 0;
    for (let ci = 0; ci < c; ci++) {
      const xv = inside ? x!.data[((b * h + iy) * w + ix) * c + ci]! : 0;
      for (let fi = 0; fi < fo; fi++) {
        const o = ((b * ay.out + oy) * ax.out + ox) * fo + fi;
        out.data[o] = madd(xv, f!.data[((ky * kw + kx) * c + ci) * fo + fi]!, out.data[o]!);
      }
    }
  });
  return out;
}

function convVjp(x: T | undefined, f: T | undefined, y: T, dy: T, attrs: Record<string, unknown>): T[] {
  const [kh, kw, c, fo] = f!.shape as [number, number, number, number];
  const st = Array.isArray(attrs.stride) ? (attrs.stride as number[]) : [attrs.stride as number, attrs.stride as number];
  const dl = [attrs.dilation as number, attrs.dilation as number];
  const [, h, w] = x!.shape as [number, number, number, number];
  const [ho, wo] = [y.shape[1]!, y.shape[2]!];
  const dx = T.zeros(x!.shape);
  const df = T.zeros(f!.shape);
  // A tap over the padding sends the filter 0·dy (NaN where dy is NaN or infinite), as the
  // multiplied zeros of the forward do; the padding itself has no gradient.
  windows(x!.shape, kh, kw, st, dl, attrs.padding as Pad, (b, oy, ox, ky, kx, iy, ix) => {
    const inside = iy >= 0 && ix >= 0;
    for (let ci = 0; ci < c; ci++) {
      const xi = inside ? ((b * h + iy) * w + ix) * c + ci : -1;
      for (let fi = 0; fi < fo; fi++) {
        const g = dy.data[((b * ho + oy) * wo + ox) * fo + fi]!;
        const fk = ((ky * kw + kx) * c + ci) * fo + fi;
        if (inside) dx.data[xi] = madd(g, f!.data[fk]!, dx.data[xi]!);
        df.data[fk] = madd(g, inside ? x!.data[xi]! : 0, df.data[fk]!);
      }
    }
  });
  return [dx, df];
}

/**
 * avgPool2d's mean of a window's values as the kernel forms it: the sum starts from the first
 * value (a copy, so a window of −0 alone, or of −0s, stays −0, and 1/−0 is −Inf), adds the
 * others in window order, and is divided by the count (NaN for none).
 */
function windowMean(v: readonly number[]): number {
  if (v.length === 0) return NaN;
  let s = v[0]!;
  for (let k = 1; k < v.length; k++) s = rnd(s + v[k]!);
  return rnd(s / v.length);
}

function poolOp(name: "maxPool2d" | "avgPool2d"): FuzzOp {
  const geom = (x: readonly number[], attrs: Record<string, unknown>) => {
    const size = attrs.size as number;
    const stride = (attrs.stride as number | undefined) ?? size;
    return { size, st: [stride, stride], pad: (attrs.padding as Pad | undefined) ?? "valid" };
  };
  /** Calls f(outIndex, inIndices of the window's real pixels) per output element. */
  const each = (x: readonly number[], attrs: Record<string, unknown>, f: (o: number, ins: number[]) => void) => {
    const { size, st, pad } = geom(x, attrs);
    const [n, h, w, c] = x as [number, number, number, number];
    const lists = new Map<number, number[]>();
    const hw = windows(x, size, size, st, [1, 1], pad, (b, oy, ox, _ky, _kx, iy, ix) => {
      const key = (b * 1e6 + oy) * 1e4 + ox;
      if (!lists.has(key)) lists.set(key, []);
      if (iy >= 0 && ix >= 0) lists.get(key)!.push((b * h + iy) * w + ix);
    })!;
    for (let b = 0; b < n; b++)
      for (let oy = 0; oy < hw[0]; oy++)
        for (let ox = 0; ox < hw[1]; ox++) {
          const pix = lists.get((b * 1e6 + oy) * 1e4 + ox)!;
          for (let ci = 0; ci < c; ci++) f(((b * hw[0] + oy) * hw[1] + ox) * c + ci, pix.map((q) => q * c + ci));
        }
    return hw;
  };
  return {
    name,
    pick(p) {
      const x = p.existing((s) => s.length === 4 && s[1]! >= 2 && s[2]! >= 2) ?? p.leaf([p.c.pick([1, 2]), p.c.pick([4, 5, 6, 7]), p.c.pick([4, 5, 8]), p.c.pick([1, 3, 4, 5])]);
      const size = p.c.pick([2, 2, 3]);
      const attrs: Record<string, unknown> = { size };
      if (p.c.chance(3)) attrs.stride = p.c.pick([1, 2]);
      if (p.c.chance(3)) attrs.padding = p.c.pick(["same", 1] as Pad[]);
      const { st, pad } = geom(x.shape, attrs);
      if (!axisOut(x.shape[1]!, size, st[0]!, 1, pad) || !axisOut(x.shape[2]!, size, st[1]!, 1, pad)) return null;
      return { inputs: [x], attrs };
    },
    build: (g, [x], attrs) => g[name](x!, attrs as never),
    code: ([x], attrs) => `g.${name}(${x}, ${JSON.stringify(attrs)})`,
    // A window's maximum among near-equal computed values: which one float32 sees as the
    // largest (the first of them, row-major, at a tie) is up to rounding, and the gradient
    // goes to it alone. Decided: the first (side −1) or the last (+1) of the values within
    // rounding of the maximum, per output element (−1: none near); with three or more, each
    // one between them too (decideMiddle: three values that round to a tie after a 1-ulp
    // lower first one give the second, seed 777001 graph 426 of the simd128 fuzzer).
    ...(name === "maxPool2d"
      ? (() => {
          /** Per output element, the window's candidates within rounding of its maximum (fewer than 2: none). */
          const nearOf = (c: T, spread: Float64Array, attrs: Record<string, unknown>) => {
            const lists: number[][] = [];
            each(c.shape, attrs, (o, ins) => {
              lists[o] = [];
              const v = ins.map((i) => c.data[i]!);
              if (v.length === 0 || v.some(Number.isNaN)) return;
              const m = Math.max(...v);
              const top = ins[v.indexOf(m)]!;
              const near = ins.filter((i) => i === top || (spread[i]! + spread[top]! > 0 && m - c.data[i]! <= spread[i]! + spread[top]!));
              if (near.length >= 2) lists[o] = near;
            });
            return lists;
          };
          const pick = (lists: number[][], choose: (near: number[]) => number) => {
            let count = 0;
            const winners = lists.map((near) => (near.length >= 2 ? (count++, choose(near)) : -1));
            return { decided: count > 0 ? winners : null, count };
          };
          return {
            branches: {
              compared: ([x]: T[]) => x!,
              decide: (c: T, spread: Float64Array, side: -1 | 1, attrs: Record<string, unknown>) =>
                pick(nearOf(c, spread, attrs), (near) => (side < 0 ? near[0]! : near[near.length - 1]!)),
              decideMiddle(c: T, spread: Float64Array, rank: number, attrs: Record<string, unknown>) {
                const lists = nearOf(c, spread, attrs);
                if (!lists.some((near) => near.length > rank + 1)) return null;
                return pick(lists, (near) => near[Math.min(rank, near.length - 1)]!);
              },
              decideFrom([x]: T[], attrs: Record<string, unknown>) {
                const winners: number[] = [];
                each(x!.shape, attrs, (o, ins) => {
                  const v = ins.map((i) => x!.data[i]!);
                  winners[o] = v.length === 0 || v.some(Number.isNaN) ? -1 : ins[v.indexOf(Math.max(...v))]!;
                });
                return winners;
              },
            },
          };
        })()
      : {}),
    fwd([x], attrs) {
      const vals: [number, number][] = [];
      const won = attrs.decided as number[] | null | undefined;
      const hw = each(x!.shape, attrs, (o, ins) => {
        const v = ins.map((i) => x!.data[i]!);
        const w = won?.[o] ?? -1;
        vals.push([o, name === "maxPool2d" ? (w >= 0 ? x!.data[w]! : v.some(Number.isNaN) ? NaN : Math.max(...v)) : windowMean(v)]);
      });
      const out = T.zeros([x!.shape[0]!, hw[0], hw[1], x!.shape[3]!]);
      for (const [o, v] of vals) out.data[o] = v;
      return out;
    },
    vjp([x], y, dy, attrs) {
      const dx = T.zeros(x!.shape);
      each(x!.shape, attrs, (o, ins) => {
        if (name === "avgPool2d") {
          for (const i of ins) dx.data[i] = rnd(dx.data[i]! + rnd(dy.data[o]! / ins.length));
        } else {
          // The first position of the window (row-major) holding the max gets it all (or the
          // one a branch run decided on).
          const w = (attrs.decided as number[] | null | undefined)?.[o] ?? -1;
          const first = w >= 0 ? w : ins.find((i) => x!.data[i] === y.data[o]);
          if (first !== undefined) dx.data[first] = rnd(dx.data[first]! + dy.data[o]!);
        }
      });
      return [dx];
    },
  };
}

// ---------------------------------------------------------------- attention

/** softmax(scale·q·kᵀ (+ causal mask))·v over the last two axes [T, dh], and its gradients. */
const attentionOp: FuzzOp = {
  name: "attention",
  pick(p) {
    const lead = p.c.pick([[1], [2], [2, 3], []] as number[][]);
    const t = p.c.pick([1, 3, 5, 17, 8]);
    const dh = p.c.pick([4, 8, 3, 16]);
    const shape = [...lead, t, dh];
    const attrs: Record<string, unknown> = { causal: p.c.chance(2) };
    if (p.c.chance(3)) attrs.scale = p.c.pick([0.5, 1, 0.125]);
    return { inputs: [p.ofShape(shape), p.ofShape(shape), p.ofShape(shape)], attrs };
  },
  build: (g, [q, k, v], attrs) => g.attention(q!, k!, v!, attrs as never),
  code: ([q, k, v], attrs) => `g.attention(${q}, ${k}, ${v}, ${JSON.stringify(attrs)})`,
  fwd([q, k, v], attrs) {
    return attnRef(q!, k!, v!, attrs, null).y;
  },
  vjp([q, k, v], _y, dy, attrs) {
    const r = attnRef(q!, k!, v!, attrs, dy);
    return [r.dq!, r.dk!, r.dv!];
  },
};

function attnRef(q: T, k: T, v: T, attrs: Record<string, unknown>, dy: T | null): { y: T; dq?: T; dk?: T; dv?: T } {
  const r = q.shape.length;
  const t = q.shape[r - 2]!, dh = q.shape[r - 1]!;
  const heads = q.size / (t * dh);
  const scale = (attrs.scale as number | undefined) ?? 1 / Math.sqrt(dh);
  const causal = attrs.causal === true;
  const y = T.zeros(q.shape);
  const dq = T.zeros(q.shape), dk = T.zeros(q.shape), dv = T.zeros(q.shape);
  for (let h = 0; h < heads; h++) {
    const o = h * t * dh;
    for (let i = 0; i < t; i++) {
      const js = Array.from({ length: causal ? i + 1 : t }, (_, j) => j);
      const s = js.map((j) => rnd(scale * sumOf(Array.from({ length: dh }, (_, d) => rnd(q.data[o + i * dh + d]! * k.data[o + j * dh + d]!)))));
      const m = Math.max(...s);
      const e = s.map((x) => rnd(Math.exp(rnd(x - m)), 4));
      const z = sumOf(e);
      const pr = e.map((x) => rnd(x / z));
      for (let d = 0; d < dh; d++) y.data[o + i * dh + d] = sumOf(js.map((j, c) => rnd(pr[c]! * v.data[o + j * dh + d]!)));
      if (!dy) continue;
      // The backward makes P again from the row's logsumexp L = m + log Σ, saved in float32:
      // P = e^(s − L). Exactly that is the same P; rounded, L's own rounding (|L|·2⁻²⁴, 4·10⁻⁵
      // for scores near 600) moves every P of the row by as much, relatively.
      const lse = rnd(m + rnd(Math.log(z), 4));
      const pb = s.map((x) => rnd(Math.exp(rnd(x - lse)), 4));
      // dP = dO·vᵀ, dS = scale·P ∘ (dP − Σ P∘dP), dq = dS·k, dk += dSᵀ·q, dv += Pᵀ·dO.
      const dP = js.map((j) => sumOf(Array.from({ length: dh }, (_, d) => rnd(dy.data[o + i * dh + d]! * v.data[o + j * dh + d]!))));
      // Σ_c P·dP written as dO·O (the same value), rounded as the kernels form it, so the
      // noisy runs see how far the rounding of O moves the cancellation dP − D.
      const dot = sumOf(Array.from({ length: dh }, (_, d) => rnd(dy.data[o + i * dh + d]! * y.data[o + i * dh + d]!)));
      // dS carries the scale, (P·scale)·(dP − D), as the kernels form it: scaling dS·q
      // afterwards overflowed where the product does not (seed 2942, relaxed: dS·q = 4.7·10³⁸
      // before a scale of 1/√3, +Inf in the reference against the exact 2.7·10³⁸).
      const dS = pb.map((x, c) => rnd(rnd(x * scale) * rnd(dP[c]! - dot)));
      js.forEach((j, c) => {
        for (let d = 0; d < dh; d++) {
          dq.data[o + i * dh + d] = rnd(dq.data[o + i * dh + d]! + rnd(dS[c]! * k.data[o + j * dh + d]!));
          dk.data[o + j * dh + d] = rnd(dk.data[o + j * dh + d]! + rnd(dS[c]! * q.data[o + i * dh + d]!));
          dv.data[o + j * dh + d] = rnd(dv.data[o + j * dh + d]! + rnd(pb[c]! * dy.data[o + i * dh + d]!));
        }
      });
    }
  }
  return { y, dq, dk, dv };
}

/**
 * Columns [c0, c0 + w) of each row of x [..., T, width], as heads [..., H, T, w/H] (head h:
 * columns c0 + h·w/H …), contiguous: the layout attnRef reads.
 */
function headsOut(x: T, c0: number, w: number, H: number): T {
  const r = x.shape.length;
  const t = x.shape[r - 2]!, width = x.shape[r - 1]!;
  const lead = x.shape.slice(0, -2);
  const nb = sizeOf(lead), dh = w / H;
  const out = T.zeros([...lead, H, t, dh]);
  for (let b = 0; b < nb; b++) for (let h = 0; h < H; h++) for (let i = 0; i < t; i++) for (let d = 0; d < dh; d++) {
    out.data[((b * H + h) * t + i) * dh + d] = x.data[(b * t + i) * width + c0 + h * dh + d]!;
  }
  return out;
}

/** headsOut's inverse: heads [..., H, T, dh] written into columns [c0, c0 + H·dh) of `into` [..., T, width]. */
function headsIn(y: T, into: T, c0: number): T {
  const r = y.shape.length;
  const H = y.shape[r - 3]!, t = y.shape[r - 2]!, dh = y.shape[r - 1]!;
  const width = into.shape[into.shape.length - 1]!;
  const nb = y.size / (H * t * dh);
  for (let b = 0; b < nb; b++) for (let h = 0; h < H; h++) for (let i = 0; i < t; i++) for (let d = 0; d < dh; d++) {
    into.data[(b * t + i) * width + c0 + h * dh + d] = y.data[((b * H + h) * t + i) * dh + d]!;
  }
  return into;
}

/**
 * attention with `heads` side by side in the rows (q, k, v and y [..., T, heads·dh]), or
 * selfAttention (one qkv [..., T, 3·heads·dh], its thirds q, k, v): the reference moves the
 * heads out, runs attnRef, and moves them back.
 */
function attentionRowsOf(packed: boolean): FuzzOp {
  const name = packed ? "selfAttention" : "attentionHeads";
  const split = (xs: T[], attrs: Record<string, unknown>): [T, T, T] => {
    const H = attrs.heads as number;
    if (!packed) return xs.map((x) => headsOut(x, 0, x.shape[x.shape.length - 1]!, H)) as [T, T, T];
    const x = xs[0]!;
    const w = x.shape[x.shape.length - 1]! / 3;
    return [0, 1, 2].map((i) => headsOut(x, i * w, w, H)) as [T, T, T];
  };
  const outShape = (xs: T[]) => {
    const x = xs[0]!;
    const last = x.shape[x.shape.length - 1]!;
    return [...x.shape.slice(0, -1), packed ? last / 3 : last];
  };
  return {
    name,
    pick(p) {
      const lead = p.c.pick([[1], [2], [2, 3], []] as number[][]);
      const t = p.c.pick([1, 3, 5, 17, 8]);
      const dh = p.c.pick([4, 8, 3, 16]);
      const heads = p.c.pick([2, 3, 1, 4]);
      const attrs: Record<string, unknown> = { causal: p.c.chance(2), heads };
      if (p.c.chance(3)) attrs.scale = p.c.pick([0.5, 1, 0.125]);
      if (packed) return { inputs: [p.ofShape([...lead, t, 3 * heads * dh])], attrs };
      const shape = [...lead, t, heads * dh];
      return { inputs: [p.ofShape(shape), p.ofShape(shape), p.ofShape(shape)], attrs };
    },
    build: (g, xs, attrs) => (packed ? g.selfAttention(xs[0]!, attrs as never) : g.attention(xs[0]!, xs[1]!, xs[2]!, attrs as never)),
    code: (xs, attrs) => (packed ? `g.selfAttention(${xs[0]}, ${JSON.stringify(attrs)})` : `g.attention(${xs.join(", ")}, ${JSON.stringify(attrs)})`),
    fwd(xs, attrs) {
      const [q, k, v] = split(xs, attrs);
      return headsIn(attnRef(q, k, v, attrs, null).y, T.zeros(outShape(xs)), 0);
    },
    vjp(xs, _y, dy, attrs) {
      const [q, k, v] = split(xs, attrs);
      const H = attrs.heads as number;
      const r = attnRef(q, k, v, attrs, headsOut(dy, 0, dy.shape[dy.shape.length - 1]!, H));
      if (!packed) return [r.dq!, r.dk!, r.dv!].map((g) => headsIn(g, T.zeros(xs[0]!.shape), 0));
      const x = xs[0]!;
      const w = x.shape[x.shape.length - 1]! / 3;
      const dx = T.zeros(x.shape);
      [r.dq!, r.dk!, r.dv!].forEach((g, i) => headsIn(g, dx, i * w));
      return [dx];
    },
  };
}

/** Every op the generator draws from. */
// ---------------------------------------------------------------- dropout

/**
 * Dropout in training mode (a graph's first forward run is training run 0): the mask is the
 * one the op documents for (seed, run 0), recomputed by ./dropout-ref.ts; kept values and
 * their gradients are multiplied by float32 1/(1 − p), dropped ones are 0.
 */
const dropoutOp: FuzzOp = {
  name: "dropout",
  pick(p) {
    const x = p.existing(anyShape) ?? p.leaf(p.shape(0, 3));
    return { inputs: [x], attrs: { p: p.c.pick([0.5, 0, 0.1, 0.9, 0.25]), seed: p.c.int(1000) - 500 } };
  },
  build: (g, [x], attrs) => g.dropout(x!, attrs.p as number, { seed: attrs.seed as number }),
  code: ([x], attrs) => `g.dropout(${x}, ${String(attrs.p)}, { seed: ${String(attrs.seed)} })`,
  fwd([x], attrs) {
    const keep = dropoutMask(x!.size, attrs.p as number, attrs.seed as number, 0);
    const scale = dropoutScale(attrs.p as number);
    return x!.map((v, i) => (attrs.p === 0 ? v : keep[i] ? rnd(v * scale) : 0));
  },
  vjp([x], _y, dy, attrs) {
    const keep = dropoutMask(x!.size, attrs.p as number, attrs.seed as number, 0);
    const scale = dropoutScale(attrs.p as number);
    return [dy.map((v, i) => (attrs.p === 0 ? v : keep[i] ? rnd(v * scale) : 0))];
  },
};

export const FUZZ_OPS: readonly FuzzOp[] = [
  matmulOp,
  linearOp,
  outerOp,
  binaryOp("add", (x, y) => x + y, () => 1, () => 1),
  binaryOp("sub", (x, y) => x - y, () => 1, () => -1),
  binaryOp("mul", (x, y) => x * y, (_x, y) => y, (x) => x),
  binaryOp("div", (x, y) => x / y, (_x, y) => 1 / y, (x, y) => -x / (y * y)),
  unaryOp("exp", Math.exp, (dy, _x, y) => rnd(dy * y)),
  unaryOp("log", Math.log, (dy, x) => rnd(dy / x)),
  unaryOp("sqrt", Math.sqrt, (dy, _x, y) => rnd(rnd(0.5 * dy) / y)),
  squareOp,
  maxOp,
  scaleOp,
  reduceOp("sum"),
  reduceOp("mean"),
  dotOp,
  preluOp,
  ...ACTS.map(actOp),
  softmaxCEOp,
  sigmoidCEOp,
  mseOp,
  reshapeOp,
  transposeOp,
  sliceOp,
  concatOp,
  softmaxOp("softmax"),
  softmaxOp("logSoftmax"),
  crossEntropyOp,
  layerNormOp,
  embeddingOp,
  conv2dOp,
  poolOp("maxPool2d"),
  poolOp("avgPool2d"),
  attentionOp,
  dropoutOp,
];

/**
 * What the random runs draw from: FUZZ_OPS and the ops added since the replays in
 * graphs.test.ts were recorded (appended here rather than to FUZZ_OPS, whose length the
 * recorded choices of op index depend on): attention with its heads in the rows, and
 * selfAttention.
 */
export const FUZZ_OPS_ALL: readonly FuzzOp[] = [...FUZZ_OPS, attentionRowsOf(false), attentionRowsOf(true)];

/** FUZZ_OPS with conv2d as it was before it drew its fused forms: replays of choices recorded then. */
export const FUZZ_OPS_PLAIN_CONV: readonly FuzzOp[] = FUZZ_OPS.map((op) => (op === conv2dOp ? conv2dOf(false) : op));

export { broadcastIndex, same };

/** The fuzz op of that name (an unknown name is a test bug: it throws). */
export function fuzzOp(name: string): FuzzOp {
  const o = FUZZ_OPS_ALL.find((op) => op.name === name);
  if (!o) throw new Error(`no fuzz op named ${name}`);
  return o;
}
