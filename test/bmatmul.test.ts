import { describe, expect, it } from "vitest";
import { matmulOp } from "../src/ops/matmul.js";
import { batchDims } from "../src/ops/bmatmul.js";
import type { Shape } from "../src/runtime/shape.js";
import { randomArray, runtime } from "./helpers.js";
import { U32, checkGrad, expectError, expectWithin } from "./elementwise-util.js";

const sizeOf = (s: Shape) => s.reduce((a, b) => a * b, 1);

/** float64 batched product with NumPy's rules for a 2-D operand; returns values and Σ|a||b| per element. */
function ref(av: ArrayLike<number>, as: Shape, bv: ArrayLike<number>, bs: Shape, tA: boolean, tB: boolean): { y: Float64Array; abs: Float64Array } {
  const ra = as.length, rb = bs.length;
  const m = tA ? as[ra - 1]! : as[ra - 2]!, k = tA ? as[ra - 2]! : as[ra - 1]!;
  const n = tB ? bs[rb - 2]! : bs[rb - 1]!;
  const batch = Math.max(sizeOf(as.slice(0, -2)), sizeOf(bs.slice(0, -2)));
  const sa = ra > 2 ? m * k : 0, sb = rb > 2 ? k * n : 0;
  const y = new Float64Array(batch * m * n), abs = new Float64Array(batch * m * n);
  for (let p = 0; p < batch; p++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0, t = 0;
        for (let q = 0; q < k; q++) {
          const x = av[p * sa + (tA ? q * m + i : i * k + q)]!;
          const z = bv[p * sb + (tB ? j * k + q : q * n + j)]!;
          s += x * z;
          t += Math.abs(x * z);
        }
        y[(p * m + i) * n + j] = s;
        abs[(p * m + i) * n + j] = t;
      }
    }
  }
  return { y, abs };
}

function shapesFor(batchA: number[] | null, batchB: number[] | null, m: number, k: number, n: number, tA: boolean, tB: boolean): [Shape, Shape] {
  const a = tA ? [k, m] : [m, k];
  const b = tB ? [n, k] : [k, n];
  return [[...(batchA ?? []), ...a], [...(batchB ?? []), ...b]];
}

const BATCHES: [number[] | null, number[] | null][] = [[[3], [3]], [[3], null], [null, [3]], [[2, 3], [2, 3]], [[1], [1]], [[2, 2], null], [[0], [0]], [[4], null]];
const DIMS: [number, number, number][] = [[1, 1, 1], [2, 3, 4], [5, 7, 3], [4, 8, 9], [17, 5, 13], [1, 9, 1], [3, 0, 2], [33, 20, 19]];

describe("matmul on 3-D and 4-D operands", () => {
  it("forward against float64 for every transpose case, shared 2-D operands on either side, batch 0 and 1", async () => {
    const sg = await runtime();
    for (const [ba, bb] of BATCHES) {
      for (const [m, k, n] of DIMS) {
        for (const tA of [false, true]) {
          for (const tB of [false, true]) {
            const [as, bs] = shapesFor(ba, bb, m, k, n, tA, tB);
            const av = randomArray(sizeOf(as), m + 3 * k, -1, 1), bv = randomArray(sizeOf(bs), n + 5 * k, -1, 1);
            const a = sg.tensor(as, av), b = sg.tensor(bs, bv);
            const y = sg.matmul(a, b, { transposeA: tA, transposeB: tB });
            const { y: want, abs } = ref(av, as, bv, bs, tA, tB);
            expect(y.shape).toEqual([...(ba ?? bb ?? []), m, n]);
            expectWithin(y.data, want, Array.from(abs, (v) => (k + 2) * U32 * v + 1e-30), `matmul ${JSON.stringify(as)}·${JSON.stringify(bs)} tA=${tA} tB=${tB}`);
            // accumulate into out
            const out = sg.tensor(y.shape, randomArray(y.size, 4));
            const before = out.toArray();
            sg.matmul(a, b, { transposeA: tA, transposeB: tB, out, accumulate: true });
            expectWithin(out.data, Array.from(want, (v, i) => v + before[i]!), Array.from(abs, (v, i) => (k + 2) * U32 * v + 2 * U32 * Math.abs(before[i]!) + 1e-30), "accumulate");
            for (const t of [a, b, y, out]) t.dispose();
          }
        }
      }
    }
  });

  it("folds a batch times a shared right operand into one GEMM (and only then)", () => {
    expect(batchDims([4, 5, 6], [6, 7]).fold).toBe(true);
    expect(batchDims([4, 6, 5], [6, 7], { transposeA: true }).fold).toBe(false);
    expect(batchDims([4, 5, 6], [4, 6, 7]).fold).toBe(false);
    expect(batchDims([5, 6], [4, 6, 7]).fold).toBe(false);
  });

  it("gradients by numeric estimate, every transpose case, shared operands accumulate over the batch", async () => {
    const sg = await runtime();
    for (const [ba, bb] of [[[3], [3]], [[3], null], [null, [2]], [[2, 2], [2, 2]], [[2, 1], null]] as [number[] | null, number[] | null][]) {
      for (const [m, k, n] of [[2, 3, 4], [1, 5, 2], [3, 1, 3]] as [number, number, number][]) {
        for (const tA of [false, true]) {
          for (const tB of [false, true]) {
            const [as, bs] = shapesFor(ba, bb, m, k, n, tA, tB);
            checkGrad(sg, {
              op: matmulOp, attrs: { transposeA: tA, transposeB: tB },
              inputs: [{ shape: as, values: randomArray(sizeOf(as), 1) }, { shape: bs, values: randomArray(sizeOf(bs), 2) }],
            }, `matmul ${JSON.stringify(as)}·${JSON.stringify(bs)} tA=${tA} tB=${tB}`);
          }
        }
      }
    }
  });

  it("transposed views (g.transpose) fed into batched matmul: attention-shaped graph passes gradcheck", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const x = g.input([2, 4, 6], "x", { requiresGrad: true });
    const Wq = g.param([6, 3], { init: "normal", std: 0.5, seed: 1, name: "Wq" });
    const Wk = g.param([6, 3], { init: "normal", std: 0.5, seed: 2, name: "Wk" });
    const q = g.matmul(x, Wq); // [2, 4, 3], folded
    const kT = g.transpose(g.matmul(x, Wk), [0, 2, 1]); // [2, 3, 4]
    const s = g.matmul(q, kT); // [2, 4, 4]
    const s2 = g.matmul(g.transpose(q, [0, 2, 1]), g.reshape(g.matmul(x, Wk), [2, 4, 3]), { transposeA: true, transposeB: true }); // [2, 4, 4]
    const v = g.matmul(g.add(s, s2), x); // [2, 4, 6]
    const loss = g.sum(g.mul(v, g.param([6], { data: randomArray(6, 3), name: "w" })));
    const report = sg.gradcheck(g, loss, { feeds: { x: randomArray(48, 4) } });
    expect(report.ok, JSON.stringify(report.params)).toBe(true);
  });

  it("bad shapes: clear errors naming the op and both shapes", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const a = g.input([2, 3, 4], "a");
    expectError(() => g.matmul(a, g.input([3, 4, 5], "b")), "matmul: batch dimensions differ", "a is [2, 3, 4], b is [3, 4, 5]");
    expectError(() => g.matmul(a, g.input([2, 5, 6], "c")), "matmul: inner dimensions differ: a is [2, 3, 4], b is [2, 5, 6]");
    expectError(() => g.matmul(a, g.input([2, 4, 6], "d"), { transposeA: true }), "matmul: inner dimensions differ (aᵀ·b)", "[2, 3, 4]");
    expectError(() => g.matmul(a, g.input([4], "e")), "matmul: a batched product needs both operands of rank 2 or more");
    expectError(() => sg.matmul(sg.zeros([2, 3, 4]), sg.zeros([2, 4, 5]), { out: sg.zeros([2, 3, 4]) }), "matmul: out is [2, 3, 4], the result is [2, 3, 5]");
    expect(g.matmul(a, g.input([2, 4, 5], "f")).shape).toEqual([2, 3, 5]);
  });
});
