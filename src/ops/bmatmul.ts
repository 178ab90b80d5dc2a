/**
 * Batched matrix products: matmul on operands of rank ≥ 3, [..., M, K]·[..., K, N] →
 * [..., M, N], every product on the packed GEMM (assembly/gemm.ts), transposes of the last
 * two axes folded into its packing as in 2-D.
 *
 * The batch dimensions of the two operands are equal, or one operand is 2-D and is used by
 * every product (a weight matrix over a batch of sequences). When the 2-D operand is the
 * right one and the left one is not transposed, the batch folds into the rows: the whole
 * product, forward and backward, is ONE GEMM of (B·M) × N (this is the common case
 * x [B, T, D]·W [D, F]). Otherwise a loop of B GEMM calls over offsets; a broadcast operand's
 * gradient accumulates over the batch (β = 1).
 */
import type { Kernels } from "../runtime/kernels.js";
import { type Shape, fmtShape, sameShape, sizeOf } from "../runtime/shape.js";
import { type MatmulAttrs, type MatmulDims, gemmScratchBytes, matmulDims } from "./matmul.js";
import { shapeError } from "./op.js";

/** Whether matmul of these shapes is a batched product (either operand of rank ≥ 3). */
export function isBatched(a: Shape, b: Shape): boolean {
  return a !== undefined && b !== undefined && (a.length > 2 || b.length > 2);
}

/** The geometry of a batched product. */
export interface BatchDims {
  /** One product's dims (2-D). */
  d: MatmulDims;
  /** Number of products. */
  batch: number;
  /** Element strides between consecutive products' A, B and C (0: the operand is shared). */
  sa: number;
  sb: number;
  sc: number;
  /** The batch folds into the rows: one GEMM with m = batch·M. */
  fold: boolean;
  shape: Shape;
}

/** The shape rule of batched matmul; throws naming the op and both shapes. */
export function batchDims(a: Shape, b: Shape, attrs: MatmulAttrs = {}, op = "matmul"): BatchDims {
  if (a.length < 2 || b.length < 2) {
    throw shapeError(op, "a batched product needs both operands of rank 2 or more (a vector operand is only supported with a matrix)", { a, b });
  }
  const ba = a.slice(0, -2);
  const bb = b.slice(0, -2);
  if (ba.length > 0 && bb.length > 0 && !sameShape(ba, bb)) {
    throw shapeError(op, `batch dimensions differ (${fmtShape(ba)} against ${fmtShape(bb)}; one operand may also be 2-D)`, { a, b });
  }
  let d: MatmulDims;
  try {
    d = matmulDims(a.slice(-2), b.slice(-2), attrs, op);
  } catch (e) {
    if (e instanceof TypeError) throw e;
    const tA = attrs.transposeA === true, tB = attrs.transposeB === true;
    const how = tA && tB ? " (aᵀ·bᵀ)" : tA ? " (aᵀ·b)" : tB ? " (a·bᵀ)" : "";
    throw shapeError(op, `inner dimensions differ${how}`, { a, b });
  }
  const batchShape = ba.length > 0 ? ba : bb;
  const batch = sizeOf(batchShape);
  const sa = ba.length > 0 ? d.m * d.k : 0;
  const sb = bb.length > 0 ? d.k * d.n : 0;
  return {
    d, batch, sa, sb, sc: d.m * d.n,
    fold: sb === 0 && sa !== 0 && !d.transA,
    shape: [...batchShape, d.m, d.n],
  };
}

/** The one 2-D product a folded batch is. */
function folded(bd: BatchDims): MatmulDims {
  return { ...bd.d, m: bd.batch * bd.d.m };
}

/** The most scratch the forward or backward of this batched product needs. */
export function batchScratchBytes(bd: BatchDims): number {
  const { m, n, k } = bd.fold ? folded(bd) : bd.d;
  return Math.max(gemmScratchBytes(m, n, k), gemmScratchBytes(m, k, n), gemmScratchBytes(k, m, n), gemmScratchBytes(k, n, m), gemmScratchBytes(n, k, m));
}

/** C ← op(A)·op(B) + β·C for one product at byte pointers. */
function product(kr: Kernels, d: MatmulDims, a: number, b: number, c: number, beta: number, scratch: number): void {
  kr.gemm(d.transA ? 1 : 0, d.transB ? 1 : 0, d.m, d.n, d.k, 1, a, d.lda, b, d.ldb, beta, c, d.n, scratch);
}

/** dA += dy·op(B)ᵀ, dB += op(A)ᵀ·dy (transposed back as stored) for one product; 0: not wanted. */
function grads(kr: Kernels, d: MatmulDims, a: number, b: number, dy: number, dA: number, dB: number, scratch: number): void {
  const { m, n, k, transA: tA, transB: tB, lda, ldb } = d;
  if (dA !== 0) {
    if (!tA) kr.gemm(0, tB ? 0 : 1, m, k, n, 1, dy, n, b, ldb, 1, dA, lda, scratch);
    else kr.gemm(tB ? 1 : 0, 1, k, m, n, 1, b, ldb, dy, n, 1, dA, lda, scratch);
  }
  if (dB !== 0) {
    if (!tB) kr.gemm(tA ? 0 : 1, 0, k, n, m, 1, a, lda, dy, n, 1, dB, ldb, scratch);
    else kr.gemm(1, tA ? 1 : 0, n, k, m, 1, dy, n, a, lda, 1, dB, ldb, scratch);
  }
}

/** y ← op(a)·op(b) + β·y, batched. */
export function batchForward(kr: Kernels, bd: BatchDims, a: number, b: number, y: number, beta: number, scratch: number): void {
  if (bd.fold) {
    product(kr, folded(bd), a, b, y, beta, scratch);
    return;
  }
  for (let i = 0; i < bd.batch; i++) product(kr, bd.d, a + 4 * i * bd.sa, b + 4 * i * bd.sb, y + 4 * i * bd.sc, beta, scratch);
}

/** Adds the gradients of a batched product into dA and dB (0: not wanted). */
export function batchBackward(kr: Kernels, bd: BatchDims, a: number, b: number, dy: number, dA: number, dB: number, scratch: number): void {
  if (bd.fold) {
    grads(kr, folded(bd), a, b, dy, dA, dB, scratch);
    return;
  }
  for (let i = 0; i < bd.batch; i++) {
    grads(kr, bd.d, a + 4 * i * bd.sa, b + 4 * i * bd.sb, dy + 4 * i * bd.sc, dA === 0 ? 0 : dA + 4 * i * bd.sa, dB === 0 ? 0 : dB + 4 * i * bd.sb, scratch);
  }
}
