/**
 * Pooling, channels last: x [N, H, W, C] → [N, HO, WO, C], the max or the mean of each
 * window of one channel. Kernels: assembly/pool.ts.
 *
 * Windows: `size` (a number or [KH, KW]) moved `stride` at a time (default: size, windows
 * that do not overlap), `padding` "valid" (default), "same" (HO = ⌈H/SH⌉) or a number p of
 * positions on every side (at most half the window, so no window is all padding). Padding
 * positions never win a max and are not counted in a mean (TensorFlow's rule).
 *
 * Gradients: a mean sends dy/count to every position of its window; a max sends dy to the
 * FIRST position of its window, in row-major order, that holds the maximum (ties: only the
 * first one gets it; no gradient where the output is NaN).
 */
import type { Shape } from "../runtime/shape.js";
import { shapeError } from "./op.js";
import { type In, call, defineOp, method } from "./define.js";
import type { OnnxMapping } from "./op.js";
import { type Padding, TO_NCHW, TO_NHWC, onnxPads, padding as parsePadding, pair, windowAxis } from "./conv.js";

declare module "../runtime/kernels.js" {
  interface Kernels {
    maxpool2d_forward(x: number, y: number, n: number, h: number, w: number, c: number, ho: number, wo: number, ksize: number, stride: number, pad: number): void;
    maxpool2d_backward(x: number, y: number, dy: number, dx: number, n: number, h: number, w: number, c: number, ho: number, wo: number, ksize: number, stride: number, pad: number, accumulate: number): void;
    avgpool2d_forward(x: number, y: number, n: number, h: number, w: number, c: number, ho: number, wo: number, ksize: number, stride: number, pad: number): void;
    avgpool2d_backward(dy: number, dx: number, n: number, h: number, w: number, c: number, ho: number, wo: number, ksize: number, stride: number, pad: number, accumulate: number): void;
  }
}

/** Options of maxPool2d and avgPool2d as users write them. */
export interface Pool2dOptions {
  /** Window size: a number for both axes, or [KH, KW]. Required. */
  size: number | readonly [number, number];
  /** Default: the window size. */
  stride?: number | readonly [number, number];
  /** "valid" (default), "same", or a number (at most half the window). */
  padding?: Padding;
}

export interface Pool2dAttrs {
  /** [KH, KW]. */
  readonly size: readonly number[];
  /** [vertical, horizontal]. */
  readonly stride: readonly number[];
  readonly padding: Padding;
}

/** Checks a pool's options and returns its attributes. */
export function pool2dAttrs(opts: Pool2dOptions | undefined, op: string): Pool2dAttrs {
  if (opts === null || typeof opts !== "object" || Array.isArray(opts)) {
    throw new TypeError(`${op}: options must be { size, stride?, padding? }, got ${opts === null ? "null" : Array.isArray(opts) ? "an array" : String(opts)}`);
  }
  if (opts.size === undefined) throw new TypeError(`${op}: options need the window size, e.g. { size: 2 }`);
  const size = pair(opts.size, 0, op, "size");
  const stride = pair(opts.stride ?? opts.size, 0, op, "stride");
  const pad = parsePadding(opts.padding, op);
  if (typeof pad === "number" && (2 * pad > size[0] || 2 * pad > size[1])) {
    throw new RangeError(`${op}: padding ${pad} is more than half the window ${size[0]} × ${size[1]}`);
  }
  return { size, stride, padding: pad };
}

export interface PoolGeom {
  n: number; h: number; w: number; c: number;
  ho: number; wo: number;
  ksize: number; stride: number; pad: number;
  shape: Shape;
}

const pack = (lo: number, hi: number) => (lo | (hi << 16)) >>> 0;

/** A pool's shape rule: x [N, H, W, C] → [N, HO, WO, C]. */
export function poolGeom(x: Shape, a: Pool2dAttrs, op: string): PoolGeom {
  if (x === undefined) throw new Error(`${op}: expects 1 input`);
  if (x.length !== 4) throw shapeError(op, "x must be [N, H, W, C]", { x });
  const [n, h, w, c] = x as [number, number, number, number];
  const [kh, kw] = a.size as [number, number];
  const ay = windowAxis(h, kh, a.stride[0]!, 1, a.padding);
  const ax = windowAxis(w, kw, a.stride[1]!, 1, a.padding);
  if (ay === null || ax === null) {
    throw shapeError(op, `the window ${kh} × ${kw} is larger than the padded input (padding ${JSON.stringify(a.padding)})`, { x });
  }
  return {
    n, h, w, c, ho: ay.out, wo: ax.out,
    ksize: pack(kh, kw), stride: pack(a.stride[0]!, a.stride[1]!), pad: pack(ay.before, ax.before),
    shape: [n, ay.out, ax.out, c],
  };
}

/**
 * The ONNX form of a pool (MaxPool or AveragePool), channels first between two transposes.
 * Padding positions are not counted in an average (count_include_pad 0, ONNX's default, as
 * ours) and never win a max.
 */
function poolOnnx(opType: "MaxPool" | "AveragePool"): OnnxMapping<Pool2dAttrs> {
  return {
    emit(b, [x], a, [xs]) {
      const [, h, w] = xs! as [number, number, number];
      const [kh, kw] = a.size as [number, number];
      const [sh, sw] = a.stride as [number, number];
      const [top, bottom] = onnxPads(h, kh, sh, 1, a.padding);
      const [left, right] = onnxPads(w, kw, sw, 1, a.padding);
      const attrs = { kernel_shape: [kh, kw], strides: [sh, sw], pads: [top, left, bottom, right], ...(opType === "AveragePool" ? { count_include_pad: 0 } : {}) };
      return b.permute(b.node(opType, [b.permute(x!, TO_NCHW)], attrs)[0]!, TO_NHWC);
    },
  };
}

const A2 = (size: number, stride: number, padding: Padding): Pool2dAttrs => ({ size: [size, size], stride: [stride, stride], padding });

/** Max pooling; the gradient goes to the first maximum of each window. */
export const maxPool2dOp = defineOp<Pool2dAttrs, PoolGeom>({
  needs: "maxpool2d_forward",
  name: "maxPool2d",
  shape: (x, a) => poolGeom(x[0]!, a, "maxPool2d").shape,
  prepare: (x, a) => poolGeom(x[0]!, a, "maxPool2d"),
  forward(kr, x, y, a, env) {
    const g = env.prep ?? poolGeom(x[0]!.shape, a, "maxPool2d");
    kr.maxpool2d_forward(x[0]!.ptr, y.ptr, g.n, g.h, g.w, g.c, g.ho, g.wo, g.ksize, g.stride, g.pad);
  },
  backward(kr, x, y, dy, dx, a, env) {
    const d = dx[0];
    if (!d) return;
    const g = env.prep ?? poolGeom(x[0]!.shape, a, "maxPool2d");
    kr.maxpool2d_backward(x[0]!.ptr, y.ptr, dy.ptr, d.ptr, g.n, g.h, g.w, g.c, g.ho, g.wo, g.ksize, g.stride, g.pad, env.fresh! & 1 ? 0 : 1);
  },
  // With accumulate = 0 the kernel zeroes dx itself before it adds the window's gradients.
  overwrites: [0],
  backwardReads: { inputs: [0], output: true },
  // By images: x and dx hold h·w·c floats an image, y and dy ho·wo·c.
  threads: {
    maxpool2d_forward: { kind: "batch", n: 2, ptrs: [[0, [3, 4, 5]], [1, [6, 7, 5]]] },
    maxpool2d_backward: { kind: "batch", n: 4, ptrs: [[0, [5, 6, 7]], [1, [8, 9, 7]], [2, [8, 9, 7]], [3, [5, 6, 7]]] },
  },
  onnx: poolOnnx("MaxPool"),
  samples: [
    // distinct values a step apart: a gradcheck step never swaps two maxima
    { label: "2×2", inputs: [[2, 4, 6, 3]], attrs: A2(2, 2, "valid"), values: (_i, n) => distinct(n) },
    { label: "3×3 stride 2 same", inputs: [[1, 7, 7, 5]], attrs: A2(3, 2, "same"), values: (_i, n) => distinct(n) },
  ],
  badSamples: [
    { inputs: [[5, 5, 3]], attrs: A2(2, 2, "valid"), message: "x must be [N, H, W, C]" },
    { inputs: [[1, 3, 3, 2]], attrs: A2(4, 4, "valid"), message: "larger than the padded input" },
  ],
});

/** Average pooling over the window's positions inside x. */
export const avgPool2dOp = defineOp<Pool2dAttrs, PoolGeom>({
  needs: "avgpool2d_forward",
  name: "avgPool2d",
  shape: (x, a) => poolGeom(x[0]!, a, "avgPool2d").shape,
  prepare: (x, a) => poolGeom(x[0]!, a, "avgPool2d"),
  forward(kr, x, y, a, env) {
    const g = env.prep ?? poolGeom(x[0]!.shape, a, "avgPool2d");
    kr.avgpool2d_forward(x[0]!.ptr, y.ptr, g.n, g.h, g.w, g.c, g.ho, g.wo, g.ksize, g.stride, g.pad);
  },
  backward(kr, x, _y, dy, dx, a, env) {
    const d = dx[0];
    if (!d) return;
    const g = env.prep ?? poolGeom(x[0]!.shape, a, "avgPool2d");
    kr.avgpool2d_backward(dy.ptr, d.ptr, g.n, g.h, g.w, g.c, g.ho, g.wo, g.ksize, g.stride, g.pad, env.fresh! & 1 ? 0 : 1);
  },
  overwrites: [0],
  backwardReads: { inputs: [], output: false },
  threads: {
    avgpool2d_forward: { kind: "batch", n: 2, ptrs: [[0, [3, 4, 5]], [1, [6, 7, 5]]] },
    avgpool2d_backward: { kind: "batch", n: 2, ptrs: [[0, [6, 7, 5]], [1, [3, 4, 5]]] },
  },
  onnx: poolOnnx("AveragePool"),
  samples: [
    { label: "2×2", inputs: [[2, 4, 6, 3]], attrs: A2(2, 2, "valid") },
    { label: "3×3 stride 1 padding 1", inputs: [[1, 5, 6, 4]], attrs: A2(3, 1, 1) },
  ],
  badSamples: [{ inputs: [[1, 3, 3, 2]], attrs: A2(4, 4, "valid"), message: "larger than the padded input" }],
});

/** n distinct values 0.05 apart, in a scrambled order. */
function distinct(n: number): number[] {
  return Array.from({ length: n }, (_, i) => (((i * 7919) % n) - n / 2) * 0.05);
}

// ------------------------------------------------------------------ methods (g.maxPool2d, sg.maxPool2d, …)

export const methods = {
  /**
   * Max over each window of x [N, H, W, C]: { size, stride? = size, padding? = "valid" }. The
   * gradient goes to the first maximum of each window (row-major order).
   */
  maxPool2d: method(2, (x: In, opts: Pool2dOptions) => call(maxPool2dOp, [x], pool2dAttrs(opts, "maxPool2d"))),
  /** Mean over each window's positions inside x [N, H, W, C] (padding is not counted). */
  avgPool2d: method(2, (x: In, opts: Pool2dOptions) => call(avgPool2dOp, [x], pool2dAttrs(opts, "avgPool2d"))),
};
