/**
 * NaN and infinity, op by op: what simdgrad does with them is a documented contract (README,
 * "NaN and infinity"), close to PyTorch's choices.
 * - Forward: NaN in gives NaN out, for every activation (relu(NaN) = NaN), max (NaN wins
 *   either way round), sums, matmul (NaN·0 and Inf·0 are NaN: no zero is skipped) and losses.
 *   ±Inf gives the function's limit: relu(Inf) = Inf, sigmoid(±Inf) = 1 / 0, tanh(±Inf) = ±1,
 *   swish(−Inf) = gelu(−Inf) = 0.
 * - Backward at NaN: smooth activations give NaN; piecewise-linear ones give the gradient of
 *   the branch a NaN falls in, since every comparison with NaN is false: relu′ = 0,
 *   hardTanh′ = 0, leakyRelu′ = slope, step′ = 0. prelu's slope gradient Σ (x > 0 ? 0 : dy·x)
 *   is NaN where x is NaN (or x = 0 meets an infinite dy), in every channel; where x > 0 it
 *   takes nothing, even from an infinite or NaN dy. sigmoid′ and tanh′ from y are at least
 *   2⁻¹⁴⁹: where float32's y is 1 (or σ's 0) an infinite dy gives ±Inf, not Inf·0 = NaN.
 * - Losses: a NaN logit, or an infinite one (whose z·t or ∞ − ∞ has no value), makes the loss
 *   NaN, as in PyTorch; a huge finite logit is fine (the softmax is shifted by the row max).
 *   A loss over no element (an empty batch) is NaN, the mean of nothing.
 * - conv2d: a NaN or ±Inf pixel reaches exactly the outputs whose window covers it (Inf·0 is
 *   NaN: a zero filter tap over an infinite pixel gives NaN, no zero is skipped); padding is
 *   zeros that are multiplied, so a NaN filter tap makes every output NaN, border ones too.
 * - maxPool2d: NaN anywhere in a window gives NaN (max propagates NaN); a window of −Inf gives
 *   −Inf; padding is never a maximum. Its gradient goes to the first maximum; a window whose
 *   maximum is NaN passes no gradient. avgPool2d: NaN, or Inf and −Inf together, give NaN.
 * - attention: a NaN in query row r makes output row r NaN; a NaN or ±Inf key or value makes
 *   every row that attends to its position NaN (Inf·0 in the weights) — and only those: with
 *   causal, rows before it are untouched, forward and backward.
 * - `forward(feeds, { checkFinite: true })` names the first node whose value holds one.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SimdGrad, Tensor } from "../src/index.js";
import { runtime } from "./helpers.js";

let sg: SimdGrad;
beforeAll(async () => {
  sg = await runtime();
});

const X = [NaN, Infinity, -Infinity, 0, 2];
const arr = (t: Tensor) => Array.from(t.toArray());
const made: Tensor[] = [];
const T = (shape: number[], v: number[]) => {
  const t = sg.tensor(shape, v);
  made.push(t);
  return t;
};
afterAll(() => {
  for (const t of made) t.dispose();
});

describe("NaN and infinity", () => {
  it("activations forward: NaN stays NaN, ±Inf gives the limit", () => {
    const x = T([5], X);
    const want: Record<string, number[]> = {
      relu: [NaN, Infinity, 0, 0, 2],
      leakyRelu: [NaN, Infinity, -Infinity, 0, 2],
      sigmoid: [NaN, 1, 0, 0.5, 0.8807970285415649],
      tanh: [NaN, 1, -1, 0, 0.9640275835990906],
      hardTanh: [NaN, 1, -1, 0, 1],
      step: [NaN, 1, 0, 0, 1],
      swish: [NaN, Infinity, 0, 0, 1.7615940570831299],
      gelu: [NaN, Infinity, 0, 0, 1.9544997215270996],
    };
    for (const [name, w] of Object.entries(want)) {
      const y = (sg as unknown as Record<string, (x: Tensor) => Tensor>)[name]!.call(sg, x);
      made.push(y);
      const got = arr(y);
      for (let i = 0; i < w.length; i++) {
        if (Number.isNaN(w[i]!)) expect(got[i], `${name}(${X[i]})`).toBeNaN();
        else expect(got[i], `${name}(${X[i]})`).toBeCloseTo(w[i]!, 6);
      }
    }
    const gt = sg.gelu(x, { approximate: "tanh" });
    made.push(gt);
    expect(arr(gt).slice(0, 4).map((v) => v + 0)).toEqual([NaN, Infinity, 0, 0]);
  });

  it("activations backward at NaN: NaN for smooth ones, the branch's slope for piecewise-linear ones", () => {
    const x = T([1], [NaN]);
    const dy = T([1], [3]);
    const back = (name: string, v: Tensor) => {
      const r = (sg as unknown as Record<string, (v: Tensor, dy: Tensor) => Tensor>)[`${name}Backward`]!.call(sg, v, dy);
      made.push(r);
      return arr(r)[0]!;
    };
    expect(back("relu", x)).toBe(0);
    expect(back("hardTanh", x)).toBe(0);
    expect(back("step", x)).toBe(0);
    expect(back("leakyRelu", x)).toBeCloseTo(0.03, 7);
    for (const name of ["sigmoid", "tanh", "swish", "gelu"]) expect(back(name, x), name).toBeNaN();
  });

  it("sigmoid and tanh backward where float32's y is 1 (or σ's 0): the slope stays positive, so an infinite dy gives ±Inf, not Inf·0 = NaN", () => {
    // σ(20) and tanh(10) are 1 in float32, σ(−110) is 0, tanh(−10) is −1; σ′ and tanh′ are
    // positive there (2·10⁻⁹, 8·10⁻⁹, 2·10⁻⁴⁸, 8·10⁻⁹). The slope is kept at least 2⁻¹⁴⁹,
    // ±Inf too (the limits' slope, 0, would make NaN); a NaN y still gives NaN.
    const xs = [20, 20, -110, 10, -10, Infinity, -Infinity, 20, 20, NaN];
    const dys = [Infinity, -Infinity, Infinity, Infinity, -Infinity, Infinity, Infinity, 1, 0.25, Infinity];
    const dy = T([xs.length], dys);
    for (const name of ["sigmoid", "tanh"]) {
      const f = (sg as unknown as Record<string, (x: Tensor) => Tensor>)[name]!.call(sg, T([xs.length], xs));
      made.push(f);
      const y = arr(f);
      if (name === "sigmoid") expect(y.slice(0, 3)).toEqual([1, 1, 0]);
      else expect(y.slice(3, 5)).toEqual([1, -1]);
      const r = (sg as unknown as Record<string, (v: Tensor, dy: Tensor) => Tensor>)[`${name}Backward`]!.call(sg, f, dy);
      made.push(r);
      const got = arr(r);
      expect(got.slice(0, 7), name).toEqual([Infinity, -Infinity, Infinity, Infinity, -Infinity, Infinity, Infinity]);
      // A finite dy there: |dy|·2⁻¹⁴⁹, which is 0 below |dy| = ½.
      expect(got[7], name).toBe(2 ** -149);
      expect(got[8], name).toBe(0);
      expect(got[9], name).toBeNaN();
    }
  });

  it("piecewise-linear backward selects: where the slope is 0, an infinite or NaN upstream gradient gives 0, not Inf·0", () => {
    const x = T([3], [-1, 2, NaN]);
    const dy = T([3], [Infinity, -Infinity, NaN]);
    const back = (name: string) => {
      const r = (sg as unknown as Record<string, (v: Tensor, dy: Tensor) => Tensor>)[`${name}Backward`]!.call(sg, x, dy);
      made.push(r);
      return arr(r);
    };
    expect(back("relu")).toEqual([0, -Infinity, 0]);
    expect(back("hardTanh")).toEqual([0, 0, 0]);
    expect(back("step")).toEqual([0, 0, 0]);
  });

  it("prelu's slope gradient Σ (x > 0 ? 0 : dy·x) is NaN for a NaN x and for an infinite dy at x = 0, and takes nothing from an infinite or NaN dy where x > 0, in every channel (vector lanes and tail alike)", () => {
    for (const c of [1, 2, 3, 4, 5, 7, 8, 9]) {
      for (const at of [0, c - 1]) {
        for (const [xv, dyv] of [[NaN, 1.5], [0, Infinity], [2, Infinity], [2, NaN]] as const) {
          const rows = 3;
          const xs = Array.from({ length: rows * c }, (_, i) => (i % 3) - 1.5);
          const dys = Array.from({ length: rows * c }, (_, i) => 0.5 + (i % 5));
          xs[c + at] = xv; // row 1, channel `at`
          dys[c + at] = dyv;
          const g = sg.graph();
          const x = g.input([rows, c], "x");
          const a = g.param([c], { name: "a", data: Array.from({ length: c }, () => 0.25) });
          const y = g.prelu(x, a);
          g.forward({ x: xs });
          g.backward(y, Array.from({ length: rows * c }, () => 1));
          // The upstream gradient of 1 everywhere: dslope[j] = Σ over rows of min(x, 0) with the planted dy only where planted.
          const got = arr(a.grad!);
          g.dispose();
          const g2 = sg.graph();
          const x2 = g2.input([rows, c], "x");
          const a2 = g2.param([c], { name: "a", data: Array.from({ length: c }, () => 0.25) });
          const y2 = g2.prelu(x2, a2);
          g2.forward({ x: xs });
          g2.backward(y2, dys);
          const got2 = arr(a2.grad!);
          g2.dispose();
          for (let j = 0; j < c; j++) {
            const what = `C = ${c}, channel ${j}, x = ${xv} and dy = ${dyv} in channel ${at}`;
            if (j === at && xv > 0) {
              // Where x > 0 the slope has no part: an infinite or NaN dy there adds nothing.
              expect(Number.isFinite(got2[j]!), what).toBe(true);
            } else if (j === at) {
              if (Number.isNaN(xv)) expect(got[j], what).toBeNaN();
              expect(got2[j], what).toBeNaN();
            } else {
              expect(Number.isFinite(got[j]!), what).toBe(true);
              expect(Number.isFinite(got2[j]!), what).toBe(true);
            }
          }
        }
      }
    }
  });

  it("a loss over no element (an empty batch) is NaN, the mean of nothing, as in PyTorch", () => {
    const z = T([0, 3], []);
    const t = T([0, 3], []);
    const losses = [sg.mse(z, t), sg.sigmoidCrossEntropy(z, t), sg.softmaxCrossEntropy(z, t), sg.crossEntropy(z, T([0], []))];
    made.push(...losses);
    for (const l of losses) expect(arr(l)[0]).toBeNaN();
  });

  it("max propagates NaN from either side; sums, means and matmul propagate NaN, and Inf·0 is NaN", () => {
    const a = T([3], [NaN, 1, Infinity]);
    const b = T([3], [1, NaN, 2]);
    const m1 = sg.max(a, b), m2 = sg.max(b, a);
    made.push(m1, m2);
    expect(arr(m1)).toEqual([NaN, NaN, Infinity]);
    expect(arr(m2)).toEqual([NaN, NaN, Infinity]);
    const s = sg.sum(a), mean = sg.mean(b);
    made.push(s, mean);
    expect(arr(s)[0]).toBeNaN();
    expect(arr(mean)[0]).toBeNaN();
    for (const v of [NaN, Infinity]) {
      const c = sg.matmul(T([1, 2], [v, 1]), T([2, 1], [0, 1]));
      made.push(c);
      expect(arr(c)[0], `[${v}, 1]·[0, 1]`).toBeNaN();
    }
  });

  it("losses: a NaN or infinite logit makes the loss NaN (as in PyTorch: z·t at z = ±Inf)", () => {
    const l1 = sg.sigmoidCrossEntropy(T([2], [Infinity, -Infinity]), T([2], [1, 0]));
    const l2 = sg.sigmoidCrossEntropy(T([2], [NaN, 0]), T([2], [1, 0]));
    const l3 = sg.softmaxCrossEntropy(T([1, 3], [NaN, 0, 1]), T([1, 3], [0, 1, 0]));
    made.push(l1, l2, l3);
    expect(arr(l1)[0]).toBeNaN();
    expect(arr(l2)[0]).toBeNaN();
    expect(arr(l3)[0]).toBeNaN();
  });

  it("conv2d: a non-finite pixel reaches exactly the outputs whose window covers it; a NaN filter tap reaches every output, padded borders too", () => {
    const img = (over: [number, number][]) => {
      const v = Array.from({ length: 16 }, (_, i) => i + 1);
      for (const [i, x] of over) v[i] = x;
      return T([1, 4, 4, 1], v);
    };
    const ones = T([3, 3, 1, 1], Array(9).fill(1));
    const c = (x: Tensor, f: Tensor, o = {}) => {
      const y = sg.conv2d(x, f, o);
      made.push(y);
      return arr(y);
    };
    // valid: only output (0, 0) covers pixel 0.
    expect(c(img([[0, NaN]]), ones)).toEqual([NaN, 63, 90, 99]);
    // same: the four outputs whose 3×3 window covers pixel (0, 0).
    const same = c(img([[0, Infinity]]), ones, { padding: "same" });
    same.forEach((v, i) => expect(v, `output ${i}`).toBe([0, 1, 4, 5].includes(i) ? Infinity : [30, 22, 63, 45, 57, 90, 99, 69, 46, 72, 78, 54][[2, 3, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15].indexOf(i)]));
    // Inf·0: a zero tap over the infinite pixel gives NaN (no zero is skipped); the centre tap alone gives Inf.
    const centre = T([3, 3, 1, 1], [0, 0, 0, 0, 1, 0, 0, 0, 0]);
    const z = c(img([[0, Infinity]]), centre, { padding: "same" });
    expect(z.slice(0, 6)).toEqual([Infinity, NaN, 3, 4, NaN, NaN]);
    expect(z.slice(6)).toEqual([7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
    // A NaN tap: padding is zeros that are multiplied (0·NaN = NaN), so border outputs are NaN too.
    const nanTap = T([3, 3, 1, 1], [NaN, 0, 0, 0, 1, 0, 0, 0, 0]);
    expect(c(img([]), nanTap, { padding: "same" }).every(Number.isNaN)).toBe(true);
    // Backward: dx is NaN exactly where the NaN tap lands for some output.
    const g = sg.graph();
    const x = g.param([1, 4, 4, 1], { data: Array.from({ length: 16 }, (_, i) => i + 1) });
    const f = g.param([3, 3, 1, 1], { data: [NaN, 0, 0, 0, 1, 0, 0, 0, 0] });
    const l = g.sum(g.conv2d(x, f, { padding: "same" }));
    g.forward();
    g.backward(l);
    arr(x.grad!).forEach((v, i) => expect(v, `dx ${i}`).toBe(i % 4 < 3 && i < 12 ? NaN : 1));
    expect(arr(f.grad!).every(Number.isFinite)).toBe(true);
    g.dispose();
  });

  it("pools: max propagates NaN and keeps −Inf, padding is never a maximum; the max gradient skips a NaN window; avg gives NaN for NaN or Inf − Inf", () => {
    const img = (over: [number, number][]) => {
      const v = Array.from({ length: 16 }, (_, i) => i + 1);
      for (const [i, x] of over) v[i] = x;
      return T([1, 4, 4, 1], v);
    };
    const mp = (x: Tensor, o: object) => {
      const y = sg.maxPool2d(x, o as never);
      made.push(y);
      return arr(y);
    };
    const ap = (x: Tensor, o: object) => {
      const y = sg.avgPool2d(x, o as never);
      made.push(y);
      return arr(y);
    };
    expect(mp(img([[0, NaN]]), { size: 2 })).toEqual([NaN, 8, 14, 16]);
    expect(mp(img([[5, NaN], [15, NaN]]), { size: 2 })).toEqual([NaN, 8, 14, NaN]); // NaN where the max was, and last in a window
    expect(mp(img([[0, -Infinity], [1, -Infinity], [4, -Infinity], [5, -Infinity]]), { size: 2 })).toEqual([-Infinity, 8, 14, 16]);
    expect(mp(img([[0, Infinity]]), { size: 2 })).toEqual([Infinity, 8, 14, 16]);
    const neg = T([1, 2, 2, 1], [-5, -6, -7, -8]);
    expect(mp(neg, { size: 3, stride: 1, padding: 1 })).toEqual([-5, -5, -5, -5]); // padding is not a 0 maximum
    expect(ap(img([[0, NaN]]), { size: 2 })).toEqual([NaN, 5.5, 11.5, 13.5]);
    expect(ap(img([[0, Infinity], [1, -Infinity]]), { size: 2 })).toEqual([NaN, 5.5, 11.5, 13.5]);
    expect(ap(img([[0, Infinity]]), { size: 2 })).toEqual([Infinity, 5.5, 11.5, 13.5]);
    const g = sg.graph();
    const x = g.param([1, 4, 4, 1], { data: [1, NaN, 3, 4, 5, 6, 7, 8, 9, 10, NaN, 12, 13, 14, 15, NaN] });
    const a = g.param([1, 4, 4, 1], { data: [1, NaN, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16] });
    const l = g.add(g.sum(g.maxPool2d(x, { size: 2 })), g.sum(g.avgPool2d(a, { size: 2 })));
    g.forward();
    g.backward(l);
    // Windows 0 and 3 have a NaN maximum: no gradient; windows 1 and 2 send it to 8 and 14.
    expect(arr(x.grad!)).toEqual([0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0]);
    // The mean's gradient does not read x: 1/4 everywhere.
    expect(arr(a.grad!)).toEqual(Array(16).fill(0.25));
    g.dispose();
  });

  it("attention: NaN in a query row stays in its row; a non-finite key or value reaches every row attending to it, and with causal no earlier row", () => {
    const t = 7;
    const dh = 3;
    const base = (seed: number) => Array.from({ length: t * dh }, (_, i) => Math.sin(i * 0.7 + seed));
    const att = (q: number[], k: number[], v: number[], causal: boolean) => {
      const y = sg.attention(T([t, dh], q), T([t, dh], k), T([t, dh], v), { causal });
      made.push(y);
      const d = arr(y);
      return Array.from({ length: t }, (_, r) => d.slice(r * dh, r * dh + dh));
    };
    const put = (a: number[], i: number, x: number) => a.map((v, j) => (j === i ? x : v));
    const q = base(1), k = base(2), v = base(3);
    const nanRows = (rows: number[][]) => rows.map((r) => r.some(Number.isNaN));
    const clean = att(q, k, v, true);
    for (const causal of [false, true]) {
      expect(nanRows(att(put(q, 2 * dh, NaN), k, v, causal)), "NaN in query row 2").toEqual([0, 1, 2, 3, 4, 5, 6].map((r) => r === 2));
      for (const [what, bad] of [["NaN", NaN], ["Inf", Infinity], ["-Inf", -Infinity]] as const) {
        // Position 3's key or value (in the same 4-row tile as rows 0–2): with causal, rows
        // before 3 are exactly the clean ones; a non-finite value reaches every row that sees
        // position 3 (its weight is > 0).
        const withK = att(q, put(k, 3 * dh, bad), v, causal);
        const withV = att(q, k, put(v, 3 * dh + 1, bad), causal);
        for (let r = 0; r < t; r++) {
          if (!causal || r >= 3) {
            expect(Number.isFinite(withV[r]![1]!), `${what} value 3, row ${r}`).toBe(false);
            if (what === "NaN") expect(withK[r]!.every(Number.isNaN), `NaN key 3, row ${r}`).toBe(true);
          } else {
            expect(withK[r], `${what} key 3, causal row ${r}`).toEqual(clean[r]);
            expect(withV[r], `${what} value 3, causal row ${r}`).toEqual(clean[r]);
          }
        }
      }
    }
    // Backward, causal. A NaN key at position 3: the query gradients of rows 0–2 stay finite.
    const rowsOf = (d: Float32Array) => Array.from({ length: t }, (_, r) => Array.from(d.slice(r * dh, r * dh + dh)).every(Number.isFinite));
    const grads = (kk: number[], up: number[]) => {
      const g = sg.graph();
      const qn = g.param([t, dh], { data: q });
      const kn = g.param([t, dh], { data: kk });
      const vn = g.param([t, dh], { data: v });
      const y = g.attention(qn, kn, vn, { causal: true });
      g.forward();
      g.backward(y, up);
      const out = { dq: rowsOf(qn.grad!.toArray()), dk: rowsOf(kn.grad!.toArray()), dv: rowsOf(vn.grad!.toArray()) };
      g.dispose();
      return out;
    };
    const ones = Array(t * dh).fill(1);
    expect(grads(put(k, 3 * dh, NaN), ones).dq).toEqual([true, true, true, false, false, false, false]);
    // A NaN upstream gradient in row 1: only positions 0 and 1 (which row 1 sees) get NaN key and value gradients.
    const g1 = grads(k, put(ones, 1 * dh + 2, NaN));
    expect(g1.dq).toEqual([true, false, true, true, true, true, true]);
    expect(g1.dk).toEqual([false, false, true, true, true, true, true]);
    expect(g1.dv).toEqual([false, false, true, true, true, true, true]);
  });

  it("checkFinite names the first node whose value holds NaN or Inf, and the graph keeps working", () => {
    const g = sg.graph();
    const x = g.input([3], "x");
    const w = g.param([3], { data: [1, 2, 3], name: "w" });
    const h = g.relu(g.mul(x, w));
    const out = g.sum(g.tanh(h));
    expect(() => g.forward({ x: [1, Infinity, 0] }, { checkFinite: true })).toThrow(/mul#\d+'.*NaN or Inf/);
    g.forward({ x: [1, 1, 1] }, { checkFinite: true });
    expect(out.value.toArray()[0]).toBeCloseTo(Math.tanh(1) + Math.tanh(2) + Math.tanh(3), 6);
    g.dispose();
  });
});
