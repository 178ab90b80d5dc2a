// The measurement bench/engines.mjs runs in every engine (Node, Deno, Bun, Chromium): one
// self-contained function, no imports and no host APIs beyond WebAssembly and
// performance.now(), so the browser gets exactly the code the runtimes get (its source text).
//
// It times the peak probe (both forms of its 12-chain mul+add, or relaxed_madd for the relaxed
// build; the larger the ceiling: see bench/peak/peak.ts), the GEMM on square and layer
// shapes, and a few activation kernels, interleaved in short bursts round after round; shares
// are per round (a kernel over the ceiling timed in the same round) and the medians over
// rounds are reported.

/**
 * @param {{ peak: number[], sg: number[], build?: "simd" | "relaxed", rounds?: number, burstMs?: number, warmMs?: number }} input
 *   peak: bytes of bench/build/peak.<build>.wasm; sg: bytes of build/simdgrad.<build>.wasm.
 * @returns {Promise<{ peak: number, probes: Record<string, number>, rows: { name: string, kind: string, rate: number, share: number | null }[], sink: boolean }>}
 *   GEMM rows: rate in GFLOPS, share of the ceiling; activation rows: rate in elements per ns;
 *   sink: whether the probes' sums came back positive (they are used, so none is optimized away).
 */
export async function measureEngine(input) {
  const rounds = input.rounds ?? 9;
  const burstMs = input.burstMs ?? 25;
  const warmMs = input.warmMs ?? 1500;
  const { instance: probe } = await WebAssembly.instantiate(new Uint8Array(input.peak), { env: { abort() {} } });
  const memory = new WebAssembly.Memory({ initial: 2048 });
  const { instance } = await WebAssembly.instantiate(new Uint8Array(input.sg), {
    env: { memory, abort() { throw new Error("simdgrad kernel abort"); } },
  });
  const k = instance.exports;
  const MB = 1 << 20;
  const A = 4 * MB, B = 36 * MB, C = 68 * MB, S = 100 * MB;
  const f = new Float32Array(memory.buffer);
  for (let i = A >> 2; i < S >> 2; i++) f[i] = ((i * 7919) % 2000) / 250 - 4; // values in [−4, 4)
  let sink = 0;
  const ITERS = 1 << 14;
  // The SIMD128 build's ceiling is mul+add; the relaxed build's relaxed_madd (one FMA).
  const op = input.build === "relaxed" ? "relaxed_madd" : "mul+add";
  const [fc, fr] = input.build === "relaxed" ? ["peak_madd_12", "peak_madd_12_rt"] : ["peak_muladd_12", "peak_muladd_12_rt"];
  const probes = {
    [`${op}, constant multiplier`]: () => { sink += probe.exports[fc](ITERS, 1); },
    [`${op}, run-time multiplier`]: () => { sink += probe.exports[fr](ITERS, 1); },
  };
  const gemm = (m, n, kk, tA, tB) => () => k.gemm(tA, tB, m, n, kk, 1, A, tA ? m : kk, B, tB ? kk : n, 0, C, n, S);
  const cases = [];
  for (const [m, n, kk, tA, tB, what] of [
    [64, 64, 64, 0, 0, ""],
    [256, 256, 256, 0, 0, ""],
    [1024, 1024, 1024, 0, 0, ""],
    [64, 256, 784, 0, 0, "layer x·W"],
    [784, 256, 64, 1, 0, "weight grad xᵀ·dy"],
    [64, 784, 256, 0, 1, "input grad dy·Wᵀ"],
    [64, 10, 256, 0, 0, "classifier h·W2"],
  ]) {
    const name = `${m}×${kk}×${n} ${tA ? "Aᵀ" : "A"}·${tB ? "Bᵀ" : "B"}${what ? ` (${what})` : ""}`;
    cases.push({ name, kind: "gemm", fn: gemm(m, n, kk, tA, tB), work: 2 * m * n * kk });
  }
  const N = 1 << 16;
  for (const name of ["sigmoid_forward", "tanh_forward", "gelu_forward", "swish_backward"]) {
    const fn = name.endsWith("_backward") ? () => k[name](A, B, C, N, 0) : () => k[name](A, C, N);
    cases.push({ name: `${name} (${N} values)`, kind: "act", fn, work: N });
  }
  /** Calls of fn that fill about burstMs, found once after the warm-up. */
  const repsFor = (fn) => {
    let n = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < burstMs) { fn(); n++; }
    return Math.max(1, n);
  };
  /** Work per ms of `reps` calls. */
  const burst = (fn, reps, work) => {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    return (work * reps) / Math.max(performance.now() - t0, 1e-3);
  };
  const warmEnd = performance.now() + warmMs;
  while (performance.now() < warmEnd) {
    for (const p of Object.values(probes)) p();
    for (const c of cases) c.fn();
  }
  const probeList = Object.entries(probes).map(([name, fn]) => ({ name, fn, reps: repsFor(fn), rates: [] }));
  for (const c of cases) { c.reps = repsFor(c.fn); c.rates = []; c.shares = []; }
  for (let r = 0; r < rounds; r++) {
    const ceil = Math.max(...probeList.map((p) => {
      const rate = burst(p.fn, p.reps, 96 * ITERS) / 1e6; // GFLOPS
      p.rates.push(rate);
      return rate;
    }));
    const order = r & 1 ? [...cases].reverse() : cases;
    for (const c of order) {
      const rate = burst(c.fn, c.reps, c.work) / 1e6; // work per ms / 1e6: GFLOPS, or elements per ns
      c.rates.push(rate);
      if (c.kind === "gemm") c.shares.push(rate / ceil);
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const probeRates = Object.fromEntries(probeList.map((p) => [p.name, median(p.rates)]));
  return {
    peak: Math.max(...Object.values(probeRates)),
    probes: probeRates,
    rows: cases.map((c) => ({ name: c.name, kind: c.kind, rate: median(c.rates), share: c.kind === "gemm" ? median(c.shares) : null })),
    sink: sink > 0,
  };
}
