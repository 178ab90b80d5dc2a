/**
 * Dropout, generated: random shapes, probabilities, seeds and run counts, each graph run
 * several times in training mode and then in evaluation mode, against the mask as the op
 * documents it (./dropout-ref.ts, written independently of the kernels):
 *   - evaluation mode is the identity: the value is the input and the gradient the upstream
 *     gradient, bit for bit (NaN and ±Inf included);
 *   - training run k keeps exactly the elements the documented mask of (seed, k) keeps, each
 *     kept value being float32(x·(1/(1 − p))), and backward sends the gradient through that
 *     same mask with the same factor;
 *   - every run draws a new mask, and 1 and 2 threads give the same bits;
 *   - the share dropped sits within 5 standard deviations of p (over every element drawn).
 * The generated-graph fuzzer (graphs.test.ts) also draws dropout inside random graphs.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type SimdGrad } from "../../src/index.js";
import { dropoutMask, dropoutScale } from "./dropout-ref.js";
import { oneAndTwoThreads } from "./runtimes.js";

const SECONDS = Number(process.env.FUZZ_SECONDS ?? 0);
const RUNS = Number(process.env.FUZZ_DROPOUT_RUNS ?? 40);
const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : SECONDS > 0 ? Date.now() % 2 ** 31 : 20261201;

const rt = oneAndTwoThreads();

const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);

/** The first element where two arrays differ in their bits (any NaN equals any NaN), as text, or "same". */
function diff(got: Float32Array, want: Float32Array): string {
  if (got.length !== want.length) return `length ${got.length}, expected ${want.length}`;
  const a = bits(got), b = bits(want);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && !(Number.isNaN(got[i]) && Number.isNaN(want[i]))) return `element ${i} is ${got[i]}, expected ${want[i]}`;
  return "same";
}

interface Case {
  shape: number[];
  p: number;
  seed: number;
  runs: number;
  special: boolean;
}

const caseArb: fc.Arbitrary<Case> = fc.record({
  // Up to 3 axes, at most 16,384 elements (past the 8,192 where elementwise kernels split over threads).
  shape: fc.array(fc.constantFrom(1, 2, 3, 4, 5, 7, 8, 9, 17, 33, 0, 97, 130), { minLength: 0, maxLength: 3 }).filter((s: number[]) => s.reduce((a, b) => a * b, 1) <= 16384),
  p: fc.constantFrom(0, 0.1, 0.25, 0.5, 0.9, 0.999, 1e-9),
  seed: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  runs: fc.integer({ min: 1, max: 4 }),
  special: fc.boolean(),
});

function values(n: number, special: boolean): Float32Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = special && i % 5 === 0 ? [NaN, Infinity, -Infinity, 0, -0][(i / 5) % 5]! : Math.sin(i * 1.7 + 0.3) * 3;
  return v;
}

/** Values and gradients of `runs` training runs, then one evaluation run, of y = dropout(x) on a runtime. */
function run(sg: SimdGrad, c: Case) {
  const g = sg.graph();
  const x = g.input(c.shape, "x", { requiresGrad: true });
  const y = g.dropout(x, c.p, { seed: c.seed });
  const n = y.size;
  const xs = values(n, c.special);
  const up = Float32Array.from({ length: n }, (_, i) => 0.5 + ((i * 7) % 11) / 8);
  const train: { y: Float32Array; dx: Float32Array }[] = [];
  try {
    for (let r = 0; r < c.runs; r++) {
      g.forward({ x: xs });
      g.zeroGrad();
      g.backward(y, up);
      train.push({ y: y.value.toArray(), dx: x.grad!.toArray() });
    }
    g.train(false);
    g.forward({ x: xs });
    g.zeroGrad();
    g.backward(y, up);
    return { xs, up, train, evalY: y.value.toArray(), evalDx: x.grad!.toArray() };
  } finally {
    g.dispose();
  }
}

describe("dropout against its documented mask", () => {
  it(`${SECONDS > 0 ? `${SECONDS} s of` : RUNS} generated cases: the mask and factor of each training run, backward through the same mask, identity in evaluation mode, 1 and 2 threads bitwise (seed ${SEED})`, () => {
    let drawn = 0;
    let dropped = 0;
    let pSum = 0;
    let pVar = 0;
    let cases = 0;
    fc.assert(
      fc.property(caseArb, (c) => {
        cases++;
        const a = run(rt.one, c);
        const b = run(rt.two, c);
        const n = a.xs.length;
        const scale = dropoutScale(c.p);
        // Evaluation mode: the identity, forward and backward.
        expect(diff(a.evalY, a.xs)).toBe("same");
        expect(diff(a.evalDx, a.up)).toBe("same");
        const masks: string[] = [];
        a.train.forEach((t, r) => {
          const keep = dropoutMask(n, c.p, c.seed, r);
          masks.push(keep.join(""));
          const wantY = new Float32Array(n);
          const wantDx = new Float32Array(n);
          for (let i = 0; i < n; i++) {
            wantY[i] = keep[i] ? Math.fround(a.xs[i]! * scale) : 0;
            wantDx[i] = keep[i] ? Math.fround(a.up[i]! * scale) : 0;
            drawn++;
            if (!keep[i]) dropped++;
          }
          pSum += c.p * n;
          pVar += c.p * (1 - c.p) * n;
          if (c.p === 0) expect(diff(t.y, a.xs), `run ${r}: p = 0 is the identity`).toBe("same");
          else expect(diff(t.y, wantY), `run ${r}'s values`).toBe("same");
          // backward from a fresh gradient each run: the same mask as that run's forward.
          expect(diff(t.dx, wantDx), `run ${r}'s gradient`).toBe("same");
          expect(diff(b.train[r]!.y, t.y), `run ${r}: 2 threads`).toBe("same");
          expect(diff(b.train[r]!.dx, t.dx), `run ${r}: 2 threads`).toBe("same");
        });
        // Each run draws a new mask, where two runs' masks agree by chance with probability
        // under 1e-12 ((p² + (1 − p)²)ⁿ per pair): seed 3038 drew [4, 17] at p = 0.9, whose
        // runs 0 and 3 both dropped all 68 elements (each 0.9⁶⁸ ≈ 7.7e-4), as the documented
        // mask says they do.
        if ((c.p ** 2 + (1 - c.p) ** 2) ** n < 1e-12) expect(new Set(masks).size).toBe(masks.length);
      }),
      SECONDS > 0 ? { seed: SEED, numRuns: 1e9, interruptAfterTimeLimit: SECONDS * 1000 } : { seed: SEED, numRuns: RUNS },
    );
    expect(drawn).toBeGreaterThan(0);
    expect(Math.abs(dropped - pSum)).toBeLessThanOrEqual(5 * Math.sqrt(pVar) + 1);
    if (SECONDS > 0) console.log(`dropout: ${cases} cases, ${drawn} elements drawn, ${dropped} dropped (expected ${pSum.toFixed(0)} ± ${Math.sqrt(pVar).toFixed(1)}), seed ${SEED}`);
  });

  it("a mask may repeat by chance (seed 3038's case: [4, 17] at p = 0.9, runs 0 and 3 drop all 68 elements, as documented)", () => {
    const c: Case = { shape: [4, 17], p: 0.9, seed: -866942921, runs: 4, special: false };
    const a = run(rt.one, c);
    const masks = [0, 1, 2, 3].map((r) => dropoutMask(68, c.p, c.seed, r).join(""));
    expect(masks[0]).toBe("0".repeat(68));
    expect(masks[3]).toBe(masks[0]);
    expect(new Set(masks).size).toBe(3);
    for (const r of [0, 3]) {
      expect(a.train[r]!.y.every((v) => Object.is(v, 0))).toBe(true);
      expect(a.train[r]!.dx.every((v) => Object.is(v, 0))).toBe(true);
    }
    // The runs between draw other masks, and the values follow them.
    expect(a.train[1]!.y.some((v) => v !== 0)).toBe(true);
  });

  it("the share dropped over a large tensor is p within 5 standard deviations, for several p and seeds", () => {
    const n = 40_000;
    for (const p of [0.05, 0.3, 0.5, 0.8]) {
      for (const seed of [0, 1, -7, 123456789]) {
        const x = rt.one.tensor([n], new Float32Array(n).fill(1));
        const y = rt.one.dropout(x, p, { seed });
        const d = y.toArray();
        let zeros = 0;
        for (let i = 0; i < n; i++) if (d[i] === 0) zeros++;
        expect(Math.abs(zeros - p * n), `p ${p}, seed ${seed}`).toBeLessThanOrEqual(5 * Math.sqrt(n * p * (1 - p)));
        // Eager calls use run 0's mask.
        const keep = dropoutMask(n, p, seed, 0);
        for (let i = 0; i < n; i += 97) expect(d[i] !== 0, `element ${i}`).toBe(keep[i] === 1);
        x.dispose();
        y.dispose();
      }
    }
  });
});
