import { describe, expect, it } from "vitest";
import type { Node, SimdGrad } from "../src/index.js";
import { expectClose, randomArray, runtime } from "./helpers.js";

const scalar = (n: Node) => n.value.toArray()[0]!;
const grad = (n: Node) => Array.from(n.grad!.toArray());

describe("the notes' worked examples", () => {
  it("f(x, y, z) = (x + y)·max(y, z) at (1, 2, 0): value 6, gradients 2, 5, 0", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const x = g.param([], { data: [1], name: "x" });
    const y = g.param([], { data: [2], name: "y" });
    const z = g.param([], { data: [0], name: "z" });
    const a = g.add(x, y);
    const b = g.max(y, z);
    const f = g.mul(a, b);
    g.forward();
    expect(scalar(a)).toBe(3);
    expect(scalar(b)).toBe(2);
    expect(scalar(f)).toBe(6);
    g.backward(f);
    expect(grad(x)).toEqual([2]);
    expect(grad(y)).toEqual([5]); // 2 through the addition + 3 through the max
    expect(grad(z)).toEqual([0]); // z has no effect while y > z
    // y has two consumers; their gradients were summed. The order runs inputs first.
    const order = g.order();
    expect(order.indexOf(a)).toBeGreaterThan(order.indexOf(x));
    expect(order.indexOf(f)).toBe(order.length - 1);
  });

  it("f(x, y) = (x + 2)·max(y, 1) at (1, 2): value 6, gradients 2 and 3, and the numeric estimate agrees", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const x = g.param([], { data: [1], name: "x" });
    const y = g.param([], { data: [2], name: "y" });
    const two = g.input([], "two");
    const one = g.input([], "one");
    const f = g.mul(g.add(x, two), g.max(y, one));
    const feeds = { two: [2], one: [1] };
    g.forward(feeds);
    expect(scalar(f)).toBe(6);
    g.backward(f);
    expect(grad(x)).toEqual([2]);
    expect(grad(y)).toEqual([3]);
    // The notes' one-sided estimates with a step of 0.1: 6.2 and 6.3.
    x.value.set([1.1]);
    g.forward(feeds);
    expect(scalar(f)).toBeCloseTo(6.2, 5);
    x.value.set([1]);
    y.value.set([2.1]);
    g.forward(feeds);
    expect(scalar(f)).toBeCloseTo(6.3, 5);
    y.value.set([2]);
    g.zeroGrad();
    const report = sg.gradcheck(g, f, { feeds });
    expect(report.ok).toBe(true);
    expect(report.maxAbsError).toBeLessThan(1e-3);
    expect(report.params.map((p) => p.name)).toEqual(["x", "y"]);
    // gradcheck leaves the gradients as it found them (zeroed).
    expect(grad(x)).toEqual([0]);
  });

  it("the Jacobian of an elementwise activation is diagonal with f′(z) on the diagonal", async () => {
    const sg = await runtime();
    const n = 7;
    const zs = Array.from(randomArray(n, 3, -2, 2));
    for (const act of ["sigmoid", "tanh", "relu", "gelu", "swish"] as const) {
      const g = sg.graph();
      const z = g.input([n], "z", { requiresGrad: true });
      const h = g[act](z);
      const J = sg.jacobian(g, h, z, { feeds: { z: zs } });
      expect(J.shape).toEqual([n, n]);
      const j = J.toArray();
      for (let r = 0; r < n; r++) {
        for (let c = 0; c < n; c++) {
          const v = j[r * n + c]!;
          if (r !== c) expect(v, `${act} J[${r}, ${c}]`).toBe(0);
          else expect(v, `${act} J[${r}, ${r}]`).toBeCloseTo(derivative(act, zs[r]!), 4);
        }
      }
      J.dispose();
      g.dispose();
    }
  });

  it("the window classifier: s = uᵀf(Wx + b), gradients for W, b, u and x, and dS/dW is the outer product of x and δ", async () => {
    const sg = await runtime();
    const words = 5;
    const dim = 4;
    const hidden = 6;
    const k = words * dim;
    const g = sg.graph();
    const x = g.input([k], "x", { requiresGrad: true }); // concatenated word vectors of a window
    const W = g.param([k, hidden], { init: "xavier", seed: 3, name: "W" });
    const b = g.param([hidden], { init: "normal", std: 0.1, seed: 4, name: "b" });
    const u = g.param([hidden], { init: "normal", std: 0.5, seed: 5, name: "u" });
    const z = g.add(g.matmul(x, W), b);
    const h = g.tanh(z);
    const s = g.dot(u, h);
    const p = g.sigmoid(s); // "is the centre word a location?"
    const xs = randomArray(k, 9);
    g.forward({ x: xs });
    g.backward(s);
    // float64 reference of δ = u ⊙ f′(z) and the gradients of the notes.
    const Wv = Array.from(W.value.toArray());
    const bv = Array.from(b.value.toArray());
    const uv = Array.from(u.value.toArray());
    const zr = new Float64Array(hidden);
    for (let j = 0; j < hidden; j++) {
      let acc = bv[j]!;
      for (let i = 0; i < k; i++) acc += xs[i]! * Wv[i * hidden + j]!;
      zr[j] = acc;
    }
    const hr = zr.map(Math.tanh);
    const delta = Array.from(hr, (hj, j) => uv[j]! * (1 - hj * hj));
    expectClose(u.grad!.toArray(), Array.from(hr), 1e-5, 1e-6, "dS/du = h");
    expectClose(b.grad!.toArray(), delta, 1e-5, 1e-6, "dS/db = δ");
    const outer = new Float64Array(k * hidden);
    for (let i = 0; i < k; i++) for (let j = 0; j < hidden; j++) outer[i * hidden + j] = xs[i]! * delta[j]!;
    expectClose(W.grad!.toArray(), outer, 1e-5, 1e-6, "dS/dW = x ⊗ δ");
    const dx = new Float64Array(k);
    for (let i = 0; i < k; i++) for (let j = 0; j < hidden; j++) dx[i]! += Wv[i * hidden + j]! * delta[j]!;
    expectClose(x.grad!.toArray(), dx, 1e-5, 1e-6, "dS/dx = Wδ");
    // The same outer product from the eager kernel.
    const xt = sg.tensor([k], xs);
    const dt = sg.tensor([hidden], delta);
    const o = sg.outer(xt, dt);
    expectClose(o.toArray(), W.grad!.toArray(), 1e-6, 1e-7, "sg.outer(x, δ)");
    // And numerically, for every parameter and the input.
    g.zeroGrad();
    const report = sg.gradcheck(g, s, { feeds: { x: xs } });
    expect(report.ok, JSON.stringify(report.params)).toBe(true);
    expect(report.params.map((e) => e.name)).toEqual(["W", "b", "u", "x"]);
    // The probability head trains on top of s.
    g.forward({ x: xs });
    expect(scalar(p)).toBeCloseTo(1 / (1 + Math.exp(-scalar(s))), 5);
    for (const t of [xt, dt, o]) t.dispose();
    g.dispose();
  });
});

function derivative(act: string, z: number): number {
  const sig = 1 / (1 + Math.exp(-z));
  switch (act) {
    case "sigmoid":
      return sig * (1 - sig);
    case "tanh":
      return 1 - Math.tanh(z) ** 2;
    case "relu":
      return z > 0 ? 1 : 0;
    case "swish":
      return sig + z * sig * (1 - sig);
    case "gelu": {
      const cdf = 0.5 * (1 + erf(z / Math.SQRT2));
      return cdf + (z * Math.exp(-z * z / 2)) / Math.sqrt(2 * Math.PI);
    }
  }
  throw new Error(act);
}

function erf(x: number): number {
  // Series to machine precision for the small |x| used here.
  let sum = 0;
  let term = x;
  for (let n = 0; n < 60; n++) {
    sum += term / (2 * n + 1);
    term *= (-x * x) / (n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

describe("backpropagation over the graph", () => {
  it("sums the gradients of a node with two consumers and of a param used twice", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const w = g.param([3], { data: [1, -2, 3], name: "w" });
    const sq = g.mul(w, w); // w used twice by one op: d(w²)/dw = 2w
    const t = g.tanh(w);
    const both = g.add(g.sum(sq), g.sum(t)); // w has two consumers
    g.forward();
    g.backward(both);
    const want = [1, -2, 3].map((v) => 2 * v + (1 - Math.tanh(v) ** 2));
    expectClose(w.grad!.toArray(), want, 1e-5, 1e-6, "dw");
  });

  it("accumulates leaf gradients across backward calls until zeroGrad, and recomputes op-node gradients each time", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const w = g.param([2], { data: [1, 2], name: "w" });
    const x = g.input([2], "x");
    const loss = g.sum(g.mul(w, x));
    g.forward({ x: [3, 4] });
    g.backward(loss);
    g.backward(loss);
    expect(grad(w)).toEqual([6, 8]);
    expect(grad(loss)).toEqual([1]); // seeded again, not accumulated
    g.zeroGrad();
    expect(grad(w)).toEqual([0, 0]);
    g.backward(loss, [2]); // a non-unit upstream gradient
    expect(grad(w)).toEqual([6, 8]);
  });

  it("the fused linear layer equals matmul + bias + activation, values and gradients, for every activation", async () => {
    const sg = await runtime();
    const acts = ["none", "step", "sigmoid", "tanh", "hardTanh", "relu", "leakyRelu", "swish", "gelu", "geluTanh"] as const;
    for (const act of acts) {
      for (const batch of [0, 1, 5]) {
        const m = Math.max(batch, 1);
        const g = sg.graph();
        const x = batch === 0 ? g.input([7], "x", { requiresGrad: true }) : g.input([m, 7], "x", { requiresGrad: true });
        const W = g.param([7, 9], { init: "xavier", seed: 11, name: "W" });
        const b = g.param([9], { init: "normal", std: 0.3, seed: 12, name: "b" });
        const fused = g.linear(x, W, b, act);
        const z = g.add(g.matmul(x, W), b);
        const ref = act === "none" ? z : act === "geluTanh" ? g.gelu(z, { approximate: "tanh" }) : g[act](z);
        const up = g.input(fused.shape as number[], "up");
        const lossF = g.sum(g.mul(fused, up));
        const lossR = g.sum(g.mul(ref, up));
        const xs = randomArray(x.size, 21, -2, 2);
        const ups = randomArray(fused.size, 22, 0.5, 1.5);
        g.forward({ x: xs, up: ups });
        expectClose(fused.value.toArray(), ref.value.toArray(), 1e-5, 1e-5, `${act} forward, batch ${batch}`);
        g.backward(lossF);
        const gF = [W, b, x].map((n) => n.grad!.toArray());
        g.zeroGrad();
        g.backward(lossR);
        const gR = [W, b, x].map((n) => n.grad!.toArray());
        for (let i = 0; i < 3; i++) expectClose(gF[i]!, gR[i]!, 1e-4, 1e-5, `${act} backward ${["W", "b", "x"][i]}, batch ${batch}`);
        g.dispose();
      }
    }
  });

  it("gradcheck passes for every activation inside a 2-layer net", async () => {
    const sg = await runtime();
    const acts = ["sigmoid", "tanh", "hardTanh", "relu", "leakyRelu", "prelu", "swish", "gelu", "geluTanh"] as const;
    for (const act of acts) {
      const g = sg.graph();
      const x = g.input([4, 3], "x");
      const y = g.input([4, 2], "y");
      const W1 = g.param([3, 5], { init: "xavier", seed: 1, name: "W1" });
      const b1 = g.param([5], { init: "normal", std: 0.2, seed: 2, name: "b1" });
      const W2 = g.param([5, 2], { init: "xavier", seed: 3, name: "W2" });
      const z = g.add(g.matmul(x, W1), b1);
      let h: Node;
      if (act === "prelu") h = g.prelu(z, g.param([5], { data: [0.1, 0.2, -0.1, 0.3, 0.05], name: "slope" }));
      else if (act === "geluTanh") h = g.gelu(z, { approximate: "tanh" });
      else h = g[act](z);
      const loss = g.softmaxCrossEntropy(g.matmul(h, W2), y);
      // Inputs kept away from the kinks of relu-like units (|z| ≥ h of the estimate).
      const feeds = { x: kinkFree(sg, x.size, W1, b1, 4, 3), y: [1, 0, 0, 1, 1, 0, 0, 1] };
      const report = sg.gradcheck(g, loss, { feeds });
      expect(report.ok, `${act}: ${JSON.stringify(report.params)}`).toBe(true);
      g.dispose();
    }
  });

  it("gradcheck passes for a custom op, and its saved tensors reach backward", async () => {
    const sg = await runtime();
    // cube(x) = x³ elementwise, with backward 3x²·dy, written with the eager kernels.
    const cube = {
      name: "cube",
      forward(ctx: { save(...t: unknown[]): void }, x: ReturnType<SimdGrad["tensor"]>) {
        const out = sg.tensor(x.shape as number[], Array.from(x.toArray(), (v) => v * v * v));
        ctx.save(x);
        return out;
      },
      backward(ctx: { saved: readonly ReturnType<SimdGrad["tensor"]>[] }, dy: ReturnType<SimdGrad["tensor"]>) {
        const x = ctx.saved[0]!.toArray();
        const d = dy.toArray();
        return [sg.tensor(dy.shape as number[], Array.from(x, (v, i) => 3 * v * v * d[i]!))];
      },
    };
    const g = sg.graph();
    const w = g.param([4], { data: [0.5, -1, 1.5, 2], name: "w" });
    const c = g.custom(cube as never, w);
    expect(c.shape).toEqual([4]);
    const loss = g.sum(g.mul(c, g.input([4], "k")));
    const feeds = { k: [1, 2, 3, 4] };
    g.forward(feeds);
    expectClose(c.value.toArray(), [0.125, -1, 3.375, 8], 1e-6, 0, "cube forward");
    g.backward(loss);
    expectClose(w.grad!.toArray(), [0.75, 6, 20.25, 48], 1e-6, 0, "cube backward");
    g.zeroGrad();
    const report = sg.gradcheck(g, loss, { feeds });
    expect(report.ok).toBe(true);
    // Running many steps does not leak the tensors the custom op makes.
    const live = sg.memory.liveAllocations;
    for (let i = 0; i < 5; i++) {
      g.forward(feeds);
      g.backward(loss);
    }
    expect(sg.memory.liveAllocations).toBe(live);
    g.dispose();
  });
});

/** Inputs x for which z = x·W1 + b1 stays at least 0.05 away from 0 (the relu kinks). */
function kinkFree(_sg: SimdGrad, n: number, W1: Node, b1: Node, rows: number, cols: number): Float32Array {
  const W = W1.value.toArray();
  const b = b1.value.toArray();
  const hidden = b.length;
  for (let seed = 1; ; seed++) {
    const x = randomArray(n, seed, -1, 1);
    let ok = true;
    for (let r = 0; r < rows && ok; r++) {
      for (let j = 0; j < hidden; j++) {
        let z = b[j]!;
        for (let i = 0; i < cols; i++) z += x[r * cols + i]! * W[i * hidden + j]!;
        if (Math.abs(z) < 0.05 || Math.abs(Math.abs(z) - 1) < 0.05) ok = false; // hard tanh kinks at ±1 too
      }
    }
    if (ok) return x;
  }
}

describe("training", () => {
  it("a training step allocates nothing after the first, and the loss falls", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const x = g.input([16, 8], "x");
    const y = g.input([16, 3], "y");
    const W1 = g.param([8, 12], { init: "he", seed: 1, name: "W1" });
    const b1 = g.param([12], { name: "b1" });
    const W2 = g.param([12, 3], { init: "xavier", seed: 2, name: "W2" });
    const b2 = g.param([3], { name: "b2" });
    const h = g.linear(x, W1, b1, "relu");
    const loss = g.softmaxCrossEntropy(g.linear(h, W2, b2), y);
    const xs = randomArray(16 * 8, 5);
    const ys = new Float32Array(16 * 3);
    for (let r = 0; r < 16; r++) ys[r * 3 + (xs[r * 8]! > 0 ? 0 : xs[r * 8 + 1]! > 0 ? 1 : 2)] = 1;
    for (const opt of [sg.sgd(g.params, { lr: 0.1, momentum: 0.9 }), sg.adam(g.params, { lr: 0.01 })]) {
      const step = () => {
        g.forward({ x: xs, y: ys });
        g.backward(loss);
        opt.step();
        opt.zeroGrad();
        return scalar(loss);
      };
      const first = step();
      const before = sg.memory;
      let last = first;
      for (let i = 0; i < 100; i++) last = step();
      const after = sg.memory;
      expect(after.totalAllocations).toBe(before.totalAllocations);
      expect(after.bytesInUse).toBe(before.bytesInUse);
      expect(last).toBeLessThan(first * 0.5);
      opt.dispose();
    }
    g.dispose();
  });

  it("SGD with momentum and Adam follow their update rules (float64 reference, 3 steps)", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const w = g.param([3], { data: [1, -2, 0.5], name: "w" });
    const t = g.input([3], "t");
    const loss = g.mse(w, t); // gradient 2(w − t)/3
    const target = [0.3, 0.1, -0.2];
    const run = (opt: { step(): void; zeroGrad(): void }) => {
      w.value.set([1, -2, 0.5]);
      for (let i = 0; i < 3; i++) {
        g.forward({ t: target });
        g.backward(loss);
        opt.step();
        opt.zeroGrad();
      }
      return w.value.toArray();
    };
    // SGD, PyTorch's form: v = μv + g; w −= lr·v.
    let wr = [1, -2, 0.5];
    let v = [0, 0, 0];
    for (let i = 0; i < 3; i++) {
      const gr = wr.map((wi, j) => (2 * (wi - target[j]!)) / 3);
      v = v.map((vi, j) => 0.9 * vi + gr[j]!);
      wr = wr.map((wi, j) => wi - 0.1 * v[j]!);
    }
    expectClose(run(sg.sgd(g.params, { lr: 0.1, momentum: 0.9 })), wr, 1e-5, 1e-6, "sgd");
    // Adam with bias correction.
    wr = [1, -2, 0.5];
    let m = [0, 0, 0];
    let s = [0, 0, 0];
    for (let i = 1; i <= 3; i++) {
      const gr = wr.map((wi, j) => (2 * (wi - target[j]!)) / 3);
      m = m.map((mi, j) => 0.9 * mi + 0.1 * gr[j]!);
      s = s.map((si, j) => 0.999 * si + 0.001 * gr[j]! ** 2);
      wr = wr.map((wi, j) => wi - (0.05 * (m[j]! / (1 - 0.9 ** i))) / (Math.sqrt(s[j]! / (1 - 0.999 ** i)) + 1e-8));
    }
    expectClose(run(sg.adam(g.params, { lr: 0.05 })), wr, 1e-5, 1e-6, "adam");
    g.dispose();
  });

  it("a 2→16 tanh→1 net learns XOR", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const x = g.input([4, 2], "x");
    const y = g.input([4, 1], "y");
    const W1 = g.param([2, 16], { init: "xavier", seed: 7, name: "W1" });
    const b1 = g.param([16], { name: "b1" });
    const W2 = g.param([16, 1], { init: "xavier", seed: 8, name: "W2" });
    const b2 = g.param([1], { name: "b2" });
    const logits = g.linear(g.linear(x, W1, b1, "tanh"), W2, b2);
    const loss = g.sigmoidCrossEntropy(logits, y);
    const opt = sg.adam(g.params, { lr: 0.05 });
    const feeds = { x: [0, 0, 0, 1, 1, 0, 1, 1], y: [0, 1, 1, 0] };
    for (let i = 0; i < 300; i++) {
      g.forward(feeds);
      g.backward(loss);
      opt.step();
      opt.zeroGrad();
    }
    g.forward(feeds);
    expect(scalar(loss)).toBeLessThan(0.05);
    const out = logits.value.toArray();
    expect(Array.from(out, (v) => (v > 0 ? 1 : 0))).toEqual([0, 1, 1, 0]);
    g.dispose();
  });
});
