/**
 * Shape ops of N-D tensors: reshape (a new shape over the same buffer), transpose (any
 * permutation of the axes), slice and concat. Kernels: assembly/strided.ts (copy_nd), the
 * layout arithmetic in ./strided.ts.
 */
import { type Shape, fmtShape, sizeOf } from "../runtime/shape.js";
import type { OpDef } from "./op.js";
import { type In, call, defineOp, method } from "./define.js";
import { type CopyCalls, copyCalls, runCopy, stridesOf } from "./strided.js";

declare module "../runtime/kernels.js" {
  interface Kernels {
    // Also called here: copy_f32, axpy_f32 (declared in src/ops/elementwise.ts).
  }
}

function oneInput(op: string, inputs: readonly Shape[]): Shape {
  if (inputs.length !== 1) throw new Error(`${op}: expects 1 input, got ${inputs.length}`);
  return inputs[0]!;
}

function intList(op: string, what: string, v: unknown, x: Shape): number[] {
  if (!Array.isArray(v) || v.some((d) => typeof d !== "number" || !Number.isInteger(d))) {
    throw new TypeError(`${op}: ${what} must be an array of integers, got ${Array.isArray(v) ? `[${v.join(", ")}]` : String(v)} (x is ${fmtShape(x)})`);
  }
  return v as number[];
}

/** Resolves an axis (negative counts from the end) of a rank-`rank` tensor, or throws. */
export function resolveAxis(op: string, axis: unknown, s: Shape, name = "x"): number {
  if (typeof axis !== "number" || !Number.isInteger(axis)) {
    throw new TypeError(`${op}: axis must be an integer, got ${String(axis)} (${name} is ${fmtShape(s)})`);
  }
  if (axis < -s.length || axis >= s.length) {
    throw new RangeError(`${op}: axis ${axis} is out of range for ${name} ${fmtShape(s)}` +
      (s.length ? ` (valid: ${-s.length} to ${s.length - 1})` : ` (a scalar has no axes)`));
  }
  return axis < 0 ? axis + s.length : axis;
}

// ------------------------------------------------------------------ reshape

export interface ReshapeAttrs {
  /** The new shape; one entry may be -1 (inferred from the element count). */
  shape: readonly number[];
}

/** The shape reshape gives `x` for `target` (with its -1 resolved), or throws naming both. */
export function reshapeShape(x: Shape, target: unknown, op = "reshape"): Shape {
  const t = intList(op, "shape", target, x);
  const n = sizeOf(x);
  const free = t.filter((d) => d === -1).length;
  if (free > 1 || t.some((d) => d < -1)) {
    throw new RangeError(`${op}: shape ${fmtShape(t)} may hold one -1 and otherwise non-negative sizes (x is ${fmtShape(x)})`);
  }
  const known = t.reduce((a, d) => (d === -1 ? a : a * d), 1);
  if (free === 1) {
    if (known === 0 || n % known !== 0) {
      throw new RangeError(`${op}: cannot reshape x ${fmtShape(x)} (${n} elements) into ${fmtShape(t)}: no size for -1 fits`);
    }
    return Object.freeze(t.map((d) => (d === -1 ? n / known : d)));
  }
  if (known !== n) {
    throw new RangeError(`${op}: cannot reshape x ${fmtShape(x)} (${n} elements) into ${fmtShape(t)} (${known} elements)`);
  }
  return Object.freeze(t.slice());
}

/**
 * y = x under a new shape, the same row-major elements. In a graph the output is a view:
 * its value is the input's buffer and its gradient the input's gradient buffer (see
 * OpDef.view), so forward and backward do nothing. Called on separate buffers (eagerly, or
 * where the graph cannot share a gradient), it copies forward and adds backward.
 */
export const reshapeOp: OpDef<ReshapeAttrs> = defineOp<ReshapeAttrs>({
  name: "reshape",
  view: 0,
  shape(inputs, attrs) {
    return reshapeShape(oneInput("reshape", inputs), attrs?.shape);
  },
  forward(k, x, y) {
    if (x[0]!.ptr !== y.ptr) k.copy_f32(x[0]!.ptr, y.ptr, y.size);
  },
  backward(k, _x, _y, dy, dx, _attrs, env) {
    const d = dx[0];
    if (!d || d.ptr === dy.ptr) return;
    if (env.fresh! & 1) k.copy_f32(dy.ptr, d.ptr, dy.size);
    else k.axpy_f32(dy.ptr, d.ptr, dy.size, 1);
  },
  // A gradient of its own (not shared with its input's): copied when fresh. (A shared one is
  // never fresh: the graph zeroes it.)
  overwrites: [0],
  backwardReads: { inputs: [], output: false },
  samples: [
    { label: "matrix to 3-D", inputs: [[4, 6]], attrs: { shape: [2, -1, 3] } },
    { label: "to a scalar", inputs: [[1, 1]], attrs: { shape: [] } },
    { label: "empty", inputs: [[0, 3]], attrs: { shape: [3, -1, 5] }, gradcheck: false },
  ],
  badSamples: [
    { inputs: [[2, 3]], attrs: { shape: [4, 2] }, message: "cannot reshape x [2, 3] (6 elements) into [4, 2]" },
    { inputs: [[2, 3]], attrs: { shape: [-1, -1] }, message: "one -1" },
  ],
});

// ------------------------------------------------------------------ transpose

export interface TransposeAttrs {
  /** Output axis i is input axis perm[i]; omitted: the axes reversed. */
  perm?: readonly number[];
}

/** The permutation transpose uses for `x` (checked), default reversed. */
export function transposePerm(x: Shape, perm: unknown, op = "transpose"): number[] {
  if (perm === undefined || perm === null) return x.map((_, i) => x.length - 1 - i);
  const p = intList(op, "perm", perm, x);
  const seen = new Set<number>();
  const ok = p.length === x.length && p.every((a) => {
    const r = a < 0 ? a + x.length : a;
    if (r < 0 || r >= x.length || seen.has(r)) return false;
    seen.add(r);
    return true;
  });
  if (!ok) {
    throw new RangeError(`${op}: perm ${fmtShape(p)} is not a permutation of the ${x.length} axes of x ${fmtShape(x)}`);
  }
  return p.map((a) => (a < 0 ? a + x.length : a));
}

/**
 * Permutes the axes: y[i_0, …] = x[i_perm⁻¹…], i.e. y's axis i is x's axis perm[i]. One
 * strided gather (4 × 4 register transposes when the last two axes swap); the gradient is
 * the gather back with the inverse permutation.
 */
/**
 * A transpose's kernel calls, found once per graph node: x read as y into y, and dy read
 * along x's axes into dx.
 */
export interface TransposePrep {
  readonly forward: CopyCalls;
  readonly back: CopyCalls;
}

/** y's shape and the strides y's axes read x with (the output's layout over x). */
function transposeLayout(s: Shape, perm: readonly number[]): { shape: number[]; strides: number[] } {
  const xs = stridesOf(s);
  return { shape: perm.map((a) => s[a]!), strides: perm.map((a) => xs[a]!) };
}

function transposePrep(s: Shape, perm: readonly number[]): TransposePrep {
  const { shape, strides } = transposeLayout(s, perm);
  const ys = stridesOf(shape);
  // dy's strides along x's axes (x axis perm[i] is dy axis i).
  const dyAsX = new Array<number>(s.length);
  perm.forEach((a, i) => (dyAsX[a] = ys[i]!));
  return { forward: copyCalls(shape, strides, ys), back: copyCalls(s, dyAsX, stridesOf(s)) };
}

export const transposeOp: OpDef<TransposeAttrs, TransposePrep> = defineOp<TransposeAttrs, TransposePrep>({
  name: "transpose",
  shape(inputs, attrs) {
    const x = oneInput("transpose", inputs);
    return transposePerm(x, attrs?.perm).map((a) => x[a]!);
  },
  prepare: (x, attrs) => transposePrep(x[0]!, transposePerm(x[0]!, attrs?.perm)),
  // The output is x read with permuted strides: an op that reads such a layout needs no copy.
  layoutOf(x, attrs) {
    return { ...transposeLayout(x[0]!, transposePerm(x[0]!, attrs?.perm)), offset: 0 };
  },
  forward(k, x, y, attrs, env) {
    const p = env.prep ?? transposePrep(x[0]!.shape, transposePerm(x[0]!.shape, attrs?.perm));
    runCopy(k, x[0]!.ptr, y.ptr, p.forward);
  },
  backward(k, x, _y, dy, dx, attrs, env) {
    const d = dx[0];
    if (!d) return;
    const s = x[0]!.shape;
    const p = env.prep ?? transposePrep(s, transposePerm(s, attrs?.perm));
    runCopy(k, dy.ptr, d.ptr, p.back, 1, env.fresh! & 1 ? 0 : 1);
  },
  overwrites: [0],
  backwardReads: { inputs: [], output: false },
  onnx: { emit: (b, [x], a, shapes) => b.node("Transpose", [x!], { perm: transposePerm(shapes[0]!, a.perm) })[0]! },
  samples: [
    { label: "matrix", inputs: [[3, 5]], attrs: {} },
    { label: "3-D", inputs: [[2, 3, 4]], attrs: { perm: [1, 2, 0] } },
    { label: "4-D, last two swapped", inputs: [[2, 1, 5, 6]], attrs: { perm: [0, 1, 3, 2] } },
  ],
  badSamples: [{ inputs: [[2, 3]], attrs: { perm: [0, 0] }, message: "not a permutation" }],
});

// ------------------------------------------------------------------ slice

export interface SliceAttrs {
  /** Start index per axis (0 ≤ begin ≤ size of the axis). */
  begin: readonly number[];
  /** Length per axis; -1 runs to the end of the axis. */
  size: readonly number[];
}

/** begin and size of a slice of `x`, with -1 sizes resolved, or throws naming the shapes. */
export function sliceBox(x: Shape, attrs: SliceAttrs | undefined, op = "slice"): { begin: number[]; size: number[] } {
  const begin = intList(op, "begin", attrs?.begin, x);
  const size = intList(op, "size", attrs?.size, x);
  if (begin.length !== x.length || size.length !== x.length) {
    throw new RangeError(`${op}: begin ${fmtShape(begin)} and size ${fmtShape(size)} need one entry per axis of x ${fmtShape(x)}`);
  }
  const sz = size.map((s, i) => (s === -1 ? x[i]! - begin[i]! : s));
  for (let i = 0; i < x.length; i++) {
    if (begin[i]! < 0 || size[i]! < -1 || begin[i]! > x[i]! || begin[i]! + sz[i]! > x[i]!) {
      throw new RangeError(`${op}: begin ${fmtShape(begin)}, size ${fmtShape(size)} reach outside x ${fmtShape(x)} on axis ${i}`);
    }
  }
  return { begin, size: sz };
}

/**
 * y = x[begin₀ : begin₀ + size₀, …], a strided copy; the gradient adds dy into that box of
 * dx (the rest of dx receives nothing).
 */
/** A slice's offset and kernel calls, found once per graph node. */
interface SlicePrep {
  /** Element offset of the box's first element in x. */
  readonly off: number;
  /** copy_nd calls from the box (at off) to y, and from dy back into the box. */
  readonly forward: CopyCalls;
  readonly back: CopyCalls;
}

function slicePrep(s: Shape, attrs: SliceAttrs | undefined): SlicePrep {
  const { begin, size } = sliceBox(s, attrs);
  const xs = stridesOf(s);
  const ys = stridesOf(size);
  return { off: begin.reduce((o, b, i) => o + b * xs[i]!, 0), forward: copyCalls(size, xs, ys), back: copyCalls(size, ys, xs) };
}

export const sliceOp: OpDef<SliceAttrs, SlicePrep> = defineOp<SliceAttrs, SlicePrep>({
  name: "slice",
  shape(inputs, attrs) {
    return sliceBox(oneInput("slice", inputs), attrs).size;
  },
  prepare: (x, attrs) => slicePrep(x[0]!, attrs),
  forward(k, x, y, attrs, env) {
    const p = env.prep ?? slicePrep(x[0]!.shape, attrs);
    runCopy(k, x[0]!.ptr + 4 * p.off, y.ptr, p.forward);
  },
  backward(k, x, _y, dy, dx, attrs, env) {
    const d = dx[0];
    if (!d) return;
    const p = env.prep ?? slicePrep(x[0]!.shape, attrs);
    runCopy(k, dy.ptr, d.ptr + 4 * p.off, p.back, 1, 1);
  },
  backwardReads: { inputs: [], output: false },
  samples: [
    { label: "rows", inputs: [[5, 4]], attrs: { begin: [1, 0], size: [3, -1] } },
    { label: "3-D box", inputs: [[3, 4, 5]], attrs: { begin: [1, 1, 2], size: [2, 2, -1] } },
  ],
  badSamples: [{ inputs: [[2, 3]], attrs: { begin: [0, 2], size: [1, 2] }, message: "outside x [2, 3]" }],
});

// ------------------------------------------------------------------ concat

export interface ConcatAttrs {
  /** The axis the inputs are joined along (negative counts from the end). */
  axis: number;
}

function concatAxis(inputs: readonly Shape[], attrs: ConcatAttrs | undefined): number {
  if (inputs.length === 0) throw new Error("concat: expects at least one input");
  const first = inputs[0]!;
  const ax = resolveAxis("concat", attrs?.axis, first, "input 1");
  for (let i = 1; i < inputs.length; i++) {
    const s = inputs[i]!;
    if (s.length !== first.length || s.some((d, j) => j !== ax && d !== first[j])) {
      const all = inputs.map((t, j) => `input ${j + 1} is ${fmtShape(t)}`).join(", ");
      throw new RangeError(`concat: shapes differ outside axis ${attrs!.axis}: ${all}`);
    }
  }
  return ax;
}

/**
 * Joins the inputs along `axis` (all other dimensions equal): one strided copy per input
 * into its part of y; each gradient is its part of dy.
 */
/**
 * Where each input of a concat lands (element offset `at` in y) and the copy_nd calls into
 * its part of y and back out of dy, found once per graph node.
 */
interface ConcatPrep {
  readonly parts: readonly { readonly at: number; readonly forward: CopyCalls; readonly back: CopyCalls }[];
}

function concatPrep(inputs: readonly Shape[], attrs: ConcatAttrs | undefined): ConcatPrep {
  const ax = concatAxis(inputs, attrs);
  const out = inputs[0]!.slice();
  out[ax] = inputs.reduce((a, s) => a + s[ax]!, 0);
  const ys = stridesOf(out);
  let at = 0;
  const parts = inputs.map((s) => {
    const xs = stridesOf(s);
    const part = { at: at * ys[ax]!, forward: copyCalls(s, xs, ys), back: copyCalls(s, ys, xs) };
    at += s[ax]!;
    return part;
  });
  return { parts };
}

export const concatOp: OpDef<ConcatAttrs, ConcatPrep> = defineOp<ConcatAttrs, ConcatPrep>({
  name: "concat",
  shape(inputs, attrs) {
    const ax = concatAxis(inputs, attrs);
    const out = inputs[0]!.slice();
    out[ax] = inputs.reduce((a, s) => a + s[ax]!, 0);
    return out;
  },
  prepare: (x, attrs) => concatPrep(x, attrs),
  forward(k, x, y, attrs, env) {
    const p = env.prep ?? concatPrep(x.map((b) => b.shape), attrs);
    for (let i = 0; i < x.length; i++) {
      const part = p.parts[i]!;
      runCopy(k, x[i]!.ptr, y.ptr + 4 * part.at, part.forward);
    }
  },
  backward(k, x, _y, dy, dx, attrs, env) {
    const p = env.prep ?? concatPrep(x.map((b) => b.shape), attrs);
    for (let i = 0; i < x.length; i++) {
      const d = dx[i];
      const part = p.parts[i]!;
      if (d) runCopy(k, dy.ptr + 4 * part.at, d.ptr, part.back, 1, 1);
    }
  },
  backwardReads: { inputs: [], output: false },
  onnx: { opType: "Concat", attributes: (a) => ({ axis: a.axis }) },
  samples: [
    { label: "rows", inputs: [[2, 3], [4, 3]], attrs: { axis: 0 } },
    { label: "last axis, three inputs", inputs: [[2, 3, 1], [2, 3, 2], [2, 3, 4]], attrs: { axis: -1 } },
  ],
  badSamples: [{ inputs: [[2, 3], [2, 4]], attrs: { axis: 0 }, message: "shapes differ outside axis 0" }],
});

// ------------------------------------------------------------------ methods (g.reshape, sg.reshape, …)

export const methods = {
  /**
   * The same elements under a new shape; one entry may be -1 (inferred). In a graph it is a
   * view (no copy: it shares x's buffer); eagerly it returns a copy.
   */
  reshape: method(2, (x: In, shape: readonly number[]) => call(reshapeOp, [x], { shape: Array.isArray(shape) ? shape.slice() : shape })),
  /** Permutes the axes: output axis i is x's axis perm[i] (default: the axes reversed). */
  transpose: method(2, (x: In, perm?: readonly number[]) => call(transposeOp, [x], { perm: Array.isArray(perm) ? perm.slice() : perm })),
  /** x[begin : begin + size] along every axis; a size of -1 runs to the end of its axis. */
  slice: method(3, (x: In, begin: readonly number[], size: readonly number[]) =>
    call(sliceOp, [x], { begin: Array.isArray(begin) ? begin.slice() : begin, size: Array.isArray(size) ? size.slice() : size })),
  /** Joins tensors along `axis` (negative counts from the end); their other dimensions must agree. */
  concat: method(2, (xs: readonly In[], axis: number) => {
    if (!Array.isArray(xs)) throw new TypeError(`concat: expects an array of tensors, got ${xs === null ? "null" : typeof xs}`);
    return call(concatOp, xs.slice(), { axis });
  }),
};
