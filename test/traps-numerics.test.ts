/**
 * Numeric traps: a gradient that held only for targets summing to 1, and column sums that
 * lost accuracy (or overflowed) with many rows.
 */
import { describe, expect, it } from "vitest";
import { expectClose, runtime } from "./helpers.js";

describe("softmaxCrossEntropy's gradient holds for any targets", () => {
  it("targets summing to 0, 0.5, 1 and 2: dz = (softmax·Σt − t)·upstream/N, and gradcheck agrees", async () => {
    const sg = await runtime();
    const logits = [1, 2, 3, -1, 0.5, 0, 2, 2, -3, 0.25, 0.75, 1.5];
    const rowsT = [
      [0, 0, 0], // sums to 0: the loss is 0 whatever the logits, so is its gradient
      [0.25, 0, 0.25], // 0.5
      [0, 1, 0], // one-hot
      [1, 0.5, 0.5], // 2
    ];
    const g = sg.graph();
    const z = g.param([4, 3], { data: logits, name: "z" });
    const t = g.input([4, 3], "t");
    const L = g.softmaxCrossEntropy(z, t);
    const out = g.scale(L, -1.5);
    const feeds = { t: rowsT.flat() };
    g.forward(feeds);
    g.backward(out);
    const want: number[] = [];
    for (let r = 0; r < 4; r++) {
      const zr = logits.slice(3 * r, 3 * r + 3);
      const m = Math.max(...zr);
      const e = zr.map((v) => Math.exp(v - m));
      const s = e.reduce((a, b) => a + b, 0);
      const S = rowsT[r]!.reduce((a, b) => a + b, 0);
      for (let c = 0; c < 3; c++) want.push(((e[c]! / s) * S - rowsT[r]![c]!) * (-1.5 / 4));
    }
    expectClose(z.grad!.toArray(), want, 1e-5, 1e-7, "dz");
    expect(Array.from(z.grad!.toArray().subarray(0, 3))).toEqual([0, 0, 0]); // Σt = 0: no gradient
    g.zeroGrad();
    expect(sg.gradcheck(g, out, { feeds }).ok).toBe(true);
    g.dispose();
  });
});

describe("sums over axis 0 and bias gradients keep float32 accuracy over many rows", () => {
  it("2^20 rows of 0.1 sum over axis 0 to 104857.6 within 1e-6, graph and eager", async () => {
    const sg = await runtime();
    const rows = 1 << 20;
    for (const cols of [1, 3, 4, 16, 21]) {
      const x = sg.tensor([rows, cols]).fill(0.1);
      const s = sg.sum(x, 0);
      const want = rows * Math.fround(0.1);
      expectClose(s.toArray(), new Array(cols).fill(want), 1e-6, 0, `sum axis 0 of [${rows}, ${cols}]`);
      x.dispose();
      s.dispose();
    }
  });

  it("the axis-0 mean of 2^20 values of 1e33 is 1e33, not Infinity", async () => {
    const sg = await runtime();
    const rows = 1 << 20;
    for (const cols of [1, 4, 16, 5]) {
      const x = sg.tensor([rows, cols]).fill(1e33);
      const m = sg.mean(x, 0);
      expectClose(m.toArray(), new Array(cols).fill(Math.fround(1e33)), 1e-6, 0, `mean axis 0 of [${rows}, ${cols}]`);
      x.dispose();
      m.dispose();
    }
  });

  it("the bias gradient of a broadcast add over 2^20 rows is accurate", async () => {
    const sg = await runtime();
    const rows = 1 << 20, cols = 20;
    const g = sg.graph();
    const x = g.input([rows, cols], "x");
    const b = g.param([cols], { name: "b" });
    const y = g.add(x, b);
    const L = g.sum(g.scale(y, 0.1));
    g.forward({ x: new Float32Array(rows * cols) });
    g.backward(L);
    expectClose(b.grad!.toArray(), new Array(cols).fill(rows * Math.fround(0.1)), 1e-6, 0, "db");
    g.dispose();
  });
});
