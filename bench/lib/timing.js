// Timing with benchmark.js: warm up first (V8 runs wasm in a baseline tier and optimizes hot
// functions later), then let benchmark.js collect samples, and report medians. The
// implementations of one row are timed in alternating rounds so that a machine whose load
// drifts slows them alike, and the ratios between them hold.
import Benchmark from "benchmark";

/**
 * Timing budgets: full runs take their time, --quick runs trade precision for speed.
 * `rounds`: how many times each implementation of a row is timed, alternating.
 * A function whose first call takes longer than `slow` seconds skips benchmark.js: after that
 * warm-up call it is timed `slowCalls` more times at most (within `slowBudget` seconds), once.
 */
export const PROFILES = {
  full: { rounds: 3, warmup: 0.3, warmCalls: 3, minTime: 0.05, minSamples: 5, maxTime: 0.3, slow: 1.0, slowCalls: 3, slowBudget: 4 },
  quick: { rounds: 1, warmup: 0.02, warmCalls: 2, minTime: 0.005, minSamples: 3, maxTime: 0.015, slow: 0.03, slowCalls: 2, slowBudget: 0.1 },
};

let profile = PROFILES.full;

export function setProfile(name) {
  profile = PROFILES[name];
}

export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** benchmark.js samples of `fn` (seconds per call), after an optional warm-up. */
function sampleOnce(name, fn, warm) {
  const t0 = performance.now();
  if (warm) {
    fn();
    const first = (performance.now() - t0) / 1e3;
    if (first > profile.slow) return { slow: true, sample: sampleSlow(fn, first) };
    let calls = 1;
    while (calls < profile.warmCalls || performance.now() - t0 < profile.warmup * 1000) {
      fn();
      calls++;
    }
  }
  const bench = new Benchmark(name, fn, {
    minTime: profile.minTime,
    minSamples: profile.minSamples,
    maxTime: profile.maxTime,
    initCount: 1,
  });
  bench.run();
  if (bench.error) throw bench.error;
  return { slow: false, sample: bench.stats.sample };
}

/** Long calls (seconds each): a few timed calls after the warm-up call. */
function sampleSlow(fn, first) {
  const n = Math.max(1, Math.min(profile.slowCalls, Math.floor(profile.slowBudget / first)));
  const sample = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    fn();
    sample.push((performance.now() - t) / 1e3);
  }
  return sample;
}

/** Times one synchronous function; returns { seconds (median), samples }. */
export function measure(name, fn) {
  const r = measureSet({ [name]: fn })[name];
  if (r.error) throw r.error;
  return r;
}

/**
 * Times each function of `fns` (name → function, or null to skip) in alternating rounds
 * (the order reversed every other round). Returns name → { seconds, samples } with the
 * median over all samples, or { error } when the function threw.
 */
export function measureSet(fns) {
  const names = Object.keys(fns).filter((n) => typeof fns[n] === "function");
  const samples = Object.fromEntries(names.map((n) => [n, []]));
  const out = {};
  for (let r = 0; r < profile.rounds; r++) {
    const order = r % 2 ? [...names].reverse() : names;
    for (const n of order) {
      if (out[n]) continue; // failed, or slow (timed in the first round only)
      try {
        const s = sampleOnce(n, fns[n], r === 0);
        samples[n].push(s.sample);
        if (s.slow) out[n] = { slow: true };
      } catch (e) {
        out[n] = { error: e instanceof Error ? e : new Error(String(e)) };
      }
    }
  }
  for (const n of names) {
    if (out[n]?.error) continue;
    const all = samples[n].flat();
    out[n] = { seconds: median(all), samples: all.length, slow: !!out[n]?.slow };
  }
  return out;
}
