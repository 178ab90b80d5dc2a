/**
 * Reductions: sum and mean (of everything, or over one axis) and the dot product of two
 * vectors. Kernels: assembly/reduce.ts.
 */
import { type Shape, fmtShape, sizeOf } from "../runtime/shape.js";
import type { OpDef } from "./op.js";
import { type In, call, defineOp, method } from "./define.js";
import { type CopyCalls, copyCalls, reducePlan, runCopy, reduceRun, reduceScratchBytes, stridesOf } from "./strided.js";

declare module "../runtime/kernels.js" {
  interface Kernels {
    sum_all(x: number, n: number, out: number, alpha: number, accumulate: number): void;
    dot_f32(u: number, v: number, n: number, out: number, accumulate: number): void;
    sum_axis(x: number, y: number, outer: number, len: number, inner: number, alpha: number, accumulate: number): void;
    broadcast_scalar(dy: number, dx: number, n: number, alpha: number, accumulate: number): void;
    broadcast_axis(dy: number, dx: number, outer: number, len: number, inner: number, alpha: number, accumulate: number): void;
  }
}

export interface ReduceAttrs {
  /**
   * The axis or axes to reduce (negative counts from the end); omitted or null: every axis.
   * An empty list reduces nothing.
   */
  axis?: number | readonly number[] | null;
  /** Keep each reduced axis as a 1 (so the result broadcasts against the input). */
  keepDims?: boolean;
}

/** Which axes of `s` are reduced (a mask), checking `attrs`; throws naming the op and shape. */
export function reducedAxes(op: string, s: Shape, attrs: ReduceAttrs | undefined): boolean[] {
  const axis = attrs?.axis;
  const kd: unknown = attrs?.keepDims;
  if (kd !== undefined && typeof kd !== "boolean") throw new TypeError(`${op}: keepDims must be true or false, got ${typeof kd} (a is ${fmtShape(s)})`);
  if (axis === undefined || axis === null) return s.map(() => true);
  const list = Array.isArray(axis) ? axis : [axis];
  const mask = s.map(() => false);
  for (const a of list as unknown[]) {
    if (typeof a !== "number" || !Number.isInteger(a)) {
      throw new Error(`${op}: axis must be an integer or a list of integers, got ${Array.isArray(axis) ? `[${axis.join(", ")}]` : String(axis)} (a is ${fmtShape(s)})`);
    }
    if (a < -s.length || a >= s.length) {
      throw new Error(`${op}: axis ${a} is out of range for a is ${fmtShape(s)}` +
        (s.length ? ` (valid: ${-s.length} to ${s.length - 1})` : ` (a scalar has no axes)`));
    }
    const r = a < 0 ? a + s.length : a;
    if (mask[r]) throw new Error(`${op}: axis ${a} is listed twice in [${list.join(", ")}] (a is ${fmtShape(s)})`);
    mask[r] = true;
  }
  return mask;
}

function oneInput(op: string, inputs: readonly Shape[]): Shape {
  if (inputs.length !== 1) throw new Error(`${op}: expects 1 input, got ${inputs.length}`);
  return inputs[0]!;
}

/** A reduction's geometry, prepared once per graph node. */
export interface ReducePrep {
  plan: ReturnType<typeof reducePlan>;
  alpha: number;
  /** The backward's copy_nd calls: dx (+)= α·dy read with stride 0 along the reduced axes. */
  back: CopyCalls;
}

function makeReduce(name: "sum" | "mean"): OpDef<ReduceAttrs, ReducePrep> {
  // α: 1 for a sum, 1/count for a mean (the mean of nothing is NaN, as 0/0).
  const alpha = (s: Shape, mask: boolean[]) => {
    if (name === "sum") return 1;
    return 1 / s.reduce((a, d, i) => (mask[i] ? a * d : a), 1);
  };
  const prepare = (s: Shape, attrs: ReduceAttrs): ReducePrep => {
    const mask = reducedAxes(name, s, attrs);
    const kept = stridesOf(s.map((v, i) => (mask[i] ? 1 : v)));
    const dyStrides = kept.map((v, i) => (mask[i] ? 0 : v));
    return { plan: reducePlan(s, mask), alpha: alpha(s, mask), back: copyCalls(s, dyStrides, stridesOf(s)) };
  };
  return defineOp<ReduceAttrs, ReducePrep>({
    name,
    shape(inputs, attrs) {
      const s = oneInput(name, inputs);
      const mask = reducedAxes(name, s, attrs);
      if (attrs?.keepDims === true) return s.map((d, i) => (mask[i] ? 1 : d));
      return s.filter((_, i) => !mask[i]);
    },
    scratchBytes(inputs, attrs) {
      const s = oneInput(name, inputs);
      return reduceScratchBytes(reducePlan(s, reducedAxes(name, s, attrs)));
    },
    prepare: (inputs, attrs) => prepare(inputs[0]!, attrs),
    forward(k, x, y, attrs, env) {
      const a = x[0]!;
      const p = env.prep ?? prepare(a.shape, attrs);
      reduceRun(k, p.plan, a.ptr, y.ptr, p.alpha, 0, env.scratch);
    },
    backward(k, x, _y, dy, dx, attrs, env) {
      const d = dx[0];
      if (!d) return;
      const s = x[0]!.shape;
      const p = env.prep ?? prepare(s, attrs);
      // dx[i] += α·dy[i with the reduced axes at 0]: a strided copy reading dy with stride 0
      // along the reduced axes.
      runCopy(k, dy.ptr, d.ptr, p.back, p.alpha, 1);
    },
    backwardReads: { inputs: [], output: false },
    samples: [
      { label: "all", inputs: [[3, 4]], attrs: {} },
      { label: "axis 0", inputs: [[3, 4]], attrs: { axis: 0 } },
      { label: "axis -1", inputs: [[2, 3, 4]], attrs: { axis: -1 } },
      { label: "middle axis, keepDims", inputs: [[2, 3, 4]], attrs: { axis: 1, keepDims: true } },
      { label: "two axes", inputs: [[2, 3, 4]], attrs: { axis: [0, 2] } },
      { label: "a vector", inputs: [[5]], attrs: {} },
    ],
    badSamples: [
      { inputs: [[3, 4]], attrs: { axis: 2 }, message: "out of range" },
      { inputs: [[3, 4]], attrs: { axis: 0.5 }, message: "must be an integer" },
    ],
  });
}

/** Σ over the given axes (default all; → [] without keepDims). */
export const sumOp: OpDef<ReduceAttrs, ReducePrep> = makeReduce("sum");
/** Mean over the given axes (default all). The mean over nothing is NaN. */
export const meanOp: OpDef<ReduceAttrs, ReducePrep> = makeReduce("mean");

/** u·v for two 1-D tensors of equal length → []. */
export const dotOp: OpDef = defineOp<void>({
  name: "dot",
  shape(inputs) {
    if (inputs.length !== 2) throw new Error(`dot: expects 2 inputs, got ${inputs.length}`);
    const [u, v] = inputs as [Shape, Shape];
    if (u.length !== 1 || v.length !== 1 || u[0] !== v[0]) {
      throw new Error(`dot: expects two 1-D tensors of equal length: u is ${fmtShape(u)}, v is ${fmtShape(v)}`);
    }
    return [];
  },
  forward(k, x, y) {
    k.dot_f32(x[0]!.ptr, x[1]!.ptr, x[0]!.size, y.ptr, 0);
  },
  backward(k, x, _y, dy, dx) {
    // d(u·v)/du = v: du (+)= dy·v with dy read from memory.
    const n = x[0]!.size;
    if (dx[0]) k.mul_scalar(x[1]!.ptr, dy.ptr, dx[0].ptr, n, 1);
    if (dx[1]) k.mul_scalar(x[0]!.ptr, dy.ptr, dx[1].ptr, n, 1);
  },
  backwardReads: { inputs: [0, 1], output: false },
  samples: [{ inputs: [[7], [7]], attrs: undefined }, { inputs: [[1], [1]], attrs: undefined }],
  badSamples: [{ inputs: [[3], [4]], attrs: undefined, message: "equal length" }],
});

// ------------------------------------------------------------------ methods (g.sum, g.mean, g.dot, sg.dot)

/** A list of axes as the attrs keep it (a copy: attrs never alias the caller's array). */
const axes = (axis: number | readonly number[] | null | undefined) => (Array.isArray(axis) ? axis.slice() : (axis as number | null | undefined));

export const methods = {
  /** Σ over `axis` (a number or a list, negative counting from the end; default every axis, a []
   *  result); `keepDims` keeps each reduced axis as a 1. */
  sum: method(3, (a: In, axis?: number | readonly number[] | null, opts: { keepDims?: boolean } = {}) =>
    call(sumOp, [a], { axis: axes(axis), keepDims: opts?.keepDims }), { eager: false }),
  /** Mean over `axis` (as sum). The mean over nothing is NaN. */
  mean: method(3, (a: In, axis?: number | readonly number[] | null, opts: { keepDims?: boolean } = {}) =>
    call(meanOp, [a], { axis: axes(axis), keepDims: opts?.keepDims }), { eager: false }),
  /** uᵀv of two 1-D tensors of equal length, a [] result. */
  dot: method(2, (u: In, v: In) => call(dotOp, [u, v], undefined)),
};
