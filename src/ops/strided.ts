/**
 * Index-space helpers for N-D ops: row-major strides, NumPy broadcasting, collapsing an
 * index space to few axes, and the calls of the strided kernels (assembly/strided.ts) and
 * of the axis reductions over such spaces. Shape and stride arithmetic happens here, once
 * per graph node (its prepare) or per eager call; elements are only ever touched by kernels.
 */
import type { Kernels } from "../runtime/kernels.js";
import { type Shape, fmtShape } from "../runtime/shape.js";

declare module "../runtime/kernels.js" {
  interface Kernels {
    // sum_axis is declared once, in src/ops/reduce.ts.
    copy_nd(
      x: number, y: number, d0: number, d1: number, d2: number, d3: number,
      xs0: number, xs1: number, xs2: number, xs3: number, ys0: number, ys1: number, ys2: number, ys3: number,
      alpha: number, accumulate: number,
    ): void;
    binary_nd(
      op: number, a: number, b: number, y: number, d0: number, d1: number, d2: number, d3: number,
      as0: number, as1: number, as2: number, as3: number, bs0: number, bs1: number, bs2: number, bs3: number,
      accumulate: number,
    ): void;
  }
}

/** Op codes of binary_nd. */
export const BIN = { add: 0, sub: 1, mul: 2, div: 3, max: 4, maxWeight: 5 } as const;

/** Row-major strides (in elements) of a contiguous tensor of `shape`. */
export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

/**
 * The NumPy broadcast of two shapes: aligned at the right, each pair of dimensions equal or
 * one of them 1 (the other wins, 0 included). Throws
 * `${op}: shapes do not broadcast: a is [..], b is [..]`.
 */
export function broadcastShapes(op: string, a: Shape, b: Shape): Shape {
  const r = Math.max(a.length, b.length);
  const out = new Array<number>(r);
  for (let i = 0; i < r; i++) {
    const da = i < r - a.length ? 1 : a[i - (r - a.length)]!;
    const db = i < r - b.length ? 1 : b[i - (r - b.length)]!;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`${op}: shapes do not broadcast: a is ${fmtShape(a)}, b is ${fmtShape(b)} (dimension ${i - r} is ${da} against ${db})`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides of an operand of shape `s` read over the broadcast shape `out`: 0 where it repeats. */
export function broadcastStrides(s: Shape, out: Shape): number[] {
  const own = stridesOf(s);
  const off = out.length - s.length;
  return out.map((_, i) => (i < off || s[i - off] === 1 ? 0 : own[i - off]!));
}

/** An index space of few axes, with one stride list per operand (in elements). */
export interface Space {
  dims: number[];
  strides: number[][];
}

/**
 * Collapses an index space: drops axes of size 1 and merges axis i into axis i + 1 where
 * every operand has stride[i] = stride[i + 1]·dims[i + 1] (so the pair walks memory as one
 * axis). An empty space (some dimension 0) keeps a single 0 axis.
 */
export function collapse(dims: readonly number[], strides: readonly (readonly number[])[]): Space {
  if (dims.some((d) => d === 0)) return { dims: [0], strides: strides.map(() => [0]) };
  const d: number[] = [];
  const s: number[][] = strides.map(() => []);
  for (let i = 0; i < dims.length; i++) {
    if (dims[i] === 1) continue;
    const last = d.length - 1;
    if (last >= 0 && strides.every((st, j) => s[j]![last] === st[i]! * dims[i]!)) {
      d[last] = d[last]! * dims[i]!;
      strides.forEach((st, j) => (s[j]![last] = st[i]!));
    } else {
      d.push(dims[i]!);
      strides.forEach((st, j) => s[j]!.push(st[i]!));
    }
  }
  return { dims: d, strides: s };
}

/** Pads a space at the front to exactly four axes (size 1, stride 0); more than four stay. */
function pad4(sp: Space): Space {
  const extra = Math.max(0, 4 - sp.dims.length);
  return {
    dims: [...new Array<number>(extra).fill(1), ...sp.dims],
    strides: sp.strides.map((st) => [...new Array<number>(extra).fill(0), ...st]),
  };
}

/**
 * Calls `run(offsets, dims4, strides4)` once per index of the axes in front of the last
 * four (one call for spaces of up to four axes). Offsets are in elements, one per operand.
 */
function eachBlock(sp: Space, run: (off: number[], d: number[], s: number[][]) => void): void {
  const p = pad4(sp);
  const lead = p.dims.length - 4;
  const d4 = p.dims.slice(lead);
  const s4 = p.strides.map((st) => st.slice(lead));
  if (lead === 0) {
    run(p.strides.map(() => 0), d4, s4);
    return;
  }
  const idx = new Array<number>(lead).fill(0);
  const total = p.dims.slice(0, lead).reduce((a, b) => a * b, 1);
  for (let n = 0; n < total; n++) {
    run(p.strides.map((st) => idx.reduce((o, v, i) => o + v * st[i]!, 0)), d4, s4);
    for (let i = lead - 1; i >= 0; i--) {
      if (++idx[i]! < p.dims[i]!) break;
      idx[i] = 0;
    }
  }
}

/** Numbers per copy_nd call in a CopyCalls list: 2 offsets, 4 dims, 4 + 4 strides. */
const COPY = 14;

/**
 * The copy_nd calls of one strided copy, worked out once (a graph node's prepare keeps
 * them, so a step collapses no index space and allocates nothing): per call the element
 * offsets of x and y, the four collapsed dimensions and each operand's four strides.
 */
export type CopyCalls = Int32Array;

/**
 * The calls of y[Σ i·ys] (+)= α·x[Σ i·xs] over `dims` (any rank; strides in elements, x's
 * may be 0): the space collapsed, then one copy_nd call per block of four axes.
 */
export function copyCalls(dims: readonly number[], xs: readonly number[], ys: readonly number[]): CopyCalls {
  const sp = collapse(dims, [xs, ys]);
  if (sp.dims.some((d) => d === 0)) return new Int32Array(0);
  const out: number[] = [];
  eachBlock(sp, (off, d, [a, b]) => {
    out.push(off[0]!, off[1]!, d[0]!, d[1]!, d[2]!, d[3]!, a![0]!, a![1]!, a![2]!, a![3]!, b![0]!, b![1]!, b![2]!, b![3]!);
  });
  return Int32Array.from(out);
}

/** Runs a CopyCalls list over x and y (byte pointers). No allocation. */
export function runCopy(k: Kernels, x: number, y: number, c: CopyCalls, alpha = 1, accumulate = 0): void {
  for (let i = 0; i < c.length; i += COPY) {
    k.copy_nd(x + 4 * c[i]!, y + 4 * c[i + 1]!, c[i + 2]!, c[i + 3]!, c[i + 4]!, c[i + 5]!,
      c[i + 6]!, c[i + 7]!, c[i + 8]!, c[i + 9]!, c[i + 10]!, c[i + 11]!, c[i + 12]!, c[i + 13]!, alpha, accumulate);
  }
}

/** Numbers per binary_nd call in a BinaryCalls list: 3 offsets, 4 dims, 4 + 4 strides. */
const CALL = 15;

/**
 * The binary_nd calls of one broadcasting map, worked out once: per call the element
 * offsets of a, b and y, the four collapsed dimensions and each operand's four strides.
 */
export type BinaryCalls = Int32Array;

/**
 * The calls of y (+)= a op b over `dims`, y contiguous row-major and a, b read with strides
 * `as`, `bs` (0 along broadcast axes): one binary_nd call per block of four collapsed axes.
 */
export function binaryCalls(dims: readonly number[], as: readonly number[], bs: readonly number[]): BinaryCalls {
  const sp = collapse(dims, [as, bs, stridesOf(dims)]);
  if (sp.dims.some((d) => d === 0)) return new Int32Array(0);
  const out: number[] = [];
  eachBlock(sp, (off, d, [p, q]) => {
    out.push(off[0]!, off[1]!, off[2]!, d[0]!, d[1]!, d[2]!, d[3]!, p![0]!, p![1]!, p![2]!, p![3]!, q![0]!, q![1]!, q![2]!, q![3]!);
  });
  return Int32Array.from(out);
}

/** Runs a BinaryCalls list with op `op` over a, b, y (byte pointers). No allocation. */
export function runBinary(k: Kernels, op: number, a: number, b: number, y: number, c: BinaryCalls, accumulate = 0): void {
  for (let i = 0; i < c.length; i += CALL) {
    k.binary_nd(op, a + 4 * c[i]!, b + 4 * c[i + 1]!, y + 4 * c[i + 2]!, c[i + 3]!, c[i + 4]!, c[i + 5]!, c[i + 6]!,
      c[i + 7]!, c[i + 8]!, c[i + 9]!, c[i + 10]!, c[i + 11]!, c[i + 12]!, c[i + 13]!, c[i + 14]!, accumulate);
  }
}

/**
 * How summing a contiguous tensor of shape `dims` over the axes marked in `reduced` runs:
 * the collapsed space alternates kept and reduced groups; each reduced group is one
 * sum_axis call, innermost first, intermediate results in scratch.
 */
export interface ReducePlan {
  /** [outer, len, inner] of each sum_axis call, in order. */
  calls: [number, number, number][];
  /** Floats of each of the two scratch areas (0: none needed). */
  tempFloats: number;
  /** Elements in and out. */
  inSize: number;
  outSize: number;
}

export function reducePlan(dims: readonly number[], reduced: readonly boolean[]): ReducePlan {
  const inSize = dims.reduce((a, b) => a * b, 1);
  const outSize = dims.reduce((a, d, i) => a * (reduced[i] ? 1 : d), 1);
  // Collapse with the input's strides and the output's (0 on reduced axes).
  const out = dims.map((d, i) => (reduced[i] ? 1 : d));
  const os = stridesOf(out).map((s, i) => (reduced[i] ? 0 : s));
  const sp = collapse(dims, [stridesOf(dims), os]);
  const calls: [number, number, number][] = [];
  let tempFloats = 0;
  if (inSize === 0 || outSize === 0) return { calls, tempFloats, inSize, outSize };
  const cur = sp.dims.slice();
  const red = sp.strides[1]!.map((s) => s === 0);
  let left = red.filter((r) => r).length;
  while (left > 0) {
    const p = red.lastIndexOf(true);
    const outer = cur.slice(0, p).reduce((a, b) => a * b, 1);
    const inner = cur.slice(p + 1).reduce((a, b) => a * b, 1);
    calls.push([outer, cur[p]!, inner]);
    if (left > 1) tempFloats = Math.max(tempFloats, outer * inner);
    cur.splice(p, 1);
    red.splice(p, 1);
    left--;
  }
  return { calls, tempFloats, inSize, outSize };
}

/** Bytes of scratch reduceRun needs for this plan (16-byte aligned halves). */
export function reduceScratchBytes(p: ReducePlan): number {
  return p.calls.length > 1 ? 2 * Math.ceil(p.tempFloats / 4) * 16 : 0;
}

/**
 * dst (+)= α·(src summed as planned). With no reduced axis it is a scaled copy. The mean
 * of nothing (0 elements summed into a non-empty result) gives α·0.
 */
export function reduceRun(k: Kernels, p: ReducePlan, src: number, dst: number, alpha: number, accumulate: number, scratch: number): void {
  if (p.outSize === 0) return;
  if (p.inSize === 0) {
    // Σ over an empty axis is 0, so dst (+)= α·0 (NaN for the mean of nothing, α = ∞).
    const v = alpha * 0;
    if (!accumulate || Number.isNaN(v)) k.fill_f32(dst, p.outSize, v);
    return;
  }
  if (p.calls.length === 0) {
    k.copy_nd(src, dst, 1, 1, 1, p.inSize, 0, 0, 0, 1, 0, 0, 0, 1, alpha, accumulate);
    return;
  }
  const half = reduceScratchBytes(p) / 2;
  let cur = src;
  for (let i = 0; i < p.calls.length; i++) {
    const c = p.calls[i]!;
    const last = i === p.calls.length - 1;
    const out = last ? dst : scratch + (i % 2) * half;
    k.sum_axis(cur, out, c[0], c[1], c[2], last ? alpha : 1, last ? accumulate : 0);
    cur = out;
  }
}

