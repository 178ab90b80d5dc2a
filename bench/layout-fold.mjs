// What folding a transpose into matmul saves: ms per training step (forward + backward) of
// y = x·Wᵀ with W stored [out, in] (a PyTorch-style linear layer, tied embeddings) and of
// attention scores q·kᵀ written with g.transpose, with the transpose folded into the GEMM's
// flags (the default) and copied (the same graph with folding off), side by side in one run.
//
//   npm run build && node bench/layout-fold.mjs [--reps 21] [--steps 20] [--relaxed]
//
// Both graphs are timed in alternating blocks (order rotating each round); the table gives
// the median ms per step and the median of the per-round ratio copied / folded.
import { init } from "../dist/index.js";
import { uniform } from "./lib/data.js";

const args = process.argv.slice(2);
const num = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const REPS = num("reps", 21);
const STEPS = num("steps", 20);
const sg = await init({ relaxedSimd: args.includes("--relaxed"), threads: 1 });

const cases = {
  "x·Wᵀ, x [64, 512], W [512, 512]": (g) => {
    const x = g.input([64, 512], "x");
    const W = g.param([512, 512], { seed: 1 });
    return { loss: g.mean(g.square(g.matmul(x, g.transpose(W)))), feeds: { x: uniform(64 * 512, 2, -1, 1) } };
  },
  "x·Wᵀ, x [8, 256], W [1024, 256]": (g) => {
    const x = g.input([8, 256], "x");
    const W = g.param([1024, 256], { seed: 1 });
    return { loss: g.mean(g.square(g.matmul(x, g.transpose(W)))), feeds: { x: uniform(8 * 256, 2, -1, 1) } };
  },
  "q·kᵀ, q, k [16, 128, 64] (batched)": (g) => {
    const q = g.input([16, 128, 64], "q", { requiresGrad: true });
    const k = g.param([16, 128, 64], { seed: 3 });
    return { loss: g.mean(g.square(g.matmul(q, g.transpose(k, [0, 2, 1])))), feeds: { q: uniform(16 * 128 * 64, 4, -1, 1) } };
  },
};

// CPU time of the process (ms): on a shared machine it leaves out the time spent waiting for a core.
const now = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e3;
};
const median = (a) => [...a].sort((p, q) => p - q)[a.length >> 1];
console.log(`transpose into matmul: ms per step (forward + backward), ${REPS} rounds of ${STEPS} steps, ${args.includes("--relaxed") ? "relaxed" : "simd128"}`);
for (const [name, make] of Object.entries(cases)) {
  const runs = [true, false].map((fold) => {
    const g = sg.graph();
    g._foldLayouts = fold;
    const { loss, feeds } = make(g);
    g.forward(feeds);
    const step = () => {
      g.zeroGrad();
      g.forward();
      g.backward(loss);
    };
    return { g, step, times: [], loss };
  });
  for (const r of runs) for (let i = 0; i < 10; i++) r.step();
  for (let rep = 0; rep < REPS; rep++) {
    for (const i of rep % 2 ? [1, 0] : [0, 1]) {
      const r = runs[i];
      r.step();
      const t0 = now();
      for (let s = 0; s < STEPS; s++) r.step();
      r.times.push((now() - t0) / STEPS);
    }
  }
  const [f, c] = runs;
  const same = f.loss.value.toArray()[0] === c.loss.value.toArray()[0] ? "same loss" : `loss ${f.loss.value.toArray()[0]} vs ${c.loss.value.toArray()[0]}`;
  const ratio = median(c.times.map((t, i) => t / f.times[i]));
  console.log(`  ${name}:  folded ${median(f.times).toFixed(3)} ms  |  copied ${median(c.times).toFixed(3)} ms  |  copied/folded ×${ratio.toFixed(3)}  (${same})`);
  for (const r of runs) r.g.dispose();
}
