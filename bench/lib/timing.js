// Timing with benchmark.js: warm up first (V8 runs wasm in a baseline tier and optimizes hot
// functions later), then let benchmark.js collect samples, and report medians. The
// implementations of one row are timed in alternating rounds so that a machine whose load
// drifts slows them alike, and the ratios between them hold.
//
// The clock: by default the smaller of the process's CPU time (process.cpuUsage(), user +
// system) and the wall-clock time of each sample. On a busy machine the CPU time leaves out
// the time spent waiting for a core; when a helper thread of the process (garbage collection,
// compilation) runs beside the JavaScript thread on an idle core, the wall time leaves out
// its work. Either way the measure stays an upper bound of the JavaScript thread's own time,
// where everything timed here runs (simdgrad with threads: 1; tfjs's wasm backend has no
// threads in Node). With --clock wall: wall-clock time only.
import Benchmark from "benchmark";

/** A point in time on both clocks. */
function stamp() {
  const u = process.cpuUsage();
  return { wall: performance.now() / 1e3, cpu: (u.user + u.system) / 1e6 };
}

/** Seconds since `s`: the smaller of the CPU and the wall-clock time that passed. */
function since(s) {
  const t = stamp();
  return Math.min(t.wall - s.wall, t.cpu - s.cpu);
}

/**
 * process.hrtime's contract for benchmark.js: without an argument, a start ([s, ns] of CPU
 * time, carrying its stamp); with one, the time since that start as [s, ns].
 */
function minHrtime(prev) {
  if (!prev) {
    const s = stamp();
    const sec = Math.floor(s.cpu);
    const out = [sec, Math.round((s.cpu - sec) * 1e9)];
    out.stamp = s;
    return out;
  }
  const d = prev.stamp ? since(prev.stamp) : 0;
  const sec = Math.floor(d);
  return [sec, Math.round((d - sec) * 1e9)];
}

let Bench = Benchmark;
let elapsedSince = (s) => performance.now() / 1e3 - s.wall;
let clockName = "wall";

/** Chooses the clock: "cpu" (the smaller of CPU and wall time) or "wall". Returns the clock in use. */
export function setClock(name) {
  if (name === "cpu" && typeof process?.cpuUsage === "function") {
    Bench = Benchmark.runInContext({ process: { hrtime: minHrtime } });
    elapsedSince = since;
    clockName = "cpu";
  } else {
    Bench = Benchmark;
    elapsedSince = (s) => performance.now() / 1e3 - s.wall;
    clockName = "wall";
  }
  return clockName;
}

export function clock() {
  return clockName;
}

/**
 * Timing budgets: full runs take their time, --quick runs trade precision for speed.
 *   warmup      seconds of calls (CPU and wall both) before any timing; then more calls up to
 *               warmCalls in all (JavaScript, like tfjs's op dispatch, is optimized after
 *               enough calls), within warmCap seconds
 *   settle      then, once per row, sleep until the process's other threads are idle (V8
 *               optimizes hot code and collects garbage on background threads; on a busy
 *               machine they need time to finish), at most this many seconds
 *   rounds      how many times each implementation of a row is timed, alternating
 *   minTime, minSamples, maxTime   benchmark.js options for each round
 *   slow        a function whose first call takes longer skips benchmark.js: each round
 *               times min(slowCalls, slowBudget / first call) calls of it, at least one
 *   maxCall     a function whose first call takes longer still is timed by that call alone
 *   pairs, minPairs, burst, pairBudget   measureShare: up to `pairs` pairs of bursts of about
 *               `burst` seconds each (at least one call), fewer for slow calls so the pairs
 *               take about `pairBudget` seconds, never fewer than `minPairs`
 */
export const PROFILES = {
  full: {
    warmup: 0.2, warmCalls: 3000, warmCap: 0.5, settle: 1, rounds: 3, minTime: 0.05, minSamples: 5, maxTime: 0.2,
    slow: 0.25, slowCalls: 3, slowBudget: 1.5, maxCall: 5,
    pairs: 21, minPairs: 5, burst: 0.02, pairBudget: 4,
  },
  quick: {
    warmup: 0.03, warmCalls: 5000, warmCap: 0.08, settle: 0.1, rounds: 1, minTime: 0.005, minSamples: 3, maxTime: 0.015,
    slow: 0.03, slowCalls: 2, slowBudget: 0.1, maxCall: 0.5,
    pairs: 7, minPairs: 3, burst: 0.004, pairBudget: 0.4,
  },
};

let profile = PROFILES.full;

export function setProfile(name) {
  profile = PROFILES[name];
}

/** Wall-clock ms per call of `f`, repeating it (doubling) until one timing lasts `minMs`. */
export function timeOnce(f, minMs) {
  let reps = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) f();
    const dt = performance.now() - t0;
    if (dt >= minMs) return dt / reps;
    reps *= 2;
  }
}

export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function timeCall(fn) {
  const t = stamp();
  fn();
  return elapsedSince(t);
}

/** Blocks this thread for `seconds` (other threads of the process run on). */
function sleep(seconds) {
  if (seconds > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, seconds * 1000);
}

/**
 * Sleeps in short steps until a step passes in which the process used under 10% of one core
 * (its background threads are done), or `maxSeconds` have passed.
 */
export function settle(maxSeconds = profile.settle) {
  const step = 0.01;
  for (let waited = 0; waited < maxSeconds; waited += step) {
    const t = stamp();
    sleep(step);
    if (stamp().cpu - t.cpu < step * 0.1) return;
  }
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
    // Long enough on both clocks: on a busy machine a second of wall time holds less work.
    const t0 = stamp();
    const warmed = (calls) => {
      const t = stamp();
      const w = Math.min(t.wall - t0.wall, t.cpu - t0.cpu);
      return w >= profile.warmup && (calls >= profile.warmCalls || w >= profile.warmCap);
    };
    for (let calls = 1; calls < 3 || !warmed(calls); calls++) fn();
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
  settle();
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

/**
 * Seconds per call of `fn` over one burst: calls it until `seconds` have passed (at least
 * once), reading the clock after every `group` calls. Reading the CPU clock costs about a
 * microsecond (process.cpuUsage is a system call), a tenth of a 64³ product's call: read
 * after every call, it was charged to the call and a 64³ GEMM read 74% of the peak where the
 * same calls timed in batches read 80%. groupFor picks a group the clock costs ≤ 0.5% of.
 */
function burst(fn, seconds, group = 1) {
  const t = stamp();
  let calls = 0;
  let dt = 0;
  do {
    for (let i = 0; i < group; i++) fn();
    calls += group;
    dt = elapsedSince(t);
  } while (dt < seconds);
  return dt / calls;
}

/** Seconds of one clock reading (stamp and elapsedSince), measured once. */
let clockCost = -1;
function clockSeconds() {
  if (clockCost < 0) {
    const t = stamp();
    let dt = 0;
    let reads = 0;
    do {
      dt = elapsedSince(t);
      reads++;
    } while (reads < 1000 || dt < 0.002);
    clockCost = dt / reads;
  }
  return clockCost;
}

/** How many calls of `fn` (each about `perCall` seconds) go between clock readings in a burst. */
function groupFor(perCall) {
  const group = Math.ceil((200 * clockSeconds()) / Math.max(perCall, 1e-9));
  return Math.max(1, Math.min(group, 1 << 16));
}

/**
 * The share of a ceiling that `fn` reaches, measured so that it holds on a machine whose speed
 * drifts (a shared or virtual machine's cores run faster and slower from one second to the next,
 * as other tenants come and go): `fn` and the ceiling's probe are timed in short bursts side by
 * side, pair after pair (the order swapped every pair), and the share is the median over pairs of
 * fn's rate over the probe's rate in the same pair. A share from medians taken seconds apart
 * moved by ±20% between rows on such a machine; pairs a few ms apart see the same machine.
 *
 * `work` and `probe.flops` are the work of one call of each (any unit, the same for both);
 * `fn` should be warmed up already (measureSet does that). Returns { share (1 = the ceiling),
 * seconds (fn's median per call over pairs), probeSeconds, pairs, shares (each pair's, in
 * order) }, or { error }. With work = probe.flops = 1 the share is a paired speed ratio: how many
 * times faster `fn` runs than `probe.fn`.
 */
export function measureShare(fn, work, probe) {
  try {
    const first = burst(fn, 0);
    const fnGroup = groupFor(burst(fn, Math.min(profile.burst, 0.002)));
    const probeGroup = groupFor(burst(probe.fn, Math.min(profile.burst, 0.002)));
    const perPair = 2 * Math.max(first, profile.burst);
    const pairs = Math.max(profile.minPairs, Math.min(profile.pairs, Math.floor(profile.pairBudget / perPair)));
    const shares = [];
    const fnTimes = [];
    const probeTimes = [];
    for (let i = 0; i < pairs; i++) {
      let tf, tp;
      if (i % 2) {
        tp = burst(probe.fn, profile.burst, probeGroup);
        tf = burst(fn, profile.burst, fnGroup);
      } else {
        tf = burst(fn, profile.burst, fnGroup);
        tp = burst(probe.fn, profile.burst, probeGroup);
      }
      fnTimes.push(tf);
      probeTimes.push(tp);
      shares.push(work / tf / (probe.flops / tp));
    }
    return { share: median(shares), seconds: median(fnTimes), probeSeconds: median(probeTimes), pairs, shares };
  } catch (e) {
    return { error: e instanceof Error ? e : new Error(String(e)) };
  }
}
