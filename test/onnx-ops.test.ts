/**
 * ONNX export of the inference ops beyond dense layers (softmax, logSoftmax, layerNorm,
 * embedding, dropout, attention, square, and the shape ops in a transformer-like block): the
 * models run in ONNX Runtime and give simdgrad's forward values (evaluation mode) within 1e-5.
 * Then every registered op, over its own samples: exported, it agrees with ONNX Runtime, or
 * (a loss, an op without an ONNX form) the export is refused with an error naming the node.
 */
import { describe, expect, it } from "vitest";
import type { ExportOnnxOptions, Graph, Node } from "../src/index.js";
import { OP_LIST } from "../src/ops/registry.js";
import { type OpSample, opId } from "../src/ops/op.js";
import { ONNX_MAPPINGS } from "../src/io/onnx.js";
import { randomArray, runtime } from "./helpers.js";
import { maxRel, runOrt } from "./onnx-helpers.js";
import { buildCharModel } from "../demo/char-model.js";

/** Feeds `feeds`, runs simdgrad's forward (evaluation mode) and the exported model, compares every output. */
async function agree(g: Graph, inputs: Node[], outputs: Node[], feeds: Record<string, Float32Array>, extra: Partial<ExportOnnxOptions> = {}, tol = 1e-5): Promise<void> {
  g.train(false);
  g.forward(feeds, { outputs });
  const model = await g.exportOnnx({ inputs, outputs, ...extra });
  const got = await runOrt(model, Object.fromEntries(inputs.map((n) => [n.name, { shape: n.shape, data: feeds[n.name]! }])));
  for (const o of outputs) {
    const t = got[o.name];
    expect(t, `ONNX output '${o.name}'`).toBeDefined();
    expect([...t!.dims], `'${o.name}' shape`).toEqual([...o.shape]);
    expect(maxRel(t!.data as Float32Array, o.value.toArray()), `'${o.name}' (${o.opName})`).toBeLessThan(tol);
  }
}

describe("ONNX export of softmax, logSoftmax, layerNorm, embedding, dropout, attention, square", () => {
  for (const opset of [17, 21]) {
    it(`each op on its own, every axis (opset ${opset})`, async () => {
      const sg = await runtime();
      const g = sg.graph();
      const x = g.input([2, 3, 5], "x");
      const ids = g.input([2, 4], "ids");
      const gamma = g.param([5], { data: randomArray(5, 3, 0.5, 1.5), name: "gamma" });
      const beta = g.param([5], { data: randomArray(5, 4, -0.5, 0.5), name: "beta" });
      const table = g.param([7, 3], { data: randomArray(21, 5, -1, 1), name: "table" });
      const outs = [
        g.softmax(x), g.softmax(x, 0), g.softmax(x, 1), g.softmax(x, -2),
        g.logSoftmax(x), g.logSoftmax(x, 0), g.logSoftmax(x, 1),
        g.layerNorm(x, gamma, beta), g.layerNorm(x, gamma, beta, { eps: 0.1 }),
        g.embedding(ids, table),
        g.dropout(x, 0.5, { seed: 3 }),
        g.square(x),
      ];
      outs.forEach((o, i) => g.name(o, `o${i}`));
      const feeds = { x: randomArray(30, 1, -3, 3), ids: Float32Array.from([0, 6, 2, 2, 5, 1, 0, 3]) };
      await agree(g, [x, ids], outs, feeds, { opset });
      g.dispose();
    });
  }

  it("attention: causal or not, default and given scale, 3-D and 4-D, T = 1, heads side by side in the rows", async () => {
    const sg = await runtime();
    for (const [shape, opts] of [
      [[2, 2, 5, 4], { causal: true }],
      [[2, 2, 5, 4], {}],
      [[3, 7, 3], { scale: 0.7 }],
      [[3, 7, 3], { scale: 0.7, causal: true }],
      [[1, 1, 1, 8], { causal: true }],
      [[1, 33, 16], { causal: true }],
      [[2, 5, 12], { causal: true, heads: 3 }],
      [[1, 33, 16], { heads: 2, scale: 0.3 }],
      [[2, 3, 5, 8], { causal: true, heads: 2 }],
      [[2, 5, 6], { heads: 1 }],
    ] as [number[], { causal?: boolean; scale?: number; heads?: number }][]) {
      const g = sg.graph();
      const q = g.input(shape, "q");
      const k = g.input(shape, "k");
      const v = g.input(shape, "v");
      const y = g.name(g.attention(q, k, v, opts), "y");
      const n = shape.reduce((a, b) => a * b, 1);
      await agree(g, [q, k, v], [y], { q: randomArray(n, 1, -2, 2), k: randomArray(n, 2, -2, 2), v: randomArray(n, 3, -2, 2) });
      g.dispose();
    }
  });

  it("a small transformer block (embedding, layerNorm, q/k/v projections, heads by reshape/transpose, causal attention, residual, MLP, logSoftmax) with dropout", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const B = 2, T = 6, D = 8, H = 2, V = 11;
    const ids = g.input([B, T], "ids");
    const p = (name: string, shape: number[], seed: number, s = 0.4) => g.param(shape, { data: randomArray(shape.reduce((a, b) => a * b, 1), seed, -s, s), name });
    const emb = p("emb", [V, D], 1, 1);
    const pos = p("pos", [T, D], 2, 0.3);
    const g1 = p("g1", [D], 3), b1 = p("b1", [D], 4);
    const Wq = p("Wq", [D, D], 5), Wk = p("Wk", [D, D], 6), Wv = p("Wv", [D, D], 7), Wo = p("Wo", [D, D], 8);
    const W1 = p("W1", [D, 16], 9), c1 = p("c1", [16], 10), W2 = p("W2", [16, D], 11);
    const Wout = p("Wout", [D, V], 12);
    const x = g.add(g.embedding(ids, emb), pos); // [B, T, D]
    const h = g.layerNorm(x, g1, b1);
    const heads = (z: Node) => g.transpose(g.reshape(z, [B, T, H, D / H]), [0, 2, 1, 3]);
    const a = g.attention(heads(g.matmul(h, Wq)), heads(g.matmul(h, Wk)), heads(g.matmul(h, Wv)), { causal: true });
    const merged = g.reshape(g.transpose(a, [0, 2, 1, 3]), [B, T, D]);
    const r = g.add(x, g.dropout(g.matmul(merged, Wo), 0.1, { seed: 1 }));
    const m = g.add(r, g.matmul(g.gelu(g.add(g.matmul(r, W1), c1)), W2));
    const out = g.name(g.logSoftmax(g.matmul(m, Wout)), "logprobs");
    const idv = Float32Array.from({ length: B * T }, (_, i) => (i * 7) % V);
    await agree(g, [ids], [out], { ids: idv });
    g.dispose();
  });
});

describe("a free batch (dynamicBatch) flows through flattening reshapes and slices to the end", () => {
  it("the model of batch 4 run on 1 and 7 rows gives simdgrad's rows", async () => {
    const sg = await runtime();
    const build = (rows: number) => {
      const g = sg.graph();
      const x = g.input([rows, 3, 4], "x");
      const W = g.param([12, 5], { data: randomArray(60, 2, -1, 1), name: "W" });
      const h = g.matmul(g.reshape(x, [rows, 12]), W); // [rows, 5]
      const y = g.name(g.concat([g.slice(h, [0, 1], [-1, -1]), g.slice(h, [0, 0], [-1, 1])], 1), "y");
      return { g, x, y };
    };
    const model = await (() => {
      const m = build(4);
      const p = m.g.exportOnnx({ inputs: [m.x], outputs: [m.y], dynamicBatch: true });
      return p.finally(() => m.g.dispose());
    })();
    for (const rows of [1, 7]) {
      const m = build(rows);
      const xv = randomArray(rows * 12, rows, -2, 2);
      m.g.forward({ x: xv });
      const got = await runOrt(model, { x: { shape: [rows, 3, 4], data: xv } });
      expect([...got.y!.dims]).toEqual([rows, 5]);
      expect(maxRel(got.y!.data as Float32Array, m.y.value.toArray())).toBeLessThan(1e-5);
      m.g.dispose();
    }
  });
});

describe("attention with a free sequence length", () => {
  it("q, k, v [2, -1, 4] (causal): the model runs on every length and gives simdgrad's values", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const q = g.input([2, -1, 4], "q");
    const k = g.input([2, -1, 4], "k");
    const v = g.input([2, -1, 4], "v");
    const Wo = g.param([4, 3], { data: randomArray(12, 9, -1, 1), name: "Wo" });
    const y = g.name(g.matmul(g.attention(q, k, v, { causal: true }), Wo), "y");
    const model = await g.exportOnnx({ inputs: [q, k, v], outputs: [y] });
    for (const t of [1, 5, 9]) {
      const n = 2 * t * 4;
      const feeds = { q: randomArray(n, t, -2, 2), k: randomArray(n, t + 1, -2, 2), v: randomArray(n, t + 2, -2, 2) };
      g.forward(feeds);
      const got = await runOrt(model, Object.fromEntries(Object.entries(feeds).map(([name, data]) => [name, { shape: [2, t, 4], data }])));
      expect([...got.y!.dims]).toEqual([2, t, 3]);
      expect(maxRel(got.y!.data as Float32Array, y.value.toArray())).toBeLessThan(1e-5);
    }
    g.dispose();
  });
});

describe("the demo's character transformer", () => {
  it("on a growing context (-1 length) exports once, after running at one length, and agrees with ONNX Runtime at every length", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const vocab = 20;
    const cfg = { dModel: 16, layers: 2, heads: 2, hidden: 32, context: 8 };
    const m = buildCharModel(g, vocab, cfg, 1, { growing: true });
    // Run at one length first: the export must still leave the length free.
    g.forward({ ids: Float32Array.of(1, 2, 3, 4, 5), pos: Float32Array.of(0, 1, 2, 3, 4) }, { outputs: [m.logits] });
    const model = await g.exportOnnx({ inputs: [m.ids, m.pos], outputs: [m.logits] });
    for (const t of [1, 3, 8]) {
      const ids = Float32Array.from({ length: t }, (_, i) => (i * 7 + 3) % vocab);
      const pos = Float32Array.from({ length: t }, (_, i) => i);
      g.forward({ ids, pos }, { outputs: [m.logits] });
      const got = await runOrt(model, { ids: { shape: [1, t], data: ids }, pos: { shape: [1, t], data: pos } });
      const out = got[m.logits.name]!;
      expect([...out.dims]).toEqual([t, vocab]);
      expect(maxRel(out.data as Float32Array, m.logits.value.toArray())).toBeLessThan(1e-5);
    }
    g.dispose();
  });
});

describe("exportOnnx is asynchronous: every mistake rejects the promise", () => {
  it("a disposed graph, bad options, a loss: rejected promises (never a synchronous throw)", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const x = g.input([2, 3], "x");
    const y = g.softmax(x);
    const l = g.input([2], "l");
    const loss = g.crossEntropy(x, l);
    const calls: [() => Promise<Uint8Array>, RegExp][] = [
      [() => g.exportOnnx(null as never), /exportOnnx: options \{ inputs, outputs \} are required/],
      [() => g.exportOnnx({ inputs: [x], outputs: [y], opset: 22 }), /opset must be an integer from 17 to 21/],
      [() => g.exportOnnx({ inputs: [x, l], outputs: [loss] }), /is a loss/],
    ];
    for (const [f, msg] of calls) {
      let p: Promise<Uint8Array> | undefined;
      expect(() => (p = f())).not.toThrow();
      await expect(p).rejects.toThrow(msg);
    }
    const ok = g.exportOnnx({ inputs: [x], outputs: [y] });
    expect(ok).toBeInstanceOf(Promise);
    expect(await ok).toBeInstanceOf(Uint8Array);
    g.dispose();
    let p: Promise<Uint8Array> | undefined;
    expect(() => (p = g.exportOnnx({ inputs: [x], outputs: [y] }))).not.toThrow();
    await expect(p).rejects.toThrow(/exportOnnx.*disposed/);
  });
});

const LOSSES = new Set(["mse", "sigmoid_cross_entropy", "softmax_cross_entropy", "crossEntropy"]);

function sampleValues(s: OpSample<unknown>, i: number): Float32Array {
  const n = s.inputs[i]!.reduce((a, b) => a * b, 1);
  return s.values ? Float32Array.from(s.values(i, n)) : randomArray(n, 11 + i);
}

describe("every registered op, over its samples", () => {
  it("exports and agrees with ONNX Runtime, or is refused naming the node", async () => {
    const sg = await runtime();
    const exported: string[] = [];
    for (const op of OP_LIST) {
      const id = opId(op);
      for (const s of (op.samples ?? []) as OpSample<unknown>[]) {
        const g = sg.graph();
        const inputs = s.inputs.map((shape, i) => g.input(shape, `in${i}`));
        const y = g.name(g._applyOp(op, inputs, s.attrs), "y");
        const feeds = Object.fromEntries(inputs.map((n, i) => [n.name, sampleValues(s, i)]));
        const what = `${id} (${s.label ?? JSON.stringify(s.inputs)})`;
        if (LOSSES.has(id)) {
          await expect(g.exportOnnx({ inputs, outputs: [y] }), what).rejects.toThrow(/exportOnnx: 'y' \[.*\] \(.+\) is a loss/);
        } else if (op.onnx === undefined && !ONNX_MAPPINGS.has(op)) {
          await expect(g.exportOnnx({ inputs, outputs: [y] }), what).rejects.toThrow(/exportOnnx: 'y' \[.*\] \(.+\) has no ONNX form/);
        } else {
          g.train(false);
          g.forward(feeds, { outputs: [y] });
          const model = await g.exportOnnx({ inputs, outputs: [y] });
          const got = await runOrt(model, Object.fromEntries(inputs.map((n) => [n.name, { shape: n.shape, data: feeds[n.name]! }])));
          expect([...got.y!.dims], what).toEqual([...y.shape]);
          expect(maxRel(got.y!.data as Float32Array, y.value.toArray()), what).toBeLessThan(1e-5);
          exported.push(id);
        }
        g.dispose();
      }
    }
    // The ops of this file's first tests, and the convolutions, are among those exported.
    for (const id of ["softmax", "logSoftmax", "layerNorm", "embedding", "dropout", "attention", "conv2d", "maxPool2d", "avgPool2d", "square", "transpose", "concat"]) {
      expect(exported, id).toContain(id);
    }
  });
});
