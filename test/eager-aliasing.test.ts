/**
 * The eager `out` argument and aliasing, for every op of the registry: an `out` that shares
 * memory with an input is refused with an error naming the op, before any kernel runs (the
 * input and `out` keep their values, the runtime stays usable), unless the op declares
 * `inPlace` (elementwise ops) and `out` is that very input — then the result equals the
 * one written to a separate tensor, bit for bit. A row-wise or windowed kernel writing over
 * its input reads values it has already overwritten (attention and avgPool2d did, silently).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { init, type SimdGrad } from "../src/index.js";
import { OP_LIST } from "../src/ops/registry.js";
import { type OpDef, type OpSample, opId } from "../src/ops/op.js";
import { Tensor } from "../src/runtime/tensor.js";
import { BUILD, randomArray } from "./helpers.js";

let sg: SimdGrad;
beforeAll(async () => {
  sg = await init({ relaxedSimd: BUILD === "relaxed" });
});
afterAll(async () => {
  await sg.close();
});

const sizeOf = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

function inputsOf(op: OpDef<any, any>, s: OpSample<unknown>): Tensor[] {
  return s.inputs.map((shape, i) => {
    const n = sizeOf(shape);
    return sg.tensor(shape, s.values ? Float32Array.from(s.values(i, n)) : randomArray(n, 31 + i));
  });
}

function bits(a: Float32Array): number[] {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
}

/** Every op with a sample, once per (op, sample, input of the output's shape). */
const CASES = OP_LIST.flatMap((op) =>
  (op.samples ?? []).flatMap((s, si) => {
    const y = op.shape(s.inputs, s.attrs);
    return s.inputs.flatMap((shape, i) => (same(shape, y) && sizeOf(y) > 0 ? [{ op, s, si, i }] : []));
  }),
);

describe("eager out over an input", () => {
  it("the registry has ops of both kinds, and every op with a sample of an input shaped like its output is covered", () => {
    const ids = new Set(CASES.map((c) => opId(c.op)));
    expect([...ids].filter((id) => OP_LIST.find((o) => opId(o) === id)!.inPlace).length).toBeGreaterThan(10);
    expect([...ids].filter((id) => !OP_LIST.find((o) => opId(o) === id)!.inPlace && OP_LIST.find((o) => opId(o) === id)!.view === undefined).length).toBeGreaterThan(3);
  });

  for (const { op, s, si, i } of CASES) {
    const allowed = op.inPlace === true || op.view === i;
    it(`${opId(op)} sample ${s.label ?? si} (${s.inputs.map((x) => `[${x}]`).join(", ")}), out = input ${i + 1}: ${allowed ? "same bits as a separate out" : "refused before any kernel runs"}`, () => {
      const want = sg.apply(op, inputsOf(op, s), s.attrs).toArray();
      const xs = inputsOf(op, s);
      const before = xs.map((t) => t.toArray());
      if (allowed) {
        const y = sg.apply(op, xs, s.attrs, xs[i]);
        expect(y).toBe(xs[i]);
        expect(bits(y.toArray())).toEqual(bits(want));
      } else {
        expect(() => sg.apply(op, xs, s.attrs, xs[i])).toThrow(new RegExp(`^${op.name}: out \\[[\\d, ]*\\] is (the input|input ${i + 1}) \\[[\\d, ]*\\]: ${op.name} cannot write its result over an input`));
        xs.forEach((t, j) => expect(bits(t.toArray()), `input ${j + 1} untouched`).toEqual(bits(before[j]!)));
        // The runtime still computes the same result.
        expect(bits(sg.apply(op, xs, s.attrs).toArray())).toEqual(bits(want));
      }
      for (const t of xs) t.dispose();
    });
  }

  it("an out that partly overlaps an input is refused for every op, in-place ones too", () => {
    for (const op of OP_LIST) {
      const s = op.samples?.[0];
      if (!s) continue;
      const yShape = op.shape(s.inputs, s.attrs);
      const n = sizeOf(yShape);
      if (n === 0) continue;
      const xs = inputsOf(op, s);
      // An input with at least one element; `out` starts at its second element (or its first, when shapes differ in size).
      const i = xs.findIndex((t) => t.size > 0);
      const x = xs[i]!;
      const backing = sg.zeros([x.size + n + 1]);
      // Views over `backing` (the internal constructor, memory owned by `backing`): x at its
      // start, out one element further on (or at the same start when x has one element).
      const xin = new Tensor(sg.rt, x.shape, backing.ptr, "graph");
      xin.set(x.toArray());
      const off = x.size > 1 ? 1 : 0;
      const out = new Tensor(sg.rt, yShape, backing.ptr + 4 * off, "graph");
      if (off === 0 && out.size === xin.size && (op.inPlace || op.view === i)) {
        backing.dispose();
        for (const t of xs) t.dispose();
        continue;
      }
      const ins = xs.slice();
      ins[i] = xin;
      const kept = bits(backing.toArray());
      expect(() => sg.apply(op, ins, s.attrs, out), opId(op)).toThrow(new RegExp(`^${op.name}: out \\[[\\d, ]*\\] (shares memory with|is) (the input|input ${i + 1})`));
      expect(bits(backing.toArray()), `${opId(op)}: nothing written`).toEqual(kept);
      backing.dispose();
      for (const t of xs) t.dispose();
    }
  });

  it("through the public functions: sg.attention, sg.avgPool2d and sg.softmax refuse their input as out; sg.relu runs in place", () => {
    const q = sg.randn([2, 5, 4], { seed: 1 });
    const k = sg.randn([2, 5, 4], { seed: 2 });
    const v = sg.randn([2, 5, 4], { seed: 3 });
    expect(() => sg.attention(q, k, v, {}, q)).toThrow(/^attention: out \[2, 5, 4\] is input 1 \[2, 5, 4\]/);
    expect(() => sg.attention(q, k, v, {}, v)).toThrow(/^attention: out \[2, 5, 4\] is input 3 \[2, 5, 4\]/);
    const img = sg.randn([1, 5, 6, 4], { seed: 4 });
    expect(() => sg.avgPool2d(img, { size: 1 }, img)).toThrow(/^avgPool2d: out \[1, 5, 6, 4\] is the input/);
    expect(() => sg.softmax(q, -1, q)).toThrow(/^softmax: out \[2, 5, 4\] is the input/);
    const x = sg.tensor([4], [-1, 2, -3, 4]);
    expect(sg.relu(x, x)).toBe(x);
    expect(Array.from(x.toArray())).toEqual([0, 2, 0, 4]);
    for (const t of [q, k, v, img, x]) t.dispose();
  });
});
