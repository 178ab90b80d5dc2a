/**
 * Reductions: sum and mean (of everything, or over one axis) and the dot product of two
 * vectors. Kernels: assembly/reduce.ts.
 */
import { type Shape, fmtShape, sizeOf } from "../runtime/shape.js";
import type { OpDef } from "./op.js";

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
  /** The axis to reduce (negative counts from the end); omitted: reduce everything to []. */
  axis?: number;
}

/** x viewed as [outer, len, inner] around the reduced axis. */
interface AxisView {
  outer: number;
  len: number;
  inner: number;
}

/** Resolves `axis` for shape `s`; throws naming the op and the shape. Null: all axes. */
function axisView(op: string, s: Shape, attrs: ReduceAttrs | undefined): AxisView | null {
  const axis = attrs?.axis;
  if (axis === undefined || axis === null) return null;
  if (typeof axis !== "number" || !Number.isInteger(axis)) {
    throw new Error(`${op}: axis must be an integer, got ${String(axis)} (a is ${fmtShape(s)})`);
  }
  if (axis < -s.length || axis >= s.length) {
    throw new Error(`${op}: axis ${axis} is out of range for a is ${fmtShape(s)}` +
      (s.length ? ` (valid: ${-s.length} to ${s.length - 1})` : ` (a scalar has no axes)`));
  }
  const ax = axis < 0 ? axis + s.length : axis;
  return { outer: sizeOf(s.slice(0, ax)), len: s[ax]!, inner: sizeOf(s.slice(ax + 1)) };
}

function oneInput(op: string, inputs: readonly Shape[]): Shape {
  if (inputs.length !== 1) throw new Error(`${op}: expects 1 input, got ${inputs.length}`);
  return inputs[0]!;
}

function makeReduce(name: "sum" | "mean"): OpDef<ReduceAttrs> {
  // α: 1 for a sum, 1/count for a mean (the mean of nothing is NaN, as 0/0).
  const alpha = (count: number) => (name === "sum" ? 1 : 1 / count);
  return {
    name,
    shape(inputs, attrs) {
      const s = oneInput(name, inputs);
      const v = axisView(name, s, attrs);
      if (v === null) return [];
      const ax = attrs.axis! < 0 ? attrs.axis! + s.length : attrs.axis!;
      return [...s.slice(0, ax), ...s.slice(ax + 1)];
    },
    forward(k, x, y, attrs) {
      const a = x[0]!;
      const v = axisView(name, a.shape, attrs);
      if (v === null) k.sum_all(a.ptr, a.size, y.ptr, alpha(a.size), 0);
      else k.sum_axis(a.ptr, y.ptr, v.outer, v.len, v.inner, alpha(v.len), 0);
    },
    backward(k, x, _y, dy, dx, attrs) {
      const d = dx[0];
      if (!d) return;
      const a = x[0]!;
      const v = axisView(name, a.shape, attrs);
      if (v === null) k.broadcast_scalar(dy.ptr, d.ptr, a.size, alpha(a.size), 1);
      else k.broadcast_axis(dy.ptr, d.ptr, v.outer, v.len, v.inner, alpha(v.len), 1);
    },
  };
}

/** Σ of all elements (→ []), or over one axis (that axis removed). */
export const sumOp: OpDef<ReduceAttrs> = makeReduce("sum");
/** Mean of all elements (→ []), or over one axis (that axis removed). */
export const meanOp: OpDef<ReduceAttrs> = makeReduce("mean");

/** u·v for two 1-D tensors of equal length → []. */
export const dotOp: OpDef = {
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
};
