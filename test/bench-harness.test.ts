// The benchmark harness's own parts that a wrong number could come from: the peak probe does
// exactly the work it is credited with, the naive GEMM peer computes the product it is timed
// on, timing survives a failing implementation, the target table judges rows rightly, and
// the cross-engine A/B refuses two builds that compute different bits, and the engines' step
// benchmark trains the model it times, on the build it names.
import { describe, expect, it } from "vitest";
import { BUILD } from "./helpers.js";
// @ts-ignore: plain JavaScript module of the benchmarks (no types)
import { buildProbe, compileProbe, fasterForm, measurePeak } from "../bench/lib/peak.js";
// @ts-ignore: plain JavaScript module of the benchmarks (no types)
import { naiveGemm, CASES } from "../bench/suites/gemm.js";
// @ts-ignore: plain JavaScript module of the benchmarks (no types)
import { targetsOf } from "../bench/lib/targets.js";
// @ts-ignore: plain JavaScript module of the benchmarks (no types)
import { measureSet, measureShare, setProfile, setClock } from "../bench/lib/timing.js";
// @ts-ignore: plain JavaScript module of the benchmarks (no types)
import { ratio, change, fmt } from "../bench/lib/table.js";
// @ts-ignore: plain JavaScript module of the benchmarks (no types)
import { abKernels } from "../bench/lib/engine-ab.js";
// @ts-ignore: plain JavaScript module of the benchmarks (no types)
import { measureStep } from "../bench/lib/engine-step.js";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
// @ts-ignore: a plain ESM script without types
import { RELAXED_PROBE } from "../scripts/relaxed-simd.mjs";

type Probe = Record<string, (iters: number, seed: number) => number> & { probe_has_relaxed_simd(): number };

/** The probe's chains in float32, step by step: x ← x·0.5 + seed, then the sum of all lanes. */
function probeReference(chains: number, iters: number, seed: number): number {
  const f = Math.fround;
  const xs = Array.from({ length: chains }, (_, i) => f(i / 10));
  for (let t = 0; t < iters; t++) for (let i = 0; i < chains; i++) xs[i] = f(f(xs[i]! * 0.5) + f(seed));
  return 4 * xs.reduce((a, b) => a + b, 0);
}

describe("bench: peak probe", () => {
  it(`runs exactly iters steps of every chain (${BUILD} build)`, async () => {
    const bytes = await compileProbe(BUILD);
    const { instance } = await WebAssembly.instantiate(bytes, { env: { abort() {} } });
    const ex = instance.exports as unknown as Probe;
    expect(ex.probe_has_relaxed_simd()).toBe(BUILD === "relaxed" ? 1 : 0);
    // x·0.5 is exact in float32, so fused and separate multiply-add agree to the last bit;
    // only the order of the final sum differs from the reference.
    for (const [fn, chains] of [["peak_muladd_8", 8], ["peak_muladd_12", 12], ["peak_madd_12", 12], ["peak_muladd_12_rt", 12], ["peak_madd_12_rt", 12]] as const) {
      for (const iters of [0, 1, 2, 3, 7, 100]) {
        for (const seed of [1, -0.375, 3]) {
          const want = probeReference(chains, iters, seed);
          expect(Math.abs(ex[fn]!(iters, seed) - want), `${fn}(${iters}, ${seed})`).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(want)));
        }
      }
    }
  }, 60_000);
});

describe("bench: peak ceiling", () => {
  it("is the fastest form of the probe, the run-time multiplier's included", async () => {
    await buildProbe();
    const p = await measurePeak(BUILD);
    const g = (k: string) => p.rows.find((r: { key: string }) => r.key === k)!.gflops as number;
    expect(p.muladd).toBe(Math.max(g("peak_muladd_8"), g("peak_muladd_12"), g("peak_muladd_12_rt")));
    if (BUILD === "relaxed") expect(p.madd).toBe(Math.max(g("peak_madd_12"), g("peak_madd_12_rt")));
    else expect(p.madd).toBeNull();
    const bytes = await compileProbe(BUILD);
    const { instance } = await WebAssembly.instantiate(bytes, { env: { abort() {} } });
    expect(["peak_muladd_12", "peak_muladd_12_rt"]).toContain(fasterForm(instance.exports, "simd"));
  }, 120_000);
});

describe("bench: naive GEMM peer", () => {
  it("computes op(A)·op(B) for every transpose case and small shape", () => {
    for (const c of CASES as { id: string; tA: boolean; tB: boolean }[]) {
      for (const [m, k, n] of [[1, 1, 1], [2, 3, 4], [5, 1, 3], [3, 7, 2]] as const) {
        // A as op(A)[i][p] = i·10 + p + 1, B as op(B)[p][j] = p − 2j; stored transposed where asked.
        const a = new Float32Array(m * k);
        const b = new Float32Array(k * n);
        for (let i = 0; i < m; i++) for (let p = 0; p < k; p++) a[c.tA ? p * m + i : i * k + p] = i * 10 + p + 1;
        for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) b[c.tB ? j * k + p : p * n + j] = p - 2 * j;
        const out = new Float64Array(m * n).fill(NaN);
        naiveGemm(a, b, out, m, k, n, c.tA, c.tB);
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            let s = 0;
            for (let p = 0; p < k; p++) s += (i * 10 + p + 1) * (p - 2 * j);
            expect(out[i * n + j], `${c.id} ${m}×${k}×${n} [${i}, ${j}]`).toBe(s);
          }
        }
      }
    }
  });
});

describe("bench: timing", () => {
  it("keeps timing the other implementations of a row when one throws", () => {
    setProfile("quick");
    setClock("cpu");
    let calls = 0;
    const r = measureSet({
      fine: () => {
        calls++;
      },
      broken: () => {
        throw new Error("broken on purpose");
      },
      skipped: null,
    }) as Record<string, { error?: Error; seconds: number; samples: number }>;
    expect(r.broken!.error!.message).toBe("broken on purpose");
    expect(r.fine!.error).toBeUndefined();
    expect(r.fine!.seconds).toBeGreaterThan(0);
    expect(r.fine!.samples).toBeGreaterThan(0);
    expect(calls).toBeGreaterThan(r.fine!.samples);
    expect("skipped" in r).toBe(false);
  });

  it("measures a share of the probe in pairs of bursts, and reports a throwing function", () => {
    setProfile("quick");
    setClock("cpu");
    // The same loop as the probe, run twice as long per call and credited with twice the work:
    // its share is 1 whatever the machine's speed (the bounds only absorb timing noise).
    let sink = 0;
    const spin = (n: number) => {
      let x = 1;
      for (let i = 0; i < n; i++) x = (x * 1.0000001 + 1e-9) % 7;
      sink += x;
    };
    let probeCalls = 0;
    const probe = { fn: () => (probeCalls++, spin(20000)), flops: 20000 };
    const r = measureShare(() => spin(40000), 40000, probe);
    expect(r.error).toBeUndefined();
    expect(r.pairs).toBeGreaterThanOrEqual(3);
    expect(probeCalls).toBeGreaterThanOrEqual(r.pairs!);
    expect(r.share).toBeGreaterThan(0.5);
    expect(r.share).toBeLessThan(2);
    expect(r.seconds).toBeGreaterThan(r.probeSeconds);
    // Credited with half the work it does, the function reads as half the probe's speed.
    const half = measureShare(() => spin(40000), 20000, probe);
    expect(half.share).toBeLessThan(r.share);
    const bad = measureShare(() => {
      throw new Error("broken on purpose");
    }, 1, probe);
    expect(bad.error?.message).toBe("broken on purpose");
    // A call much shorter than a reading of the CPU clock (about a microsecond) still reads
    // its own speed: the clock is read after groups of calls, not charged to each one
    // (read after every call, this share came out near 0.4).
    const short = measureShare(() => spin(40), 40, probe);
    expect(short.error).toBeUndefined();
    expect(short.share).toBeGreaterThan(0.6);
    expect(short.share).toBeLessThan(1.6);
    expect(Number.isFinite(sink)).toBe(true);
  });

  it("formats ratios and changes", () => {
    expect(ratio(3, 2)).toBe("1.50×");
    expect(ratio(250, 2)).toBe("125×");
    expect(ratio("n/a (missing: sg.matmul)", 2)).toBe("—");
    expect(change(110, 100)).toBe("+10%");
    expect(change(100, 100)).toBe("±0%");
    expect(change(100, undefined)).toBe("");
    expect(fmt(null)).toBe("—");
  });
});

describe("bench: targets", () => {
  const gemmRow = (c: string, m: number, k: number, n: number, sg: number | string, tf: number, pctPeak: number | null) => ({ case: c, m, k, n, sg, tf, pctPeak });
  it("meets, falls short and reports missing rows by the worst row", () => {
    const run = {
      header: { build: "simd" },
      suites: {
        gemm: [
          gemmRow("AB", 64, 64, 64, 90, 20, 80), // judged only by the 64³ target (85%), not the 90% one
          gemmRow("AB", 1024, 1024, 1024, 40, 20, 92),
          gemmRow("AtB", 1024, 1024, 1024, 38, 2, 88),
          gemmRow("ABt", 64, 784, 256, 37, 4, 84), // layer shape: judged; worst
          gemmRow("AB", 64, 256, 10, 20, 10, 50), // narrow: judged by its own line only
          gemmRow("AtB", 256, 64, 10, 22, 2, 55),
          gemmRow("ABt", 64, 10, 256, 23, 2, 53), // shallow (k = 10): the same line
        ],
        train: [
          { key: "mlp784-256-10/b64", speedup: 7, stepEff: 91 },
          { key: "mlp784-256-10/b1", speedup: 5 },
          { key: "mlp2-16-1/b32", speedup: null },
        ],
      },
    };
    const t = targetsOf(run) as { what: string; need: number; value: number | null; row: { m: number; case: string } | null }[];
    const by = (s: string) => t.find((x) => x.what.includes(s))!;
    expect(by("90% of mul+add").value).toBe(84);
    expect(by("90% of mul+add").row!.case).toBe("ABt");
    expect(by("64×64×64").value).toBe(80);
    expect(by("narrow products").value).toBe(50);
    expect(by("narrow products").row!.case).toBe("AB");
    expect(by("GEMM time at the peak").value).toBe(91);
    expect(by("≥ 1.3×").value).toBe(2);
    expect(by("≥ 3×").value).toBe(4.5);
    expect(by("≥ 10×").value).toBeCloseTo(9.25);
    expect(by("batch 64").value).toBe(7);
    expect(by("batch 1").value).toBe(5);
    expect(by("2→16→1").value).toBeNull();
  });

  it("judges the relaxed build against the relaxed_madd peak", () => {
    const run = {
      header: { build: "relaxed" },
      suites: { gemm: [{ case: "AB", m: 256, k: 256, n: 256, sg: 50, tf: 20, pctPeak: 120, pctFma: 86 }] },
    };
    const t = targetsOf(run) as { what: string; value: number | null }[];
    const g = t.find((x) => x.what.includes("relaxed_madd peak"))!;
    expect(g.value).toBe(86);
    expect(g.what).toContain("85%");
  });
});

describe("bench: engine A/B", () => {
  const wasm = [...fs.readFileSync(new URL(`../build/simdgrad.${BUILD}.wasm`, import.meta.url))];
  const small = { n: 64, pairs: 2, ms: 1 };

  it("times one build against itself at a ratio near 1", async () => {
    const r = (await abKernels({ base: wasm, neu: wasm, kernels: ["sigmoid_forward"], ...small }))[0]!;
    expect(r.name).toBe("sigmoid_forward");
    expect(r.base).toBeGreaterThan(0);
    expect(r.ratio).toBeGreaterThan(0.2);
    expect(r.ratio).toBeLessThan(5);
  });

  it("refuses builds whose results differ, and kernels it has no call for", async () => {
    // The relaxed build fuses its multiply-adds, so some of exp's results differ in the last
    // bit from the SIMD128 build's. A Node with relaxed SIMD (the relaxed project's on Node 20,
    // every project's on Node 22+) compiles both builds; Node 20 without the flag refuses the
    // relaxed one before any kernel runs.
    const relaxed = [...fs.readFileSync(new URL("../build/simdgrad.relaxed.wasm", import.meta.url))];
    const simd = [...fs.readFileSync(new URL("../build/simdgrad.simd.wasm", import.meta.url))];
    await expect(abKernels({ base: simd, neu: relaxed, kernels: ["exp_f32"], ...small })).rejects.toThrow(
      WebAssembly.validate(RELAXED_PROBE) ? /exp_f32 gives different results/ : /relaxed.simd/,
    );
    await expect(abKernels({ base: wasm, neu: wasm, kernels: ["nope"], ...small })).rejects.toThrow(/no call for kernel nope/);
  });
});

describe("bench: engine step", () => {
  it("times a training step of the library on this engine's build, against that build's probe", async () => {
    const peak = { simd: [...(await compileProbe("simd"))], relaxed: [...(await compileProbe("relaxed"))] };
    const lib = pathToFileURL(path.join(process.cwd(), "dist/index.js")).href;
    const r = await measureStep({ lib, peak, rounds: 2, burstMs: 5, warmMs: 20 });
    // The engine's default: relaxed wherever this process has relaxed SIMD.
    expect(r.build).toBe(WebAssembly.validate(RELAXED_PROBE) ? "relaxed" : "simd");
    expect(r.loss[1]).toBeLessThan(r.loss[0]);
    expect(r.stepMs).toBeGreaterThan(0);
    expect(r.peak).toBeGreaterThan(0);
    expect(r.efficiency).toBeGreaterThan(0);
    expect(r.efficiency).toBeLessThan(2);
    expect(r.gemmFlops).toBe(2 * 64 * (784 * 256 + 256 * 10) * 2 + 2 * 64 * 10 * 256);
  });

  it("times the digits CNN's step with model: cnn (its loss falls; its products counted as step-profile counts them)", async () => {
    const peak = { simd: [...(await compileProbe("simd"))], relaxed: [...(await compileProbe("relaxed"))] };
    const lib = pathToFileURL(path.join(process.cwd(), "dist/index.js")).href;
    const r = await measureStep({ lib, peak, model: "cnn", rounds: 2, burstMs: 5, warmMs: 20 });
    expect(r.loss[1]).toBeLessThan(r.loss[0]);
    expect(r.stepMs).toBeGreaterThan(0);
    expect(r.efficiency).toBeGreaterThan(0);
    expect(r.efficiency).toBeLessThan(2);
    expect(r.gemmFlops).toBe(2 * 32 * 784 * 9 * 16 * 2 + 3 * 2 * 32 * 196 * 144 * 32 + 3 * 2 * 32 * 1568 * 10);
  });
});
