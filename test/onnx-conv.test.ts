/**
 * ONNX export of convolutions and pooling: simdgrad is channels last (NHWC, filter
 * [KH, KW, C, F]), ONNX channels first; the exported models (single convs and pools over
 * every padding kind, a small CNN, the digits demo's LeNet, trained a few steps) run in ONNX
 * Runtime and give simdgrad's forward values within float32 tolerance.
 */
import { describe, expect, it } from "vitest";
import type { ExportOnnxOptions, Graph, Node } from "../src/index.js";
import { buildNet } from "../demo/digits.js";
import { runtime } from "./helpers.js";
import { maxRel, runOrt } from "./onnx-helpers.js";

function values(n: number, seed: number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => scale * Math.sin(seed * 12.9898 + i * 78.233 + 0.5 * i * i));
}

/** Exports, runs both, compares every output; returns the model's node op types. */
async function agree(g: Graph, inputs: Node[], outputs: Node[], extra: Partial<ExportOnnxOptions> = {}, tol = 1e-5): Promise<Uint8Array> {
  const feeds: Record<string, Float32Array> = {};
  inputs.forEach((n, i) => (feeds[n.name] = values(n.size, i + 1)));
  g.forward(feeds, { outputs });
  const model = await g.exportOnnx({ inputs, outputs, ...extra });
  const got = await runOrt(model, Object.fromEntries(inputs.map((n) => [n.name, { shape: n.shape, data: feeds[n.name]! }])));
  for (const o of outputs) {
    const t = got[o.name];
    expect(t, `ONNX output '${o.name}'`).toBeDefined();
    expect([...t!.dims], `'${o.name}' shape`).toEqual([...o.shape]);
    expect(maxRel(t!.data as Float32Array, o.value.toArray()), `'${o.name}' (${o.opName})`).toBeLessThan(tol);
  }
  return model;
}

/** The op types of an exported model, in order (decoded from the ModelProto bytes). */
async function opTypes(model: Uint8Array): Promise<string[]> {
  return (await decode(model)).ops;
}

/** The op types and initializer names of an exported model. */
async function decode(model: Uint8Array): Promise<{ ops: string[]; inits: string[] }> {
  const { BinaryReader, WireType } = await import("@bufbuild/protobuf/wire");
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
  const graph = fields(fields(model).find(([n]) => n === 7)![1] as Uint8Array);
  const text = (b: unknown, no: number) => new TextDecoder().decode(fields(b as Uint8Array).find(([n]) => n === no)![1] as Uint8Array);
  return {
    ops: graph.filter(([n]) => n === 1).map(([, b]) => text(b, 4)),
    inits: graph.filter(([n]) => n === 5).map(([, b]) => text(b, 8)),
  };
}

describe("ONNX export of conv2d and pooling (NHWC → ONNX's NCHW)", () => {
  it("conv2d: valid, same with odd and even windows, numeric padding, strides, dilations, non-square", async () => {
    const sg = await runtime();
    const cases: [number[], number[], object][] = [
      [[2, 6, 7, 3], [3, 3, 3, 4], {}],
      [[2, 6, 7, 3], [3, 3, 3, 4], { padding: "same" }],
      [[1, 7, 7, 2], [2, 2, 2, 3], { padding: "same" }],
      [[1, 7, 8, 2], [2, 4, 2, 3], { padding: "same", stride: 2 }],
      [[1, 9, 8, 2], [4, 3, 2, 3], { padding: "same", stride: [3, 2] }],
      [[2, 7, 6, 5], [3, 2, 5, 2], { padding: 1, dilation: 2 }],
      [[1, 9, 9, 1], [3, 3, 1, 2], { padding: 2, stride: 2, dilation: [1, 2] }],
      [[1, 10, 11, 2], [2, 3, 2, 2], { padding: "same", dilation: 3, stride: 2 }],
      [[1, 8, 8, 4], [1, 1, 4, 6], { stride: 3 }],
      [[1, 5, 5, 2], [5, 5, 2, 1], {}],
    ];
    for (const [xs, fs, opts] of cases) {
      for (const filterIsParam of [true, false]) {
        const g = sg.graph();
        const x = g.input(xs, "x");
        const f = filterIsParam ? g.param(fs, { data: values(fs.reduce((a, b) => a * b), 9), name: "filter" }) : g.input(fs, "filter");
        const y = g.name(g.conv2d(x, f, opts), "y");
        await agree(g, filterIsParam ? [x] : [x, f as never], [y]);
        g.dispose();
      }
    }
  });

  it("maxPool2d and avgPool2d: valid, same, numeric padding (padding not counted in the mean), strides", async () => {
    const sg = await runtime();
    const cases: [number[], object][] = [
      [[2, 4, 6, 3], { size: 2 }],
      [[1, 7, 7, 5], { size: 3, stride: 2, padding: "same" }],
      [[1, 6, 6, 2], { size: 2, stride: 1, padding: "same" }],
      [[1, 5, 6, 4], { size: 3, stride: 1, padding: 1 }],
      [[2, 7, 5, 3], { size: [3, 2], stride: [2, 1], padding: 1 }],
      [[1, 9, 9, 1], { size: 4, stride: 3, padding: 2 }],
      [[1, 5, 5, 2], { size: [5, 1], stride: [1, 2], padding: "same" }],
    ];
    for (const [xs, opts] of cases) {
      const g = sg.graph();
      const x = g.input(xs, "x");
      const mx = g.name(g.maxPool2d(x, opts as never), "max");
      const av = g.name(g.avgPool2d(x, opts as never), "avg");
      await agree(g, [x], [mx, av]);
      g.dispose();
    }
  });

  it("a small CNN (conv + bias + ReLU, max pool, conv, avg pool, flatten, dense) agrees; the transposes between layers cancel", async () => {
    const sg = await runtime();
    for (const opset of [17, 21]) {
      const g = sg.graph();
      const x = g.input([3, 12, 10, 2], "x");
      const f1 = g.param([3, 3, 2, 6], { init: "he", seed: 1, name: "f1" });
      const c1 = g.param([6], { data: values(6, 2, 0.3), name: "c1" });
      const f2 = g.param([2, 2, 6, 5], { init: "he", seed: 2, name: "f2" });
      const W = g.param([3 * 3 * 5, 4], { init: "xavier", seed: 3, name: "W" });
      const b = g.param([4], { data: values(4, 4, 0.3), name: "b" });
      let h = g.maxPool2d(g.relu(g.add(g.conv2d(x, f1, { padding: "same" }), c1)), { size: 2 }); // [3, 6, 5, 6]
      h = g.conv2d(h, f2, { padding: "same", stride: 1 }); // [3, 6, 5, 5]
      h = g.avgPool2d(g.tanh(h), { size: 3, stride: 2, padding: 1 }); // [3, 3, 3, 5]
      const logits = g.name(g.linear(g.reshape(h, [3, 45]), W, b), "logits");
      const model = await agree(g, [x], [logits], { opset });
      const { ops, inits } = await decode(model);
      expect(ops.filter((o) => o === "Conv")).toHaveLength(2);
      // Into NCHW before each conv/pool and back after, but the transposes move below the
      // bias, ReLU and tanh and cancel: one into channels first at the input, one back before
      // the flatten.
      // The bias add is folded into the first Conv (its B input).
      expect(ops).toEqual(["Transpose", "Conv", "Relu", "MaxPool", "Conv", "Tanh", "AveragePool", "Transpose", "Reshape", "Gemm"]);
      // Filters are written channels first, and only so (the NHWC originals are not kept);
      // the bias is Conv's B as it is ([6]).
      expect(inits.filter((n) => !n.includes("/")).sort()).toEqual(["W", "b", "c1", "f1_T3201", "f2_T3201"]); // (and the flatten's shape)
      g.dispose();
    }
  });

  it("a [F] param bias added after conv2d is folded into Conv's B input, on either side of the add; other adds stay Adds", async () => {
    const sg = await runtime();
    const F = 5;
    /** Builds x → conv2d → (variant) and returns the model's op types and initializer names. */
    const check = async (variant: string, make: (g: Graph, c: Node, bias: Node) => { outs: Node[]; inputs?: Node[] }) => {
      const g = sg.graph();
      const x = g.input([2, 7, 6, 3], "x");
      const f = g.param([3, 3, 3, F], { init: "he", seed: 11, name: "f" });
      const bias = g.param([F], { data: values(F, 12, 0.5), name: "bias" });
      const c = g.conv2d(x, f, { padding: "same" });
      const { outs, inputs = [] } = make(g, c, bias);
      outs.forEach((o, i) => g.name(o, `out${i}`));
      const model = await agree(g, [x, ...inputs], outs);
      g.dispose();
      return { variant, ...(await decode(model)) };
    };
    const folded = [
      await check("conv + bias", (g, c, b) => ({ outs: [g.add(c, b)] })),
      await check("bias + conv", (g, c, b) => ({ outs: [g.add(b, c)] })),
      await check("conv + bias, relu", (g, c, b) => ({ outs: [g.relu(g.add(c, b))] })),
      await check("two convs, one bias", (g, c, b) => {
        const c2 = g.conv2d(c.inputs[0]!, g.param([1, 1, 3, F], { init: "he", seed: 13, name: "f2" }));
        return { outs: [g.add(g.add(c, b), g.add(c2, b))] };
      }),
    ];
    for (const m of folded) {
      // B is the [F] param itself (its reshaped [F, 1, 1] copy is not written).
      expect(m.inits, m.variant).toContain("bias");
      expect(m.inits.filter((n) => n.startsWith("bias_")), m.variant).toEqual([]);
    }
    expect(folded[0]!.ops).toEqual(["Transpose", "Conv", "Transpose"]);
    expect(folded[1]!.ops).toEqual(["Transpose", "Conv", "Transpose"]);
    expect(folded[2]!.ops).toEqual(["Transpose", "Conv", "Relu", "Transpose"]);
    // The outer Add of two convolutions stays; both bias adds fold.
    expect(folded[3]!.ops.filter((o) => o === "Add")).toHaveLength(1);
    expect(folded[3]!.ops.filter((o) => o === "Conv")).toHaveLength(2);
    // Not folded (and still exact): a bias fed as a graph input, a [1] param (broadcast over
    // every channel, not one per channel), a conv whose value is an output of its own, a
    // bias along another axis than the channels.
    const kept = [
      await check("bias input", (g, c) => {
        const b = g.input([F], "b");
        return { outs: [g.add(c, b)], inputs: [b] };
      }),
      await check("[1] bias", (g, c) => ({ outs: [g.add(c, g.param([1], { data: [0.25], name: "one" }))] })),
      await check("conv read twice", (g, c, b) => ({ outs: [g.add(c, b), c] })),
      await check("bias over the width", (g, c) => ({ outs: [g.add(c, g.param([6, 1], { data: values(6, 14), name: "wbias" }))] })),
    ];
    for (const m of kept) expect(m.ops, m.variant).toContain("Add");
  });

  it("the fused conv2d (bias and activation in its options) writes Conv with B, then the activation's node(s)", async () => {
    const sg = await runtime();
    const actsOf = (opset: number): [unknown, string[]][] => [
      ["relu", ["Relu"]],
      [{ name: "leakyRelu", slope: 0.2 }, ["LeakyRelu"]],
      ["sigmoid", ["Sigmoid"]],
      ["tanh", ["Tanh"]],
      ["swish", ["Sigmoid", "Mul"]],
      ["hardTanh", ["Clip"]],
      ["gelu", opset >= 20 ? ["Gelu"] : []],
      [{ name: "gelu", approximate: "tanh" }, opset >= 20 ? ["Gelu"] : []],
      ["none", []],
    ];
    for (const opset of [17, 21]) {
      for (const [act, nodes] of actsOf(opset)) {
        for (const bias of ["param", "input", "none"] as const) {
          const what = `${JSON.stringify(act)}, bias ${bias}, opset ${opset}`;
          const g = sg.graph();
          const x = g.input([2, 7, 6, 3], "x");
          const f = g.param([3, 3, 3, 5], { init: "he", seed: 11, name: "f" });
          const b = bias === "param" ? g.param([5], { data: values(5, 12, 0.5), name: "b" }) : bias === "input" ? g.input([5], "b") : null;
          const y = g.name(g.conv2d(x, f, { padding: "same", bias: b, activation: act as never }), "y");
          const model = await agree(g, b && bias === "input" ? [x, b] : [x], [y], { opset });
          const { ops, inits } = await decode(model);
          expect(ops[0], what).toBe("Transpose");
          expect(ops[1], what).toBe("Conv");
          expect(ops[ops.length - 1], what).toBe("Transpose");
          if (nodes.length) expect(ops.slice(2, -1), what).toEqual(nodes);
          // The bias is Conv's B, not an Add (GeLU before opset 20 is written with an Add of its own).
          if (!JSON.stringify(act).includes("gelu")) expect(ops.filter((o) => o === "Add"), what).toEqual([]);
          if (bias === "param") expect(inits, what).toContain("b");
          g.dispose();
        }
      }
    }
  });

  it("a fused step activation writes its threshold comparison", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const x = g.input([1, 5, 5, 2], "x");
    const f = g.param([3, 3, 2, 4], { init: "he", seed: 3, name: "f" });
    const y = g.name(g.conv2d(x, f, { bias: g.param([4], { data: values(4, 2), name: "b" }), activation: { name: "step", theta: 0.05 } }), "y");
    const model = await agree(g, [x], [y]);
    expect(await opTypes(model)).toEqual(["Transpose", "Conv", "Greater", "Cast", "Transpose"]);
    g.dispose();
  });

  it("directly chained conv and pool keep channels first in between (no Transpose pair left)", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const x = g.input([2, 8, 8, 3], "x");
    const f = g.param([3, 3, 3, 4], { init: "he", seed: 5, name: "f" });
    const f2 = g.param([1, 1, 4, 2], { init: "he", seed: 6, name: "f2" });
    const y = g.name(g.conv2d(g.maxPool2d(g.conv2d(x, f, { padding: "same" }), { size: 2 }), f2), "y");
    const model = await agree(g, [x], [y]);
    expect(await opTypes(model)).toEqual(["Transpose", "Conv", "MaxPool", "Conv", "Transpose"]);
    g.dispose();
  });

  it("the digits demo's LeNet, trained a few steps, exports and agrees (batch free with dynamicBatch)", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const net = buildNet(g, "cnn", 4);
    const opt = sg.adam(g.params, { lr: 2e-3 });
    const xv = values(4 * 28 * 28, 3, 0.5).map((v) => Math.abs(v));
    const yv = Float32Array.from({ length: 40 }, (_, i) => (i % 10 === (Math.floor(i / 10) * 3) % 10 ? 1 : 0));
    for (let s = 0; s < 3; s++) {
      g.zeroGrad();
      g.forward({ x: xv, y: yv });
      g.backward(net.loss);
      opt.step();
    }
    const model = await agree(g, [net.x], [net.logits], { dynamicBatch: true });
    const ops = await opTypes(model);
    expect(ops.filter((o) => o === "Conv")).toHaveLength(2);
    expect(ops.filter((o) => o === "MaxPool")).toHaveLength(2);
    expect(ops.filter((o) => o === "Transpose")).toHaveLength(2);
    // One image alone gives the first row of the batch's logits.
    g.forward({ x: xv, y: yv }, { outputs: [net.logits] });
    const one = await runOrt(model, { [net.x.name]: { shape: [1, 28, 28, 1], data: xv.slice(0, 784) } });
    expect(maxRel(one[net.logits.name]!.data as Float32Array, net.logits.value.toArray().slice(0, 10))).toBeLessThan(1e-5);
    opt.dispose();
    g.dispose();
  });

  it("transposes move below elementwise ops only where that is exact: a value read twice, or by a non-elementwise op, keeps its transpose", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const x = g.input([2, 6, 6, 3], "x");
    const f = g.param([3, 3, 3, 4], { init: "he", seed: 8, name: "f" });
    const bias = g.param([4], { data: [0.1, -0.2, 0.3, -0.4], name: "bias" });
    const slope = g.param([4], { data: [0.1, 0.2, 0.3, 0.05], name: "slope" });
    const c = g.conv2d(x, f, { padding: "same" });
    const h = g.prelu(g.mul(g.add(c, bias), g.sigmoid(c)), slope); // c read twice
    const s = g.scale(g.gelu(h), 0.5); // gelu reads its input several times
    const p = g.avgPool2d(g.hardTanh(g.step(s, 0.1)), { size: 2 });
    const y = g.name(g.softmax(p), "y"); // softmax over the channels: not elementwise
    const side = g.name(g.exp(c), "side"); // the conv's NHWC value is an output too
    await agree(g, [x], [y, side]);
    g.dispose();
  });

  it("a graph input used as the filter, and a param filter shared by two convs, are exported once each", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const x = g.input([1, 6, 6, 2], "x");
    const f = g.param([3, 3, 2, 2], { init: "he", seed: 7, name: "f" });
    const w = g.input([3, 3, 2, 2], "w");
    const y = g.name(g.add(g.conv2d(x, f, { padding: "same" }), g.conv2d(x, f, { padding: 1 })), "y");
    const z = g.name(g.conv2d(x, w, { stride: 2 }), "z");
    const { ops, inits } = await decode(await agree(g, [x, w], [y, z]));
    expect(inits).toEqual(["f_T3201"]);
    expect(ops.filter((o) => o === "Conv")).toHaveLength(3);
    g.dispose();
  });
});
