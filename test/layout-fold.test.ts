import { afterAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { init } from "../src/index.js";
import type { SimdGrad } from "../src/simdgrad.js";
import type { Graph } from "../src/graph/graph.js";
import type { Node } from "../src/graph/node.js";
import type { Kernels } from "../src/runtime/kernels.js";
import { BUILD, randomArray, runtime } from "./helpers.js";

// A transpose of the last two axes feeding matmul is folded into the GEMM's transpose flags:
// no copy kernel runs and no gradient flows through the transpose's own buffers, and the
// values and gradients equal those of the copied path (the same graph with folding off).

type Build = (g: Graph, p: Node[]) => Node;
interface Case {
  label: string;
  params: number[][];
  build: Build;
  /** Whether every transpose here can be folded (all consumers are matmuls reading it). */
  folds: boolean;
}

const CASES: Case[] = [
  { label: "matmul(xᵀ, W)", params: [[5, 3], [5, 4]], build: (g, [a, w]) => g.matmul(g.transpose(a!), w!), folds: true },
  { label: "matmul(x, Wᵀ)", params: [[3, 5], [4, 5]], build: (g, [a, w]) => g.matmul(a!, g.transpose(w!)), folds: true },
  { label: "matmul(xᵀ, Wᵀ)", params: [[5, 3], [4, 5]], build: (g, [a, w]) => g.matmul(g.transpose(a!), g.transpose(w!)), folds: true },
  {
    label: "transpose flags flip back: matmul(xᵀ, W, transposeA)",
    params: [[3, 5], [5, 4]],
    build: (g, [a, w]) => g.matmul(g.transpose(a!), w!, { transposeA: true }),
    folds: true,
  },
  {
    label: "one transpose, two matmuls, and a 1-D operand",
    params: [[6, 7], [6, 3], [7]],
    build: (g, [a, w, v]) => {
      const t = g.transpose(a!);
      return g.add(g.sum(g.matmul(t, w!)), g.sum(g.matmul(v!, t)));
    },
    folds: true,
  },
  {
    label: "batched: [B, K, M] with perm [0, 2, 1] times [B, K, N]",
    params: [[2, 3, 4], [2, 3, 5]],
    build: (g, [a, w]) => g.matmul(g.transpose(a!, [0, 2, 1]), w!),
    folds: true,
  },
  {
    label: "batched times a shared transposed matrix",
    params: [[2, 3, 4], [5, 4]],
    build: (g, [a, w]) => g.matmul(a!, g.transpose(w!)),
    folds: true,
  },
  {
    label: "an op node transposed (its gradient sums two paths)",
    params: [[4, 3], [4, 5]],
    build: (g, [a, w]) => {
      const h = g.tanh(a!);
      return g.add(g.sum(g.matmul(g.transpose(h), w!)), g.sum(g.mul(h, h)));
    },
    folds: true,
  },
  {
    label: "a transpose also read by another op is copied",
    params: [[4, 3], [4, 5]],
    build: (g, [a, w]) => {
      const t = g.transpose(a!);
      return g.add(g.sum(g.matmul(t, w!)), g.sum(g.square(t)));
    },
    folds: false,
  },
];

/** Counts kernel calls by name while `f` runs. */
function counting(g: Graph, f: () => void): Map<string, number> {
  const rt = g._host as unknown as { kernels: Kernels };
  const real = rt.kernels;
  const counts = new Map<string, number>();
  const wrapped: Record<string, unknown> = {};
  for (const name of Object.keys(real)) {
    const v = (real as unknown as Record<string, unknown>)[name];
    wrapped[name] = typeof v !== "function" ? v : (...args: unknown[]) => {
      counts.set(name, (counts.get(name) ?? 0) + 1);
      return (v as (...a: unknown[]) => unknown)(...args);
    };
  }
  rt.kernels = wrapped as unknown as Kernels;
  try {
    f();
  } finally {
    rt.kernels = real;
  }
  return counts;
}

function makeGraph(sg: SimdGrad, c: Case, fold: boolean) {
  const g = sg.graph();
  g._foldLayouts = fold;
  const ps = c.params.map((s, i) => g.param(s, { data: randomArray(s.reduce((a, b) => a * b, 1), 10 + i, -1, 1), name: `p${i}` }));
  let y = c.build(g, ps);
  if (y.size !== 1) y = g.sum(g.mul(y, g.param(y.shape as number[], { data: randomArray(y.size, 99, -2, 2), name: "w" })));
  return { g, ps, y };
}

function close(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  expect(got.length, what).toBe(want.length);
  const scale = Math.max(1e-3, ...Array.from(want, Math.abs));
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i]! - want[i]!) <= 1e-5 * scale)) throw new Error(`${what}[${i}]: ${got[i]} vs ${want[i]} (scale ${scale})`);
  }
}

describe("a transpose feeding matmul folds into the GEMM's flags", () => {
  for (const c of CASES) {
    it(`${c.label}: ${c.folds ? "no copy runs" : "copied"}; values and gradients equal the copied path`, async () => {
      const sg = await runtime();
      const folded = makeGraph(sg, c, true);
      const copied = makeGraph(sg, c, false);
      folded.g.forward();
      copied.g.forward();
      const counts = counting(folded.g, () => {
        folded.g.zeroGrad();
        folded.g.forward();
        folded.g.backward(folded.y);
      });
      const copiedCounts = counting(copied.g, () => {
        copied.g.zeroGrad();
        copied.g.forward();
        copied.g.backward(copied.y);
      });
      // The copied path runs one strided copy per transpose forward and one backward; folded, none of them runs.
      const transposes = copied.g.order([copied.y]).filter((n) => n.opName === "transpose").length;
      const copies = counts.get("copy_nd") ?? 0;
      const copiedCopies = copiedCounts.get("copy_nd") ?? 0;
      expect(copies, `copy_nd calls, folded ${JSON.stringify([...counts])}, copied ${JSON.stringify([...copiedCounts])}`)
        .toBe(c.folds ? copiedCopies - 2 * transposes : copiedCopies);
      expect(counts.get("gemm")).toBe(copiedCounts.get("gemm"));
      close(folded.y.value.toArray(), copied.y.value.toArray(), "loss");
      folded.ps.forEach((p, i) => close(p.grad!.toArray(), copied.ps[i]!.grad!.toArray(), `grad of ${p.name}`));
      // Every node's value and gradient reads as in the copied path (a folded one is formed when read).
      const fo = folded.g.order([folded.y]);
      const co = copied.g.order([copied.y]);
      expect(fo.length).toBe(co.length);
      fo.forEach((n, i) => {
        const m = co[i]!;
        close(n.value.toArray(), m.value.toArray(), `value of ${n.describe()}`);
        if (n.requiresGrad) close(n.grad!.toArray(), m.grad!.toArray(), `gradient of ${n.describe()}`);
      });
      expect(fo.some((n) => n._folded)).toBe(c.folds);
      // Gradients of the folded graph against the numeric estimate.
      const report = sg.gradcheck(folded.g, folded.y, { tol: 2e-2 });
      expect(report.ok, JSON.stringify(report.params.map((p) => [p.name, p.maxRelError]))).toBe(true);
      folded.g.dispose();
      copied.g.dispose();
    });
  }

  it("the training step allocates nothing, and a folded value read after the weights changed is refused, not stale", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const x = g.input([8, 6], "x");
    const W = g.param([4, 6], { name: "W", seed: 3 });
    const Wt = g.transpose(W);
    const loss = g.mean(g.square(g.matmul(x, Wt)));
    const opt = sg.sgd(g.params, { lr: 0.1 });
    g.forward({ x: randomArray(48, 5) });
    expect(Wt._folded).toBe(true);
    const before = sg.memory.totalAllocations;
    for (let i = 0; i < 5; i++) {
      opt.zeroGrad();
      g.forward();
      g.backward(loss);
      opt.step();
    }
    expect(sg.memory.totalAllocations).toBe(before);
    expect(() => Wt.value).toThrow(/'W'.*changed since the last forward/);
    g.forward();
    const w = W.value.toArray();
    const t = Wt.value.toArray();
    for (let r = 0; r < 4; r++) for (let c = 0; c < 6; c++) expect(t[c * 4 + r]).toBe(w[r * 6 + c]);
    expect(() => g.backward(Wt, new Float32Array(24))).toThrow(/through its layout/);
    g.dispose();
  });

  // Random products over a size sweep (1–3, tile multiples and tails, odd sizes), every flag,
  // a transpose on either side or both, 2-D or batched: folded equals copied (values and
  // gradients), and 1 and 2 threads agree bitwise on the folded graph.
  let sg2: SimdGrad | null = null;
  afterAll(async () => {
    await sg2?.close();
  });
  it("random shapes, flags and sides: folded equals copied; 1 and 2 threads bitwise equal", async () => {
    const sg = await runtime();
    sg2 ??= await init({ threads: 2, relaxedSimd: BUILD === "relaxed" });
    const dim = fc.oneof(fc.integer({ min: 1, max: 9 }), fc.constantFrom(16, 17, 31, 33, 48, 65, 97));
    const spec = fc.record({
      m: dim, k: dim, n: dim,
      batch: fc.constantFrom(0, 0, 2, 3),
      shared: fc.boolean(),
      tA: fc.boolean(), tB: fc.boolean(),
      foldA: fc.boolean(), foldB: fc.boolean(),
    });
    fc.assert(
      fc.property(spec, (p) => {
        if (!p.foldA && !p.foldB) p.foldA = true;
        // op(A) is m × k, op(B) is k × n; A stored as the matmul sees it after the transpose flag.
        const aMat = p.tA ? [p.k, p.m] : [p.m, p.k];
        const bMat = p.tB ? [p.n, p.k] : [p.k, p.n];
        const lead = p.batch > 0 ? [p.batch] : [];
        const aShape = [...lead, ...aMat];
        const bShape = p.batch > 0 && p.shared ? bMat : [...lead, ...bMat];
        // A transposed operand is a param stored with its last two axes swapped.
        const swap = (s: number[]) => [...s.slice(0, -2), s[s.length - 1]!, s[s.length - 2]!];
        const perm = (r: number) => (r === 2 ? undefined : [...Array(r - 2).keys(), r - 1, r - 2]);
        const build = (s: SimdGrad, fold: boolean) => {
          const g = s.graph();
          g._foldLayouts = fold;
          const size = (sh: number[]) => sh.reduce((x, y) => x * y, 1);
          const aStored = p.foldA ? swap(aShape) : aShape;
          const bStored = p.foldB ? swap(bShape) : bShape;
          const a = g.param(aStored, { data: randomArray(size(aStored), p.m * 7 + p.k, -1, 1), name: "a" });
          const b = g.param(bStored, { data: randomArray(size(bStored), p.n * 5 + p.k, -1, 1), name: "b" });
          const A = p.foldA ? g.transpose(a, perm(aStored.length)) : a;
          const B = p.foldB ? g.transpose(b, perm(bStored.length)) : b;
          const y = g.matmul(A, B, { transposeA: p.tA, transposeB: p.tB });
          const w = g.param(y.shape as number[], { data: randomArray(y.size, 77, -2, 2), name: "w" });
          const loss = g.sum(g.mul(y, w));
          g.forward();
          g.backward(loss);
          const out = { y: y.value.toArray(), da: a.grad!.toArray(), db: b.grad!.toArray(), folded: g.order([loss]).filter((n) => n._folded).length };
          g.dispose();
          return out;
        };
        const f1 = build(sg, true);
        const f2 = build(sg2!, true);
        const c1 = build(sg, false);
        expect(f1.folded).toBe((p.foldA ? 1 : 0) + (p.foldB ? 1 : 0));
        expect(c1.folded).toBe(0);
        for (const key of ["y", "da", "db"] as const) {
          close(f1[key], c1[key], `${key} of ${JSON.stringify(p)}`);
          expect(Array.from(f2[key]), `${key}, 2 threads, ${JSON.stringify(p)}`).toEqual(Array.from(f1[key]));
        }
      }),
      { numRuns: 60, seed: 20261202 },
    );
  });
});
