/**
 * Elementwise math of one tensor: exp, log, sqrt, with their gradients. Kernels:
 * assembly/unary.ts (vector polynomials from assembly/vmath.ts).
 */
import type { Shape } from "../runtime/shape.js";
import type { OpDef } from "./op.js";
import { type In, call, defineOp, method } from "./define.js";

declare module "../runtime/kernels.js" {
  interface Kernels {
    // Also called here: mul_same (src/ops/elementwise.ts), binary_nd (src/ops/strided.ts).
    exp_f32(x: number, y: number, n: number): void;
    log_f32(x: number, y: number, n: number): void;
    sqrt_f32(x: number, y: number, n: number): void;
    sqrt_backward(y: number, dy: number, dx: number, n: number, accumulate: number): void;
    square_f32(x: number, y: number, n: number): void;
    square_backward(x: number, dy: number, dx: number, n: number, accumulate: number): void;
  }
}

/** Sample values in [0.5, 2.5): inside log's and sqrt's domain, away from 0. */
const positive = (_i: number, n: number) => Array.from({ length: n }, (_, j) => 0.5 + ((j * 7) % 10) * 0.2);

function oneInput(op: string, inputs: readonly Shape[]): Shape {
  if (inputs.length !== 1) throw new Error(`${op}: expects 1 input, got ${inputs.length}`);
  return inputs[0]!;
}

/** e^x, elementwise (relative error ≤ 1 ulp); gradient dx += dy·y. */
export const expOp: OpDef = defineOp<void>({
  name: "exp",
  inPlace: true,
  shape: (inputs) => oneInput("exp", inputs),
  forward(k, x, y) {
    k.exp_f32(x[0]!.ptr, y.ptr, y.size);
  },
  backward(k, _x, y, dy, dx) {
    const d = dx[0];
    if (d) k.mul_same(dy.ptr, y.ptr, d.ptr, dy.size, 1);
  },
  backwardReads: { inputs: [], output: true },
  onnx: { opType: "Exp" },
  threads: { exp_f32: { kind: "elementwise", ptrs: [0, 1], n: 2 } },
  samples: [{ label: "matrix", inputs: [[3, 5]], attrs: undefined }, { label: "scalar", inputs: [[]], attrs: undefined }],
  badSamples: [{ inputs: [[2], [2]], attrs: undefined, message: "expects 1 input" }],
});

/** ln x, elementwise (relative error ≤ 2 ulp; ln 0 = −Inf, ln(x < 0) = NaN); gradient dx += dy/x. */
export const logOp: OpDef = defineOp<void>({
  name: "log",
  inPlace: true,
  shape: (inputs) => oneInput("log", inputs),
  forward(k, x, y) {
    k.log_f32(x[0]!.ptr, y.ptr, y.size);
  },
  backward(k, x, _y, dy, dx) {
    const d = dx[0];
    // binary_nd's division (op 3) over one contiguous axis, accumulating.
    if (d && dy.size > 0) k.binary_nd(3, dy.ptr, x[0]!.ptr, d.ptr, 1, 1, 1, dy.size, 0, 0, 0, 1, 0, 0, 0, 1, 1);
  },
  backwardReads: { inputs: [0], output: false },
  onnx: { opType: "Log" },
  threads: { log_f32: { kind: "elementwise", ptrs: [0, 1], n: 2 } },
  samples: [{ label: "matrix", inputs: [[3, 5]], attrs: undefined, values: positive }],
  badSamples: [{ inputs: [[2], [2]], attrs: undefined, message: "expects 1 input" }],
});

/** √x, elementwise (correctly rounded); gradient dx += dy/(2·y) (infinite at x = 0). */
export const sqrtOp: OpDef = defineOp<void>({
  name: "sqrt",
  inPlace: true,
  shape: (inputs) => oneInput("sqrt", inputs),
  forward(k, x, y) {
    k.sqrt_f32(x[0]!.ptr, y.ptr, y.size);
  },
  backward(k, _x, y, dy, dx) {
    const d = dx[0];
    if (d) k.sqrt_backward(y.ptr, dy.ptr, d.ptr, dy.size, 1);
  },
  backwardReads: { inputs: [], output: true },
  onnx: { opType: "Sqrt" },
  threads: {
    sqrt_f32: { kind: "elementwise", ptrs: [0, 1], n: 2 },
    sqrt_backward: { kind: "elementwise", ptrs: [0, 1, 2], n: 3 },
  },
  samples: [{ label: "matrix", inputs: [[3, 5]], attrs: undefined, values: positive }],
  badSamples: [{ inputs: [[2], [2]], attrs: undefined, message: "expects 1 input" }],
});

/** x², elementwise; gradient dx += 2x·dy. */
export const squareOp: OpDef = defineOp<void>({
  name: "square",
  inPlace: true,
  shape: (inputs) => oneInput("square", inputs),
  forward(k, x, y) {
    k.square_f32(x[0]!.ptr, y.ptr, y.size);
  },
  backward(k, x, _y, dy, dx) {
    const d = dx[0];
    if (d) k.square_backward(x[0]!.ptr, dy.ptr, d.ptr, dy.size, 1);
  },
  backwardReads: { inputs: [0], output: false },
  onnx: { emit: (b, [x]) => b.node("Mul", [x!, x!])[0]! },
  threads: {
    square_f32: { kind: "elementwise", ptrs: [0, 1], n: 2 },
    square_backward: { kind: "elementwise", ptrs: [0, 1, 2], n: 3 },
  },
  samples: [
    { label: "matrix", inputs: [[3, 5]], attrs: undefined },
    { label: "scalar", inputs: [[]], attrs: undefined },
    { label: "big", inputs: [[9001]], attrs: undefined, gradcheck: false },
  ],
  badSamples: [{ inputs: [[2], [2]], attrs: undefined, message: "expects 1 input" }],
});

// ------------------------------------------------------------------ methods (g.exp, sg.exp, …)

export const methods = {
  /** Elementwise e^x (relative error ≤ 1 ulp in the normal range). */
  exp: method(1, (x: In) => call(expOp, [x], undefined)),
  /** Elementwise natural logarithm (ln 0 = −Inf, ln of a negative number = NaN). */
  log: method(1, (x: In) => call(logOp, [x], undefined)),
  /** Elementwise square root (correctly rounded). */
  sqrt: method(1, (x: In) => call(sqrtOp, [x], undefined)),
  /** Elementwise x² (one rounding); its gradient is 2x·dy. */
  square: method(1, (x: In) => call(squareOp, [x], undefined)),
};
