/**
 * NumPy broadcasting for the binary elementwise ops (add, sub, mul, div, max): the general
 * path, for operand shapes beyond the fast cases of elementwise.ts (equal shapes, a trailing
 * suffix such as a bias, a single value), and the division op, which always runs here.
 *
 * Forward: the output's index space is collapsed (size-1 axes dropped, axes laid out alike
 * merged) and run by binary_nd with each operand's strides (0 where it repeats) — a few
 * canonical inner loops (both contiguous, one splatted, strided). Backward: each operand's
 * share over the output's space by the same kernel, then summed back over its broadcast
 * axes by the axis-sum kernels (./strided.ts reduceRun), never by a JavaScript loop.
 */
import type { Kernels } from "../runtime/kernels.js";
import { type Shape, sizeOf } from "../runtime/shape.js";
import type { Buf, OpDef } from "./op.js";
import { type In, call, defineOp, method } from "./define.js";
import { BIN, type BinaryCalls, type ReducePlan, binaryCalls, broadcastShapes, broadcastStrides, reducePlan, reduceRun, reduceScratchBytes, runBinary, stridesOf } from "./strided.js";

declare module "../runtime/kernels.js" {
  interface Kernels {
    // Also called here: axpy_f32, mul_same (declared in src/ops/elementwise.ts).
  }
}

export type BinaryKind = "add" | "sub" | "mul" | "div" | "max";

/**
 * The general broadcast of two operands over the output shape, worked out once for operand
 * shapes a, b and output shape `dims`: a graph keeps it in its plan (the ops' `prepare`), so
 * a step runs kernel calls listed once instead of collapsing strides again (2–3 µs a call
 * before). The backward's part is made on first use.
 */
export interface GeneralPlan {
  dims: Shape;
  /** Each operand's strides over the output's axes (0 where it repeats). */
  strides: [number[], number[]];
  /** The forward's kernel calls (a, b over the output). */
  forward: BinaryCalls;
  back?: GeneralBack;
}

interface GeneralBack {
  /** For an operand smaller than the output, the reduction that sums a gradient back to it. */
  reduce: [ReducePlan | null, ReducePlan | null];
  /** Per operand i: calls over dy with the other operand (mul: dy·b; div: dy/b)… */
  dyOther: [BinaryCalls, BinaryCalls];
  /** … and over operand i with the other (max's weights), each over the output's space. */
  own: [BinaryCalls, BinaryCalls];
}

export function generalPlan(a: Shape, b: Shape, out: Shape): GeneralPlan {
  const sa = broadcastStrides(a, out);
  const sb = broadcastStrides(b, out);
  return { dims: out, strides: [sa, sb], forward: binaryCalls(out, sa, sb) };
}

/** The reductions summing a gradient over `out` back to a's and b's shapes (null: none). */
function reductions(a: Shape, b: Shape, out: Shape, sa: number[], sb: number[]): [ReducePlan | null, ReducePlan | null] {
  const n = sizeOf(out);
  const plan = (s: Shape, st: number[]) => (sizeOf(s) === n ? null : reducePlan(out, st.map((v, i) => v === 0 && out[i] !== 1)));
  return [plan(a, sa), plan(b, sb)];
}

function backOf(g: GeneralPlan, a: Shape, b: Shape): GeneralBack {
  if (g.back) return g.back;
  const out = g.dims;
  const [sa, sb] = g.strides;
  const ys = stridesOf(out);
  g.back = {
    reduce: reductions(a, b, out, sa, sb),
    dyOther: [binaryCalls(out, ys, sb), binaryCalls(out, ys, sa)],
    own: [binaryCalls(out, sa, sb), binaryCalls(out, sb, sa)],
  };
  return g.back;
}

/** Bytes of scratch the general path needs: a full-size temporary, then the reductions' areas. */
export function generalScratchBytes(a: Shape, b: Shape, out: Shape): number {
  const reduce = reductions(a, b, out, broadcastStrides(a, out), broadcastStrides(b, out));
  const red = Math.max(...reduce.map((r) => (r ? reduceScratchBytes(r) : 0)));
  return Math.ceil(sizeOf(out) / 4) * 16 + red;
}

/** y = a op b over the broadcast shape y.shape (g: the plan for these shapes, if made already). */
export function generalForward(kind: BinaryKind, k: Kernels, a: Buf, b: Buf, y: Buf, g?: GeneralPlan): void {
  runBinary(k, BIN[kind], a.ptr, b.ptr, y.ptr, (g ?? generalPlan(a.shape, b.shape, y.shape)).forward);
}

/**
 * Adds each wanted input's gradient: its share over the output's index space, summed back
 * to its shape when it was broadcast.
 *   add/sub: ±dy;  mul: dy·other;  div: dy/b for a, −(dy/b)·y for b;
 *   max: dy·w with w = 1 where the input is larger, ½ on ties, 0 otherwise.
 */
export function generalBackward(
  kind: BinaryKind, k: Kernels, x: readonly Buf[], y: Buf, dy: Buf, dx: readonly (Buf | null)[], scratch: number, plan?: GeneralPlan,
): void {
  const n = dy.size;
  if (n === 0) return;
  const g = backOf(plan ?? generalPlan(x[0]!.shape, x[1]!.shape, y.shape), x[0]!.shape, x[1]!.shape);
  const tmp = scratch;
  const red = scratch + Math.ceil(n / 4) * 16;
  for (let j = 0; j < 2; j++) {
    const i = j as 0 | 1;
    const d = dx[i];
    if (!d) continue;
    const r = g.reduce[i];
    const other = x[i === 0 ? 1 : 0]!;
    if (kind === "add" || kind === "sub") {
      addBack(k, r, dy.ptr, d.ptr, n, kind === "sub" && i === 1 ? -1 : 1, red);
    } else if (kind === "mul" || (kind === "div" && i === 0)) {
      // d(a·b)/da = b, d(a/b)/da = 1/b: dy op other, straight into d when it is full size.
      const op = kind === "mul" ? BIN.mul : BIN.div;
      if (r) {
        runBinary(k, op, dy.ptr, other.ptr, tmp, g.dyOther[i]);
        reduceRun(k, r, tmp, d.ptr, 1, 1, red);
      } else {
        runBinary(k, op, dy.ptr, other.ptr, d.ptr, g.dyOther[i], 1);
      }
    } else if (kind === "div") {
      // d(a/b)/db = −a/b² = −(dy/b)·y: dy/b first, so a zero or small dy keeps a finite
      // result where y/b = a/b² alone overflows (b = 10⁻²⁰: dy·(y/b) gave 0·Inf = NaN).
      runBinary(k, BIN.div, dy.ptr, x[1]!.ptr, tmp, g.dyOther[0]);
      k.mul_same(tmp, y.ptr, tmp, n, 0);
      addBack(k, r, tmp, d.ptr, n, -1, red);
    } else {
      // max: weights 1 / ½ / 0 for this operand against the other, times dy.
      runBinary(k, BIN.maxWeight, x[i]!.ptr, other.ptr, tmp, g.own[i]);
      if (r) {
        k.mul_same(dy.ptr, tmp, tmp, n, 0);
        reduceRun(k, r, tmp, d.ptr, 1, 1, red);
      } else {
        k.mul_same(dy.ptr, tmp, d.ptr, n, 1);
      }
    }
  }
}

/** Adds α·src (n floats, contiguous) into d, summed back by r when d was broadcast. */
function addBack(k: Kernels, r: ReducePlan | null, src: number, d: number, n: number, alpha: number, red: number): void {
  if (r) reduceRun(k, r, src, d, alpha, 1, red);
  else k.axpy_f32(src, d, n, alpha);
}

function twoInputs(op: string, inputs: readonly Shape[]): [Shape, Shape] {
  if (inputs.length !== 2) throw new Error(`${op}: expects 2 inputs, got ${inputs.length}`);
  return [inputs[0]!, inputs[1]!];
}

/**
 * a / b, elementwise, operands broadcast by NumPy rules (IEEE division: x/0 = ±Inf,
 * 0/0 = NaN). Gradients da = dy/b and db = −dy·a/b² (as −dy·y/b), each summed back to its
 * operand's shape.
 */
export const divOp: OpDef<void, GeneralPlan> = defineOp<void, GeneralPlan>({
  name: "div",
  inPlace: true,
  shape(inputs) {
    const [a, b] = twoInputs("div", inputs);
    return broadcastShapes("div", a, b);
  },
  scratchBytes(inputs) {
    const [a, b] = twoInputs("div", inputs);
    return generalScratchBytes(a, b, broadcastShapes("div", a, b));
  },
  prepare(inputs) {
    const [a, b] = twoInputs("div", inputs);
    return generalPlan(a, b, broadcastShapes("div", a, b));
  },
  forward(k, x, y, _attrs, env) {
    generalForward("div", k, x[0]!, x[1]!, y, env.prep);
  },
  backward(k, x, y, dy, dx, _attrs, env) {
    generalBackward("div", k, x, y, dy, dx, env.scratch, env.prep);
  },
  backwardReads: { inputs: [1], output: true },
  onnx: { opType: "Div" },
  samples: [
    { label: "same", inputs: [[3, 4], [3, 4]], attrs: undefined, values: (i, n) => Array.from({ length: n }, (_, j) => (i === 1 ? 0.5 + ((j * 7) % 5) * 0.3 : ((j * 5) % 7) * 0.4 - 1.2)) },
    { label: "column over rows", inputs: [[2, 3, 4], [3, 1]], attrs: undefined, values: (i, n) => Array.from({ length: n }, (_, j) => (i === 1 ? 1 + j * 0.25 : ((j * 5) % 7) * 0.4 - 1.2)) },
    { label: "outer", inputs: [[4, 1], [1, 5]], attrs: undefined, values: (i, n) => Array.from({ length: n }, (_, j) => (i === 1 ? -1 - j * 0.3 : j * 0.5 - 1)) },
  ],
  badSamples: [{ inputs: [[3, 4], [3]], attrs: undefined, message: "shapes do not broadcast" }],
});

export const methods = {
  /** Elementwise a / b; operands broadcast by NumPy rules and each gradient is summed back to its operand's shape. */
  div: method(2, (a: In, b: In) => call(divOp, [a, b], undefined)),
};
