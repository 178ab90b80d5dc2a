// Timing with benchmark.js: warm up first (V8 runs wasm in a baseline tier and optimizes hot
// functions later), then let benchmark.js collect samples, and report medians. The
// implementations of one row are timed in alternating rounds so that a machine whose load
// drifts slows them alike, and the ratios between them hold.
//
// The clock: by default the CPU time of this process (process.cpuUsage(), user + system, in
// microseconds), so that time spent waiting for a core on a busy machine is not counted.
// Everything measured here runs on the JavaScript thread (simdgrad with threads: 1, tfjs's
// wasm backend has no threads in Node); the process's helper threads (garbage collection,
// compilation) add little after the warm-up, and what they add is real work of the library
// that caused it. With --clock wall: wall-clock time.
import Benchmark from "benchmark";

/** Process CPU time in seconds. */
function cpuSeconds() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** process.hrtime's contract ([s, ns], or the difference from `prev`) on the CPU clock. */
function cpuHrtime(prev) {
  const u = process.cpuUsage();
  const us = u.user + u.system;
  const sec = Math.floor(us / 1e6);
  const ns = (us - sec * 1e6) * 1e3;
  if (!prev) return [sec, ns];
  let ds = sec - prev[0];
  let dn = ns - prev[1];
  if (dn < 0) {
    ds -= 1;
    dn += 1e9;
  }
  return [ds, dn];
}

let Bench = Benchmark;
let now = () => performance.now() / 1e3; // seconds
let clockName = "wall";

/** Chooses the clock: "cpu" (process CPU time) or "wall". Returns the name of the clock in use. */
export function setClock(name) {
  if (name === "cpu" && typeof process?.cpuUsage === "function") {
    Bench = Benchmark.runInContext({ process: { hrtime: cpuHrtime } });
    now = cpuSeconds;
    clockName = "cpu";
  } else {
    Bench = Benchmark;
    now = () => performance.now() / 1e3;
    clockName = "wall";
  }
  return clockName;
}

export function clock() {
  return clockName;
}

/**
 * Timing budgets: full runs take their time, --quick runs trade precision for speed.
 *   warmup      seconds of calls (CPU and wall both) before any timing, at least warmCalls
 *   settle      then seconds of sleep, once per row: V8 optimizes hot code on background
 *               threads, and on a busy machine those need time to finish
 *   rounds      how many times each implementation of a row is timed, alternating
 *   minTime, minSamples, maxTime   benchmark.js options for each round
 *   slow        a function whose first call takes longer skips benchmark.js: each round
 *               times min(slowCalls, slowBudget / first call) calls of it, at least one
 *   maxCall     a function whose first call takes longer still is timed by that call alone
 */
export const PROFILES = {
  full: {
    warmup: 0.3, warmCalls: 3, settle: 0.1, rounds: 3, minTime: 0.05, minSamples: 5, maxTime: 0.3,
    slow: 0.25, slowCalls: 3, slowBudget: 1.5, maxCall: 5,
  },
  quick: {
    warmup: 0.05, warmCalls: 2, settle: 0.05, rounds: 1, minTime: 0.005, minSamples: 3, maxTime: 0.015,
    slow: 0.03, slowCalls: 2, slowBudget: 0.1, maxCall: 0.5,
  },
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

function timeCall(fn) {
  const t = now();
  fn();
  return now() - t;
}

/** Blocks this thread for `seconds` (other threads of the process run on). */
function sleep(seconds) {
  if (seconds > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, seconds * 1000);
}

/**
 * Warms `fn` up. Its first call decides its kind: a very slow function is timed by that call
 * alone, a slow one by a few calls per round, the others by benchmark.js after more warm-up.
 */
function warm(fn, state) {
  const first = timeCall(fn);
  if (first > profile.maxCall) {
    state.samples.push(first);
    state.done = true;
  } else if (first > profile.slow) {
    state.calls = Math.max(1, Math.min(profile.slowCalls, Math.floor(profile.slowBudget / first)));
  } else {
    const t0 = now();
    const w0 = performance.now();
    for (let calls = 1; calls < profile.warmCalls || now() - t0 < profile.warmup || performance.now() - w0 < profile.warmup * 1000; calls++) fn();
  }
}

/** One round of samples (seconds per call). */
function round(name, fn, state) {
  if (state.calls) return Array.from({ length: state.calls }, () => timeCall(fn));
  const bench = new Bench(name, fn, {
    minTime: profile.minTime,
    minSamples: profile.minSamples,
    maxTime: profile.maxTime,
    initCount: 1,
  });
  bench.run();
  if (bench.error) throw bench.error;
  return bench.stats.sample;
}

/**
 * Times each function of `fns` (name → function; other values are skipped): all are warmed
 * up, then timed in alternating rounds (the order reversed every other round). Returns
 * name → { seconds, samples }: the median over all its samples, or { error } when it threw.
 */
export function measureSet(fns) {
  const names = Object.keys(fns).filter((n) => typeof fns[n] === "function");
  const state = Object.fromEntries(names.map((n) => [n, { samples: [], done: false, calls: 0, error: null }]));
  const attempt = (n, f) => {
    try {
      f(state[n]);
    } catch (e) {
      state[n].error = e instanceof Error ? e : new Error(String(e));
    }
  };
  for (const n of names) attempt(n, (s) => warm(fns[n], s));
  sleep(profile.settle);
  for (let r = 0; r < profile.rounds; r++) {
    const order = r % 2 ? [...names].reverse() : names;
    for (const n of order) {
      if (state[n].error || state[n].done) continue;
      attempt(n, (s) => s.samples.push(...round(n, fns[n], s)));
    }
  }
  const out = {};
  for (const n of names) {
    const s = state[n];
    out[n] = s.error ? { error: s.error } : { seconds: median(s.samples), samples: s.samples.length };
  }
  return out;
}

/** Times one synchronous function; returns { seconds (median), samples }. Throws its error. */
export function measure(name, fn) {
  const r = measureSet({ [name]: fn })[name];
  if (r.error) throw r.error;
  return r;
}
