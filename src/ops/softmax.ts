/**
 * Probabilities over an axis: softmax, log-softmax, and cross-entropy with integer class
 * labels. Fused, stable kernels: assembly/softmax.ts. The axis may be any axis; the last
 * (the default) runs over contiguous rows, another runs four columns per SIMD step.
 */
import { type Shape, fmtShape } from "../runtime/shape.js";
import type { Buf, OpSample } from "./op.js";
import { type In, call, defineOp, method } from "./define.js";

declare module "../runtime/kernels.js" {
  interface Kernels {
    softmax_forward(x: number, y: number, outer: number, n: number, inner: number): void;
    softmax_backward(y: number, dy: number, dx: number, outer: number, n: number, inner: number, accumulate: number): void;
    log_softmax_forward(x: number, y: number, outer: number, n: number, inner: number): void;
    log_softmax_backward(y: number, dy: number, dx: number, outer: number, n: number, inner: number, accumulate: number): void;
    find_bad_index(values: number, n: number, limit: number): number;
    read_f32(ptr: number): number;
    xent_labels_forward(z: number, labels: number, p: number, loss: number, rows: number, cols: number): void;
    xent_labels_backward(p: number, z: number, labels: number, dloss: number, dz: number, rows: number, cols: number, accumulate: number): void;
  }
}

export interface AxisAttrs {
  /** The axis; negative counts from the end. */
  readonly axis: number;
}

/** Normalises `axis` (negative counts from the end) for a tensor of shape `s`, or throws. */
export function normAxis(op: string, axis: unknown, s: Shape): number {
  if (typeof axis !== "number" || !Number.isInteger(axis)) throw new TypeError(`${op}: axis must be an integer, got ${String(axis)}`);
  const r = s.length;
  if (r === 0) throw new Error(`${op}: needs at least one axis: x is ${fmtShape(s)}`);
  if (axis < -r || axis >= r) throw new RangeError(`${op}: axis ${axis} is out of range for x ${fmtShape(s)} (rank ${r})`);
  return axis < 0 ? axis + r : axis;
}

/** The product of the dimensions of s before `axis` (negative counts from the end). No allocation. */
export function outerOf(s: Shape, axis: number): number {
  const a = axis < 0 ? axis + s.length : axis;
  let outer = 1;
  for (let i = 0; i < a; i++) outer *= s[i]!;
  return outer;
}

/** The length of `axis` of s (negative counts from the end). */
export function lenOf(s: Shape, axis: number): number {
  return s[axis < 0 ? axis + s.length : axis]!;
}

const AXIS_SAMPLES: readonly OpSample<AxisAttrs>[] = [
  { label: "rows", inputs: [[3, 5]], attrs: { axis: -1 } },
  { label: "axis 0", inputs: [[4, 3]], attrs: { axis: 0 } },
  { label: "middle of 3-D", inputs: [[2, 3, 5]], attrs: { axis: 1 } },
  { label: "vector", inputs: [[7]], attrs: { axis: 0 } },
  { label: "big", inputs: [[16, 1031]], attrs: { axis: -1 }, gradcheck: false },
];

function axisShape(op: string) {
  return (inputs: readonly Shape[], attrs: AxisAttrs): Shape => {
    if (inputs.length !== 1) throw new Error(`${op}: expects 1 input, got ${inputs.length}`);
    const s = inputs[0]!;
    normAxis(op, attrs.axis, s);
    return s;
  };
}

/** softmax(x) along an axis: e^(x − max) / Σ e^(x − max). Backward from the output: y ⊙ (dy − Σ dy·y). */
/** By runs of outer rows (n·inner floats each); nothing is summed across them. */
const ROWS_FWD = { kind: "batch", n: 2, ptrs: [[0, [3, 4]], [1, [3, 4]]] } as const;
const ROWS_BWD = { kind: "batch", n: 3, ptrs: [[0, [4, 5]], [1, [4, 5]], [2, [4, 5]]] } as const;

export const softmaxOp = defineOp<AxisAttrs>({
  name: "softmax",
  threads: { softmax_forward: ROWS_FWD, softmax_backward: ROWS_BWD },
  shape: axisShape("softmax"),
  onnx: { opType: "Softmax", attributes: (a) => ({ axis: a.axis }) },
  samples: AXIS_SAMPLES,
  badSamples: [{ inputs: [[3, 4]], attrs: { axis: 2 }, message: "axis 2 is out of range" }],
  forward(k, x, y, attrs) {
    const s = x[0]!.shape, o = outerOf(s, attrs.axis), n = lenOf(s, attrs.axis);
    const i = x[0]!.size / (o * n) || 0;
    k.softmax_forward(x[0]!.ptr, y.ptr, o, n, i);
  },
  backward(k, _x, y, dy, dx, attrs, env) {
    const d = dx[0];
    if (!d) return;
    const o = outerOf(y.shape, attrs.axis), n = lenOf(y.shape, attrs.axis);
    const i = y.size / (o * n) || 0;
    k.softmax_backward(y.ptr, dy.ptr, d.ptr, o, n, i, env.fresh! & 1 ? 0 : 1);
  },
  overwrites: [0],
});

/** log softmax(x) along an axis: (x − max) − log Σ e^(x − max). Backward: dy − e^y·Σ dy. */
export const logSoftmaxOp = defineOp<AxisAttrs>({
  name: "logSoftmax",
  threads: { log_softmax_forward: ROWS_FWD, log_softmax_backward: ROWS_BWD },
  shape: axisShape("logSoftmax"),
  onnx: { opType: "LogSoftmax", attributes: (a) => ({ axis: a.axis }) },
  samples: AXIS_SAMPLES,
  badSamples: [{ inputs: [[3, 4]], attrs: { axis: 2 }, message: "axis 2 is out of range" }],
  forward(k, x, y, attrs) {
    const s = x[0]!.shape, o = outerOf(s, attrs.axis), n = lenOf(s, attrs.axis);
    const i = x[0]!.size / (o * n) || 0;
    k.log_softmax_forward(x[0]!.ptr, y.ptr, o, n, i);
  },
  backward(k, _x, y, dy, dx, attrs, env) {
    const d = dx[0];
    if (!d) return;
    const o = outerOf(y.shape, attrs.axis), n = lenOf(y.shape, attrs.axis);
    const i = y.size / (o * n) || 0;
    k.log_softmax_backward(y.ptr, dy.ptr, d.ptr, o, n, i, env.fresh! & 1 ? 0 : 1);
  },
  overwrites: [0],
});

/**
 * Throws `${op}: ${what} ${value} at ${where} is not an integer in [0, limit)` for the first
 * bad value of `buf` (checked by a kernel: integers in [0, limit)), before any kernel of
 * the op runs; the position is given in the buffer's shape.
 */
export function checkIndices(
  k: import("../runtime/kernels.js").Kernels,
  op: string,
  what: string,
  buf: Buf,
  limit: number,
  context: string,
): void {
  const bad = k.find_bad_index(buf.ptr, buf.size, limit);
  if (bad < 0) return;
  const v = k.read_f32(buf.ptr + 4 * bad);
  const pos = unravel(bad, buf.shape);
  throw new RangeError(`${op}: ${what} ${fmtNum(v)} at [${pos.join(", ")}] is not an integer in [0, ${limit}) (${context})`);
}

function fmtNum(v: number): string {
  return Number.isNaN(v) ? "NaN" : String(v);
}

function unravel(i: number, s: Shape): number[] {
  if (s.length === 0) return [];
  const out = new Array<number>(s.length);
  for (let d = s.length - 1; d >= 0; d--) {
    out[d] = i % s[d]!;
    i = Math.floor(i / s[d]!);
  }
  return out;
}

/** Logits for the samples: spread values in [−3, 3]. */
function labelsLogits(n: number): number[] {
  return Array.from({ length: n }, (_, i) => ((i * 37) % 61) / 10 - 3);
}

/**
 * Cross-entropy of logits [N, C] against integer class labels [N] (float values that are
 * integers in [0, C)), mean over rows: (1/N)·Σ_r −log softmax(z_r)[l_r]. A label that is
 * not an integer or not in [0, C) is an error naming the first one, raised before the
 * loss kernel runs. Only the logits get a gradient: (softmax(z) − onehot(l))/N.
 */
export const crossEntropyOp = defineOp<void>({
  name: "crossEntropy",
  onnx: {
    emit: () => {
      throw new Error("is a loss, which is not part of the model; export what it is computed from (e.g. the logits, or their logSoftmax) instead");
    },
  },
  samples: [
    { label: "batch", inputs: [[4, 5], [4]], attrs: undefined, constant: [1], values: (i, n) => (i === 1 ? [0, 4, 2, 2] : labelsLogits(n)) },
    { label: "one class", inputs: [[3, 1], [3]], attrs: undefined, constant: [1], values: (i, n) => (i === 1 ? [0, 0, 0] : labelsLogits(n)) },
  ],
  badSamples: [
    { inputs: [[4, 5], [3]], attrs: undefined, message: "labels must be [N]" },
    { inputs: [[4, 5, 2], [4]], attrs: undefined, message: "logits must be [N, C]" },
  ],
  shape(inputs) {
    if (inputs.length !== 2) throw new Error(`crossEntropy: expects 2 inputs (logits, labels), got ${inputs.length}`);
    const [z, l] = inputs as [Shape, Shape];
    if (z.length !== 2) throw new Error(`crossEntropy: logits must be [N, C]: logits is ${fmtShape(z)}, labels is ${fmtShape(l)}`);
    if (l.length !== 1 || l[0] !== z[0]) {
      throw new Error(`crossEntropy: labels must be [N], one class index per row of logits: logits is ${fmtShape(z)}, labels is ${fmtShape(l)}`);
    }
    if (z[1] === 0) throw new Error(`crossEntropy: needs at least one class: logits is ${fmtShape(z)}`);
    return [];
  },
  saved(inputs) {
    return [inputs[0]!];
  },
  forward(k, x, y, _attrs, env) {
    const [rows, cols] = x[0]!.shape as [number, number];
    checkIndices(k, "crossEntropy", "label", x[1]!, cols, `logits is ${fmtShape(x[0]!.shape)}`);
    k.xent_labels_forward(x[0]!.ptr, x[1]!.ptr, env.saved[0]!.ptr, y.ptr, rows, cols);
  },
  backward(k, x, _y, dy, dx, _attrs, env) {
    const d = dx[0];
    if (!d) return;
    const [rows, cols] = x[0]!.shape as [number, number];
    k.xent_labels_backward(env.saved[0]!.ptr, x[0]!.ptr, x[1]!.ptr, dy.ptr, d.ptr, rows, cols, env.fresh! & 1 ? 0 : 1);
  },
  overwrites: [0],
});

// ------------------------------------------------------------------ methods (g.softmax, sg.softmax, …)

function axisArg(op: string, axis: unknown): number {
  if (typeof axis !== "number" || !Number.isInteger(axis)) throw new TypeError(`${op}: axis must be an integer, got ${String(axis)}`);
  return axis;
}

export const methods = {
  /** softmax along `axis` (default the last): e^(x − max)/Σ e^(x − max), stable for logits of any size. */
  softmax: method(2, (x: In, axis: number = -1) => call(softmaxOp, [x], { axis: axisArg("softmax", axis) })),
  /** log softmax along `axis` (default the last), stable: (x − max) − log Σ e^(x − max). */
  logSoftmax: method(2, (x: In, axis: number = -1) => call(logSoftmaxOp, [x], { axis: axisArg("logSoftmax", axis) })),
  /**
   * Cross-entropy of logits [N, C] against class indices [N] (integer values in [0, C); usually an
   * input), averaged over rows. A label that is not such an integer is an error naming the first one.
   */
  crossEntropy: method(2, (logits: In, labels: In) => call(crossEntropyOp, [logits, labels], undefined)),
};
