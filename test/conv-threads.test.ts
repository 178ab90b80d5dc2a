/**
 * Convolutions on 2 and 3 threads equal one thread bit for bit: the forward pass splits
 * output pixels, the filter gradient splits its result into blocks of rows or columns, the
 * input gradient splits images; every element is computed as on one thread (tolerance 0).
 */
import { describe, expect, it } from "vitest";
import { randomArray, expectSameBits, expectSameTraining, threadRuntimes } from "./helpers.js";

const runtimes = threadRuntimes();


type Opts = { stride?: number; padding?: "valid" | "same" | number; dilation?: number };

describe("conv2d on threads", () => {
  const cases: [number[], number[], Opts][] = [
    [[5, 14, 13, 16], [3, 3, 16, 32], { padding: "same" }], // uneven image split (5 over 2 and 3)
    [[3, 28, 28, 1], [3, 3, 1, 16], { padding: "same" }], // filter gradient K = 9: split by columns
    [[2, 11, 9, 40], [3, 3, 40, 12], { padding: 1, stride: 2 }], // K = 360 rows: split by rows
    [[1, 20, 20, 8], [5, 5, 8, 20], { dilation: 2 }], // one image: the input gradient stays on one thread
  ];
  for (const [xs, fs, o] of cases) {
    it(`forward, input gradient and filter gradient: x [${xs}] filter [${fs}] ${JSON.stringify(o)}`, () => {
      const outs = [1, 2, 3].map((t) => {
        const sg = runtimes[t]!;
        const x = sg.tensor(xs, randomArray(xs.reduce((a, b) => a * b), 1));
        const f = sg.tensor(fs, randomArray(fs.reduce((a, b) => a * b), 2));
        const y = sg.conv2d(x, f, o);
        const dy = sg.tensor(y.shape, randomArray(y.size, 3));
        const dx = sg.conv2dBackwardInput(dy, f, xs, o);
        const df = sg.conv2dBackwardFilter(x, dy, fs, o);
        const r = [y.toArray(), dx.toArray(), df.toArray()];
        for (const t2 of [x, f, y, dy, dx, df]) t2.dispose();
        return r;
      });
      for (const t of [1, 2]) {
        expectSameBits(outs[t]![0]!, outs[0]![0]!, `forward, ${t + 1} threads`);
        expectSameBits(outs[t]![1]!, outs[0]![1]!, `input gradient, ${t + 1} threads`);
        expectSameBits(outs[t]![2]!, outs[0]![2]!, `filter gradient, ${t + 1} threads`);
      }
    });
  }

  it("a CNN training step gives the same loss and parameters on 1, 2 and 3 threads", () => {
    const losses = expectSameTraining(runtimes, (sg) => {
      const g = sg.graph();
      const x = g.input([8, 12, 12, 1], "x");
      const t = g.input([8, 10], "t");
      const f1 = g.param([3, 3, 1, 8], { init: "he", seed: 1 });
      const f2 = g.param([3, 3, 8, 16], { init: "he", seed: 2 });
      const w = g.param([3 * 3 * 16, 10], { seed: 3 });
      let h = g.avgPool2d(g.relu(g.conv2d(x, f1, { padding: "same" })), { size: 2 });
      h = g.maxPool2d(g.relu(g.conv2d(h, f2, { padding: "same" })), { size: 2 });
      const loss = g.softmaxCrossEntropy(g.matmul(g.reshape(h, [8, -1]), w), t);
      const onehot = new Float32Array(80);
      for (let i = 0; i < 8; i++) onehot[i * 10 + (i % 10)] = 1;
      return { g, loss, feeds: { x: randomArray(8 * 144, 9, 0, 1), t: onehot } };
    });
    expect(losses[2]!).toBeLessThan(losses[0]!);
  });
});
