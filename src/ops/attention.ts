/**
 * Scaled dot-product attention over q, k, v shaped [B, heads, T, dh] (or any leading
 * dimensions, the last two being T and dh), or, with the `heads` attribute, [..., T, heads·dh]
 * (the heads side by side in each row, as a linear projection leaves them; the output is laid
 * out the same way, ready for the output projection): softmax(scale·q·kᵀ (+ causal mask))·v,
 * one fused forward and one fused backward kernel (assembly/attention.ts), blocked over T so
 * no [T, T] score matrix is ever stored, reading the heads where they are (no transposes).
 * The forward saves the logsumexp of each score row ([..., T], or [..., heads, T]) for the
 * backward, which makes the scores again block by block.
 */
import { type Shape, fmtShape, sizeOf } from "../runtime/shape.js";
import type { OpDef } from "./op.js";
import { type In, call, defineOp, method } from "./define.js";
import { BK, BQ, TPAD } from "./attention-blocking.js";

declare module "../runtime/kernels.js" {
  interface Kernels {
    attention_scratch_bytes(t: number, dh: number): number;
    attention_forward(
      nbh: number, t: number, dh: number, heads: number, ld: number, s0: number, q: number, k: number, v: number, o: number, lse: number,
      scale: number, causal: number, scratch: number,
    ): void;
    attention_backward(
      nbh: number, t: number, dh: number, heads: number, ld: number, s0: number, q: number, k: number, v: number, o: number, lse: number,
      dout: number, dq: number, dk: number, dv: number, scale: number, causal: number, scratch: number, fresh: number,
    ): void;
  }
}

/**
 * Attributes of attention: causal masking, the score scale (default 1/√dh) and `heads`, the
 * number of heads side by side in the last axis (absent: the last axis is one head's dh).
 */
export interface AttentionAttrs {
  readonly causal?: boolean;
  readonly scale?: number;
  readonly heads?: number;
}

/** Geometry of one attention call: slices, positions, head size, heads per row, the scale in use. */
export interface AttentionDims {
  readonly nbh: number;
  readonly t: number;
  readonly dh: number;
  /** Heads side by side in each row of q, k, v (1: one head per row, slices contiguous). */
  readonly heads: number;
  /** Floats between rows of q, k, v: heads·dh, or 3·heads·dh for one packed input. */
  readonly ld: number;
  /** One input holding q, k and v side by side in each row ([..., T, 3·heads·dh]). */
  readonly packed: boolean;
  readonly scale: number;
  readonly causal: boolean;
}


/** attention_scratch_bytes(t, dh) of assembly/attention.ts, for planning without a module. */
export function attentionScratchBytes(t: number, dh: number): number {
  if (t <= 0) return 0;
  const tp = Math.ceil(t / 8) * 8;
  const d = Math.max(dh, 0);
  return (2 * d * (tp + TPAD) + 2 * d * tp + 2 * BQ * BK + tp + 2 * BQ) * 4;
}

/** Checks q, k, v shapes and the attrs; returns the geometry. */
export function attentionDims(inputs: readonly Shape[], attrs: AttentionAttrs | undefined): AttentionDims {
  const packed = inputs.length === 1;
  const op = "attention";
  if (inputs.length !== 3 && !packed) throw new Error(`${op}: expects 3 inputs (q, k, v), got ${inputs.length}`);
  const q = inputs[0]!;
  // The shapes as text, made only for an error (this runs at every planning).
  const named = packed
    ? (): string => `qkv is ${fmtShape(q)}`
    : (): string => `q is ${fmtShape(q)}, k is ${fmtShape(inputs[1]!)}, v is ${fmtShape(inputs[2]!)}`;
  if (packed) {
    if (q.length < 2) throw new Error(`${op}: qkv must be [..., T, 3·heads·dh] (q, k, v side by side in each row): ${named()}`);
  } else {
    const [k, v] = [inputs[1]!, inputs[2]!];
    if (q.length < 2) throw new Error(`${op}: q, k and v must be [..., T, dh] (e.g. [B, heads, T, dh]): ${named()}`);
    if (q.length !== k.length || q.length !== v.length || q.some((d, i) => d !== k[i] || d !== v[i])) {
      throw new Error(`${op}: q, k and v must have the same shape: ${named()}`);
    }
  }
  const causal = attrs?.causal ?? false;
  if (typeof causal !== "boolean") throw new TypeError(`${op}: causal must be a boolean, got ${String(causal)} (${named()})`);
  const heads = attrs?.heads ?? 1;
  if (typeof heads !== "number" || !Number.isInteger(heads) || heads < 1) {
    throw new Error(`${op}: heads must be an integer ≥ 1, got ${String(heads)} (${named()})`);
  }
  const t = q[q.length - 2]!;
  const ld = q[q.length - 1]!;
  const width = packed ? ld / 3 : ld;
  if (packed && ld % (3 * heads) !== 0) {
    throw new Error(`${op}: the last axis ${ld} is not 3·heads·dh for ${heads} head${heads === 1 ? "" : "s"} (q, k, v side by side: ${named()})`);
  }
  if (width % heads !== 0) {
    throw new Error(`${op}: ${heads} heads do not divide the last axis ${width} (q, k and v must be [..., T, heads·dh]: ${named()})`);
  }
  const dh = width / heads;
  let scale = attrs?.scale;
  if (scale === undefined) {
    scale = dh > 0 ? 1 / Math.sqrt(dh) : 1;
  } else if (typeof scale !== "number" || !Number.isFinite(scale) || !(scale > 0)) {
    throw new Error(`${op}: scale must be a finite number > 0, got ${String(scale)} (${named()})`);
  }
  if (Math.fround(scale) === 0 || !Number.isFinite(Math.fround(scale))) {
    throw new Error(`${op}: scale ${scale} is out of float32 range (${named()})`);
  }
  return { nbh: sizeOf(q.slice(0, -2)) * heads, t, dh, heads, ld, packed, scale, causal };
}

/**
 * softmax(scale·q·kᵀ (+ causal mask))·v over the last two axes [T, dh] of q, k, v (equal
 * shapes, e.g. [B, heads, T, dh]); causal: position t attends to positions ≤ t only. The
 * forward saves the logsumexp of each score row; the backward recomputes the scores block
 * by block and gives all three gradients.
 */
export const attentionOp: OpDef<AttentionAttrs, AttentionDims> = defineOp<AttentionAttrs, AttentionDims>({
  needs: "attention_forward",
  name: "attention",
  shape(inputs, attrs) {
    const d = attentionDims(inputs, attrs);
    const q = inputs[0]!;
    return d.packed ? [...q.slice(0, -1), d.heads * d.dh] : q;
  },
  prepare: (inputs, attrs) => attentionDims(inputs, attrs),
  // The logsumexp of each score row: [..., T] for one head per row, [..., heads, T] with heads.
  saved: (inputs, attrs) => {
    const q = inputs[0]!;
    const heads = attrs?.heads;
    return [heads === undefined ? q.slice(0, -1) : [...q.slice(0, -2), heads, q[q.length - 2]!]];
  },
  scratchBytes(inputs, attrs) {
    const q = inputs[0]!;
    const width = inputs.length === 1 ? q[q.length - 1]! / 3 : q[q.length - 1]!;
    return attentionScratchBytes(q[q.length - 2]!, width / (attrs?.heads ?? 1));
  },
  forward(k, x, y, attrs, env) {
    const d = env.prep ?? attentionDims(x.map((b) => b.shape), attrs);
    // Packed: k and v start heads·dh and 2·heads·dh floats into each row of the one input.
    const q = x[0]!.ptr;
    const third = d.packed ? d.heads * d.dh * 4 : 0;
    k.attention_forward(d.nbh, d.t, d.dh, d.heads, d.ld, 0, q, d.packed ? q + third : x[1]!.ptr, d.packed ? q + 2 * third : x[2]!.ptr,
      y.ptr, env.saved[0]!.ptr, d.scale, d.causal ? 1 : 0, env.scratch);
  },
  backward(k, x, y, dy, dx, attrs, env) {
    const d = env.prep ?? attentionDims(x.map((b) => b.shape), attrs);
    // A pointer of 0 tells the kernel that gradient is not wanted (no tensor lives at 0).
    // Packed: the three gradients are the thirds of the one input's gradient rows.
    const q = x[0]!.ptr;
    const third = d.packed ? d.heads * d.dh * 4 : 0;
    // (Scalars, no array: this runs every training step.)
    const dq = dx[0] ? dx[0].ptr : 0;
    const dk = d.packed ? (dq === 0 ? 0 : dq + third) : dx[1] ? dx[1].ptr : 0;
    const dv = d.packed ? (dq === 0 ? 0 : dq + 2 * third) : dx[2] ? dx[2].ptr : 0;
    if (dq === 0 && dk === 0 && dv === 0) return;
    // Fresh gradients are zeroed slice by slice in the kernel (packed: the one gradient's three thirds).
    const fresh = d.packed ? (env.fresh! & 1 ? 7 : 0) : env.fresh! & 7;
    k.attention_backward(d.nbh, d.t, d.dh, d.heads, d.ld, 0, q, d.packed ? q + third : x[1]!.ptr, d.packed ? q + 2 * third : x[2]!.ptr,
      y.ptr, env.saved[0]!.ptr, dy.ptr, dq, dk, dv, d.scale, d.causal ? 1 : 0, env.scratch, fresh);
  },
  overwrites: [0, 1, 2],
  backwardReads: { inputs: [0, 1, 2], output: true },
  threads: { attention_forward: { kind: "attention" }, attention_backward: { kind: "attention" } },
  // Composed: softmax(scale·q·kᵀ, masked)·v. The causal mask keeps the lower triangle
  // (Trilu of ones shaped like the scores, so a free sequence length (-1) works too) and puts
  // −∞ above it; a row's diagonal is always kept, so no row is empty.
  onnx: {
    emit(b, [q, k, v], attrs, shapes) {
      const d = attentionDims(shapes, attrs);
      let r = shapes[0]!.length;
      if (d.packed) {
        // q, k, v: the three thirds of each row.
        const w = d.heads * d.dh;
        [q, k, v] = b.node("Split", [q!, b.constantInt64([3], [w, w, w])], { axis: r - 1 }, { outputs: 3 });
      }
      // With heads side by side in the rows: [..., T, heads·dh] → [..., heads, T, dh] first
      // (Reshape keeps the leading axes, 0, and T, so a free sequence length works), and back
      // at the end.
      const split = d.heads > 1;
      const toHeads = (x: string): string => {
        const shaped = b.node("Reshape", [x, b.constantInt64([r + 1], [...Array<number>(r - 1).fill(0), d.heads, d.dh])])[0]!;
        return b.node("Transpose", [shaped], { perm: [...Array.from({ length: r - 2 }, (_, i) => i), r - 1, r - 2, r] })[0]!;
      };
      if (split) {
        [q, k, v] = [toHeads(q!), toHeads(k!), toHeads(v!)];
        r += 1;
      }
      const perm = Array.from({ length: r }, (_, i) => (i === r - 2 ? r - 1 : i === r - 1 ? r - 2 : i));
      const qk = b.node("MatMul", [q!, b.permute(k!, perm)])[0]!;
      let s = b.node("Mul", [qk, b.constant([], [d.scale])])[0]!;
      if (d.causal) {
        const ones = b.node("Expand", [b.constant([], [1]), b.node("Shape", [s])[0]!])[0]!;
        const keep = b.node("Cast", [b.node("Trilu", [ones], { upper: 0 })[0]!], { to: 9 })[0]!; // to bool
        s = b.node("Where", [keep, s, b.constant([], [-Infinity])])[0]!;
      }
      const o = b.node("MatMul", [b.node("Softmax", [s], { axis: -1 })[0]!, v!])[0]!;
      if (!split) return o;
      // [..., heads, T, dh] → [..., T, heads, dh] → [..., T, heads·dh].
      const back = b.node("Transpose", [o], { perm: [...Array.from({ length: r - 3 }, (_, i) => i), r - 2, r - 3, r - 1] })[0]!;
      return b.node("Reshape", [back, b.constantInt64([r - 1], [...Array<number>(r - 2).fill(0), d.heads * d.dh])])[0]!;
    },
  },
  samples: [
    { label: "causal [2, 2, 5, 4]", inputs: [[2, 2, 5, 4], [2, 2, 5, 4], [2, 2, 5, 4]], attrs: { causal: true } },
    { label: "full [3, 7, 3], scale 0.7", inputs: [[3, 7, 3], [3, 7, 3], [3, 7, 3]], attrs: { scale: 0.7 } },
    { label: "causal [2, 6, 3·4], heads 3", inputs: [[2, 6, 12], [2, 6, 12], [2, 6, 12]], attrs: { causal: true, heads: 3 } },
    { label: "packed qkv [2, 5, 3·2·3], heads 2, causal", inputs: [[2, 5, 18]], attrs: { causal: true, heads: 2 } },
    { label: "packed qkv [3, 4, 3·5]", inputs: [[3, 4, 15]], attrs: {} },
  ],
  badSamples: [
    { inputs: [[1, 2, 5, 4], [1, 2, 6, 4], [1, 2, 5, 4]], attrs: {}, message: "same shape" },
    { inputs: [[2, 5, 4], [2, 5, 4], [2, 5, 8]], attrs: {}, message: "same shape" },
    { inputs: [[4], [4], [4]], attrs: {}, message: "[..., T, dh]" },
    { inputs: [[2, 5, 4], [2, 5, 4], [2, 5, 4]], attrs: { scale: 0 }, message: "scale" },
    { inputs: [[2, 5, 4], [2, 5, 4], [2, 5, 4]], attrs: { scale: -1 }, message: "scale" },
    { inputs: [[2, 5, 6], [2, 5, 6], [2, 5, 6]], attrs: { heads: 4 }, message: "do not divide" },
    { inputs: [[2, 5, 6], [2, 5, 6], [2, 5, 6]], attrs: { heads: 0 }, message: "heads must be" },
    { inputs: [[2, 5, 6], [2, 5, 6], [2, 5, 6]], attrs: { heads: 1.5 }, message: "heads must be" },
    { inputs: [[2, 5, 12]], attrs: { heads: 3 }, message: "not 3·heads·dh" },
    { inputs: [[2, 5, 10]], attrs: {}, message: "not 3·heads·dh" },
    { inputs: [[5]], attrs: {}, message: "[..., T, 3·heads·dh]" },
  ],
});

// ------------------------------------------------------------------ methods (g.attention, sg.attention)

/** Options of attention. */
export interface AttentionOptions {
  /** Position t attends to positions ≤ t only (default false). */
  causal?: boolean;
  /** Score scale, > 0 (default 1/√dh). */
  scale?: number;
  /**
   * Heads side by side in the last axis: q, k, v (and the result) are [..., T, heads·dh],
   * head h in columns h·dh … h·dh + dh − 1, as a linear projection leaves them; no reshape or
   * transpose is needed around the op. Absent: the last axis is one head ([..., T, dh]).
   */
  heads?: number;
}

export const methods = {
  /**
   * Scaled dot-product attention: softmax(scale·q·kᵀ (+ causal mask))·v over the last two
   * axes of q, k, v, all shaped [..., T, dh] (e.g. [B, heads, T, dh]), or with `heads`,
   * [..., T, heads·dh] (e.g. [B, T, d] straight from the projections; the result likewise).
   * One fused kernel each way: no [T, T] score matrix is stored. Options: `causal`, `scale`
   * (default 1/√dh), `heads`.
   */
  attention: method(4, (q: In, k: In, v: In, opts?: AttentionOptions) => {
    if (opts !== undefined && (opts === null || typeof opts !== "object")) {
      throw new TypeError(`attention: options must be an object such as { causal: true }, got ${String(opts)}`);
    }
    const attrs: AttentionAttrs = { causal: opts?.causal ?? false, scale: opts?.scale };
    return call(attentionOp, [q, k, v], opts?.heads === undefined ? attrs : { ...attrs, heads: opts.heads });
  }),
  /**
   * Self-attention from one projection holding q, k and v side by side in each row:
   * qkv [..., T, 3·heads·dh] (x·[Wq Wk Wv], one matrix product where three would be) →
   * [..., T, heads·dh], head h of q in columns h·dh …, of k in heads·dh + h·dh …, of v in
   * 2·heads·dh + h·dh …. The same fused kernels as attention, reading the thirds in place;
   * the gradient is one [..., T, 3·heads·dh] tensor. Options: `causal`, `scale`, `heads`
   * (default 1).
   */
  selfAttention: method(2, (qkv: In, opts?: AttentionOptions) => {
    if (opts !== undefined && (opts === null || typeof opts !== "object")) {
      throw new TypeError(`selfAttention: options must be an object such as { heads: 4, causal: true }, got ${String(opts)}`);
    }
    const attrs: AttentionAttrs = { causal: opts?.causal ?? false, scale: opts?.scale };
    return call(attentionOp, [qkv], opts?.heads === undefined ? attrs : { ...attrs, heads: opts.heads });
  }),
};
