// Timing with benchmark.js: warm up first (V8 runs wasm in a baseline tier and optimizes hot
// functions later), then let benchmark.js collect samples, and report the median.
import Benchmark from "benchmark";

/**
 * Timing budgets: full runs take their time, --quick runs trade precision for speed.
 * A function whose first call takes longer than `slow` seconds skips benchmark.js: after that
 * warm-up call it is timed `slowCalls` more times at most (within `slowBudget` seconds).
 */
export const PROFILES = {
  full: { warmup: 0.3, minTime: 0.05, minSamples: 10, maxTime: 1.0, slow: 1.0, slowCalls: 3, slowBudget: 4 },
  quick: { warmup: 0.02, minTime: 0.005, minSamples: 3, maxTime: 0.02, slow: 0.1, slowCalls: 2, slowBudget: 0.3 },
};

let profile = PROFILES.full;

export function setProfile(name) {
  profile = PROFILES[name];
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Times `fn` (synchronous, one unit of work per call) on one long-lived setup.
 * Returns seconds per call: the median over benchmark.js's samples, and its spread.
 */
export function measure(name, fn) {
  // Warm-up: call until `warmup` seconds have passed and at least 3 calls were made.
  const t0 = performance.now();
  fn();
  const first = (performance.now() - t0) / 1e3;
  if (first > profile.slow) return measureSlow(fn, first);
  let calls = 1;
  while (calls < 3 || performance.now() - t0 < profile.warmup * 1000) {
    fn();
    calls++;
  }
  const bench = new Benchmark(name, fn, {
    minTime: profile.minTime,
    minSamples: profile.minSamples,
    maxTime: profile.maxTime,
    initCount: 1,
  });
  bench.run();
  if (bench.error) throw bench.error;
  const sample = bench.stats.sample;
  return {
    seconds: median(sample),
    min: Math.min(...sample),
    rme: bench.stats.rme, // relative margin of error of the mean, in %
    samples: sample.length,
  };
}

/** Long calls (seconds each): a few timed calls after the warm-up call, their median. */
function measureSlow(fn, first) {
  const n = Math.max(1, Math.min(profile.slowCalls, Math.floor(profile.slowBudget / first)));
  const sample = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    fn();
    sample.push((performance.now() - t) / 1e3);
  }
  return { seconds: median(sample), min: Math.min(...sample), rme: null, samples: n };
}

/** Runs `fn` and returns the error message if it throws, or null. */
export function tryOrReason(fn) {
  try {
    fn();
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}
