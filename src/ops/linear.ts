/**
 * The fused linear layer: y = f(x·W + b) in one kernel pass (the bias and the activation are
 * applied while each output tile is in registers), and a fused backward:
 *   dz = dy ⊙ f′        one pass (skipped for the identity: dz is dy)
 *   dW += xᵀ·dz         one GEMM: the batched outer product δᵀxᵀ of the notes
 *   db += Σ_rows dz     column sums
 *   dx += dz·Wᵀ         one GEMM
 * x is [m, k] (a batch of rows) or [k] (one example); W is [k, n]; b is [n].
 */
import type { Kernels } from "../runtime/kernels.js";
import { type Shape, fmtShape } from "../runtime/shape.js";
import { ACT } from "./activations.js";
import { ACT_GELU, ACT_SLOPE_FLAG } from "./act-codes.js";
import type {} from "./elementwise.js";
import { gemm, gemmBiasAct, gemmScratchBytes } from "./matmul.js";
import { type OpDef, shapeError } from "./op.js";
import { type In, call, defineOp, method } from "./define.js";

declare module "../runtime/kernels.js" {
  interface Kernels {
    act_backward(kind: number, x: number, y: number, dy: number, dz: number, n: number, p: number, accumulate: number): void;
    act_forward(kind: number, x: number, y: number, n: number, p: number): void;
  }
}

/** Activation names of the linear layer: those of ACT, plus "none" for the identity. */
const CODES = { none: ACT.identity, ...ACT } as const;

export type LinearActivationName = keyof typeof CODES;
/** An activation by name, or with its parameter: { name: "leakyRelu", slope } / { name: "step", theta }. */
export type LinearActivation =
  | LinearActivationName
  | { name: LinearActivationName; slope?: number; theta?: number; approximate?: "none" | "tanh" };

export interface LinearAttrs {
  name: LinearActivationName;
  act: number;
  p: number;
}

export function parseActivation(spec: LinearActivation | undefined | null, op: string): LinearAttrs {
  if (spec === undefined || spec === null) return { name: "none", act: 0, p: 0 };
  const obj = typeof spec === "string" ? { name: spec } : spec;
  let name = (obj as { name?: unknown }).name as LinearActivationName;
  if (typeof name !== "string" || !(name in CODES)) {
    throw new Error(`${op}: unknown activation ${JSON.stringify(name ?? spec)}; use one of ${Object.keys(CODES).join(", ")}`);
  }
  const o = obj as { slope?: number; theta?: number; approximate?: string };
  if (name === "gelu" && o.approximate === "tanh") name = "geluTanh";
  const p = name === "leakyRelu" ? (o.slope ?? 0.01) : name === "step" ? (o.theta ?? 0) : 0;
  if (typeof p !== "number" || !Number.isFinite(p)) throw new Error(`${op}: the ${name} parameter must be a finite number, got ${String(p)}`);
  return { name, act: CODES[name], p };
}

export interface Dims {
  m: number;
  k: number;
  n: number;
  bias: boolean;
}

function dims(x: readonly Shape[]): Dims {
  const [xs, ws, bs] = x as [Shape, Shape, Shape | undefined];
  if (xs === undefined || ws === undefined) throw new Error("linear: expects x and W (and optionally b)");
  if (xs.length < 1 || xs.length > 2 || ws.length !== 2) {
    throw shapeError("linear", "x must be [k] or [m, k] and W [k, n]", bs ? { x: xs, W: ws, b: bs } : { x: xs, W: ws });
  }
  const k = xs[xs.length - 1]!;
  const m = xs.length === 2 ? xs[0]! : 1;
  if (ws[0] !== k) throw shapeError("linear", "x's last dimension differs from W's first", bs ? { x: xs, W: ws, b: bs } : { x: xs, W: ws });
  const n = ws[1]!;
  if (bs !== undefined && (bs.length !== 1 || bs[0] !== n)) {
    throw new Error(`linear: b must be [${n}] (W's columns): x is ${fmtShape(xs)}, W is ${fmtShape(ws)}, b is ${fmtShape(bs)}`);
  }
  return { m, k, n, bias: bs !== undefined };
}

/**
 * Whether the forward saves a buffer of the output's shape for the backward: the
 * pre-activation z where the output y does not give the slope (swish, the tanh GeLU, a
 * leaky ReLU of slope ≤ 0), or for exact GeLU the slope itself (savesSlope). conv2d's fused
 * form saves z for the same activations (exact GeLU included: it forms no slope).
 */
export function needsZ(a: LinearAttrs): boolean {
  return a.name === "swish" || a.name === "gelu" || a.name === "geluTanh" || (a.name === "leakyRelu" && !(a.p > 0));
}

/**
 * Exact GeLU saves its slope f′(z) = Φ(z) + z·φ(z), formed in the forward's activation pass
 * from the Φ(z) and e^(−z²/2) it computes anyway (gemm_bias_act with ACT_SLOPE_FLAG), so the
 * backward is dz = dy ⊙ f′, one multiply, with gelu_backward's bits. Recomputing Φ in the
 * backward was 7% of the character transformer's training step (bench/step-profile.mjs
 * --model=char).
 */
function savesSlope(a: LinearAttrs): boolean {
  return a.act === ACT_GELU;
}

export const linearOp: OpDef<LinearAttrs, Dims> = defineOp<LinearAttrs, Dims>({
  name: "linear",
  shape(x) {
    const d = dims(x);
    return x[0]!.length === 2 ? [d.m, d.n] : [d.n];
  },
  prepare: (x) => dims(x),
  saved(x, a) {
    const d = dims(x);
    return needsZ(a) ? [[d.m, d.n]] : [];
  },
  scratchBytes(x, a) {
    const { m, k, n } = dims(x);
    const dz = a.act === 0 ? 0 : Math.ceil((m * n * 4) / 16) * 16;
    return dz + Math.max(gemmScratchBytes(m, n, k), gemmScratchBytes(k, n, m), gemmScratchBytes(m, k, n));
  },
  forward(kr, x, y, a, env) {
    const { m, k, n, bias } = env.prep ?? dims(x.map((b) => b.shape));
    gemmBiasAct(kr, {
      m, n, k, a: x[0]!.ptr, b: x[1]!.ptr, c: y.ptr,
      bias: bias ? x[2]!.ptr : 0, act: savesSlope(a) ? a.act | ACT_SLOPE_FLAG : a.act, p: a.p,
      z: needsZ(a) ? env.saved[0]!.ptr : 0,
      scratch: env.scratch,
    });
  },
  backward(kr, x, y, dy, dx, a, env) {
    const { m, k, n } = env.prep ?? dims(x.map((b) => b.shape));
    let dz = dy.ptr;
    let scratch = env.scratch;
    if (a.act !== 0) {
      dz = env.scratch;
      scratch = env.scratch + Math.ceil((m * n * 4) / 16) * 16;
      if (savesSlope(a)) kr.mul_same(dy.ptr, env.saved[0]!.ptr, dz, m * n, 0);
      else kr.act_backward(a.act, needsZ(a) ? env.saved[0]!.ptr : y.ptr, y.ptr, dy.ptr, dz, m * n, a.p, 0);
    }
    const [dX, dW, dB] = dx;
    if (dW) gemm(kr, { transA: true, m: k, n, k: m, a: x[0]!.ptr, lda: k, b: dz, ldb: n, beta: 1, c: dW.ptr, scratch });
    if (dB) kr.col_sums(dz, dB.ptr, m, n, 1, 1);
    if (dX) gemm(kr, { transB: true, m, n: k, k: n, a: dz, lda: n, b: x[1]!.ptr, ldb: n, beta: env.fresh! & 1 ? 0 : 1, c: dX.ptr, scratch });
  },
  // x's gradient: the GEMM with β = 0 writes it whole when it is fresh.
  overwrites: [0],
  backwardReads: { inputs: [0, 1], output: true },
  threads: {
    gemm: { kind: "gemm" },
    gemm_bias_act: { kind: "gemm" },
    act_backward: { kind: "elementwise", ptrs: [1, 2, 3, 4], n: 5 },
  },
  samples: [
    ...(["none", "tanh", "sigmoid", "swish", "gelu", "geluTanh"] as const).map((name) => ({
      label: name, inputs: [[4, 6], [6, 5], [5]], attrs: parseActivation(name, "linear"),
    })),
    { label: "no bias, one example", inputs: [[6], [6, 5]], attrs: parseActivation("tanh", "linear") },
    // Piecewise activations: values where no pre-activation sits within the gradcheck step of a kink are
    // not guaranteed, so these run without gradcheck (the activation ops' samples check those gradients).
    ...(["relu", "leakyRelu", "hardTanh", "step"] as const).map((name) => ({
      label: name, inputs: [[4, 6], [6, 5], [5]], attrs: parseActivation(name, "linear"), gradcheck: false as const,
    })),
    { label: "big", inputs: [[40, 50], [50, 60], [60]], attrs: parseActivation("gelu", "linear"), gradcheck: false },
  ],
  badSamples: [
    { inputs: [[4, 6], [5, 5]], attrs: parseActivation("relu", "linear"), message: "x's last dimension differs from W's first" },
    { inputs: [[4, 6], [6, 5], [4]], attrs: parseActivation(undefined, "linear"), message: "b must be [5]" },
  ],
});

// ------------------------------------------------------------------ methods

export const methods = {
  /** x·W + b with an optional activation (a name, or { name, slope?, theta?, approximate? }),
   *  as one fused kernel pass and a fused backward. x is [m, k] or [k], W [k, n], b [n]. */
  linear: method(4, (x: In, W: In, b?: In | null, activation?: LinearActivation) =>
    call(linearOp, b ? [x, W, b] : [x, W], parseActivation(activation, "linear"))),
};
