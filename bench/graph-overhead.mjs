// What the graph itself costs per training step, where the kernels are small enough for it
// to show: ms per step (forward + backward + SGD) of small graphs, for this package's build
// and, optionally, other builds of it (another checkout's root) side by side in one process.
//
//   npm run build && node bench/graph-overhead.mjs [--reps 31] [--steps 200] [--only name-part] [--relaxed] [other-root ...]
//
// Every build is timed in alternating blocks (the order rotates each round) on the same
// graphs and data, after a warm-up; the table gives the median µs per step of each build
// and the median over rounds of the per-round ratio to the first build (paired, so the
// drift of a shared machine cancels). Times are the process's CPU time.
import { uniform } from "./lib/data.js";
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";

const args = process.argv.slice(2);
const num = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const REPS = num("reps", 31);
const STEPS = num("steps", 200);
const relaxed = args.includes("--relaxed");
const roots = [new URL("..", import.meta.url).pathname];
for (let i = 0; i < args.length; i++) {
  if (args[i].startsWith("--")) {
    if (args[i] === "--reps" || args[i] === "--steps" || args[i] === "--only") i++;
    continue;
  }
  roots.push(resolve(args[i]));
}

/** The graphs: small, so that per-node work outside the kernels shows. */
const only = args.includes("--only") ? args[args.indexOf("--only") + 1] : null;
const graphs = {
  // 2→16 tanh→1 sigmoid CE, batch 32, composed of matmul + add + tanh (unfused).
  "mlp2-16-1 composed, b32": (sg) => {
    const g = sg.graph();
    const x = g.input([32, 2], "x");
    const y = g.input([32, 1], "y");
    const W1 = g.param([2, 16], { init: "xavier", seed: 1 });
    const b1 = g.param([16]);
    const W2 = g.param([16, 1], { init: "xavier", seed: 2 });
    const b2 = g.param([1]);
    const h = g.tanh(g.add(g.matmul(x, W1), b1));
    const loss = g.sigmoidCrossEntropy(g.add(g.matmul(h, W2), b2), y);
    const feeds = { x: uniform(64, 3, -1, 1), y: uniform(32, 4, 0, 1).map((v) => (v > 0.5 ? 1 : 0)) };
    return { g, loss, feeds };
  },
  // The same net with the fused linear layer (the train suite's 2→16→1 row).
  "mlp2-16-1 linear, b32": (sg) => {
    const g = sg.graph();
    const x = g.input([32, 2], "x");
    const y = g.input([32, 1], "y");
    const W1 = g.param([2, 16], { init: "xavier", seed: 1 });
    const b1 = g.param([16]);
    const W2 = g.param([16, 1], { init: "xavier", seed: 2 });
    const b2 = g.param([1]);
    const loss = g.sigmoidCrossEntropy(g.linear(g.linear(x, W1, b1, "tanh"), W2, b2), y);
    const feeds = { x: uniform(64, 3, -1, 1), y: uniform(32, 4, 0, 1).map((v) => (v > 0.5 ? 1 : 0)) };
    return { g, loss, feeds };
  },
  // The train suite's 784→256 ReLU→10 row at batch 64 (GEMM-bound: the graph's share is small).
  "mlp784-256-10 linear, b64": (sg) => {
    const g = sg.graph();
    const x = g.input([64, 784], "x");
    const y = g.input([64, 10], "y");
    const W1 = g.param([784, 256], { init: "xavier", seed: 1 });
    const b1 = g.param([256]);
    const W2 = g.param([256, 10], { init: "xavier", seed: 2 });
    const b2 = g.param([10]);
    const loss = g.softmaxCrossEntropy(g.linear(g.linear(x, W1, b1, "relu"), W2, b2), y);
    const t = new Float32Array(640);
    for (let r = 0; r < 64; r++) t[r * 10 + (r % 10)] = 1;
    return { g, loss, feeds: { x: uniform(64 * 784, 3, 0, 1), y: t } };
  },
  // A small transformer-like block at [8, 16]: many ops of few elements each.
  "block [8,16], 2 layers": (sg) => {
    const g = sg.graph();
    let x = g.input([8, 16], "x");
    const t = g.input([8, 16], "t");
    for (let l = 0; l < 2; l++) {
      const Wq = g.param([16, 16], { init: "xavier", seed: 10 + l });
      const Wk = g.param([16, 16], { init: "xavier", seed: 20 + l });
      const Wv = g.param([16, 16], { init: "xavier", seed: 30 + l });
      const gamma = g.param([16], { data: new Float32Array(16).fill(1) });
      const beta = g.param([16]);
      const q = g.matmul(x, Wq), k = g.matmul(x, Wk), v = g.matmul(x, Wv);
      const a = g.softmax(g.mul(g.matmul(q, k, { transposeB: true }), g.param([1], { data: [0.25] })));
      const h = g.add(x, g.matmul(a, v));
      x = g.layerNorm(h, gamma, beta);
      x = g.add(x, g.relu(x));
    }
    const loss = g.mean(g.square(g.sub(x, t)));
    const feeds = { x: uniform(128, 5, -1, 1), t: uniform(128, 6, -1, 1) };
    return { g, loss, feeds };
  },
};

const builds = [];
for (const root of roots) {
  const mod = await import(pathToFileURL(`${root}/dist/index.js`).href);
  const sg = await mod.init({ relaxedSimd: relaxed, threads: 1 });
  const nets = {};
  for (const [name, make] of Object.entries(graphs)) {
    const { g, loss, feeds } = make(sg);
    const opt = sg.sgd(g.params, { lr: 0.01 });
    g.forward(feeds);
    const step = () => {
      opt.zeroGrad();
      g.forward();
      g.backward(loss);
      opt.step();
    };
    nets[name] = step;
  }
  builds.push({ root, nets });
}

// CPU time of the process (µs): on a shared machine it leaves out the time spent waiting for a core.
const now = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const median = (a) => {
  const s = [...a].sort((p, q) => p - q);
  return s[s.length >> 1];
};
console.log(`graph overhead: µs per step (forward + backward + SGD), ${REPS} rounds of ${STEPS} steps, ${relaxed ? "relaxed" : "simd128"}`);
for (const name of Object.keys(graphs)) {
  if (only !== null && !name.includes(only)) continue;
  const times = builds.map(() => []);
  for (const b of builds) for (let i = 0; i < 300; i++) b.nets[name]();
  for (let r = 0; r < REPS; r++) {
    const order = builds.map((_, i) => (i + r) % builds.length);
    for (const i of order) {
      const step = builds[i].nets[name];
      for (let w = 0; w < 20; w++) step();
      const t0 = now();
      for (let s = 0; s < STEPS; s++) step();
      times[i].push((now() - t0) / STEPS);
    }
  }
  const base = times[0];
  const cells = builds.map((b, i) => {
    const ratio = median(times[i].map((t, r) => t / base[r]));
    return `${b.root}: ${median(times[i]).toFixed(1)} µs${i ? ` (×${ratio.toFixed(3)} of the first)` : ""}`;
  });
  console.log(`  ${name}:  ${cells.join("  |  ")}`);
}
