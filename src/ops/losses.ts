/**
 * Losses with scalar [] outputs, reduced as PyTorch and TensorFlow.js do by default:
 * softmax cross-entropy (sum over classes, mean over rows), sigmoid cross-entropy with
 * logits and mean squared error (means over all elements). Fused, numerically stable
 * kernels: assembly/losses.ts.
 */
import { type Shape, fmtShape, sameShape, sizeOf } from "../runtime/shape.js";
import type { OpDef, OpSample } from "./op.js";
import { type In, call, defineOp, method } from "./define.js";

declare module "../runtime/kernels.js" {
  interface Kernels {
    softmax_xent_forward(z: number, t: number, p: number, loss: number, rows: number, cols: number): void;
    softmax_xent_backward(p: number, t: number, dloss: number, dz: number, rows: number, cols: number, accumulate: number): void;
    sigmoid_xent_forward(x: number, t: number, loss: number, n: number): void;
    sigmoid_xent_backward(x: number, t: number, dloss: number, dx: number, dt: number, n: number, accumulate: number): void;
    mse_forward(p: number, t: number, loss: number, n: number): void;
    mse_backward(p: number, t: number, dloss: number, dp: number, dt: number, n: number, accumulate: number): void;
  }
}

/** Checks a (prediction, target) pair of equal shapes; names are for the error message. */
function pair(op: string, inputs: readonly Shape[], names: [string, string]): [Shape, Shape] {
  if (inputs.length !== 2) throw new Error(`${op}: expects 2 inputs (${names[0]}, ${names[1]}), got ${inputs.length}`);
  const [a, b] = inputs as [Shape, Shape];
  if (!sameShape(a, b)) {
    throw new Error(`${op}: ${names[0]} and ${names[1]} differ in shape: ${names[0]} is ${fmtShape(a)}, ${names[1]} is ${fmtShape(b)}`);
  }
  return [a, b];
}

/** [rows, cols] of softmax cross-entropy logits: [N, C] or [C] (one row). */
function rowsCols(s: Shape): [number, number] {
  return s.length === 1 ? [1, s[0]!] : [s[0]!, s[1]!];
}

/**
 * Softmax cross-entropy of logits [N, C] (or [C]) against targets of the same shape
 * (one-hot rows or probability rows): mean over rows of −Σ_c t·log softmax(z). The
 * softmax probabilities are saved for the backward pass. Only the logits get a gradient,
 * (softmax(z)·Σt − t)/N per row (softmax(z) − t for rows that sum to 1); the targets are
 * data and get none.
 */
export const softmaxCrossEntropyOp: OpDef = defineOp<void>({
  id: "softmax_cross_entropy",
  name: "softmaxCrossEntropy",
  shape(inputs) {
    const z0 = inputs[0]!, t0 = inputs[1]!;
    if (z0.length >= 1 && t0.length === z0.length - 1 && t0.every((d, i) => d === z0[i])) {
      throw new Error(
        `softmaxCrossEntropy: targets must be one-hot (or probability) rows shaped like the logits ${fmtShape(z0)}; ` +
          `targets ${fmtShape(t0)} look like class indices: use crossEntropy(logits, labels) for those, or turn each index into a one-hot row of ${z0[z0.length - 1]} classes`,
      );
    }
    const [z] = pair("softmaxCrossEntropy", inputs, ["logits", "targets"]);
    if (z.length !== 1 && z.length !== 2) {
      throw new Error(`softmaxCrossEntropy: logits must be [N, C] or [C]: logits is ${fmtShape(z)}, targets is ${fmtShape(inputs[1]!)}`);
    }
    if (rowsCols(z)[1] === 0) throw new Error(`softmaxCrossEntropy: needs at least one class: logits is ${fmtShape(z)}`);
    return [];
  },
  saved(inputs) {
    return [inputs[0]!];
  },
  forward(k, x, y, _attrs, env) {
    const [rows, cols] = rowsCols(x[0]!.shape);
    k.softmax_xent_forward(x[0]!.ptr, x[1]!.ptr, env.saved[0]!.ptr, y.ptr, rows, cols);
  },
  backward(k, x, _y, dy, dx, _attrs, env) {
    const d = dx[0];
    if (!d) return;
    const [rows, cols] = rowsCols(x[0]!.shape);
    k.softmax_xent_backward(env.saved[0]!.ptr, x[1]!.ptr, dy.ptr, d.ptr, rows, cols, env.fresh! & 1 ? 0 : 1);
  },
  overwrites: [0],
  backwardReads: { inputs: [1], output: false },
  samples: [
    { label: "batch", inputs: [[4, 5], [4, 5]], attrs: undefined, constant: [1], values: (i, n) => (i === 1 ? oneHot(4, 5) : spread(n)) },
    { label: "one row", inputs: [[3], [3]], attrs: undefined, constant: [1], values: (i, n) => (i === 1 ? [0.2, 0.5, 0.3] : spread(n)) },
  ],
  badSamples: [
    { inputs: [[4, 5], [4, 4]], attrs: undefined, message: "differ in shape" },
    { inputs: [[2, 2, 2], [2, 2, 2]], attrs: undefined, message: "must be [N, C] or [C]" },
  ],
});

/**
 * Sigmoid cross-entropy with logits, mean over all elements:
 * max(x, 0) − x·t + log(1 + e^−|x|), stable for any |x|. Gradients: (σ(x) − t)/n for the
 * logits, −x/n for the targets (when asked for).
 */
export const sigmoidCrossEntropyOp: OpDef = defineOp<void>({
  id: "sigmoid_cross_entropy",
  name: "sigmoidCrossEntropy",
  shape(inputs) {
    pair("sigmoidCrossEntropy", inputs, ["logits", "targets"]);
    return [];
  },
  forward(k, x, y) {
    k.sigmoid_xent_forward(x[0]!.ptr, x[1]!.ptr, y.ptr, x[0]!.size);
  },
  backward(k, x, _y, dy, dx) {
    const dl = dx[0] ?? null, dt = dx[1] ?? null;
    if (!dl && !dt) return;
    // Pointer 0 tells the kernel that gradient is not wanted (no tensor lives at 0).
    k.sigmoid_xent_backward(x[0]!.ptr, x[1]!.ptr, dy.ptr, dl ? dl.ptr : 0, dt ? dt.ptr : 0, x[0]!.size, 1);
  },
  backwardReads: { inputs: [0, 1], output: false },
  samples: [{ inputs: [[3, 4], [3, 4]], attrs: undefined, values: (i, n) => (i === 1 ? Array.from({ length: n }, (_, j) => (j % 3) / 2) : spread(n)) }],
  badSamples: [{ inputs: [[3, 4], [4, 3]], attrs: undefined, message: "differ in shape" }],
});

/** Mean squared error mean((p − t)²). Gradients: 2(p − t)/n for p, the negative for t. */
export const mseOp: OpDef = defineOp<void>({
  name: "mse",
  shape(inputs) {
    pair("mse", inputs, ["pred", "target"]);
    return [];
  },
  forward(k, x, y) {
    k.mse_forward(x[0]!.ptr, x[1]!.ptr, y.ptr, sizeOf(x[0]!.shape));
  },
  backward(k, x, _y, dy, dx) {
    const dp = dx[0] ?? null, dt = dx[1] ?? null;
    if (!dp && !dt) return;
    k.mse_backward(x[0]!.ptr, x[1]!.ptr, dy.ptr, dp ? dp.ptr : 0, dt ? dt.ptr : 0, x[0]!.size, 1);
  },
  backwardReads: { inputs: [0, 1], output: false },
  samples: [{ inputs: [[3, 4], [3, 4]], attrs: undefined }, { inputs: [[], []], attrs: undefined }],
  badSamples: [{ inputs: [[3, 4], [3]], attrs: undefined, message: "differ in shape" }],
});

/** Sample logits: spread over [−2, 2]. */
function spread(n: number): number[] {
  return Array.from({ length: n }, (_, i) => ((i * 37) % 17) / 4 - 2);
}

/** Sample one-hot targets [rows, cols]. */
function oneHot(rows: number, cols: number): number[] {
  const t = new Array<number>(rows * cols).fill(0);
  for (let r = 0; r < rows; r++) t[r * cols + ((r * 3) % cols)] = 1;
  return t;
}

// ------------------------------------------------------------------ methods

export const methods = {
  /** Softmax cross-entropy of logits [N, C] (or [C]) against one-hot or probability targets of
   *  the same shape: mean over rows of −Σ_c t·log softmax(z); stable for any logits. Only the
   *  logits get a gradient. */
  softmaxCrossEntropy: method(2, (logits: In, targets: In) => call(softmaxCrossEntropyOp, [logits, targets], undefined)),
  /** Sigmoid cross-entropy with logits, averaged over all elements; stable for any |x|. */
  sigmoidCrossEntropy: method(2, (logits: In, targets: In) => call(sigmoidCrossEntropyOp, [logits, targets], undefined)),
  /** Mean squared error mean((pred − target)²). */
  mse: method(2, (pred: In, target: In) => call(mseOp, [pred, target], undefined)),
};
