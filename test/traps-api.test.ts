/**
 * API traps: optimizers, options, random streams and argument kinds that used to give a
 * wrong result with no error, or an error a user could not act on.
 */
import { describe, expect, it } from "vitest";
import { init, type SimdGrad } from "../src/index.js";
import { BUILD, expectClose, runtime } from "./helpers.js";

async function freshRuntime(opts: Record<string, unknown> = {}): Promise<SimdGrad> {
  return init({ relaxedSimd: BUILD === "relaxed", ...opts });
}

/** A param w (data) with loss sum(w·w) whose gradient is 2w after forward and backward. */
function squareLoss(sg: SimdGrad, data: number[]) {
  const g = sg.graph();
  const w = g.param([data.length], { data, name: "w" });
  const L = g.sum(g.mul(w, w));
  g.forward();
  g.backward(L);
  return { g, w, L };
}

describe("optimizers refuse params they cannot update", () => {
  it("params of another runtime are refused, and nothing of either runtime is written", async () => {
    const A = await runtime();
    const B = await freshRuntime();
    const victim = A.tensor([8], [1, 2, 3, 4, 5, 6, 7, 8]);
    const { g, w } = squareLoss(B, [1, 2, 3, 4]);
    expect(() => A.adam(g.params, { lr: 0.1 })).toThrow(/^adam: 'w' \[4\] \(param\) belongs to a graph of another simdgrad runtime/);
    expect(() => A.sgd(g.params, { lr: 0.1 })).toThrow(/^sgd: 'w' \[4\] \(param\) belongs to a graph of another simdgrad runtime/);
    expect(() => A.clipGradNorm(g.params, 0.1)).toThrow(/^clipGradNorm: 'w' \[4\] \(param\) belongs to a graph of another simdgrad runtime/);
    expect(Array.from(victim.toArray())).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(Array.from(w.value.toArray())).toEqual([1, 2, 3, 4]);
    B.adam(g.params, { lr: 0.1 }).step(); // its own runtime's optimizer works
    expect(w.value.toArray()[0]).toBeCloseTo(0.9, 5);
    victim.dispose();
  });

  it("a param listed twice is refused (it would be updated twice)", async () => {
    const sg = await runtime();
    const { g, w } = squareLoss(sg, [1]);
    expect(() => sg.sgd([w, w], { lr: 0.1 })).toThrow(/^sgd: 'w' \[1\] \(param\) is listed twice \(it would be updated twice\)/);
    expect(() => sg.adam([w, ...g.params])).toThrow(/^adam: 'w' \[1\] \(param\) is listed twice/);
    g.dispose();
  });

  it("an op node is not a param", async () => {
    const sg = await runtime();
    const { g, L } = squareLoss(sg, [1, 2]);
    expect(() => sg.sgd([L], { lr: 0.1 })).toThrow(/^sgd: 'sum#\d+' \[\] \(sum\) is computed by the graph; only params \(and inputs created with requiresGrad\) can be trained/);
    expect(() => sg.clipGradValue([L], 1)).toThrow(/^clipGradValue: 'sum#\d+' \[\] \(sum\) is computed by the graph/);
    expect(() => sg.adam([{} as never])).toThrow(/^adam: entry 1 must be a param node \(g\.params\), got object/);
    g.dispose();
  });
});

describe("Adam computes in float32 consistently and refuses hyperparameters float32 cannot hold", () => {
  it("bias corrections use the float32 β that the kernel uses", async () => {
    const sg = await runtime();
    // One step from w = 1 with gradient 0.5: Adam's first step is lr·m̂/(√v̂ + ε) = lr·0.5/(0.5 + ε).
    for (const beta2 of [0.9999999, 0.999, 0.5]) {
      const g = sg.graph();
      const w = g.param([1], { data: [1], name: "w" });
      const L = g.scale(g.sum(w), 0.5);
      g.forward();
      g.backward(L);
      sg.adam([w], { lr: 0.01, beta2 }).step();
      expectClose(w.value.toArray(), [1 - 0.01 * (0.5 / (0.5 + 1e-8))], 1e-6, 0, `w after one step, beta2 ${beta2}`);
      g.dispose();
    }
  });

  it("β that rounds to 1 and ε that rounds to 0 in float32 are refused", async () => {
    const sg = await runtime();
    const { g, w } = squareLoss(sg, [1]);
    expect(() => sg.adam([w], { beta2: 0.99999999 })).toThrow(/^adam: beta2 0\.99999999 is 1 in float32 .*at most 0\.9999999/);
    expect(() => sg.adam([w], { beta1: 0.99999999 })).toThrow(/^adam: beta1 0\.99999999 is 1 in float32/);
    expect(() => sg.adam([w], { eps: 1e-50 })).toThrow(/^adam: eps 1e-50 .*float32.*at least 1\.2e-38/);
    const opt = sg.adam([w], { eps: 1e-30 });
    g.zeroGrad(); // a zero gradient: the update is 0/ε = 0, not NaN
    opt.step();
    expect(Array.from(w.value.toArray())).toEqual([1]);
    g.dispose();
  });
});

describe("options objects: null means none, zero samples is not a pass", () => {
  it("null options are the defaults (or a clear error where options are required)", async () => {
    const sg = await runtime();
    const { g, w, L } = squareLoss(sg, [1, 2]);
    expect(() => sg.adam([w], null as never).step()).not.toThrow();
    expect(() => sg.sgd([w], null as never)).toThrow(/^sgd: options \{ lr \} are required/);
    const x = g.input([2], "x");
    const ge = g.gelu(x, null as never);
    const mm = g.matmul(g.input([1, 2], "row"), g.input([2, 1], "col"), null as never);
    expect(mm.shape).toEqual([1, 1]);
    g.sum(g.add(mm, mm), null, null as never);
    g.forward({ x: [0, 1], row: [1, 2], col: [3, 4] }, null as never);
    expect(ge.value.toArray()[1]).toBeCloseTo(0.8413, 3);
    g.forward(null as never, null as never);
    g.backward(L, null as never, null as never);
    const rt = await freshRuntime({ threads: undefined });
    expect(rt.features.simd).toBe(true);
    const r2 = await init(null as never);
    expect(r2.features.simd).toBe(true);
    expect(() => sg.gradcheck(g, L, null as never)).not.toThrow();
    g.dispose();
  });

  it("gradcheck with samples: 0 (or no leaf to check) is an error, not ok: true", async () => {
    const sg = await runtime();
    const { g, L } = squareLoss(sg, [1, 2]);
    expect(() => sg.gradcheck(g, L, { samples: 0 })).toThrow(/^gradcheck: samples must be a positive integer, got 0/);
    expect(() => sg.gradcheck(g, L, { wrt: [] })).toThrow(/^gradcheck: nothing to check/);
    expect(sg.gradcheck(g, L, { samples: 1 }).ok).toBe(true);
    g.dispose();
  });

  it("disposing a graph-owned value is refused and the param keeps working", async () => {
    const sg = await runtime();
    const { g, w, L } = squareLoss(sg, [1, 2]);
    expect(() => w.value.dispose()).toThrow(/^dispose: 'w' \[2\] belongs to its graph; g\.dispose\(\) frees it/);
    expect(() => w.grad!.dispose()).toThrow(/belongs to its graph/);
    expect(() => L.value.dispose()).toThrow(/belongs to its graph/);
    g.forward();
    expect(L.value.toArray()[0]).toBe(5);
    g.dispose();
  });
});

describe("random numbers: a runtime stream that advances, seedable", () => {
  it("unseeded randn/rand advance; { seed } and init({ seed }) reproduce", async () => {
    const sg = await freshRuntime();
    const a = sg.randn([4]).toArray();
    const b = sg.randn([4]).toArray();
    expect(Array.from(a)).not.toEqual(Array.from(b));
    const u1 = sg.rand([4]).toArray();
    const u2 = sg.rand([4]).toArray();
    expect(Array.from(u1)).not.toEqual(Array.from(u2));
    expect(Array.from(sg.randn([4], { seed: 7 }).toArray())).toEqual(Array.from(sg.randn([4], { seed: 7 }).toArray()));
    const s1 = await freshRuntime({ seed: 42 });
    const s2 = await freshRuntime({ seed: 42 });
    const s3 = await freshRuntime({ seed: 43 });
    const x1 = [s1.randn([3]).toArray(), s1.randn([3]).toArray()].map((t) => Array.from(t));
    const x2 = [s2.randn([3]).toArray(), s2.randn([3]).toArray()].map((t) => Array.from(t));
    expect(x1).toEqual(x2);
    expect(Array.from(s3.randn([3]).toArray())).not.toEqual(x1[0]);
    await expect(freshRuntime({ seed: 1.5 })).rejects.toThrow(/^init: seed must be an integer/);
  });
});

describe("Tensors are accepted wherever values are", () => {
  it("g.param({ data: tensor }), t.set(tensor) and sg.tensor(shape, tensor)", async () => {
    const sg = await runtime();
    const src = sg.tensor([2, 2], [1, 2, 3, 4]);
    const g = sg.graph();
    const W = g.param([2, 2], { data: src, name: "W" });
    expect(Array.from(W.value.toArray())).toEqual([1, 2, 3, 4]);
    const t = sg.zeros([4]);
    t.set(src);
    expect(Array.from(t.toArray())).toEqual([1, 2, 3, 4]);
    expect(Array.from(sg.tensor([4], src).toArray())).toEqual([1, 2, 3, 4]);
    expect(() => t.set(sg.zeros([3]))).toThrow(/^set: .*takes 4 values, the source tensor \[3\] has 3/);
    const other = await freshRuntime();
    expect(() => g.param([2, 2], { data: other.tensor([2, 2]), name: "V" })).toThrow(/^param: .*belongs to another simdgrad runtime/);
    g.dispose();
  });
});

describe("softmaxCrossEntropy with class indices", () => {
  it("says it takes one-hot targets", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const z = g.input([4, 3], "z");
    const idx = g.input([4], "labels");
    expect(() => g.softmaxCrossEntropy(z, idx)).toThrow(/softmaxCrossEntropy: targets must be one-hot \(or probability\) rows shaped like the logits \[4, 3\]; targets \[4\] look like class indices: use crossEntropy\(logits, labels\)/);
    const logits = sg.tensor([4, 3]);
    expect(() => sg.softmaxCrossEntropy(logits, sg.tensor([4]))).toThrow(/one-hot/);
    g.dispose();
  });
});

describe("init's errors say what to do", () => {
  it("debug without the debug build, and a wrong wasm path, give init: errors", async () => {
    const fs = await import("node:fs");
    const os = await import("node:os");
    const path = await import("node:path");
    // An installed package: the two release builds and no debug build.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "simdgrad-pkg-"));
    for (const f of ["simdgrad.simd.wasm", "simdgrad.relaxed.wasm"]) fs.copyFileSync(new URL(`../build/${f}`, import.meta.url), path.join(dir, f));
    await expect(init({ debug: true, wasm: dir })).rejects.toThrow(/^init: could not read .*simdgrad\.debug\.wasm \(no such file\); the debug build is not part of the npm package/);
    await expect(init({ wasm: path.join(dir, "nope") })).rejects.toThrow(/^init: could not read .*nope\/simdgrad\.(relaxed|simd)\.wasm \(no such file\); init\(\{ wasm \}\) takes the directory/);
    await expect(init({ wasm: path.join(dir, "missing.wasm") })).rejects.toThrow(/^init: could not read .*missing\.wasm \(no such file\)/);
    // A directory holding the full set only: kernels: "dense" names the files it looks for.
    await expect(init({ kernels: "dense", wasm: dir, relaxedSimd: BUILD === "relaxed" })).rejects.toThrow(
      /^init: could not read .*simdgrad\.dense\.(relaxed|simd)\.wasm \(no such file\); init\(\{ wasm \}\) takes the directory \(or URL\) holding simdgrad\.dense\.simd\.wasm and simdgrad\.dense\.relaxed\.wasm/,
    );
    const ok = await init({ wasm: dir, relaxedSimd: BUILD === "relaxed" });
    expect(ok.features.build).toBe(BUILD);
    expect(ok.features.kernels).toBe("all");
    await ok.close();
    // One .wasm file given is used as it is, whatever kernels says: features tell what it holds.
    const single = await init({ kernels: "dense", wasm: path.join(dir, "simdgrad.simd.wasm") });
    expect(single.features.kernels).toBe("all");
    await single.close();
    fs.rmSync(dir, { recursive: true });
  });
});
