/**
 * The dense kernel set (init({ kernels: "dense" }), assembly/dense.ts): a smaller .wasm with
 * dense layers' kernels only. Checks that
 *   - every op of the registry either runs on it exactly as on the full set (values and
 *     gradients, bit for bit, on 1 and 2 threads) or, where it declares a kernel the set
 *     leaves out (OpDef.needs), is refused when the node or the eager call is made, with an
 *     error naming the op, nothing allocated, the runtime usable afterwards; no op reaches a
 *     missing kernel (a TypeError) — which holds `needs` true for every op;
 *   - the dense module exports a subset of the full one, with the same parameter counts,
 *     and lacks exactly the families src/runtime/kernel-set.ts names;
 *   - a dense network trains to the same bits as on the full set; bad options are refused.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { init, type SimdGrad } from "../src/index.js";
import { OP_LIST } from "../src/ops/registry.js";
import { type OpDef, type OpSample, opId } from "../src/ops/op.js";
import { OUTSIDE_DENSE } from "../src/runtime/kernel-set.js";
import { BUILD, expectSameBits, randomArray } from "./helpers.js";

let full: SimdGrad;
let dense: SimdGrad;
let dense2: SimdGrad;

beforeAll(async () => {
  full = await init({ relaxedSimd: BUILD === "relaxed" });
  dense = await init({ kernels: "dense", relaxedSimd: BUILD === "relaxed" });
  dense2 = await init({ kernels: "dense", threads: 2, relaxedSimd: BUILD === "relaxed" });
});
afterAll(async () => {
  await full.close();
  await dense.close();
  await dense2.close();
});

const sizeOf = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

function values(s: OpSample<unknown>, i: number): Float32Array {
  const n = sizeOf(s.inputs[i]!);
  return s.values ? Float32Array.from(s.values(i, n)) : randomArray(n, 11 + i);
}

/** y = op(inputs as params), loss = Σ y ⊙ w; forward and backward; y and every gradient. */
function run(sg: SimdGrad, op: OpDef<any, any>, s: OpSample<unknown>): Float32Array[] {
  const g = sg.graph();
  const feeds: Record<string, Float32Array> = {};
  const leaves = s.inputs.map((shape, i) => {
    if (s.constant?.includes(i)) {
      feeds[`in${i}`] = values(s, i);
      return g.input(shape, `in${i}`);
    }
    return g.param(shape, { name: `in${i}`, data: values(s, i) });
  });
  const y = g._applyOp(op, leaves, s.attrs);
  feeds.w = randomArray(y.size, 99, 0.5, 1.5);
  const loss = g.sum(g.mul(y, g.input(y.shape, "w")));
  g.forward(feeds);
  const out = [y.value.toArray()];
  if (loss.requiresGrad) {
    g.backward(loss);
    for (const n of leaves) if (n.grad) out.push(n.grad.toArray());
  }
  g.dispose();
  return out;
}

describe("the dense kernel set", () => {
  it("loads the dense .wasm and says so in features; the default loads every kernel", () => {
    expect(dense.features.kernels).toBe("dense");
    expect(dense.features.build).toBe(BUILD);
    expect(dense2.features.threads).toBe(2);
    expect(full.features.kernels).toBe("all");
  });

  it("exports a subset of the full module with the same parameter counts, without the families it leaves out, in a smaller file", () => {
    const exportsOf = (sg: SimdGrad) => sg.rt.rawKernels as unknown as Record<string, unknown>;
    const f = exportsOf(full);
    const d = exportsOf(dense);
    const names = (o: Record<string, unknown>) => Object.keys(o).filter((k) => typeof o[k] === "function");
    for (const k of names(d)) {
      expect(typeof f[k], k).toBe("function");
      expect((d[k] as Function).length, k).toBe((f[k] as Function).length);
    }
    for (const k of Object.keys(OUTSIDE_DENSE)) {
      expect(typeof f[k], k).toBe("function");
      expect(d[k], k).toBeUndefined();
    }
    // (That no op reaches a kernel the set lacks is the per-op tests' part below.)
    // And it is smaller: what the set is for.
    const size = (file: string) => readFileSync(new URL(`../build/${file}`, import.meta.url)).length;
    expect(size(`simdgrad.dense.${BUILD}.wasm`)).toBeLessThan(0.8 * size(`simdgrad.${BUILD}.wasm`));
  });

  it("every op needs only kernels outside the dense set that OpDef.needs names", () => {
    for (const op of OP_LIST) if (op.needs !== undefined) expect(Object.keys(OUTSIDE_DENSE), opId(op)).toContain(op.needs);
  });

  for (const op of OP_LIST) {
    (op.samples ?? []).forEach((s0, k) => {
      const s = s0 as OpSample<unknown>;
      const name = `${opId(op)} [${s.label ?? k}]`;
      if (op.needs === undefined) {
        it(`${name}: the same values and gradients as on the full set, on 1 and 2 threads`, () => {
          const want = run(full, op, s);
          for (const [sg, what] of [[dense, "1 thread"], [dense2, "2 threads"]] as const) {
            const got = run(sg, op, s);
            expect(got.length, name).toBe(want.length);
            got.forEach((v, i) => expectSameBits(v, want[i]!, `${name} (${what}) output ${i}`));
          }
        });
      } else {
        it(`${name}: refused on the dense set when the node and the eager call are made, naming the op`, () => {
          const before = dense.memory.bytesInUse;
          const g = dense.graph();
          const leaves = s.inputs.map((shape, i) => g.input(shape, `x${i}`));
          const nodes = g.order().length;
          const msg = new RegExp(`^${op.name}: this runtime loaded the dense kernel set \\(init\\(\\{ kernels: "dense" \\}\\)\\), which has no ${OUTSIDE_DENSE[op.needs!]}`);
          expect(() => g._applyOp(op, leaves, s.attrs)).toThrow(msg);
          expect(g.order().length).toBe(nodes);
          const xs = s.inputs.map((shape) => dense.tensor(shape));
          const inUse = dense.memory.bytesInUse;
          expect(() => dense.apply(op, xs, s.attrs)).toThrow(msg);
          expect(dense.memory.bytesInUse).toBe(inUse);
          for (const t of xs) t.dispose();
          // The graph and the runtime go on working.
          const y = g.sum(g.mul(leaves[0]!, leaves[0]!));
          g.forward(Object.fromEntries(s.inputs.map((sh, i) => [`x${i}`, randomArray(sizeOf(sh), i + 1)])));
          expect(Number.isFinite(y.value.toArray()[0]!)).toBe(true);
          g.dispose();
          expect(dense.memory.bytesInUse).toBe(before);
        });
      }
    });
  }

  it("refuses the hand-written eager gradients of convolutions and pooling too", () => {
    const x = dense.tensor([1, 4, 4, 2]);
    const dy = dense.tensor([1, 2, 2, 2]);
    const w = dense.tensor([3, 3, 2, 2]);
    expect(() => dense.conv2dBackwardInput(dense.tensor([1, 2, 2, 2]), w, [1, 4, 4, 2])).toThrow(/^conv2dBackwardInput: this runtime loaded the dense kernel set.*no convolutions/);
    expect(() => dense.conv2dBackwardFilter(x, dense.tensor([1, 2, 2, 2]), [3, 3, 2, 2])).toThrow(/^conv2dBackwardFilter: .*no convolutions/);
    expect(() => dense.maxPool2dBackward(x, dy, dy, { size: 2 })).toThrow(/^maxPool2dBackward: .*no pooling/);
    expect(() => dense.avgPool2dBackward(dy, [1, 4, 4, 2], { size: 2 })).toThrow(/^avgPool2dBackward: .*no pooling/);
    // Named methods too (g.conv2d through the registry).
    const g = dense.graph();
    expect(() => g.conv2d(g.input([1, 4, 4, 2], "x"), g.param([3, 3, 2, 2]))).toThrow(/^conv2d: .*no convolutions/);
    g.dispose();
  });

  it("trains a 784→64→10 network to the same bits as the full set (SGD with momentum, 3 steps, 1 and 2 threads)", () => {
    const losses = (sg: SimdGrad) => {
      const g = sg.graph();
      const x = g.input([-1, 784], "x");
      const y = g.input([-1, 10], "y");
      const W1 = g.param([784, 64], { init: "he", seed: 1, name: "W1" });
      const b1 = g.param([64], { name: "b1" });
      const W2 = g.param([64, 10], { init: "xavier", seed: 2, name: "W2" });
      const loss = g.softmaxCrossEntropy(g.linear(g.relu(g.add(g.matmul(x, W1), b1)), W2), y);
      const opt = sg.sgd(g.params, { lr: 0.05, momentum: 0.9 });
      const xs = randomArray(32 * 784, 5);
      const ys = new Float32Array(32 * 10);
      for (let i = 0; i < 32; i++) ys[i * 10 + (i % 10)] = 1;
      const out: number[] = [];
      for (let step = 0; step < 3; step++) {
        opt.zeroGrad();
        g.forward({ x: xs, y: ys });
        out.push(loss.value.toArray()[0]!);
        g.backward(loss);
        opt.step();
      }
      const w = W1.value.toArray();
      g.dispose();
      return { out, w };
    };
    const want = losses(full);
    for (const sg of [dense, dense2]) {
      const got = losses(sg);
      expect(got.out).toEqual(want.out);
      expectSameBits(got.w, want.w, "W1 after 3 steps");
    }
    expect(want.out[2]!).toBeLessThan(want.out[0]!);
  });

  it("refuses a kernel set it does not know, and the debug build with the dense set", async () => {
    await expect(init({ kernels: "tiny" as never })).rejects.toThrow(/^init: kernels must be "all" or "dense", got "tiny"/);
    await expect(init({ kernels: "dense", debug: true })).rejects.toThrow(/^init: the debug build has every kernel/);
  });
});
