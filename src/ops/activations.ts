/**
 * Activation ops: step, sigmoid, tanh, hardTanh, relu, leakyRelu, swish, gelu (exact and
 * tanh approximation), and prelu with a learned slope. Kernels: assembly/activations.ts,
 * on the vector math of assembly/vmath.ts.
 *
 * Each backward reads whichever of x and y makes the derivative cheap: sigmoid and tanh
 * read the output y (σ′ = y(1 − y), tanh′ = 1 − y²), the others the input x. Conventions at
 * the kinks: relu′(0) = 0, leakyRelu′(0) = slope, prelu′(0) = slope, hardTanh′(±1) = 0
 * (the gradient flows only strictly inside (−1, 1)), step′ = 0 everywhere.
 */
import type { Kernels } from "../runtime/kernels.js";
import { type Shape, fmtShape } from "../runtime/shape.js";
import type { Buf, OnnxEmitter, OnnxMapping, OpDef } from "./op.js";
import { type In, type Method, type OpCall, call, defineOp, method } from "./define.js";
import {
  ACT_GELU, ACT_GELU_TANH, ACT_HARDTANH, ACT_IDENTITY, ACT_LEAKY_RELU, ACT_RELU, ACT_SIGMOID,
  ACT_STEP, ACT_SWISH, ACT_TANH,
} from "./act-codes.js";

declare module "../runtime/kernels.js" {
  interface Kernels {
    step_forward(x: number, y: number, n: number, theta: number): void;
    step_backward(x: number, dy: number, dx: number, n: number, theta: number, accumulate: number): void;
    sigmoid_forward(x: number, y: number, n: number): void;
    sigmoid_backward(y: number, dy: number, dx: number, n: number, accumulate: number): void;
    tanh_forward(x: number, y: number, n: number): void;
    tanh_backward(y: number, dy: number, dx: number, n: number, accumulate: number): void;
    hardtanh_forward(x: number, y: number, n: number): void;
    hardtanh_backward(x: number, dy: number, dx: number, n: number, accumulate: number): void;
    relu_forward(x: number, y: number, n: number): void;
    relu_backward(x: number, dy: number, dx: number, n: number, accumulate: number): void;
    leaky_relu_forward(x: number, y: number, n: number, slope: number): void;
    leaky_relu_backward(x: number, dy: number, dx: number, n: number, slope: number, accumulate: number): void;
    prelu_forward(x: number, y: number, n: number, slope: number, c: number): void;
    prelu_backward(x: number, dy: number, dx: number, n: number, slope: number, c: number, dslope: number, accumulate: number): void;
    swish_forward(x: number, y: number, n: number): void;
    swish_backward(x: number, dy: number, dx: number, n: number, accumulate: number): void;
    gelu_forward(x: number, y: number, n: number): void;
    gelu_backward(x: number, dy: number, dx: number, n: number, accumulate: number): void;
    gelu_tanh_forward(x: number, y: number, n: number): void;
    gelu_tanh_backward(x: number, dy: number, dx: number, n: number, accumulate: number): void;
    /** g = f′ for activation code `kind` (ACT), given x and y = f(x). */
    act_derivative(kind: number, x: number, y: number, g: number, n: number, p: number): void;
    /** y = fn(x): 0 exp, 1 log, 2 softplus, 3 sigmoid, 4 tanh, 5 erf, 6 Φ (assembly/vmath.ts). */
    vmath_map(fn: number, x: number, y: number, n: number): void;
  }
}

/** Function codes of the `vmath_map` kernel. */
export const VMATH = { exp: 0, log: 1, softplus: 2, sigmoid: 3, tanh: 4, erf: 5, normalCdf: 6 } as const;

/** The region of an activation where its slope is zero (gradient statistics report its share). */
export type FlatRegion = "dead" | "saturated" | "clipped" | "step";

/**
 * One row per activation. Everything else (the ops, the graph and eager methods, the fused
 * layer's names, the thread split rules, gradient statistics, the generic op test) reads this
 * table; adding an activation is a row here plus its kernels (`<kernel>_forward`,
 * `<kernel>_backward` in assembly/activations.ts, its case in assembly/linear.ts and
 * assembly/vmath.ts's act_v, its code in src/ops/act-codes.ts).
 */
interface ActivationRow {
  /** Its code in src/ops/act-codes.ts (the fused layer and act_* kernels take it). */
  readonly code: number;
  /** The op's unique id, and the kernels' base name: `${kernel}_forward`, `${kernel}_backward`. */
  readonly kernel: string;
  /** The name in messages (default: the row's key). */
  readonly name?: string;
  /** Its one number parameter, passed to both kernels after n. */
  readonly param?: { readonly name: "theta" | "slope"; readonly default: number };
  /** Which tensor the backward kernel reads: the input x or the output y. */
  readonly reads: "x" | "y";
  /** Where its slope is zero, for gradient statistics (none: never flat). */
  readonly flat?: FlatRegion;
  /** false: no graph method of its own (gelu's tanh form is `g.gelu(x, { approximate: "tanh" })`). */
  readonly method: boolean;
  /** false: SimdGrad keeps a hand-written eager function (legacy signatures). */
  readonly eager: boolean;
  /** The ONNX op (single-op mappings). */
  readonly onnx?: OnnxMapping<ActAttrs>;
  /** Sample values avoid this neighbourhood of the kinks (the generic op test's gradcheck). */
  readonly kinks?: readonly number[];
}

/**
 * GeLU in ONNX: the opset's Gelu from opset 20; before it, composed from Erf (x·(1 + erf(x/√2))/2)
 * or, for the tanh form, from Tanh (x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))/2).
 */
function geluOnnx(b: OnnxEmitter, x: string, approximate: "none" | "tanh"): string {
  if (b.opset >= 20) return b.node("Gelu", [x], { approximate })[0]!;
  const one = b.constant([], [1]);
  const half = b.constant([], [0.5]);
  const mul = (p: string, q: string) => b.node("Mul", [p, q])[0]!;
  let s: string;
  if (approximate === "none") {
    s = b.node("Erf", [b.node("Div", [x, b.constant([], [Math.SQRT2])])[0]!])[0]!;
  } else {
    const inner = b.node("Add", [x, mul(mul(mul(x, x), x), b.constant([], [0.044715]))])[0]!;
    s = b.node("Tanh", [mul(inner, b.constant([], [Math.sqrt(2 / Math.PI)]))])[0]!;
  }
  return mul(mul(x, b.node("Add", [s, one])[0]!), half);
}

/** The activation table (see ActivationRow). Keys are the method names. */
export const ACTIVATIONS = {
  /** Threshold unit: 1 where x > θ, else 0 (NaN stays NaN). Its gradient is zero everywhere. */
  step: { code: ACT_STEP, kernel: "step", param: { name: "theta", default: 0 }, reads: "x", flat: "step", method: true, eager: false, kinks: [0],
    onnx: { emit: (b, [x], a) => b.node("Cast", b.node("Greater", [x!, b.constant([], [a.p])]), { to: 1 })[0]! } },
  /** σ(x) = 1/(1 + e^−x), max relative error 2.4e-7. */
  sigmoid: { code: ACT_SIGMOID, kernel: "sigmoid", reads: "y", flat: "saturated", method: true, eager: true, onnx: { opType: "Sigmoid" } },
  /** tanh(x), max relative error 2.4e-7. */
  tanh: { code: ACT_TANH, kernel: "tanh", reads: "y", flat: "saturated", method: true, eager: true, onnx: { opType: "Tanh" } },
  /** clamp(x, −1, 1); its gradient flows only strictly inside (−1, 1). */
  hardTanh: { code: ACT_HARDTANH, kernel: "hardtanh", reads: "x", flat: "clipped", method: true, eager: true, kinks: [-1, 1],
    onnx: { emit: (b, [x]) => b.node("Clip", [x!, b.constant([], [-1]), b.constant([], [1])])[0]! } },
  /** max(x, 0); relu′(0) = 0. */
  relu: { code: ACT_RELU, kernel: "relu", reads: "x", flat: "dead", method: true, eager: true, kinks: [0], onnx: { opType: "Relu" } },
  /** x > 0 ? x : slope·x; leakyRelu′(0) = slope. */
  leakyRelu: { code: ACT_LEAKY_RELU, kernel: "leaky_relu", param: { name: "slope", default: 0.01 }, reads: "x", method: true, eager: false, kinks: [0],
    onnx: { opType: "LeakyRelu", attributes: (a) => ({ alpha: a.p }) } },
  /** x·σ(x) (also called SiLU). */
  swish: { code: ACT_SWISH, kernel: "swish", reads: "x", method: true, eager: true,
    onnx: { emit: (b, [x]) => b.node("Mul", [x!, b.node("Sigmoid", [x!])[0]!])[0]! } },
  /** GeLU: x·Φ(x) exactly; `{ approximate: "tanh" }` for its tanh approximation. */
  gelu: { code: ACT_GELU, kernel: "gelu", reads: "x", method: false, eager: false,
    onnx: { emit: (b, [x]) => geluOnnx(b, x!, "none") } },
  /** GeLU's tanh approximation, 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))). */
  geluTanh: { code: ACT_GELU_TANH, kernel: "gelu_tanh", name: "gelu", reads: "x", method: false, eager: false,
    onnx: { emit: (b, [x]) => geluOnnx(b, x!, "tanh") } },
} as const satisfies Record<string, ActivationRow>;

export type ActivationName = keyof typeof ACTIVATIONS;
const ROWS: Readonly<Record<ActivationName, ActivationRow>> = ACTIVATIONS;
export const ACTIVATION_NAMES = Object.keys(ACTIVATIONS) as ActivationName[];

/** Activation codes by name, from the table (the fused linear layer uses them); identity is 0. */
export const ACT: Readonly<Record<ActivationName | "identity", number>> = {
  identity: ACT_IDENTITY,
  ...(Object.fromEntries(ACTIVATION_NAMES.map((n) => [n, ROWS[n].code])) as Record<ActivationName, number>),
};

/** The one parameter of an activation: θ for step, the slope for leakyRelu (ignored by the others). */
export interface ActAttrs {
  p: number;
}

/** Which tensor each activation's backward reads: its output y, or its input x. */
export const BACKWARD_READS: Readonly<Record<ActivationName, "x" | "y">> = Object.fromEntries(
  ACTIVATION_NAMES.map((n) => [n, ROWS[n].reads]),
) as Record<ActivationName, "x" | "y">;

/** The flat region of each activation that has one (gradient statistics). */
export function flatRegion(name: string): { code: number; region: FlatRegion } | null {
  const row = Object.prototype.hasOwnProperty.call(ROWS, name) ? ROWS[name as ActivationName] : undefined;
  return row?.flat ? { code: row.code, region: row.flat } : null;
}

type Fn = (...args: number[]) => void;

/** Writes activation `name` of value `x` through an ONNX emitter (the fused linear layer's export). */
export function activationOnnx(b: OnnxEmitter, name: ActivationName, x: string, p: number): string {
  const m: OnnxMapping<ActAttrs> | undefined = ROWS[name].onnx;
  if (m === undefined) throw new Error(`onnx: no mapping for activation ${name}`);
  if ("emit" in m) return m.emit(b, [x], { p }, []);
  return b.node(m.opType, [x], m.attributes?.({ p }), m.domain ? { domain: m.domain } : undefined)[0]!;
}

/** Kernel names per activation, built once (no string is made per call). */
const FWD: Readonly<Record<string, string>> = Object.fromEntries(ACTIVATION_NAMES.map((n) => [n, `${ROWS[n].kernel}_forward`]));
const BWD: Readonly<Record<string, string>> = Object.fromEntries(ACTIVATION_NAMES.map((n) => [n, `${ROWS[n].kernel}_backward`]));

/** y = f(x) over n elements at byte offsets x and y (y may be x). */
export function activationForward(k: Kernels, name: ActivationName, x: number, y: number, n: number, p: number): void {
  (k as unknown as Record<string, Fn>)[FWD[name]!]!(x, y, n, p);
}

/**
 * dx = dy·f′ (accumulate 0) or dx += dy·f′ (accumulate 1) in one pass; `v` is the tensor
 * BACKWARD_READS names (y for sigmoid and tanh, x for the others).
 */
export function activationBackward(k: Kernels, name: ActivationName, v: number, dy: number, dx: number, n: number, p: number, accumulate: 0 | 1): void {
  const row = ROWS[name];
  const f = (k as unknown as Record<string, Fn>)[BWD[name]!]!;
  if (row.param) f(v, dy, dx, n, p, accumulate);
  else f(v, dy, dx, n, accumulate);
}

/**
 * Checks the activation's parameter; throws `leakyRelu: slope must be a finite number, got NaN`
 * (`op` names the caller, e.g. leakyReluBackward).
 */
export function checkActParam(name: ActivationName, p: unknown, op: string = name): number {
  const param = ROWS[name].param;
  if (!param) return 0;
  if (typeof p !== "number" || !Number.isFinite(p)) {
    throw new TypeError(`${op}: ${param.name} must be a finite number, got ${typeof p === "number" ? String(p) : typeof p}`);
  }
  return p;
}

function oneInput(op: string, inputs: readonly Shape[]): Shape {
  if (inputs.length !== 1) throw new Error(`${op}: expects 1 input, got ${inputs.length}`);
  return inputs[0]!;
}

/** Seeded values in ±[0.2, 1.5] with every kink at least 0.1 away (for gradcheck). */
function awayFrom(kinks: readonly number[]): (input: number, size: number) => number[] {
  return (input, size) => {
    const out: number[] = [];
    let s = 0x9e3779b9 ^ (input + 1);
    while (out.length < size) {
      s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) | 0;
      const u = (s >>> 0) / 2 ** 32;
      const v = (u < 0.5 ? -1 : 1) * (0.2 + 2.6 * Math.abs(u - 0.5));
      if (kinks.every((k) => Math.abs(v - k) > 0.1)) out.push(v);
    }
    return out;
  };
}

function makeActivation(key: ActivationName): OpDef<ActAttrs> {
  const row = ROWS[key];
  const op = row.name ?? key;
  const readsY = row.reads === "y";
  const fwd = `${row.kernel}_forward`;
  const bwd = `${row.kernel}_backward`;
  const hasP = row.param !== undefined;
  const p0 = row.param?.default ?? 0;
  const values = awayFrom(row.kinks ?? []);
  return defineOp<ActAttrs>({
    name: op,
    id: row.kernel,
    inPlace: true,
    shape(inputs, attrs) {
      checkActParam(key, attrs?.p, op);
      return oneInput(op, inputs);
    },
    forward(k, x, y, attrs) {
      (k as unknown as Record<string, Fn>)[fwd]!(x[0]!.ptr, y.ptr, y.size, attrs.p);
    },
    backward(k, x, y, dy, dx, attrs, env) {
      const d = dx[0];
      if (!d) return;
      const f = (k as unknown as Record<string, Fn>)[bwd]!;
      const v = readsY ? y.ptr : x[0]!.ptr;
      const acc = env.fresh! & 1 ? 0 : 1;
      if (hasP) f(v, dy.ptr, d.ptr, d.size, attrs.p, acc);
      else f(v, dy.ptr, d.ptr, d.size, acc);
    },
    // The backward kernels write dx whole with accumulate = 0.
    overwrites: [0],
    backwardReads: { inputs: readsY ? [] : [0], output: readsY },
    threads: {
      [fwd]: { kind: "elementwise", ptrs: [0, 1], n: 2 },
      [bwd]: { kind: "elementwise", ptrs: [0, 1, 2], n: 3 },
    },
    ...(row.onnx ? { onnx: row.onnx } : {}),
    samples: [
      { label: "matrix", inputs: [[3, 5]], attrs: { p: hasP ? (key === "leakyRelu" ? 0.2 : 0.3) : 0 }, values: awayFrom([...(row.kinks ?? []), ...(key === "step" ? [0.3] : [])]) },
      { label: "vector", inputs: [[7]], attrs: { p: p0 }, values },
      { label: "scalar", inputs: [[]], attrs: { p: p0 }, values },
      { label: "big", inputs: [[9000]], attrs: { p: p0 }, values, gradcheck: false },
    ],
    badSamples: [{ inputs: [[2], [2]], attrs: { p: p0 }, message: "expects 1 input" }],
  });
}

/** The activation ops, keyed by name; attrs { p } carry θ (step) or the slope (leakyRelu). */
export const activationOps: Readonly<Record<ActivationName, OpDef<ActAttrs>>> = Object.fromEntries(
  ACTIVATION_NAMES.map((n) => [n, makeActivation(n)]),
) as Record<ActivationName, OpDef<ActAttrs>>;

/**
 * PReLU's slope length for input x: 1 for a single slope ([] or [1]), else C = x's last
 * dimension. Throws `prelu: slope must be [] or [C] with C = x's last dimension: x is [..], slope is [..]`.
 */
export function preluChannels(x: Shape, slope: Shape, op = "prelu"): number {
  const c = x.length > 0 ? x[x.length - 1]! : 1;
  if (slope.length === 0 || (slope.length === 1 && slope[0] === 1)) return 1;
  if (slope.length === 1 && slope[0] === c) return c;
  throw new Error(`${op}: slope must be [] or [C] with C = x's last dimension: x is ${fmtShape(x)}, slope is ${fmtShape(slope)}`);
}

/**
 * Parametric ReLU: y = x > 0 ? x : a·x, inputs [x, slope]; slope is [] (one a for all) or
 * [C] with C = x's last dimension (one a per channel). The slope gets a gradient, summed
 * over every other dimension.
 */
export const preluOp: OpDef<void> = defineOp<void>({
  name: "prelu",
  inPlace: true,
  shape(inputs) {
    if (inputs.length !== 2) throw new Error(`prelu: expects 2 inputs (x and slope), got ${inputs.length}`);
    preluChannels(inputs[0]!, inputs[1]!);
    return inputs[0]!;
  },
  forward(k, x, y) {
    const [xs, a] = x as [Buf, Buf];
    k.prelu_forward(xs.ptr, y.ptr, y.size, a.ptr, a.size);
  },
  backward(k, x, _y, dy, dx) {
    const [xs, a] = x as [Buf, Buf];
    const dxs = dx[0] ?? null;
    const da = dx[1] ?? null;
    if (!dxs && !da) return;
    k.prelu_backward(xs.ptr, dy.ptr, dxs ? dxs.ptr : 0, xs.size, a.ptr, a.size, da ? da.ptr : 0, 1);
  },
  backwardReads: { inputs: [0, 1], output: false },
  onnx: { opType: "PRelu" },
  samples: [
    { label: "one slope", inputs: [[4, 3], []], attrs: undefined, values: (i, n) => (i === 0 ? awayFrom([0])(0, n) : [0.25]) },
    { label: "per channel", inputs: [[4, 3], [3]], attrs: undefined, values: (i, n) => (i === 0 ? awayFrom([0])(0, n) : [0.1, -0.2, 0.3]) },
  ],
  badSamples: [{ inputs: [[4, 3], [4]], attrs: undefined, message: "slope must be [] or [C]" }],
});

// ------------------------------------------------------------------ methods (g.relu, sg.relu, …)

type Table = typeof ACTIVATIONS;
type ActFn<R> = R extends { param: { name: "theta" } }
  ? (x: In, theta?: number) => OpCall
  : R extends { param: { name: "slope" } }
    ? (x: In, slope?: number) => OpCall
    : (x: In) => OpCall;
type ActMethods = {
  [K in keyof Table as Table[K]["method"] extends true ? K : never]: Method<ActFn<Table[K]>, Table[K]["eager"]>;
};

function actMethods(): ActMethods {
  const out: Record<string, Method> = {};
  for (const name of ACTIVATION_NAMES) {
    const row = ROWS[name];
    if (!row.method) continue;
    const op = activationOps[name];
    const p0 = row.param?.default ?? 0;
    out[name] = row.param
      ? method(2, (x: In, p: number = p0) => call(op, [x], { p }), { eager: row.eager })
      : method(1, (x: In) => call(op, [x], { p: 0 }), { eager: row.eager });
  }
  return out as unknown as ActMethods;
}

/** "gelu" or "geluTanh" from gelu's options; names `op` in the error. */
export function geluKind(op: string, opts: { approximate?: "none" | "tanh" } | null | undefined): "gelu" | "geluTanh" {
  if (opts === null || opts === undefined) return "gelu"; // no options
  if (typeof opts !== "object") throw new TypeError(`${op}: options must be { approximate?: "none" | "tanh" }, got ${opts === null ? "null" : typeof opts}`);
  const a = opts.approximate ?? "none";
  if (a !== "none" && a !== "tanh") throw new Error(`${op}: approximate must be "none" or "tanh", got ${JSON.stringify(a)}`);
  return a === "tanh" ? "geluTanh" : "gelu";
}

/** The activation methods: one per table row with `method: true`, plus gelu and prelu. */
export const methods = {
  ...actMethods(),
  /** GeLU: x·Φ(x) exactly (approximate "none", the default), or its tanh approximation. */
  gelu: method(2, (x: In, opts: { approximate?: "none" | "tanh" } = {}) => call(activationOps[geluKind("gelu", opts)], [x], { p: 0 }), { eager: false }),
  /** Parametric ReLU: x > 0 ? x : a·x with slope a of shape [] or [C] (x's last dimension); the slope gets a gradient. */
  prelu: method(2, (x: In, slope: In) => call(preluOp, [x, slope], undefined), { eager: false }),
};
