/**
 * Inverted dropout: in training mode each element is zeroed with probability p and the
 * others are scaled by 1/(1 − p); in evaluation mode (g.train(false)) it is the identity.
 * The mask comes from a counter-based hash of (seed, step, index) (assembly/dropout.ts):
 * nothing is stored, backward recomputes it, and the same seed gives the same masks on
 * every runtime. The step advances once per training-mode forward run of the node.
 */
import type { OpDef } from "./op.js";

declare module "../runtime/kernels.js" {
  interface Kernels {
    dropout_key(seed: number, step: number): number;
    dropout_forward(x: number, y: number, n: number, threshold: number, scale: number, key: number): void;
    dropout_backward(dy: number, dx: number, n: number, threshold: number, scale: number, key: number, accumulate: number): void;
  }
}

/** Training mode shared by a graph's dropout nodes. */
export interface TrainMode {
  training: boolean;
}

export interface DropoutAttrs {
  readonly p: number;
  readonly seed: number;
  readonly mode: TrainMode;
  /** Training-mode forward runs so far; the mask of run t uses step t. */
  step: number;
  /** Whether the last forward run dropped anything (backward follows it). */
  active: boolean;
  key: number;
}

/** ⌊p·2³²⌋ as an i32 bit pattern, the kernels' threshold. */
export function dropoutThreshold(p: number): number {
  return Math.min(Math.floor(p * 4294967296), 4294967295) | 0;
}

export const dropoutOp: OpDef<DropoutAttrs> = {
  name: "dropout",
  shape(inputs) {
    if (inputs.length !== 1) throw new Error(`dropout: expects 1 input, got ${inputs.length}`);
    return inputs[0]!;
  },
  forward(k, x, y, a) {
    a.active = a.mode.training && a.p > 0;
    if (!a.active) {
      k.copy_f32(x[0]!.ptr, y.ptr, y.size);
      return;
    }
    a.step++;
    a.key = k.dropout_key(a.seed, a.step);
    k.dropout_forward(x[0]!.ptr, y.ptr, y.size, dropoutThreshold(a.p), 1 / (1 - a.p), a.key);
  },
  backward(k, _x, _y, dy, dx, a) {
    const d = dx[0];
    if (!d) return;
    if (a.active) k.dropout_backward(dy.ptr, d.ptr, dy.size, dropoutThreshold(a.p), 1 / (1 - a.p), a.key, 1);
    else k.axpy_f32(dy.ptr, d.ptr, dy.size, 1);
  },
};
