/**
 * Params by name (g.saveParams / g.loadParams) and checkpoints with optimizer state
 * (sg.checkpoint): round trips, every mismatch named and changing nothing, and training
 * resumed from a checkpoint giving bit for bit the losses of training that never stopped.
 */
import { describe, expect, it } from "vitest";
import type { Graph, Node, SimdGrad } from "../src/index.js";
import { serialize } from "../src/io/safetensors.js";
import { runtime } from "./helpers.js";

interface Net {
  g: Graph;
  loss: Node;
  logits: Node;
  x: Node;
  params: Node[];
}

/** A small classifier: x [8, 5] → 6 (gelu) → 6 (tanh, prelu) → 3, softmax cross-entropy. */
function net(sg: SimdGrad, seed: number): Net {
  const g = sg.graph();
  const x = g.input([8, 5], "x");
  const y = g.input([8, 3], "y");
  const W1 = g.param([5, 6], { init: "he", name: "W1", seed });
  const b1 = g.param([6], { name: "b1", init: "normal", std: 0.1, seed: seed + 1 });
  const W2 = g.param([6, 6], { init: "xavier", name: "W2", seed: seed + 2 });
  const a = g.param([6], { name: "slope", data: [0.1, 0.2, 0.05, 0.3, 0.01, 0.25] });
  const W3 = g.param([6, 3], { init: "xavier", name: "W3", seed: seed + 3 });
  const h1 = g.linear(x, W1, b1, "gelu");
  const h2 = g.prelu(g.tanh(g.matmul(h1, W2)), a);
  const logits = g.linear(h2, W3);
  const loss = g.softmaxCrossEntropy(logits, y);
  return { g, loss, logits, x, params: g.params };
}

function batch(step: number): { x: number[]; y: number[] } {
  const x: number[] = [];
  const y: number[] = [];
  for (let r = 0; r < 8; r++) {
    for (let c = 0; c < 5; c++) x.push(Math.sin(1.3 * r + 0.7 * c + 0.37 * step));
    const cls = (r + step) % 3;
    for (let c = 0; c < 3; c++) y.push(c === cls ? 1 : 0);
  }
  return { x, y };
}

function bits(n: number): number {
  return new Uint32Array(new Float32Array([n]).buffer)[0]!;
}

function snapshot(g: Graph): Float32Array[] {
  return g.params.map((p) => p.value.toArray());
}

describe("g.saveParams / g.loadParams", () => {
  it("round trip: a second graph of the same shape gets every value bit for bit", async () => {
    const sg = await runtime();
    const a = net(sg, 1);
    const b = net(sg, 99);
    const bytes = a.g.saveParams();
    expect(Object.keys(sg.safetensors.parse(bytes))).toEqual(["W1", "b1", "W2", "slope", "W3"]);
    b.g.loadParams(bytes);
    const sa = snapshot(a.g);
    const sb = snapshot(b.g);
    sa.forEach((v, i) => expect([...new Uint32Array(sb[i]!.buffer)]).toEqual([...new Uint32Array(v.buffer)]));
    const f = batch(0);
    a.g.forward(f);
    b.g.forward(f);
    expect(bits(b.loss.value.toArray()[0]!)).toBe(bits(a.loss.value.toArray()[0]!));
    a.g.dispose();
    b.g.dispose();
  });

  it("default names are stable and readable", async () => {
    const sg = await runtime();
    const g = sg.graph();
    g.param([2, 2]);
    g.param([2], { name: "bias" });
    g.param([3]);
    expect(Object.keys(sg.safetensors.parse(g.saveParams()))).toEqual(["param0", "bias", "param2"]);
    g.dispose();
  });

  it("reads F16 and BF16 files into the params", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const W = g.param([2, 2], { name: "W" });
    const b = g.param([2], { name: "b" });
    const header = JSON.stringify({
      W: { dtype: "F16", shape: [2, 2], data_offsets: [0, 8] },
      b: { dtype: "BF16", shape: [2], data_offsets: [8, 12] },
    });
    const h = new TextEncoder().encode(header);
    const bytes = new Uint8Array(8 + h.length + 12);
    const dv = new DataView(bytes.buffer);
    dv.setUint32(0, h.length, true);
    bytes.set(h, 8);
    [0x3c00, 0xc000, 0x3800, 0x0001, 0x3f80, 0xc0a0].forEach((v, i) => dv.setUint16(8 + h.length + 2 * i, v, true));
    g.loadParams(bytes);
    expect([...W.value.toArray()]).toEqual([1, -2, 0.5, 2 ** -24].map(Math.fround));
    expect([...b.value.toArray()]).toEqual([1, -5]);
    g.dispose();
  });

  it("every mismatch is an error naming it, and nothing changes", async () => {
    const sg = await runtime();
    const a = net(sg, 1);
    const before = snapshot(a.g);
    const good = sg.safetensors.parse(a.g.saveParams());
    const rec = (edit: (r: Record<string, { shape: number[]; data: Float32Array }>) => void) => {
      const r: Record<string, { shape: number[]; data: Float32Array }> = {};
      // Changed values everywhere, so a partial write would show.
      for (const [k, v] of Object.entries(good)) r[k] = { shape: v.shape, data: v.data.map((x) => x + 1) };
      edit(r);
      return serialize(r);
    };
    const allocs = sg.memory.totalAllocations;
    const inUse = sg.memory.bytesInUse;
    const cases: [Uint8Array, RegExp][] = [
      [rec((r) => delete r.W2), /no tensor for param 'W2' \[6, 6\]; nothing was loaded/],
      [rec((r) => (r.W3 = { shape: [3, 6], data: r.W3!.data })), /param 'W3' is \[6, 3\] in the graph but \[3, 6\] in the file; nothing was loaded/],
      [rec((r) => (r.extra = { shape: [1], data: new Float32Array(1) })), /tensor the graph has no param for: 'extra' \[1\]/],
      [rec(() => {}).subarray(0, 200), /loadParams: safetensors: /],
    ];
    for (const [bytes, msg] of cases) {
      expect(() => a.g.loadParams(bytes)).toThrow(msg);
      snapshot(a.g).forEach((v, i) => expect([...v]).toEqual([...before[i]!]));
    }
    expect(sg.memory.totalAllocations).toBe(allocs);
    expect(sg.memory.bytesInUse).toBe(inUse);
    // strict: false loads what is there and ignores the rest.
    a.g.loadParams(rec((r) => {
      delete r.W2;
      r.extra = { shape: [1], data: new Float32Array(1) };
    }), { strict: false });
    expect(a.params[0]!.value.toArray()[0]).toBe(Math.fround(before[0]![0]! + 1));
    expect([...a.params[2]!.value.toArray()]).toEqual([...before[2]!]);
    a.g.dispose();
  });

  it("a corrupted file never changes the params (fuzz)", async () => {
    const sg = await runtime();
    const a = net(sg, 3);
    const bytes = a.g.saveParams();
    const b = net(sg, 4);
    const before = snapshot(b.g);
    let loaded = 0;
    for (let seed = 0; seed < 300; seed++) {
      const c = bytes.slice();
      let s = seed * 2654435761;
      const next = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
      const flips = 1 + Math.floor(next() * 3);
      for (let f = 0; f < flips; f++) c[Math.floor(next() * 400)]! ^= 1 << Math.floor(next() * 8);
      try {
        b.g.loadParams(c);
        loaded++;
        // A flip inside the data is a valid file with other values: put the old ones back.
        b.g.loadParams(serialize(Object.fromEntries(b.params.map((p, i) => [p.name, { shape: [...p.shape], data: before[i]! }]))));
      } catch (e) {
        expect((e as Error).message).toMatch(/^loadParams: /);
        snapshot(b.g).forEach((v, i) => expect([...v]).toEqual([...before[i]!]));
      }
    }
    expect(loaded).toBeLessThan(300);
    a.g.dispose();
    b.g.dispose();
  });
});

describe("checkpoints: resuming gives exactly the losses of training that never stopped", () => {
  const opts = [
    ["sgd with momentum", (sg: SimdGrad, p: Node[]) => sg.sgd(p, { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 })],
    ["plain sgd", (sg: SimdGrad, p: Node[]) => sg.sgd(p, { lr: 0.05 })],
    ["adam", (sg: SimdGrad, p: Node[]) => sg.adam(p, { lr: 0.01, weightDecay: 1e-3 })],
  ] as const;
  for (const [what, make] of opts) {
    it(what, async () => {
      const sg = await runtime();
      const train = (n: Net, opt: ReturnType<typeof make>, from: number, to: number): number[] => {
        const losses: number[] = [];
        for (let s = from; s < to; s++) {
          opt.zeroGrad();
          n.g.forward(batch(s));
          losses.push(n.loss.value.toArray()[0]!);
          n.g.backward(n.loss);
          opt.step();
        }
        return losses;
      };
      // Uninterrupted: 12 steps.
      const ref = net(sg, 5);
      const refOpt = make(sg, ref.params);
      const refLosses = train(ref, refOpt, 0, 12);
      // Interrupted: 6 steps, checkpoint, then a fresh graph (other init) and optimizer resume.
      const first = net(sg, 5);
      const firstOpt = make(sg, first.params);
      expect(train(first, firstOpt, 0, 6).map(bits)).toEqual(refLosses.slice(0, 6).map(bits));
      const ckpt = sg.checkpoint.save({ graph: first.g, optimizer: firstOpt });
      first.g.dispose();
      firstOpt.dispose();
      const resumed = net(sg, 77);
      const resumedOpt = make(sg, resumed.params);
      sg.checkpoint.load(ckpt, { graph: resumed.g, optimizer: resumedOpt });
      const rest = train(resumed, resumedOpt, 6, 12);
      const allocs = sg.memory.totalAllocations;
      expect(rest.map(bits)).toEqual(refLosses.slice(6).map(bits));
      const a = snapshot(ref.g);
      snapshot(resumed.g).forEach((v, i) => expect([...new Uint32Array(v.buffer)]).toEqual([...new Uint32Array(a[i]!.buffer)]));
      // Training steps after a load allocate nothing.
      train(resumed, resumedOpt, 12, 14);
      expect(sg.memory.totalAllocations).toBe(allocs);
      // The loss went down over training at all (the test trains something real).
      expect(refLosses[11]!).toBeLessThan(refLosses[0]!);
      for (const o of [refOpt, resumedOpt]) o.dispose();
      ref.g.dispose();
      resumed.g.dispose();
    });
  }

  it("a checkpoint holds the params under their names, so loadParams and safetensors readers see them", async () => {
    const sg = await runtime();
    const n = net(sg, 5);
    const opt = sg.adam(n.params, { lr: 0.01 });
    const ckpt = sg.checkpoint.save({ graph: n.g, optimizer: opt });
    const names = Object.keys(sg.safetensors.parse(ckpt));
    expect(names.slice(0, 5)).toEqual(["W1", "b1", "W2", "slope", "W3"]);
    expect(names).toContain("optimizer/m/W1");
    expect(names).toContain("optimizer/v/W3");
    expect(JSON.parse(sg.safetensors.metadata(ckpt)["simdgrad.checkpoint"]!).optimizer.kind).toBe("adam");
    // loadParams of a checkpoint: the optimizer tensors are extra, so strict: false.
    const m = net(sg, 6);
    m.g.loadParams(ckpt, { strict: false });
    expect([...m.params[0]!.value.toArray()]).toEqual([...n.params[0]!.value.toArray()]);
    // A checkpoint saved without an optimizer restores params only.
    const plain = sg.checkpoint.save({ graph: n.g });
    sg.checkpoint.load(plain, { graph: m.g });
    opt.dispose();
    n.g.dispose();
    m.g.dispose();
  });

  it("mismatches are named and change nothing", async () => {
    const sg = await runtime();
    const n = net(sg, 5);
    const adam = sg.adam(n.params, { lr: 0.01 });
    for (let s = 0; s < 3; s++) {
      n.g.forward(batch(s));
      n.g.backward(n.loss);
      adam.step();
      adam.zeroGrad();
    }
    const ckpt = sg.checkpoint.save({ graph: n.g, optimizer: adam });
    const m = net(sg, 9);
    const before = snapshot(m.g);
    const sgd = sg.sgd(m.params, { lr: 0.1, momentum: 0.9 });
    const adam2 = sg.adam(m.params, { lr: 0.01, beta1: 0.8 });
    const adam3 = sg.adam(m.params.slice(1), { lr: 0.01 });
    const cases: [() => void, RegExp][] = [
      [() => sg.checkpoint.load(ckpt, { graph: m.g, optimizer: sgd }), /the checkpoint holds adam state, the optimizer is sgd/],
      [() => sg.checkpoint.load(ckpt, { graph: m.g, optimizer: adam2 }), /the checkpoint's adam has beta1 0\.9, this optimizer 0\.8/],
      [() => sg.checkpoint.load(ckpt, { graph: m.g, optimizer: adam3 }), /updates params \[W1, b1, W2, slope, W3\], this one \[b1, W2, slope, W3\]/],
      [() => sg.checkpoint.load(sg.checkpoint.save({ graph: n.g }), { graph: m.g, optimizer: adam2 }), /holds no optimizer state/],
      [() => sg.checkpoint.load(n.g.saveParams(), { graph: m.g }), /not a simdgrad checkpoint/],
      [() => sg.checkpoint.load(ckpt.subarray(0, ckpt.length - 1), { graph: m.g, optimizer: adam2 }), /checkpoint.load: safetensors: /],
    ];
    for (const [f, msg] of cases) {
      expect(f).toThrow(msg);
      snapshot(m.g).forEach((v, i) => expect([...v]).toEqual([...before[i]!]));
      expect(adam2.t).toBe(0);
    }
    for (const o of [adam, sgd, adam2, adam3]) o.dispose();
    n.g.dispose();
    m.g.dispose();
  });
});

describe("checkpoints with dropout: the masks resume where they were", () => {
  /** x [8, 5] → 12 (relu, dropout 0.3) → 12 (tanh, dropout 0.5) → 3, softmax cross-entropy. */
  function dropNet(sg: SimdGrad, seed: number): Net {
    const g = sg.graph();
    const x = g.input([8, 5], "x");
    const y = g.input([8, 3], "y");
    const W1 = g.param([5, 12], { init: "he", name: "W1", seed });
    const W2 = g.param([12, 12], { init: "xavier", name: "W2", seed: seed + 1 });
    const W3 = g.param([12, 3], { init: "xavier", name: "W3", seed: seed + 2 });
    const h1 = g.dropout(g.relu(g.matmul(x, W1)), 0.3, { seed: 11 });
    const h2 = g.dropout(g.tanh(g.matmul(h1, W2)), 0.5, { seed: 12 });
    const logits = g.matmul(h2, W3);
    return { g, loss: g.softmaxCrossEntropy(logits, y), logits, x, params: g.params };
  }
  /** Training steps from..to; every third step is followed by an evaluation run (which draws no mask). */
  function train(n: Net, opt: { zeroGrad(): void; step(): void }, from: number, to: number): number[] {
    const losses: number[] = [];
    for (let s = from; s < to; s++) {
      opt.zeroGrad();
      n.g.forward(batch(s));
      losses.push(n.loss.value.toArray()[0]!);
      n.g.backward(n.loss);
      opt.step();
      if (s % 3 === 2) {
        n.g.train(false);
        n.g.forward(batch(100 + s));
        n.g.train(true);
      }
    }
    return losses;
  }

  it("resumed training with dropout gives bit for bit the losses of training that never stopped", async () => {
    const sg = await runtime();
    const ref = dropNet(sg, 3);
    const refOpt = sg.adam(ref.params, { lr: 0.01 });
    const refLosses = train(ref, refOpt, 0, 12);
    const first = dropNet(sg, 3);
    const firstOpt = sg.adam(first.params, { lr: 0.01 });
    train(first, firstOpt, 0, 7);
    const ckpt = sg.checkpoint.save({ graph: first.g, optimizer: firstOpt });
    expect(JSON.parse(sg.safetensors.metadata(ckpt)["simdgrad.checkpoint"]!).trainingRuns).toBe(7);
    // The fresh graph has run forward in training mode already (its own count is not 7).
    const resumed = dropNet(sg, 40);
    const resumedOpt = sg.adam(resumed.params, { lr: 0.01 });
    train(resumed, resumedOpt, 0, 2);
    sg.checkpoint.load(ckpt, { graph: resumed.g, optimizer: resumedOpt });
    expect(train(resumed, resumedOpt, 7, 12).map(bits)).toEqual(refLosses.slice(7).map(bits));
    const a = snapshot(ref.g);
    snapshot(resumed.g).forEach((v, i) => expect([...new Uint32Array(v.buffer)]).toEqual([...new Uint32Array(a[i]!.buffer)]));

    // Without the count (a checkpoint written before it was saved), the masks differ: the
    // losses are not those of uninterrupted training, so the count is what makes them equal.
    const meta = JSON.parse(sg.safetensors.metadata(ckpt)["simdgrad.checkpoint"]!);
    delete meta.trainingRuns;
    const old = sg.safetensors.serialize(sg.safetensors.parse(ckpt), { metadata: { "simdgrad.checkpoint": JSON.stringify(meta) } });
    const other = dropNet(sg, 40);
    const otherOpt = sg.adam(other.params, { lr: 0.01 });
    sg.checkpoint.load(old, { graph: other.g, optimizer: otherOpt });
    expect(train(other, otherOpt, 7, 12).map(bits)).not.toEqual(refLosses.slice(7).map(bits));

    // A malformed count is refused, naming it, and changes nothing.
    const beforeParams = snapshot(other.g);
    const t = otherOpt.t;
    for (const bad of [-1, 2.5, "7", null]) {
      const m = { ...meta, trainingRuns: bad };
      const file = sg.safetensors.serialize(sg.safetensors.parse(ckpt), { metadata: { "simdgrad.checkpoint": JSON.stringify(m) } });
      expect(() => sg.checkpoint.load(file, { graph: other.g, optimizer: otherOpt })).toThrow(/checkpoint.load: the checkpoint's count of training runs is .*, not a non-negative integer/);
      snapshot(other.g).forEach((v, i) => expect([...v]).toEqual([...beforeParams[i]!]));
      expect(otherOpt.t).toBe(t);
    }
    for (const o of [refOpt, firstOpt, resumedOpt, otherOpt]) o.dispose();
    for (const n of [ref, first, resumed, other]) n.g.dispose();
  });
});
