/**
 * ONNX export: models of every exportable op run in ONNX Runtime (onnxruntime-node) and give
 * simdgrad's forward values within 1e-5 relative; what cannot be exported is an error naming
 * the node; the bytes decode as the ModelProto they should be.
 */
import * as ort from "onnxruntime-node";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { describe, expect, it } from "vitest";
import type { ExportOnnxOptions, Graph, Node, SimdGrad } from "../src/index.js";
import { runtime } from "./helpers.js";

function values(n: number, seed: number, scale = 2): number[] {
  return Array.from({ length: n }, (_, i) => scale * Math.sin(seed * 12.9898 + i * 78.233 + 0.5 * i * i));
}

/** Runs the model in ONNX Runtime on `feeds` and returns every output by name. */
async function runOrt(model: Uint8Array, feeds: Record<string, { shape: readonly number[]; data: ArrayLike<number> }>): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(model, { graphOptimizationLevel: "disabled" });
  try {
    const inputs: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) inputs[k] = new ort.Tensor("float32", Float32Array.from(v.data), v.shape as number[]);
    const out = await session.run(inputs);
    const res: Record<string, Float32Array> = {};
    for (const [k, t] of Object.entries(out)) res[k] = t.data as Float32Array;
    return res;
  } finally {
    await session.release();
  }
}

/** Largest |a − b| / max(1, |b|) (relative where values are large, absolute near zero). */
function maxRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)));
  return m;
}

/** Exports `outputs`, runs simdgrad's forward and ONNX Runtime on the same feeds, compares. */
async function agree(g: Graph, inputs: Node[], outputs: Node[], extra: Partial<ExportOnnxOptions> = {}, tol = 1e-5): Promise<Uint8Array> {
  const feeds: Record<string, number[]> = {};
  inputs.forEach((n, i) => (feeds[n.name] = values(n.size, i + 1)));
  g.forward(feeds, { outputs });
  const model = await g.exportOnnx({ inputs, outputs, ...extra });
  const got = await runOrt(model, Object.fromEntries(inputs.map((n) => [n.name, { shape: n.shape, data: feeds[n.name]! }])));
  for (const o of outputs) {
    const ours = o.value.toArray();
    expect(got[o.name], `ONNX output '${o.name}'`).toBeDefined();
    expect(maxRel(got[o.name]!, ours), `'${o.name}' (${o.opName})`).toBeLessThan(tol);
  }
  return model;
}

const ACTIVATIONS = ["step", "sigmoid", "tanh", "hardTanh", "relu", "leakyRelu", "swish", "gelu", "geluTanh"] as const;

function act(g: Graph, kind: (typeof ACTIVATIONS)[number], x: Node): Node {
  switch (kind) {
    case "step": return g.step(x, 0.25);
    case "leakyRelu": return g.leakyRelu(x, 0.07);
    case "gelu": return g.gelu(x);
    case "geluTanh": return g.gelu(x, { approximate: "tanh" });
    default: return g[kind](x);
  }
}

describe("ONNX export agrees with ONNX Runtime", () => {
  for (const opset of [17, 20]) {
    it(`MLPs with every activation, as separate ops and fused into linear (opset ${opset})`, async () => {
      const sg = await runtime();
      for (const kind of ACTIVATIONS) {
        const g = sg.graph();
        const x = g.input([7, 6], "x");
        const W1 = g.param([6, 9], { init: "normal", std: 0.6, seed: 1, name: "W1" });
        const b1 = g.param([9], { data: values(9, 3, 0.3), name: "b1" });
        const W2 = g.param([9, 4], { init: "xavier", seed: 2, name: "W2" });
        const b2 = g.param([4], { data: values(4, 4, 0.3), name: "b2" });
        const spec = kind === "leakyRelu" ? { name: kind, slope: 0.07 } : kind === "step" ? { name: kind, theta: 0.25 } : kind === "geluTanh" ? { name: "gelu", approximate: "tanh" } : kind;
        const h1 = g.linear(x, W1, b1, spec as never);
        const h2 = act(g, kind, g.add(g.matmul(h1, W2), b2));
        g.name(h2, `out_${kind}`);
        await agree(g, [x], [h2], { opset });
        g.dispose();
      }
    });
  }

  it("matmul with every transpose and 1-D operand, outer, dot, add/sub/mul broadcasting, scale, max, sum, mean, prelu", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const a = g.input([4, 3], "a");
    const v = g.input([3], "v");
    const u = g.input([4], "u");
    const B = g.param([3, 5], { init: "normal", std: 1, seed: 3, name: "B" });
    const Bt = g.param([5, 3], { init: "normal", std: 1, seed: 4, name: "Bt" });
    const C = g.param([4, 5], { init: "normal", std: 1, seed: 5, name: "C" });
    const E = g.param([5, 4], { init: "normal", std: 1, seed: 6, name: "E" });
    const slope = g.param([5], { data: [0.1, 0.2, 0.3, -0.1, 0.5], name: "slope" });
    const slope0 = g.param([], { data: [0.3], name: "slope0" });
    const outs = [
      g.matmul(a, B),
      g.matmul(a, Bt, { transposeB: true }),
      g.matmul(a, E, { transposeA: true, transposeB: true }),
      g.matmul(a, C, { transposeA: true }),
      g.matmul(v, B),
      g.matmul(a, v),
      g.matmul(u, C),
      g.dot(v, v),
      g.outer(u, v),
      g.sub(g.mul(g.matmul(a, B), C), g.scale(C, -1.5)),
      g.add(g.matmul(a, B), slope),
      g.max(g.matmul(a, B), C),
      g.sum(C),
      g.sum(C, 0),
      g.mean(C),
      g.mean(C, -1),
      g.prelu(C, slope),
      g.prelu(C, slope0),
      g.linear(v, B, slope, "tanh"),
      g.linear(v, B),
      g.linear(a, B),
    ];
    outs.forEach((o, i) => g.name(o, `o${i}`));
    await agree(g, [a, v, u], outs);
    await agree(g, [a, v, u], outs, { opset: 18 });
    g.dispose();
  });

  it("batched matmul on 3-D operands, with transposes and a shared 2-D operand", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const a = g.input([2, 4, 3], "a");
    const c = g.input([2, 5, 3], "c");
    const d = g.input([2, 6, 4], "d");
    const B = g.param([3, 5], { init: "normal", std: 1, seed: 8, name: "B" });
    const outs = [g.matmul(a, B), g.matmul(a, c, { transposeB: true }), g.matmul(a, d, { transposeA: true, transposeB: true })];
    outs.forEach((o, i) => g.name(o, `m${i}`));
    await agree(g, [a, c, d], outs);
    g.dispose();
  });

  it("shape ops: reshape (with -1), transpose, slice, concat", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const a = g.input([4, 6], "a");
    const W = g.param([3, 8], { init: "normal", std: 1, seed: 7, name: "W" });
    const r = g.reshape(a, [8, -1]);
    const outs = [
      g.matmul(r, W),
      g.transpose(g.reshape(a, [2, 3, 4]), [2, 0, 1]),
      g.transpose(a),
      g.slice(a, [1, 2], [2, -1]),
      g.concat([a, g.scale(a, 2)], 1),
      g.relu(g.concat([g.slice(a, [0, 0], [1, -1]), g.slice(a, [3, 0], [1, -1])], 0)),
    ];
    outs.forEach((o, i) => g.name(o, `s${i}`));
    await agree(g, [a], outs);
    g.dispose();
  });

  it("a deeper MLP with softmax-free logits, exported from a trained graph, and dynamicBatch", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const x = g.input([16, 10], "x");
    const y = g.input([16, 3], "y");
    const W1 = g.param([10, 32], { init: "he", seed: 1, name: "W1" });
    const b1 = g.param([32], { name: "b1" });
    const W2 = g.param([32, 32], { init: "he", seed: 2, name: "W2" });
    const b2 = g.param([32], { name: "b2" });
    const W3 = g.param([32, 3], { init: "xavier", seed: 3, name: "W3" });
    const h = g.linear(g.linear(x, W1, b1, "relu"), W2, b2, "gelu");
    const logits = g.name(g.linear(h, W3), "logits");
    const loss = g.softmaxCrossEntropy(logits, y);
    const opt = sg.adam(g.params, { lr: 0.01 });
    const yv = Array.from({ length: 48 }, (_, i) => (i % 3 === Math.floor(i / 3) % 3 ? 1 : 0));
    for (let s = 0; s < 5; s++) {
      g.forward({ x: values(160, s), y: yv });
      g.backward(loss);
      opt.step();
      opt.zeroGrad();
    }
    const model = await agree(g, [x], [logits], { dynamicBatch: true });
    // The batch dimension is free: 3 rows give the first 3 rows of the 16.
    g.forward({ x: values(160, 1), y: yv });
    const got = await runOrt(model, { x: { shape: [3, 10], data: values(160, 1).slice(0, 30) } });
    expect(maxRel(got.logits!, logits.value.toArray().slice(0, 9))).toBeLessThan(1e-5);
    opt.dispose();
    g.dispose();
  });
});

describe("ONNX export errors name the node", () => {
  it("custom ops, losses, unlisted inputs, bad options", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const x = g.input([2, 3], "x");
    const t = g.input([2, 3], "t");
    const W = g.param([3, 3], { name: "W" });
    const h = g.matmul(x, W);
    const c = g.custom({ name: "double", forward: (_ctx, a) => sg.scale(a, 2) }, h);
    const loss = g.mse(h, t);
    await expect(g.exportOnnx({ inputs: [x], outputs: [c] })).rejects.toThrow(/exportOnnx: 'double#\d+' \[2, 3\] \(double\) is a custom op, which has no ONNX form/);
    await expect(g.exportOnnx({ inputs: [x, t], outputs: [loss] })).rejects.toThrow(/'mse#\d+' \[\] \(mse\) is a loss/);
    await expect(g.exportOnnx({ inputs: [], outputs: [h] })).rejects.toThrow(/inputs must be a non-empty array/);
    await expect(g.exportOnnx({ inputs: [t], outputs: [h] })).rejects.toThrow(/depend on input 'x' \[2, 3\] \(input\), which is not in inputs/);
    await expect(g.exportOnnx({ inputs: [x, W], outputs: [h] })).rejects.toThrow(/'W' \[3, 3\] \(param\) is listed in inputs but is not an input/);
    await expect(g.exportOnnx({ inputs: [x], outputs: [h], opset: 13 })).rejects.toThrow(/opset must be an integer from 17 to 21/);
    await expect(g.exportOnnx({ inputs: [x], outputs: [h, h] })).rejects.toThrow(/appears twice in outputs/);
    const other = sg.graph();
    const ox = other.input([1], "ox");
    await expect(g.exportOnnx({ inputs: [ox], outputs: [h] })).rejects.toThrow(/belongs to another graph/);
    await expect(g.exportOnnx({ inputs: [x], outputs: [h], protobuf: {} as never })).rejects.toThrow(/protobuf must be @bufbuild\/protobuf's wire module/);
    other.dispose();
    g.dispose();
  });
});

describe("the ONNX bytes", () => {
  it("decode as a ModelProto with IR version, opset, producer, and the graph's inputs, initializers and outputs", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const x = g.input([2, 3], "x");
    const W = g.param([3, 4], { name: "W", data: values(12, 1) });
    const y = g.name(g.relu(g.matmul(x, W)), "y");
    const bytes = await g.exportOnnx({ inputs: [x], outputs: [y] });
    const fields = (buf: Uint8Array) => {
      const r = new BinaryReader(buf);
      const out: [number, unknown][] = [];
      while (r.pos < r.len) {
        const [no, type] = r.tag();
        if (type === WireType.Varint) out.push([no, Number(r.int64())]);
        else if (type === WireType.LengthDelimited) out.push([no, r.bytes()]);
        else if (type === WireType.Bit32) out.push([no, r.float()]);
        else throw new Error(`unexpected wire type ${type}`);
      }
      return out;
    };
    const top = fields(bytes);
    expect(top.find(([n]) => n === 1)![1]).toBe(8); // ir_version
    expect(new TextDecoder().decode(top.find(([n]) => n === 2)![1] as Uint8Array)).toBe("simdgrad");
    const opset = fields(top.find(([n]) => n === 8)![1] as Uint8Array);
    expect(opset).toEqual([[2, 17]]);
    const graph = fields(top.find(([n]) => n === 7)![1] as Uint8Array);
    const ops = graph.filter(([n]) => n === 1).map(([, b]) => new TextDecoder().decode(fields(b as Uint8Array).find(([n]) => n === 4)![1] as Uint8Array));
    expect(ops).toEqual(["Gemm", "Relu"]);
    const init = fields(graph.find(([n]) => n === 5)![1] as Uint8Array);
    expect(init.filter(([n]) => n === 1).map(([, v]) => v)).toEqual([3, 4]); // dims
    const raw = init.find(([n]) => n === 9)![1] as Uint8Array;
    expect([...new Float32Array(raw.slice().buffer)]).toEqual([...W.value.toArray()]);
    g.dispose();
  });
});
