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
 * With a bias b [F] and an activation f (the fused form users' CNNs run: conv, add the bias,
 * activation), y = f(P·filter + b) in the same kernel pass: the bias is added and f applied
 * while each output tile is in registers, in the last depth slice, so y has the bits of the
 * three separate passes (conv2d, add, the activation op). Its backward, as linear's:
 *   dz = dy ⊙ f′ (one pass; skipped for the identity: dz is dy);  db += Σ_pixels dz;
 *   d filter += Pᵀ·dz;  dx += col2im(dz·filterᵀ)
 * The pre-activation z is saved only for activations whose gradient cannot be read off y.
 *
 * Padding: "valid" (none; HO = ⌊(H − KH_eff)/SH⌋ + 1), "same" (HO = ⌈H/SH⌉, the padding
 * split as TensorFlow does: the smaller half on top and left), or a number p of zero rows
 * and columns on every side (HO = ⌊(H + 2p − KH_eff)/SH⌋ + 1), with KH_eff = (KH − 1)·DH + 1.
 */
import type { Shape } from "../runtime/shape.js";
import { fmtShape } from "../runtime/shape.js";
import { gemmScratchBytes } from "./matmul.js";
import { KC, MC, MR, NC, NR, TILE_FLOATS } from "./gemm-blocking.js";
import { DIRECT_BAND_FLOATS, DIRECT_PAD_MAX_F, DIRECT_PAD_ROWS, DX_PANEL, DX_PANEL_WHOLE, DX_ROT_FULL_FILTER_BYTES, DX_ROT_MAX_FILTER_BYTES, DX_ROT_ROWS, DX_SWAP_MAX_K, DX_WHOLE_MAX_BYTES } from "./conv-blocking.js";
import { shapeError } from "./op.js";
import { type In, call, defineOp, method } from "./define.js";
import { type LinearActivation, type LinearActivationName, needsZ, parseActivation } from "./linear.js";
import { type ActivationName, activationOnnx } from "./activations.js";

declare module "../runtime/kernels.js" {
  interface Kernels {
    conv2d_scratch_bytes(m: number, k: number, f: number): number;
    conv2d_forward(
      x: number, filter: number, y: number,
      n: number, h: number, w: number, c: number, f: number, ho: number, wo: number,
      ksize: number, stride: number, dilation: number, pad: number,
      row0: number, rows: number, scratch: number,
    ): void;
    conv2d_forward_bias_act(
      x: number, filter: number, y: number,
      n: number, h: number, w: number, c: number, f: number, ho: number, wo: number,
      ksize: number, stride: number, dilation: number, pad: number,
      row0: number, rows: number, bias: number, act: number, p: number, z: number, scratch: number,
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
    /** The four with 4 × 8 tiles only (the relaxed build's 5 × 8 left out): the same results, bit for bit (src/runtime/gemm-tile.ts). */
    conv2d_forward_4x8: Kernels["conv2d_forward"];
    conv2d_forward_bias_act_4x8: Kernels["conv2d_forward_bias_act"];
    conv2d_backward_filter_4x8: Kernels["conv2d_backward_filter"];
    conv2d_backward_input_4x8: Kernels["conv2d_backward_input"];
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
  /** A bias [F] added to every output pixel, in the convolution's own pass (null or absent: none). */
  bias?: In | null;
  /**
   * An activation applied in the same pass, as linear takes it: a name ("relu", "gelu", …,
   * "none") or { name, slope?, theta?, approximate? }. Default none.
   */
  activation?: LinearActivation | null;
}

/** conv2d's attributes, checked and normalised. */
export interface Conv2dAttrs {
  /** [vertical, horizontal]. */
  readonly stride: readonly number[];
  readonly padding: Padding;
  /** [vertical, horizontal]. */
  readonly dilation: readonly number[];
  /** The fused activation ("none": the identity), its code (ACT) and parameter, as linear's. */
  readonly name: LinearActivationName;
  readonly act: number;
  readonly p: number;
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
    throw new TypeError(`${op}: options must be { stride?, padding?, dilation?, bias?, activation? }, got ${typeOf(opts)}`);
  }
  return {
    stride: pair(opts.stride, 1, op, "stride"),
    padding: padding(opts.padding, op),
    dilation: pair(opts.dilation, 1, op, "dilation"),
    ...parseActivation(opts.activation, op),
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

/** conv2d's shape rule: checks x, filter (and the bias, if given) and attrs, returns the geometry. */
export function convGeom(x: Shape, filter: Shape, a: Conv2dAttrs, op = "conv2d", bias?: Shape): ConvGeom {
  if (x === undefined || filter === undefined) throw new Error(`${op}: expects 2 inputs (x and filter)`);
  const named: Record<string, Shape> = bias === undefined ? { x, filter } : { x, filter, bias };
  if (x.length !== 4 || filter.length !== 4) throw shapeError(op, "x must be [N, H, W, C] and filter [KH, KW, C, F]", named);
  const [n, h, w, c] = x as [number, number, number, number];
  const [kh, kw, fc, f] = filter as [number, number, number, number];
  if (fc !== c) throw shapeError(op, `x has ${c} channels but the filter takes ${fc} (its third dimension)`, named);
  if (bias !== undefined && (bias.length !== 1 || bias[0] !== f)) throw shapeError(op, `the bias must be [${f}] (one per filter: the filter's last dimension)`, named);
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
 * space for a panel of dx pixels if that is more; and the direct forward's tables, band and
 * padded filter, if that is more); a test checks the kernel never asks for more.
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
  // The direct forward of a first layer (C < 8, K ≤ KC): four tables of K values and the band;
  // for F not a multiple of 4 (at most DIRECT_PAD_MAX_F) also the padded filter, bias and rows.
  const f4 = up(f, 4);
  const padded = f > 0 && f % 4 !== 0 && f <= DIRECT_PAD_MAX_F ? k * f4 + f4 + DIRECT_PAD_ROWS * f4 : 0;
  const direct = k > 0 && k <= KC ? (4 * k + DIRECT_BAND_FLOATS + padded) * 4 : 0;
  return Math.max(gemmScratchBytes(m, f, k), direct, gemmScratchBytes(k, f, m), dinput);
}

const SPLITS = { kind: "conv" } as const;

/** Bytes of the dz buffer the fused backward keeps at the start of its scratch (none for the identity). */
const dzBytes = (g: ConvGeom, a: Conv2dAttrs) => (a.act === 0 ? 0 : Math.ceil((g.m * g.f * 4) / 16) * 16);

const geomOf = (x: readonly Shape[], a: Conv2dAttrs) => convGeom(x[0]!, x[1]!, a, "conv2d", x[2]);

/**
 * y = f(conv2d(x, filter) + b), inputs [x, filter] or [x, filter, b]; f from the attrs
 * (the identity unless an activation was given). Backward as the file comment says.
 */
export const conv2dOp = defineOp<Conv2dAttrs, ConvGeom>({
  needs: "conv2d_forward",
  name: "conv2d",
  shape: (x, a) => geomOf(x, a).shape,
  prepare: (x, a) => geomOf(x, a),
  saved(x, a) {
    return needsZ(a) ? [geomOf(x, a).shape] : [];
  },
  scratchBytes(x, a) {
    const g = geomOf(x, a);
    return dzBytes(g, a) + convScratchBytes(g.m, g.k, g.f);
  },
  forward(kr, x, y, a, env) {
    const g = env.prep ?? geomOf(x.map((b) => b.shape), a);
    kr.conv2d_forward_bias_act(
      x[0]!.ptr, x[1]!.ptr, y.ptr, g.n, g.h, g.w, g.c, g.f, g.ho, g.wo, g.ksize, g.stride, g.dilation, g.pad, 0, g.m,
      x[2] ? x[2].ptr : 0, a.act, a.p, needsZ(a) ? env.saved[0]!.ptr : 0, env.scratch,
    );
  },
  backward(kr, x, y, dy, dx, a, env) {
    const g = env.prep ?? geomOf(x.map((b) => b.shape), a);
    const [dX, dF, dB] = dx;
    let dz = dy.ptr;
    let scratch = env.scratch;
    if (a.act !== 0) {
      // dz = dy ⊙ f′(z), f′ read off z or y (as linear's backward).
      dz = env.scratch;
      scratch = env.scratch + dzBytes(g, a);
      kr.act_backward(a.act, needsZ(a) ? env.saved[0]!.ptr : y.ptr, y.ptr, dy.ptr, dz, g.m * g.f, a.p, 0);
    }
    // accumulate = 0 where the gradient is fresh (bit i of env.fresh for input i).
    const fresh = env.fresh ?? 0;
    if (dF) kr.conv2d_backward_filter(x[0]!.ptr, dz, dF.ptr, g.n, g.h, g.w, g.c, g.f, g.ho, g.wo, g.ksize, g.stride, g.dilation, g.pad, 0, g.k, 0, g.f, fresh & 2 ? 0 : 1, scratch);
    if (dB) kr.col_sums(dz, dB.ptr, g.m, g.f, 1, fresh & 4 ? 0 : 1);
    if (dX) kr.conv2d_backward_input(dz, x[1]!.ptr, dX.ptr, g.n, g.h, g.w, g.c, g.f, g.ho, g.wo, g.ksize, g.stride, g.dilation, g.pad, fresh & 1 ? 0 : 1, scratch);
  },
  // Each gradient kernel writes its result whole with accumulate = 0.
  overwrites: [0, 1, 2],
  // The filter gradient reads x, the input gradient the filter; with an activation, f′ reads
  // y (or the saved z: swish, GeLU, leakyRelu with slope ≤ 0). The bias is never read. A
  // plain convolution does not read y, but this one rule is declared per op.
  backwardReads: { inputs: [0, 1], output: true },
  threads: {
    conv2d_forward: SPLITS, conv2d_forward_bias_act: SPLITS, conv2d_backward_filter: SPLITS, conv2d_backward_input: SPLITS,
    act_backward: { kind: "elementwise", ptrs: [1, 2, 3, 4], n: 5 },
  },
  // ONNX's Conv is channels first: x goes to NCHW and the result back to NHWC (pairs that undo
  // each other between layers are removed by the exporter); the filter [KH, KW, C, F] becomes
  // [F, C, KH, KW] (a param's is written permuted). The bias is Conv's third input B [F]; the
  // activation follows as its own node(s), as the activation op writes it (linear's way).
  onnx: {
    emit(b, [x, filter, bias], a, [xs, fs]) {
      const [, h, w] = xs! as [number, number, number];
      const [kh, kw] = fs! as [number, number];
      const [sh, sw] = a.stride as [number, number];
      const [dh, dw] = a.dilation as [number, number];
      const [top, bottom] = onnxPads(h, kh, sh, dh, a.padding);
      const [left, right] = onnxPads(w, kw, sw, dw, a.padding);
      const inputs = [b.permute(x!, TO_NCHW), b.permute(filter!, [3, 2, 0, 1])];
      if (bias !== undefined) inputs.push(bias);
      let y = b.node("Conv", inputs, {
        kernel_shape: [kh, kw], strides: [sh, sw], dilations: [dh, dw], pads: [top, left, bottom, right],
      })[0]!;
      if (a.act !== 0) y = activationOnnx(b, a.name as ActivationName, y, a.p);
      return b.permute(y, TO_NHWC);
    },
  },
  samples: [
    { label: "3×3 same", inputs: [[2, 5, 6, 3], [3, 3, 3, 4]], attrs: conv2dAttrs({ padding: "same" }) },
    { label: "even kernel, stride 2, same", inputs: [[1, 7, 7, 2], [2, 2, 2, 3]], attrs: conv2dAttrs({ stride: 2, padding: "same" }) },
    { label: "dilation 2, padding 1", inputs: [[2, 7, 6, 5], [3, 2, 5, 2]], attrs: conv2dAttrs({ padding: 1, dilation: 2 }) },
    { label: "1×1", inputs: [[1, 4, 4, 1], [1, 1, 1, 5]], attrs: conv2dAttrs({}) },
    { label: "16 → 8 channels, threads split", inputs: [[3, 8, 8, 16], [3, 3, 16, 8]], attrs: conv2dAttrs({ padding: "same" }) },
    // The fused forms: a bias, and activations whose gradient reads y (tanh, sigmoid) or the
    // saved z (swish, GeLU), over the direct (C < 8), transposed and packed kernel paths.
    { label: "bias", inputs: [[2, 5, 6, 3], [3, 3, 3, 4], [4]], attrs: conv2dAttrs({ padding: "same" }) },
    { label: "bias + tanh, direct", inputs: [[2, 5, 6, 3], [3, 3, 3, 4], [4]], attrs: conv2dAttrs({ padding: "same", activation: "tanh" }) },
    { label: "swish, no bias", inputs: [[1, 6, 5, 2], [2, 2, 2, 8]], attrs: conv2dAttrs({ activation: "swish" }) },
    { label: "bias + gelu, transposed, threads split", inputs: [[3, 8, 8, 16], [3, 3, 16, 8], [8]], attrs: conv2dAttrs({ padding: "same", activation: "gelu" }) },
    { label: "bias + sigmoid, packed", inputs: [[1, 3, 3, 9], [2, 2, 9, 20], [20]], attrs: conv2dAttrs({ padding: 1, activation: "sigmoid" }) },
    // Piecewise activations: kinks within the gradcheck step are not excluded here (test/conv-fused.test.ts checks these gradients against the composed graph).
    ...(["relu", "leakyRelu", "hardTanh", "step"] as const).map((name) => ({
      label: `bias + ${name}`, inputs: [[2, 5, 6, 3], [3, 3, 3, 4], [4]], attrs: conv2dAttrs({ padding: "same", activation: name }), gradcheck: false as const,
    })),
  ],
  badSamples: [
    { inputs: [[5, 5, 3], [3, 3, 3, 4]], attrs: conv2dAttrs({}), message: "x must be [N, H, W, C]" },
    { inputs: [[1, 5, 5, 3], [3, 3, 2, 4]], attrs: conv2dAttrs({}), message: "x has 3 channels but the filter takes 2" },
    { inputs: [[1, 5, 5, 3], [7, 7, 3, 4]], attrs: conv2dAttrs({}), message: "larger than the padded input" },
    { inputs: [[1, 5, 5, 3], [3, 3, 3, 4], [3]], attrs: conv2dAttrs({ activation: "relu" }), message: "the bias must be [4]" },
    { inputs: [[1, 5, 5, 3], [3, 3, 3, 4], [1, 4]], attrs: conv2dAttrs({}), message: "the bias must be [4]" },
  ],
});

// ------------------------------------------------------------------ methods (g.conv2d, sg.conv2d)

export const methods = {
  /**
   * 2-D convolution, channels last: x [N, H, W, C], filter [KH, KW, C, F] → [N, HO, WO, F]
   * (TensorFlow.js's layouts), with { stride, padding: "valid" | "same" | number, dilation,
   * bias, activation }: a bias [F] and an activation (as linear's: a name or { name, slope,
   * theta, approximate }) are applied in the convolution's own pass (the bits of conv2d, add
   * and the activation op), and its backward forms dz = dy ⊙ f′ once.
   * Forward and both gradients run on the packed GEMM kernel.
   */
  conv2d: method(3, (x: In, filter: In, opts?: Conv2dOptions) => {
    const a = conv2dAttrs(opts, "conv2d");
    const bias = opts?.bias;
    return call(conv2dOp, bias === undefined || bias === null ? [x, filter] : [x, filter, bias], a);
  }),
};

/** A shape argument of the eager backward helpers, checked: 4 non-negative integers. */
export function shape4(s: unknown, op: string, what: string): Shape {
  if (!Array.isArray(s) || s.length !== 4 || !s.every((d) => typeof d === "number" && Number.isInteger(d) && d >= 0)) {
    throw new TypeError(`${op}: ${what} must be 4 non-negative integers, got ${Array.isArray(s) ? fmtShape(s) : typeOf(s)}`);
  }
  return s.slice() as Shape;
}
