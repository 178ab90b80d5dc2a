/**
 * Attention with the heads side by side in the rows (`heads`: q, k, v and the result shaped
 * [..., T, heads·dh], as linear projections leave them) equals attention over the same heads
 * moved to [..., heads, T, dh] by reshape and transpose, bit for bit: the kernels read each
 * head where it is and compute it exactly as a contiguous slice. Forward and all three
 * gradients, causal and not, head sizes and lengths off the block sizes, on 1, 2 and 3
 * threads (a thread's run of slices may start inside a sequence's heads), the eager form,
 * and bad heads counts (clear errors, the runtime keeps working). selfAttention, reading q, k
 * and v as the thirds of one [..., T, 3·heads·dh] tensor, equals attention on the three
 * thirds, its gradient the three gradients side by side, bit for bit.
 */
import { describe, expect, it } from "vitest";
import type { SimdGrad } from "../src/index.js";
import { expectSameBits, randomArray, threadRuntimes } from "./helpers.js";

const runtimes = threadRuntimes();

interface Case {
  lead: number[];
  t: number;
  heads: number;
  dh: number;
  causal: boolean;
}

/** y, dq, dk, dv of one forward + backward, heads in the rows ([..., T, H·dh]) or moved out first. */
function run(sg: SimdGrad, c: Case, inRows: boolean): Float32Array[] {
  const width = c.heads * c.dh;
  const shape = [...c.lead, c.t, width];
  const n = shape.reduce((a, b) => a * b, 1);
  const r = shape.length;
  const g = sg.graph();
  const [q, k, v] = ["q", "k", "v"].map((name) => g.input(shape, name, { requiresGrad: true }));
  let y;
  if (inRows) {
    y = g.attention(q!, k!, v!, { causal: c.causal, heads: c.heads });
  } else {
    // [..., T, H, dh] → [..., H, T, dh], attention per head, and back.
    const swap = [...Array.from({ length: r - 2 }, (_, i) => i), r - 1, r - 2, r];
    const split = (x: typeof q) => g.transpose(g.reshape(x!, [...c.lead, c.t, c.heads, c.dh]), swap);
    const o = g.attention(split(q), split(k), split(v), { causal: c.causal });
    y = g.reshape(g.transpose(o, swap), shape);
  }
  g.forward({ q: randomArray(n, 11 + c.t), k: randomArray(n, 12 + c.dh), v: randomArray(n, 13) });
  g.backward(y, randomArray(n, 14, -2, 2));
  const out = [y.value.toArray(), ...[q, k, v].map((x) => x!.grad!.toArray())];
  g.dispose();
  return out;
}

describe("attention with heads side by side in the rows", () => {
  const cases: Case[] = [
    // The pool splits calls of ≥ 2^18 multiply-adds in the score product (slices·T²·dh):
    // the first two and the last split, runs of slices starting inside a sequence's heads.
    { lead: [3], t: 64, heads: 4, dh: 8, causal: true }, // 12 slices: runs of 6 (2 threads) or 4 (3)
    { lead: [1], t: 100, heads: 3, dh: 16, causal: true }, // one sequence: its heads split over threads
    { lead: [2], t: 5, heads: 5, dh: 3, causal: false }, // dh not a multiple of 4, T below a tile
    { lead: [2, 2], t: 40, heads: 2, dh: 12, causal: false }, // two leading axes
    { lead: [1], t: 1, heads: 2, dh: 4, causal: true }, // one position
    { lead: [2], t: 64, heads: 4, dh: 16, causal: true }, // the demo's shape: runs of 4 or 3 slices
  ];
  for (const c of cases) {
    const what = `[${[...c.lead, c.t, c.heads * c.dh]}], heads ${c.heads}, ${c.causal ? "causal" : "full"}`;
    it(`equals the transposed heads bit for bit, forward and gradients, 1–3 threads: ${what}`, () => {
      const want = run(runtimes[1]!, c, false);
      for (const t of [1, 2, 3]) {
        const got = run(runtimes[t]!, c, true);
        ["y", "dq", "dk", "dv"].forEach((name, i) => expectSameBits(got[i]!, want[i]!, `${what}: ${name}, ${t} threads`));
      }
    });
  }

  it("heads: 1 is the plain layout; the eager form takes heads too", () => {
    const sg = runtimes[1]!;
    const shape = [2, 9, 6];
    const n = 2 * 9 * 6;
    const [q, k, v] = [1, 2, 3].map((s) => sg.tensor(shape, randomArray(n, s)));
    try {
      const plain = sg.attention(q!, k!, v!, { causal: true });
      const one = sg.attention(q!, k!, v!, { causal: true, heads: 1 });
      expectSameBits(one.toArray(), plain.toArray(), "heads 1");
      // Three heads of 2: head h of sequence b is columns 2h, 2h + 1 of its rows.
      const three = sg.attention(q!, k!, v!, { causal: true, heads: 3 });
      expect(three.shape).toEqual(shape);
      const cols = (x: Float32Array, h: number) => {
        const out = new Float32Array(2 * 9 * 2);
        for (let b = 0; b < 2; b++) for (let t = 0; t < 9; t++) for (let d = 0; d < 2; d++) out[(b * 9 + t) * 2 + d] = x[(b * 9 + t) * 6 + 2 * h + d]!;
        return out;
      };
      for (let h = 0; h < 3; h++) {
        const [qh, kh, vh] = [q, k, v].map((x) => sg.tensor([2, 9, 2], cols(x!.toArray(), h)));
        const alone = sg.attention(qh!, kh!, vh!, { causal: true });
        expectSameBits(cols(three.toArray(), h), alone.toArray(), `head ${h}`);
        for (const x of [qh, kh, vh, alone]) x!.dispose();
      }
      for (const x of [plain, one, three]) x.dispose();
    } finally {
      for (const x of [q, k, v]) x!.dispose();
    }
  });

  it("a heads count that does not divide the last axis, or is not a whole number ≥ 1, is refused with the shapes; the runtime keeps working", () => {
    const sg = runtimes[2]!;
    const g = sg.graph();
    const q = g.input([2, 5, 6], "q");
    expect(() => g.attention(q, q, q, { heads: 4 })).toThrow(/attention: 4 heads do not divide the last axis 6.*q is \[2, 5, 6\]/);
    expect(() => g.attention(q, q, q, { heads: 0 })).toThrow(/attention: heads must be an integer ≥ 1, got 0/);
    expect(() => g.attention(q, q, q, { heads: 2.5 })).toThrow(/heads must be an integer/);
    expect(() => g.attention(q, q, q, { heads: "2" as unknown as number })).toThrow(/heads must be an integer/);
    const y = g.attention(q, q, q, { heads: 3, causal: true });
    g.forward({ q: randomArray(60, 5) });
    expect(y.value.toArray().every(Number.isFinite)).toBe(true);
    g.dispose();
  });
});

/** selfAttention(qkv) → [y, dqkv], or attention on the thirds of qkv → [y, dq | dk | dv joined per row]. */
function runPacked(sg: SimdGrad, c: Case, packed: boolean): Float32Array[] {
  const w = c.heads * c.dh;
  const shape = [...c.lead, c.t, 3 * w];
  const n = shape.reduce((a, b) => a * b, 1);
  const rows = n / (3 * w);
  const g = sg.graph();
  const x = g.input(shape, "qkv", { requiresGrad: true });
  const opts = { causal: c.causal, heads: c.heads };
  let y;
  let parts: ReturnType<typeof g.input>[] = [];
  if (packed) {
    y = g.selfAttention(x, opts);
  } else {
    const at = shape.map(() => 0);
    const size = [...c.lead, c.t, w];
    parts = [0, 1, 2].map((i) => g.slice(x, at.map((z, j) => (j === shape.length - 1 ? i * w : z)), size));
    y = g.attention(parts[0]!, parts[1]!, parts[2]!, opts);
  }
  g.forward({ qkv: randomArray(n, 21 + c.t) });
  g.backward(y, randomArray(rows * w, 22, -2, 2));
  const out = [y.value.toArray(), x.grad!.toArray()];
  g.dispose();
  return out;
}

describe("selfAttention: q, k, v as the thirds of one projection", () => {
  const cases: Case[] = [
    { lead: [3], t: 64, heads: 4, dh: 8, causal: true },
    { lead: [1], t: 100, heads: 3, dh: 16, causal: true },
    { lead: [2], t: 5, heads: 1, dh: 3, causal: false },
    { lead: [2, 2], t: 9, heads: 2, dh: 4, causal: true },
  ];
  for (const c of cases) {
    const what = `[${[...c.lead, c.t, 3 * c.heads * c.dh]}], heads ${c.heads}, ${c.causal ? "causal" : "full"}`;
    it(`equals attention on the thirds, bit for bit, forward and gradient, 1–3 threads: ${what}`, () => {
      const want = runPacked(runtimes[1]!, c, false);
      for (const t of [1, 2, 3]) {
        const got = runPacked(runtimes[t]!, c, true);
        expect(got[0]!.length).toBe(want[0]!.length);
        ["y", "dqkv"].forEach((name, i) => expectSameBits(got[i]!, want[i]!, `${what}: ${name}, ${t} threads`));
      }
    });
  }

  it("a last axis that is not 3·heads·dh is refused with the shape; the eager form works", () => {
    const sg = runtimes[1]!;
    const g = sg.graph();
    const x = g.input([2, 5, 12], "qkv");
    expect(() => g.selfAttention(x, { heads: 3 })).toThrow(/attention: the last axis 12 is not 3·heads·dh for 3 heads .*qkv is \[2, 5, 12\]/);
    expect(() => g.selfAttention(g.input([2, 5, 10], "q2"))).toThrow(/not 3·heads·dh for 1 head/);
    expect(g.selfAttention(x, { heads: 2 }).shape).toEqual([2, 5, 4]);
    g.dispose();
    const t = sg.tensor([1, 4, 6], randomArray(24, 3));
    const y = sg.selfAttention(t, { causal: true });
    expect(y.shape).toEqual([1, 4, 2]);
    // Row 0 attends to itself only: its output is its v (columns 4, 5).
    expect(y.toArray()[0]).toBeCloseTo(t.toArray()[4]!, 6);
    expect(y.toArray()[1]).toBeCloseTo(t.toArray()[5]!, 6);
    y.dispose();
    t.dispose();
  });
});
