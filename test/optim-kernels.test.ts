import { describe, expect, it } from "vitest";
import { adamBiasCorrections, adamStep, sgdStep } from "../src/optim/kernels.js";
import { kernels, randomArray, runtime } from "./helpers.js";
import { SIZES, U32, asBuf, expectError, expectWithin, gbuf } from "./elementwise-util.js";

const STEPS = 4;

/** Gradients of step s: a fresh random array per step, both signs, a few exact zeros. */
function grads(n: number, s: number): Float32Array {
  const g = randomArray(n, 1000 + 31 * s + n, -2, 2);
  for (let i = s; i < n; i += 11) g[i] = 0;
  return g;
}

describe("optimizer kernels vs float64 references of several steps", () => {
  for (const [momentum, wd] of [[0, 0], [0.9, 0], [0.5, 0.01], [0, 0.1]] as const) {
    it(`sgd_step momentum ${momentum}, weight decay ${wd}`, async () => {
      const sg = await runtime();
      const k = kernels(sg);
      const lr = 0.05;
      for (const n of SIZES) {
        const w0 = randomArray(n, n + 1, -1, 1);
        const w = gbuf(sg, w0), g = gbuf(sg, new Float32Array(n));
        // With momentum 0 the velocity is neither read nor written: NaN must stay NaN.
        const v = gbuf(sg, momentum ? new Float32Array(n) : new Float32Array(n).fill(NaN));
        const rw = Float64Array.from(w0), rv = new Float64Array(n);
        const scale = new Float64Array(n); // Σ over steps of |w| + lr·|v|: the size of what was rounded
        for (let s = 0; s < STEPS; s++) {
          const gv = grads(n, s);
          g.set(gv);
          k.sgd_step(w.ptr, g.ptr, v.ptr, n, lr, momentum, wd);
          for (let i = 0; i < n; i++) {
            const d = gv[i]! + wd * rw[i]!;
            if (momentum) {
              rv[i] = momentum * rv[i]! + d;
              rw[i]! -= lr * rv[i]!;
            } else {
              rw[i]! -= lr * d;
            }
            scale[i]! += Math.abs(rw[i]!) + lr * (Math.abs(momentum ? rv[i]! : d) + Math.abs(gv[i]!));
          }
        }
        expectWithin(w.view(), rw, Array.from(scale, (x) => 4 * U32 * x), `sgd w n=${n}`);
        if (momentum) expectWithin(v.view(), rv, Array.from(scale, (x) => (4 * U32 * x) / lr), `sgd v n=${n}`);
        else expect(v.view().every(Number.isNaN)).toBe(true);
        for (const b of [w, g, v]) b.check(), b.free();
      }
    });
  }

  it("sgd_step with momentum 0 accepts the null velocity pointer", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    const w = gbuf(sg, [1, 2, 3, 4, 5]), g = gbuf(sg, [1, 1, 1, 1, -1]);
    k.sgd_step(w.ptr, g.ptr, 0, 5, 0.5, 0, 0);
    expect(Array.from(w.view())).toEqual([0.5, 1.5, 2.5, 3.5, 5.5]);
    w.check(), g.check(), w.free(), g.free();
  });

  for (const [wd, decoupled] of [[0, false], [0.01, false], [0.05, true]] as const) {
    it(`adam${decoupled ? "w" : ""}_step, weight decay ${wd}`, async () => {
      const sg = await runtime();
      const k = kernels(sg);
      const lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8;
      for (const n of SIZES) {
        const w0 = randomArray(n, n + 2, -1, 1);
        const w = gbuf(sg, w0), g = gbuf(sg, new Float32Array(n)), m = gbuf(sg, new Float32Array(n)), v = gbuf(sg, new Float32Array(n));
        const rw = Float64Array.from(w0), rm = new Float64Array(n), rv = new Float64Array(n);
        const scale = new Float64Array(n);
        for (let t = 1; t <= STEPS; t++) {
          const gv = grads(n, t);
          g.set(gv);
          const [bc1, bc2] = adamBiasCorrections(t, b1, b2);
          if (decoupled) k.adamw_step(w.ptr, g.ptr, m.ptr, v.ptr, n, lr, b1, b2, eps, bc1, bc2, wd);
          else k.adam_step(w.ptr, g.ptr, m.ptr, v.ptr, n, lr, b1, b2, eps, bc1, bc2, wd);
          // The kernel takes β1, β2 as f32: the reference uses the same rounded values
          // (1 − fround(0.999) differs from 0.001 by 1.3e-5 relative).
          const f1 = Math.fround(b1), f2 = Math.fround(b2);
          for (let i = 0; i < n; i++) {
            let d = gv[i]!;
            if (decoupled) rw[i]! *= 1 - lr * wd;
            else d += wd * rw[i]!;
            rm[i] = f1 * rm[i]! + (1 - f1) * d;
            rv[i] = f2 * rv[i]! + (1 - f2) * d * d;
            const denom = Math.sqrt(rv[i]!) / Math.sqrt(bc2) + eps;
            const step = (lr / bc1) * (rm[i]! / denom);
            rw[i]! -= step;
            // The update m̂/√v̂ is ≤ ~1/√(1 − β2)·…; its rounding is relative to it, and to |w|.
            scale[i]! += Math.abs(rw[i]!) + 4 * Math.abs(step) + lr;
          }
        }
        // A gradient that is exactly 0 at every step leaves m = v = 0 and w unchanged (0/ε).
        expectWithin(w.view(), rw, Array.from(scale, (x) => 8 * U32 * x), `adam w n=${n}`);
        expectWithin(m.view(), rm, Array.from(rm, (x) => 8 * U32 * (Math.abs(x) + 2) * STEPS), `adam m n=${n}`);
        expectWithin(v.view(), rv, Array.from(rv, (x) => 8 * U32 * (Math.abs(x) + 4e-3) * STEPS), `adam v n=${n}`);
        for (const b of [w, g, m, v]) b.check(), b.free();
      }
    });
  }

  it("the typed wrappers check sizes and pass the hyperparameters through", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    const w = gbuf(sg, [1, -1, 2]), g = gbuf(sg, [0.5, 0.5, -1]), v = gbuf(sg, [0, 0, 0]);
    const short = gbuf(sg, [0, 0]);
    const b3 = (x: typeof w) => asBuf(x, [3]);
    expectError(() => sgdStep(k, b3(w), asBuf(short, [2]), null, { lr: 0.1 }), "sgd: g has 2 values, the parameter has 3", "w is [3], g is [2]");
    expectError(() => sgdStep(k, b3(w), b3(g), null, { lr: 0.1, momentum: 0.9 }), "sgd: momentum 0.9 needs a velocity buffer");
    expectError(() => adamStep(k, b3(w), b3(g), b3(v), asBuf(short, [2]), 1, { lr: 0.1 }), "adam: v has 2 values");
    expectError(() => adamStep(k, b3(w), b3(g), b3(v), b3(v), 0, { lr: 0.1 }), "adam: the step number must be an integer ≥ 1, got 0");
    // Still works after the errors.
    sgdStep(k, b3(w), b3(g), b3(v), { lr: 0.1, momentum: 0.9 });
    expectWithin(w.view(), [0.95, -1.05, 2.1], 2 * U32 * 2.1, "sgdStep");
    expectWithin(v.view(), [0.5, 0.5, -1], 0, "sgdStep velocity");
    // First Adam step moves each weight by lr·sign(g) (m̂/√v̂ = ±1 up to ε).
    const m = gbuf(sg, [0, 0, 0]), vv = gbuf(sg, [0, 0, 0]);
    w.set([1, -1, 2]);
    adamStep(k, b3(w), b3(g), b3(m), b3(vv), 1, { lr: 0.1 });
    expectWithin(w.view(), [0.9, -1.1, 2.1], 1e-6, "adamStep first step");
    for (const b of [w, g, v, short, m, vv]) b.check(), b.free();
  });
});
