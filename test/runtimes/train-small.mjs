// The same small training run on every JavaScript runtime: a 2→8 tanh→1 network with fixed
// seeds on fixed data, trained with SGD. It imports the package by name, as a user would, and
// prints one line of JSON: the loss per step, every gradient after the first backward, the
// features the runtime picked, and which runtime ran it. test/runtimes/runtimes.test.ts
// compares the runs.
import { init } from "simdgrad";

const STEPS = 40;
// `--simd128` asks for the SIMD128 build even where relaxed SIMD validates; `--dense` for the
// dense kernel set (the smaller .wasm).
const args = typeof globalThis.Deno !== "undefined" ? globalThis.Deno.args : globalThis.process.argv.slice(2);
const options = {
  ...(args.includes("--simd128") ? { relaxedSimd: false } : {}),
  ...(args.includes("--dense") ? { kernels: "dense" } : {}),
};

function runtimeName() {
  if (typeof globalThis.Bun !== "undefined") return `bun ${globalThis.Bun.version}`;
  if (typeof globalThis.Deno !== "undefined") return `deno ${globalThis.Deno.version.deno}`;
  return `node ${globalThis.process.versions.node}`;
}

// 16 points on a 4×4 grid in [-1, 1]², target x₀·x₁ + 0.5·x₀ (a saddle, not linearly fit).
const xs = [];
const ts = [];
for (let i = 0; i < 4; i++) {
  for (let j = 0; j < 4; j++) {
    const a = -1 + (2 * i) / 3;
    const b = -1 + (2 * j) / 3;
    xs.push(a, b);
    ts.push(a * b + 0.5 * a);
  }
}

const sg = await init(options);
const g = sg.graph();
const x = g.input([16, 2], "x");
const t = g.input([16, 1], "t");
const W1 = g.param([2, 8], { init: "xavier", seed: 11, name: "W1" });
const b1 = g.param([8], { init: "normal", std: 0.1, seed: 12, name: "b1" });
const W2 = g.param([8, 1], { init: "xavier", seed: 13, name: "W2" });
const b2 = g.param([1], { data: [0.05], name: "b2" });
const h = g.tanh(g.add(g.matmul(x, W1), b1));
const loss = g.mse(g.linear(h, W2, b2), t);
const opt = sg.sgd(g.params, { lr: 0.2 });

const losses = [];
let grads = null;
const feeds = { x: xs, t: ts };
for (let step = 0; step < STEPS; step++) {
  opt.zeroGrad();
  g.forward(feeds);
  g.backward(loss);
  losses.push(loss.value.toArray()[0]);
  if (grads === null) {
    grads = {};
    for (const p of g.params) grads[p.name] = Array.from(p.grad.toArray());
  }
  opt.step();
}
g.forward(feeds);
losses.push(loss.value.toArray()[0]);

// Where "simdgrad" resolved from: the tests check it is the installed package.
const resolved = String(import.meta.resolve("simdgrad"));
console.log(JSON.stringify({ runtime: runtimeName(), resolved, features: sg.features, losses, grads }));
await sg.close();
