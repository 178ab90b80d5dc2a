/**
 * conv2d with a fused bias and activation (`g.conv2d(x, f, { bias, activation })`): the
 * output has the bits of the composed graph (conv2d, add the bias, the activation op) over
 * every kernel path (direct C < 8, transposed C ≥ 8 with few filters, packed with many
 * filters or few pixels, several depth slices, an empty patch), for every activation, with
 * and without a bias; its gradients equal the composed graph's (the input and filter
 * gradients bit for bit: the same dz enters the same kernels; the bias gradient within the
 * rounding of a different summation order); the eager form gives the graph's bits; 1 and 2
 * threads agree bitwise; bad input is refused before any kernel runs.
 */
import { describe, expect, it } from "vitest";
import type { Graph, Node, SimdGrad } from "../src/index.js";
import { init } from "../src/index.js";
import { BUILD, randomArray, runtime } from "./helpers.js";

type Act = string | { name: string; slope?: number; theta?: number; approximate?: "none" | "tanh" };

const ACTS: Act[] = [
  "none", "relu", { name: "leakyRelu", slope: 0.1 }, { name: "leakyRelu", slope: -0.3 }, "sigmoid", "tanh",
  "swish", "gelu", { name: "gelu", approximate: "tanh" }, "hardTanh", { name: "step", theta: 0.1 },
];

/** [label, x shape, filter shape, options]: each kernel path of conv2d_forward_bias_act. */
const CASES: [string, number[], number[], Record<string, unknown>][] = [
  ["direct, 16-filter pairs", [2, 7, 7, 1], [3, 3, 1, 16], { padding: "same" }],
  ["direct, quads (F = 24), stride 2", [2, 9, 10, 3], [3, 3, 3, 24], { padding: "same", stride: 2 }],
  ["direct, F = 12, dilation 2", [1, 6, 9, 2], [3, 3, 2, 12], { dilation: 2, padding: 2 }],
  ["direct, F = 6 (a padded filter), 3 chunks of rows", [2, 9, 8, 1], [3, 3, 1, 6], { padding: "same" }],
  ["transposed, F = 10 (edge tiles)", [2, 9, 11, 12], [3, 3, 12, 10], { stride: 2, padding: "same" }],
  ["transposed, full tiles", [2, 8, 8, 16], [3, 3, 16, 32], { padding: "same" }],
  ["transposed, K = 360: two depth slices", [2, 9, 9, 40], [3, 3, 40, 20], { padding: 1 }],
  ["packed, F = 200 > 192", [1, 5, 6, 9], [2, 2, 9, 200], {}],
  ["packed, few pixels", [1, 3, 3, 9], [2, 2, 9, 20], { padding: 1 }],
  ["packed, K = 360: two depth slices", [1, 4, 4, 40], [3, 3, 40, 24], { padding: "same" }],
  ["packed, C = 3 with F = 5", [1, 6, 6, 3], [3, 3, 3, 5], { padding: "same" }],
  ["C = 0: an empty sum", [1, 3, 3, 0], [2, 2, 0, 4], {}],
];

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);
const actName = (a: Act) => (typeof a === "string" ? a : `${a.name}(${a.slope ?? a.theta ?? a.approximate})`);

/** act(z) as the separate activation op. */
function applyAct(g: Graph, z: Node, a: Act): Node {
  const o = typeof a === "string" ? { name: a } : a;
  switch (o.name) {
    case "none": return z;
    case "leakyRelu": return g.leakyRelu(z, o.slope);
    case "step": return g.step(z, o.theta);
    case "gelu": return g.gelu(z, { approximate: o.approximate ?? "none" });
    default: return (g as unknown as Record<string, (x: Node) => Node>)[o.name]!(z);
  }
}

/** The index and the two values of the first differing element, or null. */
function firstDiff(a: Float32Array, b: Float32Array): string | null {
  const ua = bits(a), ub = bits(b);
  if (ua.length !== ub.length) return `lengths ${ua.length} and ${ub.length}`;
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return `element ${i}: ${a[i]} vs ${b[i]}`;
  return null;
}

interface Run {
  y: Float32Array;
  dx: Float32Array;
  df: Float32Array;
  db: Float32Array | null;
}

/** One training step's values of the fused (or composed) form. */
function step(sg: SimdGrad, xs: number[], fs: number[], opts: Record<string, unknown>, withBias: boolean, act: Act, fused: boolean): Run {
  const g = sg.graph();
  const x = g.param(xs, { data: randomArray(size(xs), 11), name: "x" });
  const f = g.param(fs, { data: randomArray(size(fs), 12, -0.5, 0.5), name: "f" });
  const F = fs[3]!;
  const b = withBias ? g.param([F], { data: randomArray(F, 13), name: "b" }) : null;
  let y: Node;
  if (fused) {
    y = g.conv2d(x, f, { ...opts, ...(b ? { bias: b } : {}), ...(act === "none" ? {} : { activation: act as never }) });
  } else {
    let z = g.conv2d(x, f, opts as never);
    if (b) z = g.add(z, b);
    y = applyAct(g, z, act);
  }
  const c = g.input(y.shape, "c");
  const loss = g.sum(g.mul(y, c));
  const cv = randomArray(size([...y.shape]), 14);
  g.forward({ c: cv });
  g.backward(loss);
  return {
    y: y.value.toArray() as Float32Array,
    dx: x.grad!.toArray() as Float32Array,
    df: f.grad!.toArray() as Float32Array,
    db: b ? (b.grad!.toArray() as Float32Array) : null,
  };
}

describe(`conv2d with a fused bias and activation (${BUILD})`, () => {
  for (const [label, xs, fs, opts] of CASES) {
    it(`has the bits of conv2d, add, activation: ${label}`, async () => {
      const sg = await runtime();
      for (const withBias of [true, false]) {
        for (const act of ACTS) {
          const what = `${label}, ${withBias ? "bias" : "no bias"}, ${actName(act)}`;
          const got = step(sg, xs, fs, opts, withBias, act, true);
          const want = step(sg, xs, fs, opts, withBias, act, false);
          expect(firstDiff(got.y, want.y), `${what}: forward`).toBeNull();
          expect(firstDiff(got.dx, want.dx), `${what}: input gradient`).toBeNull();
          expect(firstDiff(got.df, want.df), `${what}: filter gradient`).toBeNull();
          if (withBias) {
            // Column sums against the broadcast add's reduction: the same terms, summed in
            // another order; both keep f32 runs of at most 64 rows (error ≤ 64·2⁻²⁴ of Σ|terms|).
            const gb = got.db!, wb = want.db!;
            const M = size(got.y.length ? [got.y.length / fs[3]!] : [0]);
            for (let j = 0; j < gb.length; j++) {
              const tol = 1e-5 * Math.max(1, Math.sqrt(M)) * (Math.abs(wb[j]!) + 1);
              expect(Math.abs(gb[j]! - wb[j]!), `${what}: bias gradient ${j}: ${gb[j]} vs ${wb[j]}`).toBeLessThanOrEqual(tol);
            }
          }
        }
      }
    });
  }

  it("the eager form gives the graph's bits (bias and activation in the options)", async () => {
    const sg = await runtime();
    for (const [, xs, fs, opts] of CASES.slice(0, 9)) {
      for (const act of ["relu", "swish", { name: "leakyRelu", slope: 0.2 }] as Act[]) {
        const F = fs[3]!;
        const x = sg.tensor(xs, randomArray(size(xs), 11));
        const f = sg.tensor(fs, randomArray(size(fs), 12, -0.5, 0.5));
        const b = sg.tensor([F], randomArray(F, 13));
        const y = sg.conv2d(x, f, { ...opts, bias: b, activation: act as never });
        const g = sg.graph();
        const yg = g.conv2d(g.param(xs, { data: x.toArray() as Float32Array }), g.param(fs, { data: f.toArray() as Float32Array }), {
          ...opts, bias: g.param([F], { data: b.toArray() as Float32Array }), activation: act as never,
        });
        g.forward({});
        expect(firstDiff(y.toArray() as Float32Array, yg.value.toArray() as Float32Array), `${JSON.stringify(xs)} ${actName(act)}`).toBeNull();
        // out: written in place of a new tensor
        const out = sg.tensor(y.shape);
        sg.conv2d(x, f, { ...opts, bias: b, activation: act as never }, out);
        expect(firstDiff(out.toArray() as Float32Array, y.toArray() as Float32Array)).toBeNull();
        for (const t of [x, f, b, y, out]) t.dispose();
      }
    }
  });

  it("1 and 2 threads give the same bits, forward and backward", async () => {
    const one = await runtime();
    const two = await init({ threads: 2, relaxedSimd: BUILD === "relaxed" });
    try {
      for (const [label, xs, fs, opts] of [CASES[1]!, CASES[4]!, CASES[6]!, CASES[8]!]) {
        const big = [8, ...xs.slice(1)];
        for (const act of ["gelu", "relu"] as Act[]) {
          const a = step(one, big, fs, opts, true, act, true);
          const b = step(two, big, fs, opts, true, act, true);
          for (const k of ["y", "dx", "df", "db"] as const) expect(firstDiff(a[k]!, b[k]!), `${label} ${actName(act)} ${k}`).toBeNull();
        }
      }
    } finally {
      await two.close();
    }
  });

  it("refuses a bias that is not [F] and an unknown activation, naming conv2d and the shapes", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const x = g.input([1, 5, 5, 3], "x");
    const f = g.param([3, 3, 3, 4]);
    expect(() => g.conv2d(x, f, { bias: g.param([3]) })).toThrow("conv2d: the bias must be [4] (one per filter: the filter's last dimension): x is [1, 5, 5, 3], filter is [3, 3, 3, 4], bias is [3]");
    expect(() => g.conv2d(x, f, { bias: g.param([1, 4]) })).toThrow("bias is [1, 4]");
    expect(() => g.conv2d(x, f, { activation: "relu6" as never })).toThrow(/^conv2d: unknown activation "relu6"; use one of none, /);
    expect(() => g.conv2d(x, f, { activation: { name: "leakyRelu", slope: NaN } })).toThrow("conv2d: the leakyRelu parameter must be a finite number");
    expect(() => g.conv2d(x, f, { bias: 3 as never })).toThrow(/conv2d/);
    // eager: refused before any kernel runs, the runtime usable afterwards
    const xt = sg.tensor([1, 5, 5, 3], new Float32Array(75));
    const ft = sg.tensor([3, 3, 3, 4], new Float32Array(108));
    const bt = sg.tensor([5], new Float32Array(5));
    expect(() => sg.conv2d(xt, ft, { bias: bt })).toThrow("conv2d: the bias must be [4]");
    expect(() => sg.conv2d(xt, ft, { activation: "nope" as never })).toThrow("conv2d: unknown activation");
    expect(sg.conv2d(xt, ft, { bias: sg.tensor([4], new Float32Array([1, 2, 3, 4])), activation: "relu" }).toArray()[3]).toBe(4);
  });
});
