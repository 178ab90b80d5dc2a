/**
 * The optimizer update kernels (assembly/optim.ts): their declarations on Kernels and thin
 * typed wrappers that check sizes before a kernel runs. The optimizer classes call either.
 */
import type { Kernels } from "../runtime/kernels.js";
import { fmtShape } from "../runtime/shape.js";
import type { Buf } from "../ops/op.js";

declare module "../runtime/kernels.js" {
  interface Kernels {
    /** See assembly/optim.ts: SGD with momentum (v may be 0 when momentum is 0) and L2 weight decay. */
    sgd_step(w: number, g: number, v: number, n: number, lr: number, momentum: number, weightDecay: number): void;
    /** See assembly/optim.ts: Adam (PyTorch's rule), bias corrections bc1 = 1 − β1ᵗ, bc2 = 1 − β2ᵗ. */
    adam_step(w: number, g: number, m: number, v: number, n: number, lr: number, beta1: number, beta2: number, eps: number, bc1: number, bc2: number, weightDecay: number): void;
    /** See assembly/optim.ts: AdamW (decoupled weight decay). */
    adamw_step(w: number, g: number, m: number, v: number, n: number, lr: number, beta1: number, beta2: number, eps: number, bc1: number, bc2: number, weightDecay: number): void;
    /** See assembly/optim.ts: sgd_step that also writes Σ(Δw)² (an f64) to out. */
    sgd_step_tracked(w: number, g: number, v: number, n: number, lr: number, momentum: number, weightDecay: number, out: number): void;
    /** See assembly/optim.ts: adam_step that also writes Σ(Δw)² (an f64) to out. */
    adam_step_tracked(w: number, g: number, m: number, v: number, n: number, lr: number, beta1: number, beta2: number, eps: number, bc1: number, bc2: number, weightDecay: number, out: number): void;
    /** See assembly/optim.ts: adamw_step that also writes Σ(Δw)² (an f64) to out. */
    adamw_step_tracked(w: number, g: number, m: number, v: number, n: number, lr: number, beta1: number, beta2: number, eps: number, bc1: number, bc2: number, weightDecay: number, out: number): void;
  }
}

export interface SgdHyper {
  lr: number;
  momentum?: number;
  weightDecay?: number;
}

export interface AdamHyper {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** Decouple the weight decay from the gradient (AdamW). */
  decoupled?: boolean;
}

function sameSize(op: string, w: Buf, named: Record<string, Buf | null>): void {
  for (const [name, b] of Object.entries(named)) {
    if (b !== null && b.size !== w.size) {
      throw new Error(`${op}: ${name} has ${b.size} values, the parameter has ${w.size}: w is ${fmtShape(w.shape)}, ${name} is ${fmtShape(b.shape)}`);
    }
  }
}

/** One SGD step on w with gradient g; v is the velocity (zeros at the start), or null when momentum is 0. */
export function sgdStep(k: Kernels, w: Buf, g: Buf, v: Buf | null, h: SgdHyper): void {
  const momentum = h.momentum ?? 0;
  if (momentum !== 0 && v === null) throw new Error(`sgd: momentum ${momentum} needs a velocity buffer (w is ${fmtShape(w.shape)})`);
  sameSize("sgd", w, { g, v: momentum !== 0 ? v : null });
  k.sgd_step(w.ptr, g.ptr, momentum !== 0 ? v!.ptr : 0, w.size, h.lr, momentum, h.weightDecay ?? 0);
}

/**
 * The bias corrections of Adam step t (t ≥ 1): [1 − β1ᵗ, 1 − β2ᵗ], from the float32 β the
 * kernel computes with (so that 1 − β in the kernel and here agree).
 */
export function adamBiasCorrections(t: number, beta1: number, beta2: number): [number, number] {
  return [1 - Math.pow(Math.fround(beta1), t), 1 - Math.pow(Math.fround(beta2), t)];
}

/** Adam (or AdamW) step number t ≥ 1 on w with gradient g and moment buffers m, v (zeros at the start). */
export function adamStep(k: Kernels, w: Buf, g: Buf, m: Buf, v: Buf, t: number, h: AdamHyper): void {
  if (!Number.isInteger(t) || t < 1) throw new Error(`adam: the step number must be an integer ≥ 1, got ${t}`);
  sameSize("adam", w, { g, m, v });
  const beta1 = h.beta1 ?? 0.9;
  const beta2 = h.beta2 ?? 0.999;
  const [bc1, bc2] = adamBiasCorrections(t, beta1, beta2);
  const eps = h.eps ?? 1e-8;
  const wd = h.weightDecay ?? 0;
  if (h.decoupled) k.adamw_step(w.ptr, g.ptr, m.ptr, v.ptr, w.size, h.lr, beta1, beta2, eps, bc1, bc2, wd);
  else k.adam_step(w.ptr, g.ptr, m.ptr, v.ptr, w.size, h.lr, beta1, beta2, eps, bc1, bc2, wd);
}
