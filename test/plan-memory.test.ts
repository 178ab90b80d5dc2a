/**
 * Plans of one graph share one region of linear memory, as large as the largest plan: a
 * smaller shape of the -1 inputs lays its buffers out in it. Its results are bitwise those of
 * a fresh graph; once the largest shape has been planned, no shape allocates; a tensor kept
 * from another shape's run refuses to be read while the memory holds another run.
 */
import { describe, expect, it } from "vitest";
import { randomArray, runtime } from "./helpers.js";
import { expectError } from "./elementwise-util.js";
import { type Graph, type Node, type SimdGrad, nn } from "../src/index.js";

/** A small causal transformer over a context of -1 (the char model's shape, built from the public API). */
function reader(sg: SimdGrad, opts: { maxPlans?: number; share?: boolean } = {}) {
  const V = 13;
  const T = 12;
  const g = sg.graph(opts.maxPlans !== undefined ? { maxPlans: opts.maxPlans } : {});
  if (opts.share === false) g._sharePlanMemory = false;
  const ids = g.input([1, -1], "ids");
  const pos = g.input([1, -1], "pos");

  let h = g.add(nn.embedding(g, ids, V, 16, { name: "tok", seed: 1 }), nn.embedding(g, pos, T, 16, { name: "pos", seed: 2 }));
  h = nn.block(g, h, { name: "block0", heads: 2, hidden: 32, causal: true });
  const logits = g.reshape(nn.linear(g, nn.layerNorm(g, h, { name: "lnf" }), V, { name: "head" }), [-1, V]);
  const loss = g.sum(g.square(logits));
  return { g, ids, pos, logits, loss, V, T };
}

type Reader = ReturnType<typeof reader>;

/** Copies every param of `from` into `to` (same model). */
function copyParams(from: Graph, to: Graph): void {
  for (const p of to.params) p.value = from.node(p.name)!.value;
}

const idsOf = (L: number) => Array.from({ length: L }, (_, i) => (i * 5 + 3) % 13);
const posOf = (L: number) => Array.from({ length: L }, (_, i) => i);

/** Forward and backward at length L: logits and every param's gradient, as arrays. */
function run(r: Reader, L: number): { logits: number[]; grads: number[][] } {
  r.g.zeroGrad();
  r.g.forward({ ids: idsOf(L), pos: posOf(L) });
  r.g.backward(r.loss);
  return { logits: Array.from(r.logits.value.toArray()), grads: r.g.params.map((p: Node) => Array.from(p.grad!.toArray())) };
}

describe("plans share one region of memory", () => {
  it("every length, growing, shrinking and revisited, gives bitwise the results of a fresh graph", async () => {
    const sg = await runtime();
    const shared = reader(sg);
    const lengths = [1, 2, 3, 7, 12, 5, 11, 1, 12, 6, 6, 2];
    for (const L of lengths) {
      const fresh = reader(sg);
      copyParams(shared.g, fresh.g);
      const want = run(fresh, L);
      fresh.g.dispose();
      const got = run(shared, L);
      expect(got.logits, `logits at length ${L}`).toEqual(want.logits);
      got.grads.forEach((gr, i) => expect(gr, `gradient of ${shared.g.params[i]!.name} at length ${L}`).toEqual(want.grads[i]));
    }
    shared.g.dispose();
  });

  it("compiled for the longest length, a growing and shrinking context allocates nothing; plans beyond maxPlans are made again in the same memory", async () => {
    const sg = await runtime();
    const r = reader(sg, { maxPlans: 4 });
    r.g.compile({ ids: [1, r.T], pos: [1, r.T] });
    expect(r.logits.shape).toEqual([r.T, r.V]);
    const before = sg.memory;
    for (let pass = 0; pass < 3; pass++) {
      for (let L = 1; L <= r.T; L++) run(r, L);
      for (let L = r.T; L >= 1; L--) run(r, L);
    }
    const after = sg.memory;
    expect(after.totalAllocations).toBe(before.totalAllocations);
    expect(after.bytesInUse).toBe(before.bytesInUse);
    expect(after.liveAllocations).toBe(before.liveAllocations);
    expect(r.g.planCount).toBe(4);
    r.g.dispose();
  });

  it("a growing context without compile holds one region: each larger length replaces it", async () => {
    const sg = await runtime();
    const r = reader(sg, { maxPlans: 64 });
    run(r, 1);
    const live = sg.memory.liveAllocations;
    for (let L = 2; L <= r.T; L++) run(r, L);
    expect(sg.memory.liveAllocations).toBe(live);
    // The plans of the smaller regions were dropped; only the last length's is kept.
    expect(r.g.planCount).toBe(1);
    const inUse = sg.memory.bytesInUse;
    // Smaller lengths fit: planned and kept, nothing allocated.
    const total = sg.memory.totalAllocations;
    for (let L = r.T; L >= 1; L--) run(r, L);
    expect(sg.memory.totalAllocations).toBe(total);
    expect(sg.memory.bytesInUse).toBe(inUse);
    expect(r.g.planCount).toBe(r.T);
    // The same memory as one plan for the longest length alone.
    r.g.dispose();
    const base = sg.memory.bytesInUse;
    const one = reader(sg);
    const withParams = sg.memory.bytesInUse;
    run(one, one.T);
    const onePlan = sg.memory.bytesInUse - withParams;
    one.g.dispose();
    expect(sg.memory.bytesInUse).toBe(base);
    expect(inUse - base - (withParams - base)).toBe(onePlan);
  });

  it("a region of memory per plan (the comparison path) gives the same results", async () => {
    const sg = await runtime();
    const a = reader(sg);
    const b = reader(sg, { share: false });
    copyParams(a.g, b.g);
    for (const L of [3, 12, 4, 1, 12, 9]) expect(run(b, L)).toEqual(run(a, L));
    a.g.dispose();
    b.g.dispose();
  });

  it("a value kept from one length refuses to be read after a run at another, and reads again once its length runs again", async () => {
    const sg = await runtime();
    const r = reader(sg);
    r.g.compile({ ids: [1, r.T], pos: [1, r.T] });
    r.g.forward({ ids: idsOf(5), pos: posOf(5) });
    const kept = r.logits.value;
    const keptIds = r.ids.value;
    const at5 = kept.toArray();
    r.g.forward({ ids: idsOf(7), pos: posOf(7) });
    expectError(() => kept.toArray(), "data", "[5, 13]", "ids [1, 5], pos [1, 5]", "ids [1, 7], pos [1, 7]", "read node.value");
    expectError(() => sg.relu(kept), "[5, 13]", "ids [1, 7]");
    expectError(() => r.g.forward({ ids: keptIds, pos: posOf(5) }), "forward", "ids [1, 5]", "ids [1, 7]");
    expect(r.logits.value.shape).toEqual([7, 13]);
    r.g.forward({ ids: idsOf(5), pos: posOf(5) });
    expect(r.logits.value).toBe(kept);
    expect(kept.toArray()).toEqual(at5);
    // A length larger than the region: the plans of the old one are dropped, their tensors disposed.
    r.g.forward({ ids: idsOf(r.T + 1), pos: posOf(r.T + 1).map((p) => p % r.T) });
    expectError(() => kept.toArray(), "data", "[5, 13]", "disposed");
    r.g.dispose();
  });

  it("an input's gradient with a -1 dimension starts from zero when its shape comes back, as in a fresh plan", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const x = g.input([-1, 3], "x", { requiresGrad: true });
    const W = g.param([3, 2], { init: "normal", seed: 4, name: "W" });
    const loss = g.sum(g.square(g.matmul(x, W)));
    const x2 = randomArray(6, 1);
    g.forward({ x: x2 });
    g.backward(loss);
    const once = x.grad!.toArray();
    g.forward({ x: x2 });
    g.backward(loss);
    // Two runs of the same shape accumulate.
    expect(Array.from(x.grad!.toArray())).toEqual(Array.from(once, (v) => v + v));
    g.forward({ x: randomArray(9, 2) });
    g.backward(loss);
    g.forward({ x: x2 });
    g.backward(loss);
    expect(Array.from(x.grad!.toArray())).toEqual(Array.from(once));
    g.dispose();
  });

  it("compile(shapes): bad names and shapes are errors naming them, and nothing changed", async () => {
    const sg = await runtime();
    const r = reader(sg);
    expectError(() => r.g.compile({ ids: [1, 4] }), "compile", "pos", "[1, -1]");
    r.g.compile({ ids: [1, 4], pos: [1, 4] });
    expect(r.logits.shape).toEqual([4, r.V]);
    const plans = r.g.planCount;
    const mem = sg.memory.totalAllocations;
    expectError(() => r.g.compile({ idz: [1, 4] }), "compile", "'idz'", "'ids', 'pos'");
    expectError(() => r.g.compile({ ids: [2, 4] }), "compile", "[2, 4]", "'ids'", "[1, -1]");
    expectError(() => r.g.compile({ ids: [1, 4.5] }), "compile", "[1, 4.5]");
    expectError(() => r.g.compile({ ids: [1, 5], pos: [1, 6] }), "add", "[1, 5, 16]", "[1, 6, 16]");
    expect(r.g.planCount).toBe(plans);
    expect(sg.memory.totalAllocations).toBe(mem);
    expect(r.logits.shape).toEqual([4, r.V]);
    // An input left out keeps the current plan's shape.
    r.g.compile({ pos: [1, 4] });
    expect(r.g.planCount).toBe(plans);
    r.g.forward({ ids: idsOf(4), pos: posOf(4) });
    expect(r.logits.value.shape).toEqual([4, r.V]);
    r.g.dispose();
  });
});
