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
import type { Buf, OpDef } from "./op.js";

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

/** Activation codes, mirroring ACT_* of assembly/vmath.ts (the fused linear layer uses them). */
export const ACT = {
  identity: 0,
  step: 1,
  sigmoid: 2,
  tanh: 3,
  hardTanh: 4,
  relu: 5,
  leakyRelu: 6,
  swish: 7,
  gelu: 8,
  geluTanh: 9,
} as const;

/** Function codes of the `vmath_map` kernel. */
export const VMATH = { exp: 0, log: 1, softplus: 2, sigmoid: 3, tanh: 4, erf: 5, normalCdf: 6 } as const;

export type ActivationName = "step" | "sigmoid" | "tanh" | "hardTanh" | "relu" | "leakyRelu" | "swish" | "gelu" | "geluTanh";

/** The one parameter of an activation: θ for step, the slope for leakyRelu (ignored by the others). */
export interface ActAttrs {
  p: number;
}

/** Which tensor each activation's backward reads: its output y, or its input x. */
export const BACKWARD_READS: Readonly<Record<ActivationName, "x" | "y">> = {
  step: "x",
  sigmoid: "y",
  tanh: "y",
  hardTanh: "x",
  relu: "x",
  leakyRelu: "x",
  swish: "x",
  gelu: "x",
  geluTanh: "x",
};

/** y = f(x) over n elements at byte offsets x and y (y may be x). */
export function activationForward(k: Kernels, name: ActivationName, x: number, y: number, n: number, p: number): void {
  switch (name) {
    case "step": return k.step_forward(x, y, n, p);
    case "sigmoid": return k.sigmoid_forward(x, y, n);
    case "tanh": return k.tanh_forward(x, y, n);
    case "hardTanh": return k.hardtanh_forward(x, y, n);
    case "relu": return k.relu_forward(x, y, n);
    case "leakyRelu": return k.leaky_relu_forward(x, y, n, p);
    case "swish": return k.swish_forward(x, y, n);
    case "gelu": return k.gelu_forward(x, y, n);
    case "geluTanh": return k.gelu_tanh_forward(x, y, n);
  }
}

/**
 * dx = dy·f′ (accumulate 0) or dx += dy·f′ (accumulate 1) in one pass; `v` is the tensor
 * BACKWARD_READS names (y for sigmoid and tanh, x for the others).
 */
export function activationBackward(k: Kernels, name: ActivationName, v: number, dy: number, dx: number, n: number, p: number, accumulate: 0 | 1): void {
  switch (name) {
    case "step": return k.step_backward(v, dy, dx, n, p, accumulate);
    case "sigmoid": return k.sigmoid_backward(v, dy, dx, n, accumulate);
    case "tanh": return k.tanh_backward(v, dy, dx, n, accumulate);
    case "hardTanh": return k.hardtanh_backward(v, dy, dx, n, accumulate);
    case "relu": return k.relu_backward(v, dy, dx, n, accumulate);
    case "leakyRelu": return k.leaky_relu_backward(v, dy, dx, n, p, accumulate);
    case "swish": return k.swish_backward(v, dy, dx, n, accumulate);
    case "gelu": return k.gelu_backward(v, dy, dx, n, accumulate);
    case "geluTanh": return k.gelu_tanh_backward(v, dy, dx, n, accumulate);
  }
}

/** The name users see in errors (gelu's tanh form is gelu with approximate "tanh"). */
function opName(name: ActivationName): string {
  return name === "geluTanh" ? "gelu" : name;
}

/**
 * Checks the activation's parameter; throws `leakyRelu: slope must be a finite number, got NaN`
 * (`op` names the caller, e.g. leakyReluBackward).
 */
export function checkActParam(name: ActivationName, p: unknown, op: string = name): number {
  if (name !== "step" && name !== "leakyRelu") return 0;
  if (typeof p !== "number" || !Number.isFinite(p)) {
    const what = name === "step" ? "theta" : "slope";
    throw new TypeError(`${op}: ${what} must be a finite number, got ${typeof p === "number" ? String(p) : typeof p}`);
  }
  return p;
}

function oneInput(op: string, inputs: readonly Shape[]): Shape {
  if (inputs.length !== 1) throw new Error(`${op}: expects 1 input, got ${inputs.length}`);
  return inputs[0]!;
}

function makeActivation(name: ActivationName): OpDef<ActAttrs> {
  const op = opName(name);
  const readsY = BACKWARD_READS[name] === "y";
  return {
    name: op,
    shape(inputs, attrs) {
      checkActParam(name, attrs?.p);
      return oneInput(op, inputs);
    },
    forward(k, x, y, attrs) {
      activationForward(k, name, x[0]!.ptr, y.ptr, y.size, attrs.p);
    },
    backward(k, x, y, dy, dx, attrs) {
      const d = dx[0];
      if (!d) return;
      activationBackward(k, name, readsY ? y.ptr : x[0]!.ptr, dy.ptr, d.ptr, d.size, attrs.p, 1);
    },
  };
}

/** The activation ops, keyed by name; attrs { p } carry θ (step) or the slope (leakyRelu). */
export const activationOps: Readonly<Record<ActivationName, OpDef<ActAttrs>>> = {
  step: makeActivation("step"),
  sigmoid: makeActivation("sigmoid"),
  tanh: makeActivation("tanh"),
  hardTanh: makeActivation("hardTanh"),
  relu: makeActivation("relu"),
  leakyRelu: makeActivation("leakyRelu"),
  swish: makeActivation("swish"),
  gelu: makeActivation("gelu"),
  geluTanh: makeActivation("geluTanh"),
};

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
export const preluOp: OpDef<void> = {
  name: "prelu",
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
};
