import { describe, expect, it } from "vitest";
import { runtime } from "./helpers.js";

// Optimizer state that decays geometrically must not sink into denormal floats (which x86
// processes tens of times slower): it is flushed to 0 below the smallest normal float.
const FLT_MIN = 2 ** -126;
const noDenormals = (a: Float32Array) => a.every((x) => x === 0 || Math.abs(x) >= FLT_MIN);

describe("optimizer state stays out of denormals", () => {
  it("Adam with vanishing gradients", async () => {
    const sg = await runtime();
    const k = sg.rt.kernels;
    const n = 37;
    const w = sg.ones([n]);
    const g = sg.tensor([n]).fill(1e-20); // g² = 1e-40 is denormal
    const m = sg.zeros([n]);
    const v = sg.zeros([n]);
    for (let t = 1; t <= 900; t++) {
      if (t === 10) g.fill(0); // then nothing: m decays by 0.9 per step towards 1e-60
      k.adam_step(w.ptr, g.ptr, m.ptr, v.ptr, n, 1e-3, 0.9, 0.999, 1e-8, 1 - 0.9 ** t, 1 - 0.999 ** t, 0);
      if (!noDenormals(m.toArray()) || !noDenormals(v.toArray())) throw new Error(`denormal state at step ${t}`);
    }
    expect(m.toArray().every((x) => x === 0)).toBe(true);
    expect(w.toArray().every((x) => Number.isFinite(x) && Math.abs(x - 1) < 1e-3)).toBe(true);
  });

  it("SGD momentum once the gradient is zero", async () => {
    const sg = await runtime();
    const k = sg.rt.kernels;
    const n = 21;
    const w = sg.ones([n]);
    const g = sg.tensor([n]).fill(1e-3);
    const vel = sg.zeros([n]);
    k.sgd_step(w.ptr, g.ptr, vel.ptr, n, 0.1, 0.9, 0);
    g.fill(0);
    for (let t = 0; t < 900; t++) {
      k.sgd_step(w.ptr, g.ptr, vel.ptr, n, 0.1, 0.9, 0);
      if (!noDenormals(vel.toArray())) throw new Error(`denormal velocity at step ${t}`);
    }
    expect(vel.toArray().every((x) => x === 0)).toBe(true);
  });
});
