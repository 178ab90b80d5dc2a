/**
 * ONNX export of the N-D ops (reshape, transpose, slice, concat, div, exp, log, sqrt,
 * broadcasting, sum/mean over lists of axes with keepDims): ONNX Runtime gives simdgrad's
 * forward values.
 */
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { randomArray, runtime } from "./helpers.js";

describe("ONNX export of N-D ops", () => {
  it("a graph of shape ops, broadcasting and reductions runs in ONNX Runtime with the same values", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const x = g.input([2, 3, 4], "x");
    const c = g.param([3, 1], { data: [1.5, 2, 3], name: "c" });
    const t = g.transpose(x, [2, 0, 1]); // [4, 2, 3]
    const r = g.reshape(t, [8, -1]); // [8, 3]
    const s = g.slice(r, [1, 0], [6, -1]); // [6, 3]
    const cat = g.concat([s, g.exp(g.slice(r, [0, 1], [6, 2]))], 1); // [6, 5]
    const d = g.div(g.reshape(x, [2, 3, 4]), c); // [2, 3, 4] / [3, 1]
    const m = g.mean(g.sqrt(g.log(g.add(g.mul(d, d), g.param([], { data: [2], name: "two" })))), [0, 2], { keepDims: true });
    const out1 = g.name(g.sum(cat, [0], { keepDims: false }), "out1");
    const out2 = g.name(g.max(m, g.param([1, 1, 1], { data: [0.9], name: "floor" })), "out2");
    const xv = randomArray(24, 3, -2, 2);
    g.forward({ x: xv }, { outputs: [out1, out2] });
    const model = await g.exportOnnx({ inputs: [x], outputs: [out1, out2] });
    const session = await ort.InferenceSession.create(model, { graphOptimizationLevel: "disabled" });
    try {
      const res = await session.run({ x: new ort.Tensor("float32", Float32Array.from(xv), [2, 3, 4]) });
      for (const o of [out1, out2]) {
        const got = res[o.name]!.data as Float32Array;
        const ours = o.value.toArray();
        expect(got.length).toBe(ours.length);
        for (let i = 0; i < ours.length; i++) expect(Math.abs(got[i]! - ours[i]!)).toBeLessThan(1e-5 * Math.max(1, Math.abs(ours[i]!)));
      }
    } finally {
      await session.release();
    }
  });
});
