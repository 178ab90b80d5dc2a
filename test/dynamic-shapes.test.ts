/**
 * Inputs with a -1 dimension: each feed sets it; the graph plans once per distinct shape and
 * keeps those plans (at most 8, least recently used dropped first); params are shared by all
 * of them; once a shape has been seen, a step allocates nothing.
 */
import { describe, expect, it } from "vitest";
import { randomArray, runtime } from "./helpers.js";
import { expectError, expectWithin } from "./elementwise-util.js";

async function mlp() {
  const sg = await runtime();
  const g = sg.graph();
  const x = g.input([-1, 6], "x");
  const y = g.input([-1], "y");
  const W1 = g.param([6, 8], { init: "normal", std: 0.5, seed: 1, name: "W1" });
  const b1 = g.param([8], { data: Array.from(randomArray(8, 2, -0.1, 0.1)), name: "b1" });
  const W2 = g.param([8, 3], { init: "normal", std: 0.5, seed: 3, name: "W2" });
  const h = g.tanh(g.linear(x, W1, b1));
  const logits = g.matmul(h, W2);
  const p = g.softmax(logits);
  const loss = g.crossEntropy(logits, y);
  return { sg, g, x, y, W1, b1, W2, h, logits, p, loss };
}

describe("inputs with a -1 dimension", () => {
  it("shapes carry -1 until fed; each feed sets the batch", async () => {
    const { g, x, h, logits, loss } = await mlp();
    expect(x.shape).toEqual([-1, 6]);
    expect(h.shape).toEqual([-1, 8]);
    expect(logits.shape).toEqual([-1, 3]);
    expect(loss.shape).toEqual([]);
    g.forward({ x: randomArray(7 * 6, 1), y: [0, 1, 2, 0, 1, 2, 0] });
    expect(logits.shape).toEqual([7, 3]);
    expect(logits.value.shape).toEqual([7, 3]);
    g.forward({ x: randomArray(2 * 6, 1), y: [0, 1] });
    expect(logits.value.shape).toEqual([2, 3]);
    g.dispose();
  });

  it("batch sizes 1, 7 and 64 in turn give the same per-example results and gradients", async () => {
    const { sg, g, p, loss, W1 } = await mlp();
    const N = 64;
    const xs = randomArray(N * 6, 5, -1, 1);
    const ys = Array.from({ length: N }, (_, i) => (i * 7) % 3);
    // Reference: each example alone (batch 1).
    const ref: Float32Array[] = [];
    for (let i = 0; i < N; i++) {
      g.forward({ x: xs.subarray(i * 6, i * 6 + 6), y: [ys[i]!] });
      ref.push(p.value.toArray());
    }
    for (const B of [7, 64, 1, 7]) {
      for (let from = 0; from + B <= N; from += B) {
        g.forward({ x: xs.subarray(from * 6, (from + B) * 6), y: ys.slice(from, from + B) });
        const out = p.value.toArray();
        for (let r = 0; r < B; r++) expectWithin(out.subarray(r * 3, r * 3 + 3), ref[from + r]!, 1e-6, `batch ${B} row ${from + r}`);
      }
    }
    // The gradient of the mean loss over 7 examples = the mean of their single gradients.
    g.zeroGrad();
    g.forward({ x: xs.subarray(0, 42), y: ys.slice(0, 7) });
    g.backward(loss);
    const g7 = W1.grad!.toArray();
    const sum = new Float64Array(g7.length);
    for (let i = 0; i < 7; i++) {
      g.zeroGrad();
      g.forward({ x: xs.subarray(i * 6, i * 6 + 6), y: [ys[i]!] });
      g.backward(loss);
      W1.grad!.toArray().forEach((v, j) => (sum[j]! += v / 7));
    }
    expectWithin(g7, sum, 1e-6, "mean gradient");
    // gradcheck on a batch of 5
    const report = sg.gradcheck(g, loss, { feeds: { x: xs.subarray(0, 30), y: ys.slice(0, 5) } });
    expect(report.ok, JSON.stringify(report.params)).toBe(true);
    g.dispose();
  });

  it("params are shared by every plan: a step on one batch size shows in the others", async () => {
    const { sg, g, loss, logits } = await mlp();
    const opt = sg.sgd(g.params, { lr: 0.5 });
    const x1 = randomArray(6, 9);
    g.forward({ x: x1, y: [1] });
    const before = logits.value.toArray();
    g.forward({ x: randomArray(5 * 6, 3), y: [0, 1, 2, 0, 1] });
    g.backward(loss);
    opt.step();
    g.forward({ x: x1, y: [1] });
    expect(Array.from(logits.value.toArray())).not.toEqual(Array.from(before));
    opt.dispose();
    g.dispose();
  });

  it("no allocation per step once the shapes have been seen; at most 8 plans are kept", async () => {
    const { sg, g, loss } = await mlp();
    const opt = sg.adam(g.params, { lr: 0.01 });
    const feeds = [1, 7, 64].map((B) => ({ x: randomArray(B * 6, B), y: Array.from({ length: B }, (_, i) => i % 3) }));
    for (const f of feeds) {
      g.forward(f);
      g.backward(loss);
      opt.step();
      opt.zeroGrad();
    }
    const before = sg.memory.totalAllocations;
    for (let i = 0; i < 30; i++) {
      const f = feeds[i % 3]!;
      g.forward(f);
      g.backward(loss);
      opt.step();
      opt.zeroGrad();
    }
    expect(sg.memory.totalAllocations).toBe(before);
    expect(g.planCount).toBe(3);
    // Ten more batch sizes: the cache keeps 8 plans, and memory in use stays bounded.
    for (let B = 2; B < 12; B++) g.forward({ x: randomArray(B * 6, B), y: Array.from({ length: B }, () => 0) });
    expect(g.planCount).toBe(8);
    // Feeding the same ten sizes again recreates the two dropped plans and drops two others:
    // the same eight plans are kept, in the same memory footprint.
    const inUse = sg.memory.bytesInUse;
    for (let B = 2; B < 12; B++) g.forward({ x: randomArray(B * 6, B), y: Array.from({ length: B }, () => 0) });
    expect(g.planCount).toBe(8);
    expect(sg.memory.bytesInUse).toBe(inUse);
    opt.dispose();
    g.dispose();
  });

  it("bad feeds: a length that fits no batch, mismatched batch sizes, a tensor of the wrong shape; nothing changed", async () => {
    const { sg, g, logits } = await mlp();
    g.forward({ x: randomArray(12, 1), y: [0, 1] });
    const keep = logits.value.toArray();
    expectError(() => g.forward({ x: randomArray(13, 1), y: [0, 1] }), "forward", "'x'", "[-1, 6]", "13");
    expectError(() => g.forward({ x: randomArray(18, 1), y: [0, 1] }), "crossEntropy", "[3, 3]", "[2]");
    const t = sg.tensor([3, 5], randomArray(15, 1));
    expectError(() => g.forward({ x: t, y: [0, 1, 2] }), "forward", "'x'", "[3, 5]", "[-1, 6]");
    t.dispose();
    expect(Array.from(logits.value.toArray())).toEqual(Array.from(keep));
    g.forward({ x: randomArray(6, 2), y: [1] });
    expect(logits.value.shape).toEqual([1, 3]);
    g.dispose();
  });

  it("backward before any feed names itself and the unfed input (fuzzer seed 2990: it named no op); a feed then works", async () => {
    const { g, loss } = await mlp();
    expect(() => g.backward(loss)).toThrow(/^backward: the graph has inputs with a -1 dimension \('x' \[-1, 6\] \(input\), 'y' \[-1\] \(input\)\): run g\.forward with them first/);
    // A first feed that fails leaves the graph unplanned: still the same clear error.
    expect(() => g.forward({ x: randomArray(13, 1), y: [0, 1] })).toThrow(/^forward: /);
    expect(() => g.backward(loss)).toThrow(/^backward: the graph has inputs with a -1 dimension/);
    g.forward({ x: randomArray(12, 1), y: [0, 1] });
    g.backward(loss);
    g.dispose();
  });

  it("reshape and embedding with a -1 batch (the window model of the demo)", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const ids = g.input([-1, 5], "ids");
    const E = g.param([20, 4], { init: "normal", seed: 2, name: "E" });
    const W = g.param([20, 3], { init: "normal", seed: 3, name: "W" });
    const x = g.reshape(g.embedding(ids, E), [-1, 20]);
    const s = g.sum(g.tanh(g.matmul(x, W)));
    expect(x.shape).toEqual([-1, 20]);
    const idv = Array.from({ length: 35 }, (_, i) => (i * 7) % 20);
    g.forward({ ids: idv });
    expect(x.value.shape).toEqual([7, 20]);
    const report = sg.gradcheck(g, s, { feeds: { ids: idv.slice(0, 10) } });
    expect(report.ok, JSON.stringify(report.params)).toBe(true);
    g.dispose();
  });
});
