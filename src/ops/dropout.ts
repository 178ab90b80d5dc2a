/**
 * Inverted dropout: in training mode each element is zeroed with probability p and the
 * others are scaled by 1/(1 − p); in evaluation mode (g.train(false)) it is the identity.
 * The mask comes from a counter-based hash of (seed, step, index) (assembly/dropout.ts):
 * nothing is stored, backward recomputes it, and a seed gives the same masks on every
 * runtime and thread count. The step is the graph's count of training-mode forward runs
 * (env.mode.step: 0 for the first run), so each run draws a new mask; give each dropout
 * of a graph its own seed. Eager calls (no graph) use step 0.
 */
import type { OpEnv } from "./op.js";
import { type In, call, defineOp, method } from "./define.js";

declare module "../runtime/kernels.js" {
  interface Kernels {
    dropout_key(seed: number, step: number): number;
    dropout_forward(x: number, y: number, n: number, threshold: number, scale: number, key: number): void;
    dropout_backward(dy: number, dx: number, n: number, threshold: number, scale: number, key: number, accumulate: number): void;
  }
}

export interface DropoutAttrs {
  readonly p: number;
  readonly seed: number;
}

/** ⌊p·2³²⌋ as an i32 bit pattern, the kernels' threshold. */
export function dropoutThreshold(p: number): number {
  return Math.min(Math.floor(p * 4294967296), 4294967295) | 0;
}

const active = (a: DropoutAttrs, env: OpEnv<unknown>) => a.p > 0 && (env.mode === undefined || env.mode.training);
const stepOf = (env: OpEnv<unknown>) => (env.mode === undefined ? 0 : env.mode.step);

export const dropoutOp = defineOp<DropoutAttrs>({
  needs: "dropout_forward",
  name: "dropout",
  // An exported model is for inference, where dropout is the identity.
  onnx: { emit: (b, [x]) => b.node("Identity", [x!])[0]! },
  inPlace: true,
  samples: [
    // Each forward run draws a new mask, so a numeric gradient check does not apply; the
    // mask-following gradient is tested in test/layernorm-dropout.test.ts.
    { label: "matrix", inputs: [[6, 7]], attrs: { p: 0.3, seed: 5 }, gradcheck: false },
    { label: "p = 0", inputs: [[9]], attrs: { p: 0, seed: 1 } },
  ],
  badSamples: [{ inputs: [[2], [2]], attrs: { p: 0.5, seed: 1 }, message: "expects 1 input" }],
  shape(inputs, attrs) {
    if (inputs.length !== 1) throw new Error(`dropout: expects 1 input, got ${inputs.length}`);
    if (typeof attrs.p !== "number" || !(attrs.p >= 0 && attrs.p < 1)) throw new RangeError(`dropout: p must be a number in [0, 1), got ${String(attrs.p)}`);
    if (!Number.isInteger(attrs.seed)) throw new TypeError(`dropout: seed must be an integer, got ${String(attrs.seed)}`);
    return inputs[0]!;
  },
  forward(k, x, y, a, env) {
    if (!active(a, env)) {
      k.copy_f32(x[0]!.ptr, y.ptr, y.size);
      return;
    }
    k.dropout_forward(x[0]!.ptr, y.ptr, y.size, dropoutThreshold(a.p), 1 / (1 - a.p), k.dropout_key(a.seed | 0, stepOf(env)));
  },
  backwardReads: { inputs: [], output: false },
  backward(k, _x, _y, dy, dx, a, env) {
    const d = dx[0];
    if (!d) return;
    if (active(a, env)) k.dropout_backward(dy.ptr, d.ptr, dy.size, dropoutThreshold(a.p), 1 / (1 - a.p), k.dropout_key(a.seed | 0, stepOf(env)), 1);
    else k.axpy_f32(dy.ptr, d.ptr, dy.size, 1);
  },
});

export const methods = {
  /**
   * Inverted dropout with probability p in [0, 1): in training mode (g.train) elements are zeroed
   * with probability p and the rest scaled by 1/(1 − p); the identity in evaluation mode. Masks
   * come from `seed` and the run count (reproducible; nothing stored). Eager sg.dropout always
   * applies the first run's mask of its seed.
   */
  dropout: method(3, (x: In, p: number, opts: { seed?: number } = {}) => call(dropoutOp, [x], { p, seed: opts?.seed ?? 0 })),
};
