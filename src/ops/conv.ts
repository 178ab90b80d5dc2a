/**
 * 2-D convolution, channels last: x [N, H, W, C], filter [KH, KW, C, F] (TensorFlow.js's
 * layouts) → y [N, HO, WO, F]. Kernels: assembly/conv.ts, on the GEMM micro-kernel.
 *
 * With P the patch matrix (one row per output pixel, one column per (ky, kx, c)):
 *   y = P·filter;   d filter += Pᵀ·dy;   dx += col2im(dy·filterᵀ)
 * each one kernel call that packs patches straight into GEMM panels (P is never stored). With
 * stride 1 the kernel forms dx as a forward convolution of dy with the filter rotated 180°
 * (assembly/conv.ts, dx_rot): the same values, no scatter.
 *
 * Padding: "valid" (none; HO = ⌊(H − KH_eff)/SH⌋ + 1), "same" (HO = ⌈H/SH⌉, the padding
 * split as TensorFlow does: the smaller half on top and left), or a number p of zero rows
 * and columns on every side (HO = ⌊(H + 2p − KH_eff)/SH⌋ + 1), with KH_eff = (KH − 1)·DH + 1.
 */
import type { Shape } from "../runtime/shape.js";
import { fmtShape } from "../runtime/shape.js";
import { gemmScratchBytes } from "./matmul.js";
import { KC, MC, MR, NC, NR, TILE_FLOATS } from "./gemm-blocking.js";
import { DX_PANEL, DX_PANEL_WHOLE, DX_ROT_FULL_FILTER_BYTES, DX_ROT_MAX_FILTER_BYTES, DX_ROT_ROWS, DX_SWAP_MAX_K, DX_WHOLE_MAX_BYTES } from "./conv-blocking.js";
import { shapeError } from "./op.js";
import { type In, call, defineOp, method } from "./define.js";

declare module "../runtime/kernels.js" {
  interface Kernels {
    conv2d_scratch_bytes(m: number, k: number, f: number): number;
    conv2d_forward(
      x: number, filter: number, y: number,
      n: number, h: number, w: number, c: number, f: number, ho: number, wo: number,
      ksize: number, stride: number, dilation: number, pad: number,
      row0: number, rows: number, scratch: number,
    ): void;
    conv2d_backward_filter(
      x: number, dy: number, df: number,
      n: number, h: number, w: number, c: number, f: number, ho: number, wo: number,
      ksize: number, stride: number, dilation: number, pad: number,
      q0: number, qn: number, f0: number, fn: number, accumulate: number, scratch: number,
    ): void;
    conv2d_backward_input(
      dy: number, filter: number, dx: number,
      n: number, h: number, w: number, c: number, f: number, ho: number, wo: number,
      ksize: number, stride: number, dilation: number, pad: number,
      accumulate: number, scratch: number,
    ): void;
  }
}

export type Padding = "valid" | "same" | number;

/** Options of conv2d as users write them. */
export interface Conv2dOptions {
  /** Step between windows: one number for both axes, or [vertical, horizontal]. Default 1. */
  stride?: number | readonly [number, number];
  /** "valid" (default), "same", or a number of zero rows/columns on every side. */
  padding?: Padding;
  /** Spacing between the filter's taps: a number or [vertical, horizontal]. Default 1. */
  dilation?: number | readonly [number, number];
}

/** conv2d's attributes, checked and normalised. */
export interface Conv2dAttrs {
  /** [vertical, horizontal]. */
  readonly stride: readonly number[];
  readonly padding: Padding;
  /** [vertical, horizontal]. */
  readonly dilation: readonly number[];
}

/** Geometry values travel to the kernels packed two to an i32 (16 bits each). */
const LIMIT = 0x10000;

const typeOf = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? `[${v.join(", ")}]` : typeof v === "string" ? JSON.stringify(v) : String(v));

/** A positive integer or a pair of them, as [vertical, horizontal]; names op and what. */
export function pair(v: unknown, dflt: number, op: string, what: string): [number, number] {
  if (v === undefined) return [dflt, dflt];
  const list = Array.isArray(v) ? v : [v, v];
  if (list.length !== 2 || !list.every((d) => typeof d === "number" && Number.isInteger(d) && d >= 1 && d < LIMIT)) {
    throw new RangeError(`${op}: ${what} must be a positive integer or a pair [vertical, horizontal] of them (below ${LIMIT}), got ${typeOf(v)}`);
  }
  return [list[0] as number, list[1] as number];
}

/** "valid", "same" or a non-negative integer; names op. */
export function padding(v: unknown, op: string): Padding {
  if (v === undefined) return "valid";
  if (v === "valid" || v === "same") return v;
  if (typeof v === "number" && Number.isInteger(v) && v >= 0 && v < LIMIT) return v;
  throw new RangeError(`${op}: padding must be "valid", "same" or a non-negative integer, got ${typeOf(v)}`);
}

/** Checks conv2d's options and returns its attributes. */
export function conv2dAttrs(opts: Conv2dOptions | undefined, op = "conv2d"): Conv2dAttrs {
  if (opts === undefined) opts = {};
  if (opts === null || typeof opts !== "object" || Array.isArray(opts)) {
    throw new TypeError(`${op}: options must be { stride?, padding?, dilation? }, got ${typeOf(opts)}`);
  }
  return {
    stride: pair(opts.stride, 1, op, "stride"),
    padding: padding(opts.padding, op),
    dilation: pair(opts.dilation, 1, op, "dilation"),
  };
}

/** One axis of a sliding window: output length and padding before the first element. */
export interface Axis {
  out: number;
  before: number;
}

/**
 * Output length and leading padding of one axis of length `len` under a window of `k` taps
 * `dil` apart, moved `stride` at a time; null when the window is larger than the padded input.
 */
export function windowAxis(len: number, k: number, stride: number, dil: number, pad: Padding): Axis | null {
  const eff = (k - 1) * dil + 1;
  if (pad === "same") {
    const out = Math.ceil(len / stride);
    const total = Math.max((out - 1) * stride + eff - len, 0);
    if (len + total < eff || out < 1) return null;
    return { out, before: Math.floor(total / 2) };
  }
  const p = pad === "valid" ? 0 : pad;
  if (len + 2 * p < eff) return null;
  return { out: Math.floor((len + 2 * p - eff) / stride) + 1, before: p };
}

/**
 * The [before, after] padding of one axis as ONNX writes it (explicit `pads`, with ONNX's
 * floor rule for the output length): the positions our window reads before the first and
 * past the last element, so "same" with an even window pads exactly as conv2d does (the
 * smaller half first). Call only with an axis windowAxis accepted.
 */
export function onnxPads(len: number, k: number, stride: number, dil: number, pad: Padding): [number, number] {
  const a = windowAxis(len, k, stride, dil, pad)!;
  const eff = (k - 1) * dil + 1;
  return [a.before, Math.max(0, (a.out - 1) * stride + eff - len - a.before)];
}

/** NHWC → NCHW and back: ONNX's Conv and pools are channels first. */
export const TO_NCHW = [0, 3, 1, 2] as const;
export const TO_NHWC = [0, 2, 3, 1] as const;

/** Everything a convolution kernel call needs, from the shapes and attributes. */
export interface ConvGeom {
  n: number; h: number; w: number; c: number;
  kh: number; kw: number; f: number;
  ho: number; wo: number;
  /** Patch matrix rows (N·HO·WO) and columns (KH·KW·C). */
  m: number; k: number;
  /** Packed pairs for the kernels. */
  ksize: number; stride: number; dilation: number; pad: number;
  /** The output shape [N, HO, WO, F]. */
  shape: Shape;
}

const pack = (lo: number, hi: number) => (lo | (hi << 16)) >>> 0;

/** conv2d's shape rule: checks x, filter and attrs, returns the geometry. */
export function convGeom(x: Shape, filter: Shape, a: Conv2dAttrs, op = "conv2d"): ConvGeom {
  if (x === undefined || filter === undefined) throw new Error(`${op}: expects 2 inputs (x and filter)`);
  const named = { x, filter };
  if (x.length !== 4 || filter.length !== 4) throw shapeError(op, "x must be [N, H, W, C] and filter [KH, KW, C, F]", named);
  const [n, h, w, c] = x as [number, number, number, number];
  const [kh, kw, fc, f] = filter as [number, number, number, number];
  if (fc !== c) throw shapeError(op, `x has ${c} channels but the filter takes ${fc} (its third dimension)`, named);
  if (kh < 1 || kw < 1) throw shapeError(op, "the filter's window must be at least 1 × 1", named);
  if (kh >= LIMIT || kw >= LIMIT) throw shapeError(op, `the filter's window must be below ${LIMIT} × ${LIMIT}`, named);
  const [sh, sw] = a.stride as [number, number];
  const [dh, dw] = a.dilation as [number, number];
  const ay = windowAxis(h, kh, sh, dh, a.padding);
  const ax = windowAxis(w, kw, sw, dw, a.padding);
  if (ay === null || ax === null) {
    const eh = (kh - 1) * dh + 1;
    const ew = (kw - 1) * dw + 1;
    throw shapeError(op, `the window (${eh} × ${ew} with dilation ${dh}, ${dw}) is larger than the padded input (padding ${JSON.stringify(a.padding)})`, named);
  }
  if (ay.before >= LIMIT || ax.before >= LIMIT) throw shapeError(op, `padding must be below ${LIMIT}`, named);
  return {
    n, h, w, c, kh, kw, f,
    ho: ay.out, wo: ax.out,
    m: n * ay.out * ax.out, k: kh * kw * c,
    ksize: pack(kh, kw), stride: pack(sh, sw), dilation: pack(dh, dw), pad: pack(ay.before, ax.before),
    shape: [n, ay.out, ax.out, f],
  };
}

/**
 * Scratch bytes of the three convolution kernels: the same rule as conv2d_scratch_bytes of
 * assembly/conv.ts (GEMM's packing space, plus MR rows of at most NC product columns for
 * the input gradient, or, when it runs transposed (K ≤ DX_SWAP_MAX_K), its own packing space
 * and a panel's rows of K product columns if that is more, or, when it may run as a forward
 * convolution (K·F·4 ≤ DX_ROT_MAX_FILTER_BYTES), the rotated filter and the forward's packing
 * space for a panel of dx pixels if that is more); a test checks the kernel never asks for
 * more.
 */
export function convScratchBytes(m: number, k: number, f: number): number {
  const up = (x: number, r: number) => Math.ceil(x / r) * r;
  const rows = MR * Math.min(up(Math.max(k, 1), NR), NC) * 4;
  let dinput = gemmScratchBytes(m, k, f) + rows;
  if (k > 0 && k <= DX_SWAP_MAX_K && m > 0 && f > 0) {
    const kc = Math.min(f, KC);
    const whole = up(k, MR) * kc * 16 <= DX_WHOLE_MAX_BYTES;
    const nc = Math.min(up(m, NR), whole ? DX_PANEL_WHOLE : DX_PANEL);
    const filterBytes = (whole ? up(k, MR) : Math.min(up(k, MR), MC)) * kc * 16;
    dinput = Math.max(dinput, filterBytes + (kc * nc + TILE_FLOATS + nc * k) * 4);
  }
  if (k > 0 && m > 0 && f > 0 && k * f <= DX_ROT_MAX_FILTER_BYTES / 4) {
    // Stride 1 as a forward convolution: the rotated filter, then the forward's packing
    // space for panels of r pixels over at most r channels.
    const r = k * f * 4 <= DX_ROT_FULL_FILTER_BYTES ? DX_ROT_ROWS : DX_ROT_ROWS / 2;
    dinput = Math.max(dinput, up(k * f * 4, 16) + gemmScratchBytes(r, r, Math.min(k * f, KC)));
  }
  return Math.max(gemmScratchBytes(m, f, k), gemmScratchBytes(k, f, m), dinput);
}

const SPLITS = { kind: "conv" } as const;

/** y = conv2d(x, filter); d filter += Pᵀ·dy, dx += col2im(dy·filterᵀ). */
export const conv2dOp = defineOp<Conv2dAttrs, ConvGeom>({
  name: "conv2d",
  shape: (x, a) => convGeom(x[0]!, x[1]!, a).shape,
  prepare: (x, a) => convGeom(x[0]!, x[1]!, a),
  scratchBytes(x, a) {
    const g = convGeom(x[0]!, x[1]!, a);
    return convScratchBytes(g.m, g.k, g.f);
  },
  forward(kr, x, y, a, env) {
    const g = env.prep ?? convGeom(x[0]!.shape, x[1]!.shape, a);
    kr.conv2d_forward(x[0]!.ptr, x[1]!.ptr, y.ptr, g.n, g.h, g.w, g.c, g.f, g.ho, g.wo, g.ksize, g.stride, g.dilation, g.pad, 0, g.m, env.scratch);
  },
  backward(kr, x, _y, dy, dx, a, env) {
    const g = env.prep ?? convGeom(x[0]!.shape, x[1]!.shape, a);
    const [dX, dF] = dx;
    if (dF) kr.conv2d_backward_filter(x[0]!.ptr, dy.ptr, dF.ptr, g.n, g.h, g.w, g.c, g.f, g.ho, g.wo, g.ksize, g.stride, g.dilation, g.pad, 0, g.k, 0, g.f, 1, env.scratch);
    if (dX) kr.conv2d_backward_input(dy.ptr, x[1]!.ptr, dX.ptr, g.n, g.h, g.w, g.c, g.f, g.ho, g.wo, g.ksize, g.stride, g.dilation, g.pad, 1, env.scratch);
  },
  // The filter gradient reads x, the input gradient the filter; neither reads y.
  backwardReads: { inputs: [0, 1], output: false },
  threads: { conv2d_forward: SPLITS, conv2d_backward_filter: SPLITS, conv2d_backward_input: SPLITS },
  // ONNX's Conv is channels first: x goes to NCHW and the result back to NHWC (pairs that undo
  // each other between layers are removed by the exporter); the filter [KH, KW, C, F] becomes
  // [F, C, KH, KW] (a param's is written permuted).
  onnx: {
    emit(b, [x, filter], a, [xs, fs]) {
      const [, h, w] = xs! as [number, number, number];
      const [kh, kw] = fs! as [number, number];
      const [sh, sw] = a.stride as [number, number];
      const [dh, dw] = a.dilation as [number, number];
      const [top, bottom] = onnxPads(h, kh, sh, dh, a.padding);
      const [left, right] = onnxPads(w, kw, sw, dw, a.padding);
      const y = b.node("Conv", [b.permute(x!, TO_NCHW), b.permute(filter!, [3, 2, 0, 1])], {
        kernel_shape: [kh, kw], strides: [sh, sw], dilations: [dh, dw], pads: [top, left, bottom, right],
      })[0]!;
      return b.permute(y, TO_NHWC);
    },
  },
  samples: [
    { label: "3×3 same", inputs: [[2, 5, 6, 3], [3, 3, 3, 4]], attrs: { stride: [1, 1], padding: "same", dilation: [1, 1] } },
    { label: "even kernel, stride 2, same", inputs: [[1, 7, 7, 2], [2, 2, 2, 3]], attrs: { stride: [2, 2], padding: "same", dilation: [1, 1] } },
    { label: "dilation 2, padding 1", inputs: [[2, 7, 6, 5], [3, 2, 5, 2]], attrs: { stride: [1, 1], padding: 1, dilation: [2, 2] } },
    { label: "1×1", inputs: [[1, 4, 4, 1], [1, 1, 1, 5]], attrs: { stride: [1, 1], padding: "valid", dilation: [1, 1] } },
    { label: "16 → 8 channels, threads split", inputs: [[3, 8, 8, 16], [3, 3, 16, 8]], attrs: { stride: [1, 1], padding: "same", dilation: [1, 1] } },
  ],
  badSamples: [
    { inputs: [[5, 5, 3], [3, 3, 3, 4]], attrs: { stride: [1, 1], padding: "valid", dilation: [1, 1] }, message: "x must be [N, H, W, C]" },
    { inputs: [[1, 5, 5, 3], [3, 3, 2, 4]], attrs: { stride: [1, 1], padding: "valid", dilation: [1, 1] }, message: "x has 3 channels but the filter takes 2" },
    { inputs: [[1, 5, 5, 3], [7, 7, 3, 4]], attrs: { stride: [1, 1], padding: "valid", dilation: [1, 1] }, message: "larger than the padded input" },
  ],
});

// ------------------------------------------------------------------ methods (g.conv2d, sg.conv2d)

export const methods = {
  /**
   * 2-D convolution, channels last: x [N, H, W, C], filter [KH, KW, C, F] → [N, HO, WO, F]
   * (TensorFlow.js's layouts), with { stride, padding: "valid" | "same" | number, dilation }.
   * Forward and both gradients run on the packed GEMM kernel.
   */
  conv2d: method(3, (x: In, filter: In, opts?: Conv2dOptions) => call(conv2dOp, [x, filter], conv2dAttrs(opts, "conv2d"))),
};

/** A shape argument of the eager backward helpers, checked: 4 non-negative integers. */
export function shape4(s: unknown, op: string, what: string): Shape {
  if (!Array.isArray(s) || s.length !== 4 || !s.every((d) => typeof d === "number" && Number.isInteger(d) && d >= 0)) {
    throw new TypeError(`${op}: ${what} must be 4 non-negative integers, got ${Array.isArray(s) ? fmtShape(s) : typeOf(s)}`);
  }
  return s.slice() as Shape;
}
