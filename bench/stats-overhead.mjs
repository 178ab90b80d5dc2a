// What gradient statistics cost: ms per training step of a 784→256 ReLU→10 softmax
// cross-entropy MLP, SGD, batch 64, with collection off and on, side by side in one run.
//
//   npm run build && node bench/stats-overhead.mjs [--reps 41] [--steps 20] [--momentum | --adam] [--wall]
//   (relaxed-SIMD build: add --relaxed; on Node 20 run node --experimental-wasm-relaxed-simd)
//
// One graph and one optimizer are timed in every mode, switching mode between blocks of
// steps (the order rotates each round), so every mode sees the same buffers and the same
// machine state. Each block is warmed up first. The table gives the median ms per step of
// each mode and the median over rounds of the per-round ratio to "off" (paired, so drift of
// a shared machine cancels).
import { init } from "../dist/index.js";
import { uniform } from "./lib/data.js";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  // --name value
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const REPS = opt("reps", 41);
const STEPS = opt("steps", 20);
const WARM = 5;
const MOMENTUM = args.includes("--momentum") ? 0.9 : 0;

const sg = await init({ relaxedSimd: args.includes("--relaxed") });
const B = 64;
const g = sg.graph();
const x = g.input([B, 784], "x");
const y = g.input([B, 10], "y");
const W1 = g.param([784, 256], { init: "he", name: "W1", seed: 1 });
const b1 = g.param([256], { name: "b1" });
const W2 = g.param([256, 10], { init: "he", name: "W2", seed: 2 });
const b2 = g.param([10], { name: "b2" });
const h = g.linear(x, W1, b1, "relu");
const logits = g.linear(h, W2, b2);
const loss = g.softmaxCrossEntropy(logits, y);
const ADAM = args.includes("--adam");
const opt_ = ADAM ? sg.adam(g.params, { lr: 1e-3 }) : sg.sgd(g.params, { lr: 0.01, momentum: MOMENTUM });
const oneHot = new Float32Array(B * 10);
for (let r = 0; r < B; r++) oneHot[r * 10 + (r % 10)] = 1;
g.forward({ x: sg.tensor([B, 784], uniform(B * 784, 101, 0, 1)), y: sg.tensor([B, 10], oneHot) });

const step = () => {
  opt_.zeroGrad();
  g.forward();
  g.backward(loss);
  opt_.step();
};

let unsubscribe = null;
let anomalies = 0;
const modes = {
  off: () => {
    g.trackStats(false);
    unsubscribe?.();
    unsubscribe = null;
  },
  "trackStats": () => {
    unsubscribe?.();
    unsubscribe = null;
    g.trackStats(true);
  },
  "trackStats + onAnomaly": () => {
    g.trackStats(true);
    unsubscribe ??= g.onAnomaly(() => anomalies++, { growthFactor: 1e3 });
  },
  "onAnomaly only": () => {
    g.trackStats(false);
    unsubscribe ??= g.onAnomaly(() => anomalies++, { growthFactor: 1e3 });
  },
};
let statsReads = 0;
const withStatsRead = () => {
  step();
  statsReads += g.stats().params.length;
};
const names = Object.keys(modes);
const perMode = Object.fromEntries([...names, "trackStats + g.stats() every step"].map((n) => [n, []]));

/**
 * ms per step of `fn`: CPU time of this process (what the work costs; on a shared machine
 * wall time also counts the time other processes hold the core), or wall time with --wall.
 */
const WALL = args.includes("--wall");
function clock() {
  if (WALL) return performance.now();
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}
function block(fn) {
  for (let i = 0; i < WARM; i++) fn();
  const t0 = clock();
  for (let i = 0; i < STEPS; i++) fn();
  return (clock() - t0) / STEPS;
}

for (let i = 0; i < 30; i++) step(); // let the wasm tiers settle
for (let rep = 0; rep < REPS; rep++) {
  const order = [...names.keys()].map((k) => names[(k + rep) % names.length]);
  for (const name of order) {
    modes[name]();
    perMode[name].push(block(step));
  }
  modes.trackStats();
  perMode["trackStats + g.stats() every step"].push(block(withStatsRead));
}
modes.off();

const median = (a) => {
  const s = [...a].sort((p, q) => p - q);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const off = perMode.off;
console.log(`simdgrad ${sg.features.build} build: 784→256 ReLU→10, softmax CE, ${ADAM ? "Adam" : `SGD${MOMENTUM ? " momentum 0.9" : ""}`}, batch 64`);
console.log(`${REPS} rounds × ${STEPS} steps per mode (after ${WARM} warm-up steps), modes interleaved; ${WALL ? "wall" : "CPU"} time\n`);
const rows = Object.entries(perMode).map(([name, times]) => {
  const ratios = times.map((t, i) => t / off[i]);
  return [name, median(times).toFixed(3), name === "off" ? "—" : `${((median(ratios) - 1) * 100).toFixed(2)}%`];
});
const w = [Math.max(...rows.map((r) => r[0].length), 4), 12, 16];
const line = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join("  ");
console.log(line(["mode", "ms / step", "overhead (paired)"]));
console.log(line(w.map((n) => "-".repeat(n))));
for (const r of rows) console.log(line(r));
console.log(`\n(anomaly callbacks fired: ${anomalies}; the budget is 5%)`);

// The same cost counted from its parts, which a busy machine blurs less than whole steps:
// the after-backward hook (one grad_stats kernel call over all gradients, plus the loss
// check when a listener is set) and the optimizer step with and without tracking.
const hook = () => g._afterBackward(loss);
const micro = (fn, reps = 200) => {
  for (let i = 0; i < 20; i++) fn();
  const t0 = clock();
  for (let i = 0; i < reps; i++) fn();
  return ((clock() - t0) / reps) * 1000;
};
const parts = { hook: [], hookAnomaly: [], stepOff: [], stepOn: [] };
g.forward();
g.backward(loss);
opt_.lr = 0; // repeated steps on one gradient: keep the weights (and so the timing) where they are
for (let rep = 0; rep < REPS; rep++) {
  modes.trackStats();
  parts.hook.push(micro(hook));
  parts.stepOn.push(micro(() => opt_.step()));
  modes["trackStats + onAnomaly"]();
  parts.hookAnomaly.push(micro(hook));
  modes.off();
  parts.stepOff.push(micro(() => opt_.step()));
}
const offMs = median(off);
const hookUs = median(parts.hook), hookAUs = median(parts.hookAnomaly);
const extraUs = median(parts.stepOn) - median(parts.stepOff);
console.log(`\nparts (µs, medians of ${REPS} rounds of 200 calls):`);
console.log(`  after-backward hook, trackStats:            ${hookUs.toFixed(1)}`);
console.log(`  after-backward hook, trackStats + onAnomaly: ${hookAUs.toFixed(1)}`);
console.log(`  optimizer step: ${median(parts.stepOff).toFixed(1)} untracked, ${median(parts.stepOn).toFixed(1)} tracked (+${extraUs.toFixed(1)})`);
console.log(`  → trackStats adds ${(hookUs + extraUs).toFixed(1)} µs = ${(((hookUs + extraUs) / 1000 / offMs) * 100).toFixed(2)}% of a ${offMs.toFixed(3)} ms step; with onAnomaly ${(((hookAUs + extraUs) / 1000 / offMs) * 100).toFixed(2)}%`);
void statsReads;
await sg.close();
