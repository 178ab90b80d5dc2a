/**
 * conv2d's padding in the fuzzer's reference: padding is zeros that are multiplied (README,
 * "NaN and infinity"), so a tap over the padding adds 0·f to an output (NaN where the filter
 * value is NaN or infinite) and sends 0·dy to the filter's gradient (NaN where dy is). The
 * reference skipped such taps, so it expected Inf where simdgrad, as documented, gives NaN
 * (found: seed 888088866, conv2d then exp, whose gradient overflows to Inf at a border).
 */
import { describe, expect, it } from "vitest";
import { FUZZ_OPS_PLAIN_CONV, type SpecNode, fuzzOp } from "./ops.js";
import { type GraphSpec, compare, generate, referenceWithBounds, runSimdgrad } from "./graphs.js";
import { oneAndTwoThreads } from "./runtimes.js";

const rt = oneAndTwoThreads();

const op = fuzzOp;

describe("conv2d padding in the reference", () => {
  it("the fuzzer's case (seed 888088866, shrunk): exp(conv2d(x, f, same)) with an infinite gradient at a border", () => {
    // (choices recorded before conv2d drew its fused forms)
    const spec = generate([646813, 0, 947414, 0, 0, 0, 0, 0, 106076, 0, 0, 0, 0, 0, 162285, 0, 239480, 628202, 229217, 88458], FUZZ_OPS_PLAIN_CONV);
    expect(spec.nodes.map((n) => (n.kind === "op" ? n.op!.name : n.kind))).toEqual(["param", "param", "conv2d", "exp"]);
    const ref = referenceWithBounds(spec);
    const got = runSimdgrad(rt.one, spec);
    // The filter's gradient: NaN where a padded tap met an infinite upstream gradient, in both.
    const df = got.grads[1]!;
    const nanTaps = [...df.keys()].filter((i) => Number.isNaN(df[i]!));
    expect(nanTaps.length).toBeGreaterThan(0);
    for (const i of nanTaps) expect(ref.exact.grads[1]![i], `tap ${i}`).toBeNaN();
    expect(compare(spec, got, ref)).toBeNull();
    expect(compare(spec, runSimdgrad(rt.two, spec), ref)).toBeNull();
  });

  it("a NaN filter tap makes the border outputs NaN too, and a finite gradient stays finite", () => {
    // x [1, 4, 5, 1] ones, a 3×3 filter with a NaN in its top-left tap: with "same" padding
    // every output's window holds that tap, over the image or over the padding.
    const f = Float32Array.from([NaN, 1, 2, 3, 4, 5, 6, 7, 8]);
    const nodes: SpecNode[] = [
      { id: 0, shape: [1, 4, 5, 1], kind: "param", requiresGrad: true, values: new Float32Array(20).fill(1) },
      { id: 1, shape: [3, 3, 1, 1], kind: "param", requiresGrad: true, values: f },
      { id: 2, shape: [1, 4, 5, 1], kind: "op", requiresGrad: true, op: op("conv2d"), inputs: [0, 1], attrs: { stride: 1, dilation: 1, padding: "same" } },
    ];
    const spec: GraphSpec = { nodes, output: 2, upstream: Float32Array.from({ length: 20 }, (_, i) => 0.5 + i / 8) };
    const ref = referenceWithBounds(spec);
    const got = runSimdgrad(rt.one, spec);
    expect([...got.values[2]!].every(Number.isNaN)).toBe(true);
    expect([...ref.exact.values[2]!].every(Number.isNaN)).toBe(true);
    // Finite upstream gradients: the filter's taps other than the NaN one get finite sums
    // (0·dy = 0 over the padding).
    for (let t = 1; t < 9; t++) expect(Number.isFinite(got.grads[1]![t]!), `tap ${t}`).toBe(true);
    expect(compare(spec, got, ref)).toBeNull();
  });
});
