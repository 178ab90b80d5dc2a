/**
 * Scaled dot-product attention over q, k, v shaped [B, heads, T, dh] (or any leading
 * dimensions, the last two being T and dh): softmax(scale·q·kᵀ (+ causal mask))·v, one
 * fused forward and one fused backward kernel (assembly/attention.ts), blocked over T so
 * no [T, T] score matrix is ever stored. The forward saves the logsumexp of each score
 * row ([..., T]) for the backward, which makes the scores again block by block.
 */
import { type Shape, fmtShape, sizeOf } from "../runtime/shape.js";
import type { OpDef } from "./op.js";

declare module "../runtime/kernels.js" {
  interface Kernels {
    attention_scratch_bytes(t: number, dh: number): number;
    attention_forward(
      nbh: number, t: number, dh: number, q: number, k: number, v: number, o: number, lse: number,
      scale: number, causal: number, scratch: number,
    ): void;
    attention_backward(
      nbh: number, t: number, dh: number, q: number, k: number, v: number, o: number, lse: number, dout: number,
      dq: number, dk: number, dv: number, scale: number, causal: number, scratch: number,
    ): void;
  }
}
