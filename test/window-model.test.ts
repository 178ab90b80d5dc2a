/**
 * The notes' window model with learned word vectors, as the demo builds it:
 *   x = [e(w₋₂); …; e(w₂)] (rows of the embedding table E, concatenated), z = Wx + b,
 *   h = f(z), s = uᵀh.
 * Checks the notes' equations on it: δ = f′(z) ⊙ u, dS/dx = Wᵀδ (W is stored [5D, H] here,
 * so Wᵀδ of the notes is W·δ in code), and the rows of the embedding gradient are the
 * slices of dS/dx: each word's D-wide slice added into its row (a word used twice gets the
 * sum of its slices; rows of words not in the window stay zero).
 */
import { describe, expect, it } from "vitest";
import { randomArray, runtime } from "./helpers.js";
import { expectWithin } from "./elementwise-util.js";

describe("the notes' window model with an embedding table", () => {
  it("dS/dx = Wᵀδ and the embedding gradient's rows are the slices of dS/dx", async () => {
    const sg = await runtime();
    const V = 9, D = 4, H = 6, width = 5;
    const g = sg.graph();
    const ids = g.input([1, width], "ids");
    const E = g.param([V, D], { init: "normal", std: 0.5, seed: 3, name: "E" });
    const W = g.param([width * D, H], { init: "normal", std: 0.5, seed: 4, name: "W" });
    const b = g.param([H], { data: Array.from(randomArray(H, 5, -0.2, 0.2)), name: "b" });
    const u = g.param([H, 1], { init: "normal", std: 0.5, seed: 6, name: "u" });
    const x = g.reshape(g.embedding(ids, E), [1, width * D]);
    const z = g.linear(x, W, b);
    const s = g.matmul(g.tanh(z), u);
    const window = [7, 2, 5, 2, 0]; // word 2 twice; words 1, 3, 4, 6, 8 unused
    g.forward({ ids: window });
    g.backward(s);
    const Wv = W.value.toArray(), uv = u.value.toArray(), zv = z.value.toArray();
    // δ = f′(z) ⊙ u with f = tanh; dS/dx = Wᵀδ (notes), W·δ in our [5D, H] layout.
    const delta = Array.from(zv, (zz, j) => (1 - Math.tanh(zz) ** 2) * uv[j]!);
    const dSdx = Array.from({ length: width * D }, (_, i) => delta.reduce((acc, d, j) => acc + Wv[i * H + j]! * d, 0));
    expectWithin(x.grad!.toArray(), dSdx, 1e-5, "dS/dx = Wᵀδ");
    // The embedding gradient: row w = Σ of the slices of dS/dx at the positions holding w.
    const want = new Float64Array(V * D);
    window.forEach((w, k) => { for (let c = 0; c < D; c++) want[w * D + c]! += dSdx[k * D + c]!; });
    expectWithin(E.grad!.toArray(), want, 1e-5, "dE rows = slices of dS/dx");
    const eg = E.grad!.toArray();
    for (const unused of [1, 3, 4, 6, 8]) expect(Array.from(eg.subarray(unused * D, unused * D + D))).toEqual([0, 0, 0, 0]);
    // And the whole model passes a numeric gradient check (word vectors included).
    const loss = g.sigmoidCrossEntropy(s, g.input([1, 1], "y"));
    const report = sg.gradcheck(g, loss, { feeds: { ids: window, y: [1] } });
    expect(report.ok, JSON.stringify(report.params)).toBe(true);
    g.dispose();
  });
});
