// Paired bursts of two functions, for A/B runs of two builds in one process (bench/gemm-ab.mjs,
// bench/act-ab.mjs): the two are called side by side in bursts of about `ms` of CPU time, the
// order swapped every pair, so load from other tenants falls on both sides alike. Reports the
// median time per call of each side and the median and quartiles of the per-pair ratios.

const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };

/** The median of a list of numbers (the upper one of an even count). */
export const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1]; };

/** Calls per burst of about `ms` milliseconds, found once. */
export function repsFor(f, ms) {
  let reps = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) f();
    const dt = performance.now() - t0;
    if (dt > ms / 4) return Math.max(1, Math.round((reps * ms) / dt));
    reps *= 2;
  }
}

/** CPU milliseconds per call over `reps` calls. */
export function burst(f, reps) {
  const t0 = cpu();
  for (let i = 0; i < reps; i++) f();
  return (cpu() - t0) / reps;
}

/**
 * `pairs` paired bursts of f0 (base) and f1 (new): { t0, t1 } the medians of each side's ms
 * per call, ratio the median of t0/t1 over the pairs (> 1: f1 faster), q1 and q3 its quartiles.
 */
export function compare(f0, f1, pairs, ms) {
  for (let w = 0; w < 3; w++) { burst(f0, repsFor(f0, ms)); burst(f1, repsFor(f1, ms)); }
  const reps = repsFor(f0, ms);
  const t0s = [], t1s = [], ratios = [];
  for (let p = 0; p < pairs; p++) {
    let t0, t1;
    if (p % 2) { t1 = burst(f1, reps); t0 = burst(f0, reps); } else { t0 = burst(f0, reps); t1 = burst(f1, reps); }
    t0s.push(t0); t1s.push(t1); ratios.push(t0 / t1);
  }
  const sr = [...ratios].sort((a, b) => a - b);
  const q = (f) => sr[Math.min(sr.length - 1, Math.floor(f * sr.length))];
  return { t0: median(t0s), t1: median(t1s), ratio: median(ratios), q1: q(0.25), q3: q(0.75) };
}
