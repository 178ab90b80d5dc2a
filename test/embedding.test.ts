/**
 * Embedding lookups: gather and scatter-add kernels against a plain reference (repeated
 * and unused ids, every row-width tail), the row set, sparse (lazy) SGD and Adam against
 * their dense forms, bad ids, gradients in a graph, and no allocation per step.
 */
import { describe, expect, it } from "vitest";
import { embeddingOp } from "../src/ops/embedding.js";
import { kernels, randomArray, runtime } from "./helpers.js";
import { checkGrad, expectError, expectWithin, gbuf } from "./elementwise-util.js";

describe("embedding kernels", () => {
  it("gather and scatter-add equal a plain loop; repeated ids sum; unused rows untouched; row set lists rows once", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    for (const D of [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 50, 64]) {
      for (const V of [1, 3, 10]) {
        const ids = [0, V - 1, 0, Math.min(2, V - 1), V - 1, 0];
        const n = ids.length;
        const tv = randomArray(V * D, V + D);
        const t = gbuf(sg, tv), idb = gbuf(sg, ids), out = gbuf(sg, new Float32Array(n * D).fill(NaN));
        expect(k.find_bad_index(idb.ptr, n, V)).toBe(-1);
        k.embedding_forward(idb.ptr, t.ptr, out.ptr, n, D);
        expect(Array.from(out.view())).toEqual(ids.flatMap((id) => Array.from(tv.subarray(id * D, id * D + D))));
        const dyv = randomArray(n * D, 3);
        const g0 = randomArray(V * D, 4);
        const dy = gbuf(sg, dyv), dt = gbuf(sg, g0);
        const rsb = sg.rt.arena.alloc(k.rowset_bytes(V), "test row set");
        k.rowset_init(rsb, V);
        k.embedding_backward(idb.ptr, dy.ptr, dt.ptr, n, D, rsb);
        const want = Float32Array.from(g0);
        ids.forEach((id, i) => { for (let c = 0; c < D; c++) want[id * D + c] = Math.fround(want[id * D + c]! + dyv[i * D + c]!); });
        expect(Array.from(dt.view())).toEqual(Array.from(want));
        const used = [...new Set(ids)];
        expect(k.rowset_count(rsb)).toBe(used.length);
        k.rowset_zero(dt.ptr, D, rsb);
        expect(k.rowset_count(rsb)).toBe(0);
        const after = dt.view();
        for (let r = 0; r < V; r++) for (let c = 0; c < D; c++) expect(after[r * D + c]).toBe(used.includes(r) ? 0 : g0[r * D + c]);
        // After zeroing, the rows can be recorded again.
        k.embedding_backward(idb.ptr, dy.ptr, dt.ptr, 1, D, rsb);
        expect(k.rowset_count(rsb)).toBe(1);
        sg.rt.arena.release(rsb);
        for (const b of [t, idb, out, dy, dt]) {
          b.check();
          b.free();
        }
      }
    }
  });

  it("find_bad_index: non-integers, negatives, ≥ V, NaN, ±Inf", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    const cases: [number[], number][] = [[[0, 1, 2], -1], [[0, 3], 1], [[-1], 0], [[0, 0.5], 1], [[1, NaN], 1], [[Infinity], 0], [[-0], -1], [[], -1]];
    for (const [v, want] of cases) {
      const b = gbuf(sg, v);
      expect(k.find_bad_index(b.ptr, v.length, 3), JSON.stringify(v)).toBe(want);
      b.free();
    }
  });

  it("table gradient by central differences, ids of several shapes", async () => {
    const sg = await runtime();
    for (const [idShape, ids] of [[[4], [2, 0, 2, 3]], [[2, 3], [1, 1, 1, 0, 4, 2]], [[1], [0]], [[2, 2, 1], [3, 3, 0, 1]]] as const) {
      checkGrad(sg, {
        op: embeddingOp, attrs: undefined, wrt: [1],
        inputs: [{ shape: idShape, values: ids }, { shape: [5, 3], values: randomArray(15, 2) }],
      }, `embedding ids ${JSON.stringify(idShape)}`);
    }
  });
});

describe("embedding in a graph", () => {
  it("bad ids: an error naming the first bad id and its position, nothing computed; runtime usable", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const ids = g.input([2, 3], "ids");
    const E = g.param([10, 4], { init: "normal", seed: 1, name: "E" });
    const y = g.embedding(ids, E);
    expect(y.shape).toEqual([2, 3, 4]);
    expectError(() => g.forward({ ids: [0, 1, 2, 3, 10, 12] }), "embedding", "id 10 at [1, 1]", "[0, 10)", "table is [10, 4]");
    expectError(() => g.forward({ ids: [0, 1, 2.5, 3, 1, 1] }), "id 2.5 at [0, 2]");
    expectError(() => g.forward({ ids: [0, -2, 2, 3, 1, 1] }), "id -2 at [0, 1]");
    g.forward({ ids: [9, 1, 2, 3, 1, 1] });
    expect(Array.from(y.value.toArray().subarray(0, 4))).toEqual(Array.from(E.value.toArray().subarray(36, 40)));
    expectError(() => g.embedding(ids, g.param([10], { name: "v" })), "embedding", "table must be [V, D]", "[10]");
    g.dispose();
  });

  it("a lookup table's zeroGrad and optimizer steps touch only the rows used; lazy Adam, AdamW and SGD equal the dense rules on those rows", async () => {
    const sg = await runtime();
    for (const kind of ["sgd", "adam", "adamw"] as const) {
      // Two copies of one model: "sparse" (table used only by lookups) and "dense" (the
      // table is also used by another op with a zero effect, so it is updated in full).
      const make = (dense: boolean) => {
        const g = sg.graph();
        const ids = g.input([5], "ids");
        const E = g.param([20, 6], { init: "normal", std: 0.5, seed: 3, name: "E" });
        const W = g.param([6, 1], { init: "normal", std: 0.5, seed: 4, name: "W" });
        let s = g.sum(g.matmul(g.tanh(g.embedding(ids, E)), W));
        if (dense) s = g.add(s, g.sum(g.scale(E, 0)));
        // AdamW's decay is large here so that a coupled (L2) decay on the rows could not pass.
        const opt = kind === "sgd" ? sg.sgd(g.params, { lr: 0.1, momentum: 0.9, weightDecay: 0.01 })
          : kind === "adam" ? sg.adam(g.params, { lr: 0.05, weightDecay: 0.01 })
          : sg.adamw(g.params, { lr: 0.05, weightDecay: 0.5 });
        return { g, E, s, opt };
      };
      const sp = make(false), de = make(true);
      // Every step uses the same rows {1, 4, 7} (in other orders and counts): those rows then
      // follow the dense rule exactly, and the unused rows keep their initial values.
      const batches = [[1, 1, 4, 7, 1], [7, 4, 4, 4, 1], [4, 7, 1, 7, 7]];
      const used = new Set(batches.flat());
      const stepOn = (m: ReturnType<typeof make>, b: number[]) => {
        m.g.forward({ ids: b });
        m.g.backward(m.s);
        m.opt.step();
        m.opt.zeroGrad();
      };
      for (const b of batches) for (const m of [sp, de]) stepOn(m, b);
      const a = sp.E.value.toArray(), d = de.E.value.toArray(), init = make(false);
      const e0 = init.E.value.toArray();
      const row = (t: Float32Array, r: number) => Array.from(t.subarray(r * 6, r * 6 + 6));
      for (let r = 0; r < 20; r++) {
        if (used.has(r)) {
          // Equal up to the fused multiply-add of the relaxed build (a row's last elements run
          // in the scalar tail of a per-row update and in a vector of the dense one).
          expectWithin(row(a, r), row(d, r), 1e-6 * 4, `${kind} row ${r}`);
          expect(row(a, r)).not.toEqual(row(e0, r));
        } else {
          expect(row(a, r), `${kind} unused row ${r}`).toEqual(row(e0, r));
          expect(row(d, r), `${kind} dense row ${r} decays`).not.toEqual(row(e0, r));
        }
      }
      // Lazy: a step that uses only row 2 leaves rows 1, 4, 7 as they were (their momentum
      // or moments wait for the next step that uses them), and moves row 2.
      stepOn(sp, [2, 2, 2, 2, 2]);
      const a2 = sp.E.value.toArray();
      for (const r of [1, 4, 7]) expect(row(a2, r)).toEqual(row(a, r));
      expect(row(a2, 2)).not.toEqual(row(a, 2));
      // The sparse gradient is fully zero after zeroGrad.
      expect(sp.E.grad!.toArray().every((v) => v === 0)).toBe(true);
      for (const m of [sp, de, init]) {
        m.opt.dispose();
        m.g.dispose();
      }
    }
  });

  it("gradients of a graph with a shared table (two lookups) pass gradcheck; training steps allocate nothing", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const a = g.input([3], "a");
    const b = g.input([2, 2], "b");
    const E = g.param([6, 4], { init: "normal", std: 0.5, seed: 5, name: "E" });
    const ea = g.embedding(a, E), eb = g.embedding(b, E);
    const loss = g.add(g.sum(g.tanh(ea)), g.mean(g.mul(eb, eb)));
    const feeds = { a: [0, 5, 0], b: [5, 1, 1, 3] };
    const report = sg.gradcheck(g, loss, { feeds });
    expect(report.ok, JSON.stringify(report.params)).toBe(true);
    const opt = sg.adam(g.params, { lr: 0.01 });
    g.forward(feeds);
    g.backward(loss);
    opt.step();
    opt.zeroGrad();
    const before = sg.memory.totalAllocations;
    for (let i = 0; i < 20; i++) {
      g.forward({ a: [i % 6, 2, 3], b: [1, 1, (i * 5) % 6, 0] });
      g.backward(loss);
      opt.step();
      opt.zeroGrad();
    }
    expect(sg.memory.totalAllocations).toBe(before);
    opt.dispose();
    g.dispose();
  });
});

describe("eager lookups", () => {
  it("sg.embedding gathers rows; a bad id is refused and nothing stays allocated", async () => {
    const sg = await runtime();
    const table = sg.tensor([4, 3], Array.from({ length: 12 }, (_, i) => i));
    const ids = sg.tensor([2, 2], [3, 0, 3, 1]);
    const y = sg.embedding(ids, table);
    expect(y.shape).toEqual([2, 2, 3]);
    expect(Array.from(y.toArray())).toEqual([9, 10, 11, 0, 1, 2, 9, 10, 11, 3, 4, 5]);
    const bad = sg.tensor([1], [4]);
    const before = sg.memory.bytesInUse;
    expectError(() => sg.embedding(bad, table), "embedding", "id 4 at [0]", "[0, 4)");
    expect(sg.memory.bytesInUse).toBe(before);
    for (const t of [table, ids, y, bad]) t.dispose();
  });
});
