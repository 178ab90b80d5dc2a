/**
 * Backward writes an op node's gradient fresh (whole, without zeroing it first) where the
 * first op to send a gradient back to it can: the same gradients as zeroing every gradient
 * first (g._freshGrads = false), for graphs where nodes have several readers, reshapes share
 * their input's gradient, a first writer cannot overwrite (slice) and a later one can,
 * layer norm writes x's gradient fresh (gamma's and beta's add), attention in all three
 * layouts writes q, k, v's gradients (or qkv's) fresh, an op reads the same node twice, operands broadcast every way, and a
 * backward from one output leaves the nodes only another output reaches at 0.
 */
import { describe, expect, it } from "vitest";
import type { Graph, Node, SimdGrad } from "../src/index.js";
import { randomArray, runtime } from "./helpers.js";

/** Equal as numbers (0 = −0: a gradient written fresh may keep a product's −0 where adding it to 0 gave +0; NaN = NaN). */
function expectSameValues(got: Float32Array, want: Float32Array, what: string): void {
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const a = got[i]!, b = want[i]!;
    if (!(a === b || (Number.isNaN(a) && Number.isNaN(b)))) throw new Error(`${what}: element ${i} is ${a} written fresh, ${b} zeroed first`);
  }
}

type Build = (sg: SimdGrad, g: Graph) => { outputs: Node[]; watch: Node[]; feeds: Record<string, ArrayLike<number>> };

/** Runs backward from each output in turn, both ways, and compares every watched gradient after each. */
function compare(sg: SimdGrad, build: Build): number[] {
  const zeroed: number[] = [];
  const runs = [true, false].map((fresh) => {
    const g = sg.graph();
    g._freshGrads = fresh;
    const { outputs, watch, feeds } = build(sg, g);
    const k = sg.rt.kernels;
    const fill = k.fill_f32;
    let floats = 0;
    const grads: Float32Array[][] = [];
    for (let round = 0; round < 2; round++) {
      for (const out of outputs) {
        g.zeroGrad();
        g.forward(feeds);
        sg.rt.kernels = { ...k, fill_f32: (p: number, n: number, v: number) => ((floats += n), fill(p, n, v)) };
        try {
          g.backward(out);
        } finally {
          sg.rt.kernels = k;
        }
        grads.push(watch.map((n) => n.grad!.toArray()));
      }
    }
    zeroed.push(floats);
    g.dispose();
    return grads;
  });
  runs[0]!.forEach((list, r) => list.forEach((a, i) => expectSameValues(a, runs[1]![r]![i]!, `run ${r}, watched node ${i}`)));
  return zeroed;
}

describe("gradients written fresh", () => {
  it("an MLP whose hidden layer has three readers, and a second output", async () => {
    const sg = await runtime();
    const zeroed = compare(sg, (_sg, g) => {
      const x = g.input([6, 10], "x", { requiresGrad: true });
      const y = g.input([6, 4], "y");
      const W1 = g.param([10, 12], { init: "he", seed: 1 });
      const W2 = g.param([12, 4], { init: "xavier", seed: 2 });
      const W3 = g.param([12, 4], { init: "xavier", seed: 3 });
      const h = g.linear(x, W1, null, "relu");
      const a = g.linear(h, W2);
      const b = g.linear(h, W3, null, "tanh");
      const s = g.add(a, g.mul(b, g.sum(h)));
      const loss1 = g.softmaxCrossEntropy(s, y);
      const loss2 = g.sum(g.mul(g.sigmoid(b), b));
      return { outputs: [loss1, loss2], watch: [x, W1, W2, W3, h, a, b, s], feeds: { x: randomArray(60, 1), y: randomArray(24, 2, 0, 1) } };
    });
    expect(zeroed[0]!).toBeLessThan(zeroed[1]!);
  });

  it("reshapes sharing a gradient, transposes, residual adds, layer norm and attention as first writers", async () => {
    const sg = await runtime();
    const zeroed = compare(sg, (_sg, g) => {
      const [B, T, H, D] = [2, 8, 2, 4];
      const ids = g.input([B * T], "x", { requiresGrad: true });
      const Wq = g.param([H * D, H * D], { init: "xavier", seed: 4 });
      const gamma = g.param([H * D], { data: new Float32Array(H * D).fill(1) });
      const beta = g.param([H * D], { seed: 5 });
      const x = g.reshape(g.tanh(g.reshape(ids, [B * T, 1])), [B * T, 1]);
      const e = g.matmul(x, g.param([1, H * D], { seed: 6 }));
      const n1 = g.layerNorm(e, gamma, beta);
      const q = g.linear(n1, Wq);
      const heads = (t: Node) => g.transpose(g.reshape(t, [B, T, H, D]), [0, 2, 1, 3]);
      const att = g.attention(heads(q), heads(g.linear(n1, Wq, null, "gelu")), heads(n1), { causal: true });
      const merged = g.reshape(g.transpose(att, [0, 2, 1, 3]), [B * T, H * D]);
      const r = g.add(e, merged);
      const r2 = g.sub(r, g.layerNorm(r, gamma, beta));
      const logits = g.logSoftmax(g.add(r2, beta), -1);
      const loss = g.mean(g.mul(logits, g.softmax(r2, 0)));
      return { outputs: [loss], watch: [ids, Wq, gamma, beta, e, n1, q, att, merged, r, r2, logits], feeds: { x: randomArray(B * T, 7) } };
    });
    expect(zeroed[0]!).toBeLessThan(zeroed[1]!);
  });

  it("attention with heads in the rows and selfAttention as first writers of the projections' gradients", async () => {
    const sg = await runtime();
    const sizes: number[][] = [];
    for (const packed of [false, true]) {
      sizes.push(compare(sg, (_sg, g) => {
        const [B, T, H, D] = [2, 9, 3, 4];
        const x = g.input([B * T, H * D], "x", { requiresGrad: true });
        const W = g.param([H * D, 3 * H * D], { init: "xavier", seed: 21 });
        const Wo = g.param([H * D, H * D], { init: "xavier", seed: 22 });
        const qkv = g.linear(x, W);
        const att = packed
          ? g.selfAttention(g.reshape(qkv, [B, T, 3 * H * D]), { causal: true, heads: H })
          : g.attention(...([0, 1, 2].map((i) => g.reshape(g.slice(qkv, [0, i * H * D], [B * T, H * D]), [B, T, H * D])) as [Node, Node, Node]), { heads: H });
        const y = g.linear(g.reshape(att, [B * T, H * D]), Wo, null, "tanh");
        const loss = g.sum(g.mul(y, y));
        return { outputs: [loss], watch: [x, W, Wo, qkv, att, y], feeds: { x: randomArray(B * T * H * D, 23) } };
      }));
    }
    for (const z of sizes) expect(z[0]!).toBeLessThan(z[1]!);
    // selfAttention writes qkv's gradient (a reshape's, shared: 2·9·36 floats) whole: fewer
    // floats than that are zeroed in a backward (two backwards counted).
    expect(sizes[1]![0]! / 2).toBeLessThan(2 * 9 * 36);
  });

  it("a CNN: fused and plain convolutions, both pools, a conv output read twice", async () => {
    const sg = await runtime();
    const zeroed = compare(sg, (_sg, g) => {
      const x = g.input([2, 9, 9, 3], "x", { requiresGrad: true });
      const f1 = g.param([3, 3, 3, 8], { init: "he", seed: 11 });
      const b1 = g.param([8], { seed: 12 });
      const f2 = g.param([3, 3, 8, 4], { init: "he", seed: 13 });
      const c1 = g.conv2d(x, f1, { padding: "same", bias: b1, activation: "relu" });
      const p1 = g.maxPool2d(c1, { size: 2 });
      const c2 = g.conv2d(p1, f2, { padding: 1, activation: "swish" });
      const both = g.add(g.avgPool2d(c2, { size: 2 }), g.avgPool2d(c2, { size: 3, stride: 2, padding: 1 }));
      const loss = g.add(g.sum(g.mul(both, both)), g.mean(c1));
      return { outputs: [loss], watch: [x, f1, b1, f2, c1, p1, c2, both], feeds: { x: randomArray(2 * 81 * 3, 14) } };
    });
    expect(zeroed[0]!).toBeLessThan(zeroed[1]!);
  });

  it("an op reading one node twice, broadcasts of every kind, a reshape with two readers, and crossEntropy", async () => {
    const sg = await runtime();
    compare(sg, (_sg, g) => {
      const a = g.input([3, 1, 4], "a", { requiresGrad: true });
      const b = g.input([1, 5, 4], "b", { requiresGrad: true });
      const c = g.input([4], "c", { requiresGrad: true });
      const d = g.input([], "d", { requiresGrad: true });
      const labels = g.input([15], "labels");
      const ab = g.add(a, b); // general broadcast
      const sq = g.mul(ab, ab); // the same node twice
      const rows = g.sub(sq, c); // rows
      const sc = g.mul(rows, d); // scalar
      const flat = g.reshape(sc, [15, 4]);
      const twice = g.add(flat, g.relu(flat)); // a reshape read twice: a gradient of its own
      const loss = g.add(g.crossEntropy(twice, labels), g.sum(g.mul(g.reshape(sc, [60]), g.reshape(sc, [60]))));
      return {
        outputs: [loss], watch: [a, b, c, d, ab, sq, rows, sc, flat, twice],
        feeds: { a: randomArray(12, 8), b: randomArray(20, 9), c: randomArray(4, 10), d: [0.7], labels: Array.from({ length: 15 }, (_, i) => i % 4) },
      };
    });
  });
});
