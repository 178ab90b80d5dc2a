/**
 * The GEMM family: matrix product (with transposes, and 1-D operands as numpy treats
 * them) and the outer product, with their gradients. Kernels: assembly/gemm.ts.
 *
 * Every product here, forward and backward, is one call of the packed GEMM kernel;
 * transposes are absorbed by its packing, never materialised.
 */
import type { Kernels } from "../runtime/kernels.js";
import type { Shape } from "../runtime/shape.js";
import { type Buf, type Layout, type OpDef, shapeError } from "./op.js";
import { type In, call, defineOp, method } from "./define.js";
import { type BatchDims, batchBackward, batchDims, batchForward, batchScratchBytes, isBatched } from "./bmatmul.js";

declare module "../runtime/kernels.js" {
  interface Kernels {
    gemm(
      transA: number, transB: number, m: number, n: number, k: number,
      alpha: number, a: number, lda: number, b: number, ldb: number,
      beta: number, c: number, ldc: number, scratch: number,
    ): void;
    gemm_bias_act(
      transA: number, transB: number, m: number, n: number, k: number,
      a: number, lda: number, b: number, ldb: number,
      bias: number, act: number, p: number, z: number,
      c: number, ldc: number, scratch: number,
    ): void;
    gemm_scratch_bytes(m: number, n: number, k: number): number;
    /** gemm and gemm_bias_act with 4 × 16 whole tiles: the same results, bit for bit (src/runtime/gemm-tile.ts). */
    gemm_wide: Kernels["gemm"];
    gemm_bias_act_wide: Kernels["gemm_bias_act"];
    /** gemm and gemm_bias_act with 4 × 8 whole tiles only (the relaxed build's 5 × 8 left out): the same results, bit for bit. */
    gemm_4x8: Kernels["gemm"];
    gemm_bias_act_4x8: Kernels["gemm_bias_act"];
    outer(m: number, n: number, alpha: number, u: number, v: number, a: number, lda: number, accumulate: number): void;
  }
}

// Blocking of assembly/gemm.ts (one definition for both); gemmScratchBytes counts exactly what the kernel uses.
import { KC, MC, MR, NC, NR, TILE_FLOATS } from "./gemm-blocking.js";

const roundUp = (x: number, r: number) => Math.ceil(x / r) * r;

/**
 * Bytes of scratch a GEMM producing an m × n result over inner dimension k needs (the
 * same rule as the kernel's gemm_scratch_bytes; at most about 0.6 MiB whatever the sizes).
 */
export function gemmScratchBytes(m: number, n: number, k: number): number {
  if (m <= 0 || n <= 0) return 0;
  const kc = Math.min(Math.max(k, 0), KC);
  // Sized for the larger of m and n: a product with few columns runs transposed in the kernel.
  const mc = Math.min(roundUp(Math.max(m, n), MR), MC);
  const nc = Math.min(roundUp(Math.max(m, n), NR), NC);
  // A product whose depth slices run inside its row blocks packs all of op(B) at once
  // (deep_b in assembly/gemm.ts: more than one slice, k × n within one B panel, KC × NC, and
  // m × n at least that; sized so whether op(A) is transposed or not).
  const deep = k > KC && n <= NC && k * roundUp(n, NR) <= KC * NC && m * roundUp(n, NR) >= KC * NC;
  const bFloats = Math.max(kc * nc, deep ? k * roundUp(n, NR) : 0);
  // op(A) is packed with every value broadcast to 4 lanes (see pack_a).
  return (mc * kc * 4 + bFloats + TILE_FLOATS) * 4;
}

/** One GEMM call: C ← α·op(A)·op(B) + β·C. Pointers are byte offsets into linear memory. */
export interface GemmCall {
  /** op(A) = Aᵀ: A is stored k × m. */
  transA?: boolean;
  /** op(B) = Bᵀ: B is stored n × k. */
  transB?: boolean;
  m: number;
  n: number;
  k: number;
  /** Default 1. */
  alpha?: number;
  a: number;
  /** Row stride of A as stored, in elements; default: its row length (k, or m if transA). */
  lda?: number;
  b: number;
  /** Row stride of B as stored; default: its row length (n, or k if transB). */
  ldb?: number;
  /** Default 0 (C is not read). 1 accumulates into C. */
  beta?: number;
  c: number;
  /** Row stride of C; default n. */
  ldc?: number;
  /** At least gemmScratchBytes(m, n, k) bytes, 16-byte aligned. */
  scratch: number;
}

/** Runs one GEMM (see GemmCall). For other ops (the linear layer) that multiply matrices. */
export function gemm(k: Kernels, g: GemmCall): void {
  const tA = g.transA === true;
  const tB = g.transB === true;
  k.gemm(
    tA ? 1 : 0, tB ? 1 : 0, g.m, g.n, g.k,
    g.alpha ?? 1, g.a, g.lda ?? (tA ? g.m : g.k), g.b, g.ldb ?? (tB ? g.k : g.n),
    g.beta ?? 0, g.c, g.ldc ?? g.n, g.scratch,
  );
}

/** One fused linear-layer call: Z = op(A)·op(B) + bias, C ← act(Z). */
export interface GemmBiasActCall extends Omit<GemmCall, "alpha" | "beta"> {
  /** n floats added to every row; 0 or omitted: no bias. */
  bias?: number;
  /** Activation code (ACT_* of assembly/vmath.ts); default 0, identity. */
  act?: number;
  /** The activation's parameter (step threshold, leaky-ReLU slope). */
  p?: number;
  /** Where to store the pre-activation Z (laid out like C); 0 or omitted: not stored. */
  z?: number;
}

/** Runs the fused GEMM + bias + activation kernel (see GemmBiasActCall). */
export function gemmBiasAct(k: Kernels, g: GemmBiasActCall): void {
  const tA = g.transA === true;
  const tB = g.transB === true;
  k.gemm_bias_act(
    tA ? 1 : 0, tB ? 1 : 0, g.m, g.n, g.k,
    g.a, g.lda ?? (tA ? g.m : g.k), g.b, g.ldb ?? (tB ? g.k : g.n),
    g.bias ?? 0, g.act ?? 0, g.p ?? 0, g.z ?? 0,
    g.c, g.ldc ?? g.n, g.scratch,
  );
}

// ------------------------------------------------------------------ matmul

export interface MatmulAttrs {
  /** Multiply by aᵀ (a 2-D a only; a vector is its own transpose). */
  transposeA?: boolean;
  /** Multiply by bᵀ (a 2-D b only). */
  transposeB?: boolean;
}

/** How a matmul maps onto one GEMM: op(A) is m × k, op(B) is k × n. */
export interface MatmulDims {
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  /** Row strides of A and B as stored. */
  lda: number;
  ldb: number;
  /** The result's shape: [m, n], or [n] / [m] / [] with 1-D operands. */
  shape: Shape;
}

/**
 * The shape rule of matmul. 2-D × 2-D as usual; a 1-D left operand [k] is a row [1, k]
 * and the result drops that 1 ([n]); a 1-D right operand [k] is a column [k, 1] and the
 * result drops that 1 ([m]); two vectors give their dot product, shape [].
 */
export function matmulDims(a: Shape, b: Shape, attrs: MatmulAttrs = {}, op = "matmul"): MatmulDims {
  if (a === undefined || b === undefined) throw new Error(`${op}: expects 2 inputs`);
  if (a.length < 1 || a.length > 2 || b.length < 1 || b.length > 2) {
    throw shapeError(op, "operands must be vectors or matrices (1-D or 2-D)", { a, b });
  }
  for (const key of ["transposeA", "transposeB"] as const) {
    const v: unknown = attrs[key];
    if (v !== undefined && typeof v !== "boolean") throw new TypeError(`${op}: ${key} must be true or false, got ${typeof v}`);
  }
  const tA = a.length === 2 && attrs.transposeA === true;
  const tB = b.length === 2 && attrs.transposeB === true;
  const m = a.length === 1 ? 1 : tA ? a[1]! : a[0]!;
  const ka = a.length === 1 ? a[0]! : tA ? a[0]! : a[1]!;
  const kb = b.length === 1 ? b[0]! : tB ? b[1]! : b[0]!;
  const n = b.length === 1 ? 1 : tB ? b[0]! : b[1]!;
  if (ka !== kb) {
    const how = tA && tB ? " (aᵀ·bᵀ)" : tA ? " (aᵀ·b)" : tB ? " (a·bᵀ)" : "";
    throw shapeError(op, `inner dimensions differ${how}`, { a, b });
  }
  const shape: Shape = a.length === 1 ? (b.length === 1 ? [] : [n]) : b.length === 1 ? [m] : [m, n];
  return {
    m, n, k: ka, transA: tA, transB: tB,
    lda: a.length === 1 ? ka : a[1]!,
    ldb: b.length === 1 ? 1 : b[1]!,
    shape,
  };
}

/** The most scratch matmul's forward or backward needs for these dims. */
export function matmulScratchBytes(d: MatmulDims): number {
  const { m, n, k } = d;
  return Math.max(
    gemmScratchBytes(m, n, k), // forward
    gemmScratchBytes(m, k, n), gemmScratchBytes(k, m, n), // dA, dAᵀ
    gemmScratchBytes(k, n, m), gemmScratchBytes(n, k, m), // dB, dBᵀ
  );
}

/** y ← op(a)·op(b) + beta·y for matmul dims `d` (beta 0: y is not read). */
export function matmulInto(kr: Kernels, d: MatmulDims, a: Buf, b: Buf, y: Buf, beta: number, scratch: number): void {
  kr.gemm(d.transA ? 1 : 0, d.transB ? 1 : 0, d.m, d.n, d.k, 1, a.ptr, d.lda, b.ptr, d.ldb, beta, y.ptr, d.n, scratch);
}

/**
 * Adds the gradients of y = op(A)·op(B) into dA and dB (either may be null):
 *   d op(A) = dy·op(B)ᵀ,  d op(B) = op(A)ᵀ·dy,
 * each one GEMM with β = 1, the transposes chosen so nothing is materialised.
 */
export function matmulBackward(kr: Kernels, d: MatmulDims, a: Buf, b: Buf, dy: Buf, dA: Buf | null, dB: Buf | null, scratch: number): void {
  const { m, n, k, transA: tA, transB: tB, lda, ldb } = d;
  if (dA !== null) {
    if (!tA) {
      // dA (m × k) += dy (m × n) · op(B)ᵀ
      kr.gemm(0, tB ? 0 : 1, m, k, n, 1, dy.ptr, n, b.ptr, ldb, 1, dA.ptr, lda, scratch);
    } else {
      // A is stored k × m: dA += (dy·op(B)ᵀ)ᵀ = op(B) (k × n) · dyᵀ
      kr.gemm(tB ? 1 : 0, 1, k, m, n, 1, b.ptr, ldb, dy.ptr, n, 1, dA.ptr, lda, scratch);
    }
  }
  if (dB !== null) {
    if (!tB) {
      // dB (k × n) += op(A)ᵀ (k × m) · dy
      kr.gemm(tA ? 0 : 1, 0, k, n, m, 1, a.ptr, lda, dy.ptr, n, 1, dB.ptr, ldb, scratch);
    } else {
      // B is stored n × k: dB += (op(A)ᵀ·dy)ᵀ = dyᵀ (n × m) · op(A)
      kr.gemm(1, tA ? 1 : 0, n, k, m, 1, dy.ptr, n, a.ptr, lda, 1, dB.ptr, ldb, scratch);
    }
  }
}

/** A matmul's geometry: one GEMM (2-D operands) or a batch of them. */
export type MatmulPrep = { readonly batched: false; readonly d: MatmulDims } | { readonly batched: true; readonly bd: BatchDims };

/**
 * Whether `lay` is the last two axes of a contiguous tensor swapped (what g.transpose of the
 * last two axes gives), for a logical operand of shape `s`: GEMM reads it by flipping the
 * operand's transpose flag. Empty operands are left to the copied path.
 */
export function isSwappedLastTwo(lay: Layout, s: Shape): boolean {
  const r = s.length;
  if (r < 2 || lay.offset !== 0 || lay.shape.length !== r || s.some((d) => d === 0)) return false;
  const stored = [...s.slice(0, -2), s[r - 1]!, s[r - 2]!];
  let acc = 1;
  const st = new Array<number>(r);
  for (let i = r - 1; i >= 0; i--) {
    st[i] = acc;
    acc *= stored[i]!;
  }
  // Logical axis r-2 is stored axis r-1 and vice versa.
  [st[r - 2], st[r - 1]] = [st[r - 1]!, st[r - 2]!];
  return lay.strides.every((v, i) => v === st[i] && lay.shape[i] === s[i]);
}

/**
 * The geometry of matmul over operands of logical shapes `x`; an operand given as its last
 * two axes swapped (a folded transpose) is read as stored with its transpose flag flipped.
 */
export function matmulPrep(x: readonly Shape[], attrs: MatmulAttrs, layouts?: readonly (Layout | null)[]): MatmulPrep {
  let a = x[0]!, b = x[1]!;
  let tA = attrs.transposeA === true, tB = attrs.transposeB === true;
  const swap = (s: Shape): Shape => [...s.slice(0, -2), s[s.length - 1]!, s[s.length - 2]!];
  if (layouts?.[0]) {
    a = swap(a);
    tA = !tA;
  }
  if (layouts?.[1]) {
    b = swap(b);
    tB = !tB;
  }
  const at = { transposeA: tA, transposeB: tB };
  return isBatched(a, b) ? { batched: true, bd: batchDims(a, b, at) } : { batched: false, d: matmulDims(a, b, at) };
}

/** y = op(a)·op(b); gradients dA += dy·op(b)ᵀ, dB += op(a)ᵀ·dy (transposed back as needed). */
export const matmulOp: OpDef<MatmulAttrs, MatmulPrep> = defineOp<MatmulAttrs, MatmulPrep>({
  name: "matmul",
  // Operands of rank ≥ 3: a batch of products (./bmatmul.ts).
  shape: (x, attrs) => (isBatched(x[0]!, x[1]!) ? batchDims(x[0]!, x[1]!, attrs ?? {}) : matmulDims(x[0]!, x[1]!, attrs ?? {})).shape,
  // From the same geometry the kernels run with: a folded transpose can fold a batch into the
  // rows (aᵀ stored as a), and a GEMM of batch·M rows packs more than B of M rows.
  scratchBytes: (x, attrs, layouts) => {
    const p = matmulPrep(x, attrs ?? {}, layouts);
    return p.batched ? batchScratchBytes(p.bd) : matmulScratchBytes(p.d);
  },
  prepare: (x, attrs, layouts) => matmulPrep(x, attrs ?? {}, layouts),
  // A transposed operand (last two axes swapped) is read in place: the GEMM's transpose flag.
  readsLayout: (i, lay, x) => i < 2 && isSwappedLastTwo(lay, x[i]!),
  forward(k, x, y, attrs, env) {
    const p = env.prep ?? matmulPrep(x.map((b) => b.shape), attrs ?? {});
    if (p.batched) batchForward(k, p.bd, x[0]!.ptr, x[1]!.ptr, y.ptr, 0, env.scratch);
    else matmulInto(k, p.d, x[0]!, x[1]!, y, 0, env.scratch);
  },
  backward(k, x, _y, dy, dx, attrs, env) {
    const p = env.prep ?? matmulPrep(x.map((b) => b.shape), attrs ?? {});
    if (p.batched) batchBackward(k, p.bd, x[0]!.ptr, x[1]!.ptr, dy.ptr, dx[0]?.ptr ?? 0, dx[1]?.ptr ?? 0, env.scratch);
    else matmulBackward(k, p.d, x[0]!, x[1]!, dy, dx[0] ?? null, dx[1] ?? null, env.scratch);
  },
  backwardReads: { inputs: [0, 1], output: false },
  threads: { gemm: { kind: "gemm" } },
  samples: [
    { label: "A·B", inputs: [[3, 4], [4, 5]], attrs: {} },
    { label: "Aᵀ·B", inputs: [[4, 3], [4, 5]], attrs: { transposeA: true } },
    { label: "A·Bᵀ", inputs: [[3, 4], [5, 4]], attrs: { transposeB: true } },
    { label: "Aᵀ·Bᵀ", inputs: [[4, 3], [5, 4]], attrs: { transposeA: true, transposeB: true } },
    { label: "row·B", inputs: [[4], [4, 5]], attrs: {} },
    { label: "A·column", inputs: [[3, 4], [4]], attrs: {} },
    { label: "dot", inputs: [[4], [4]], attrs: {} },
    { label: "batched", inputs: [[2, 3, 4], [2, 4, 5]], attrs: {} },
    { label: "batch times shared", inputs: [[2, 3, 4], [4, 5]], attrs: { transposeA: false } },
    { label: "big", inputs: [[37, 45], [45, 33]], attrs: {}, gradcheck: false },
    { label: "big Aᵀ·Bᵀ", inputs: [[45, 37], [33, 45]], attrs: { transposeA: true, transposeB: true }, gradcheck: false },
  ],
  badSamples: [{ inputs: [[2, 3], [4, 5]], attrs: {}, message: "inner dimensions differ" }],
});

// ------------------------------------------------------------------ outer

/** The shape rule of outer: u [m], v [n] → [m, n]. */
export function outerShape(u: Shape, v: Shape, op = "outer"): Shape {
  if (u === undefined || v === undefined) throw new Error(`${op}: expects 2 inputs`);
  if (u.length !== 1 || v.length !== 1) throw shapeError(op, "operands must be vectors (1-D)", { u, v });
  return [u[0]!, v[0]!];
}

/** y = u·vᵀ; gradients du += dy·v, dv += dyᵀ·u (each one GEMM with β = 1). */
export const outerOp: OpDef<void> = defineOp<void>({
  name: "outer",
  shape: (x) => outerShape(x[0]!, x[1]!),
  scratchBytes: (x) => {
    const [m, n] = outerShape(x[0]!, x[1]!) as [number, number];
    return Math.max(gemmScratchBytes(m, 1, n), gemmScratchBytes(n, 1, m));
  },
  forward(k, x, y) {
    const [m, n] = y.shape as [number, number];
    k.outer(m, n, 1, x[0]!.ptr, x[1]!.ptr, y.ptr, n, 0);
  },
  backward(k, x, _y, dy, dx, _attrs, env) {
    const [m, n] = dy.shape as [number, number];
    const du = dx[0];
    const dv = dx[1];
    // du (m × 1) += dy (m × n) · v (n × 1)
    if (du) k.gemm(0, 0, m, 1, n, 1, dy.ptr, n, x[1]!.ptr, 1, 1, du.ptr, 1, env.scratch);
    // dv (n × 1) += dyᵀ (n × m) · u (m × 1)
    if (dv) k.gemm(1, 0, n, 1, m, 1, dy.ptr, n, x[0]!.ptr, 1, 1, dv.ptr, 1, env.scratch);
  },
  backwardReads: { inputs: [0, 1], output: false },
  threads: { gemm: { kind: "gemm" } },
  samples: [{ inputs: [[3], [5]], attrs: undefined }, { inputs: [[1], [1]], attrs: undefined }],
  badSamples: [{ inputs: [[3, 1], [5]], attrs: undefined, message: "must be vectors" }],
});

// ------------------------------------------------------------------ methods

export const methods = {
  /** op(a)·op(b), op = transpose where asked; 1-D operands as numpy treats them (a [k] is a
   *  row and gives [n], b [k] a column and gives [m], two vectors give []); operands of rank ≥ 3
   *  are batches of matrices ([B, M, K]·[B, K, N] → [B, M, N], a 2-D operand broadcasts over B). */
  matmul: method(
    3,
    (a: In, b: In, opts: { transposeA?: boolean; transposeB?: boolean } | null = {}) =>
      call(matmulOp, [a, b], { transposeA: opts?.transposeA === true, transposeB: opts?.transposeB === true }),
    { eager: false },
  ),
  /** The outer product u·vᵀ of u [m] and v [n], shape [m, n]. */
  outer: method(2, (u: In, v: In) => call(outerOp, [u, v], undefined), { eager: false }),
};

// ------------------------------------------------------------------ eager options

/** Options of sg.matmul(a, b, opts). */
export interface MatmulOptions extends MatmulAttrs {
  /** Write the result here (shape must match) instead of a new tensor. */
  out?: import("../runtime/tensor.js").Tensor;
  /** Add the product into `out` (which must then be given) instead of overwriting it. */
  accumulate?: boolean;
}

/** Options of sg.outer(u, v, opts). */
export interface OuterOptions {
  out?: import("../runtime/tensor.js").Tensor;
  accumulate?: boolean;
}

/** Whether two buffers share any byte of memory. */
export function overlaps(x: Buf, y: Buf): boolean {
  return x.size > 0 && y.size > 0 && x.ptr < y.ptr + y.size * 4 && y.ptr < x.ptr + x.size * 4;
}

/** Throws a TypeError unless `opts` is a plain options object. */
export function checkOptions(opts: unknown, op: string): void {
  if (opts === null || typeof opts !== "object" || Array.isArray(opts) || ArrayBuffer.isView(opts) || "ptr" in opts) {
    const what = opts === null ? "null" : Array.isArray(opts) ? "an array" : typeof opts === "object" ? "a tensor or typed array" : typeof opts;
    throw new TypeError(`${op}: options must be an object, got ${what}`);
  }
  const acc: unknown = (opts as { accumulate?: unknown }).accumulate;
  if (acc !== undefined && typeof acc !== "boolean") throw new TypeError(`${op}: accumulate must be true or false, got ${typeof acc}`);
}
