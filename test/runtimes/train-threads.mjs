// A threaded training run, as a user would write it: a 784→256 ReLU→10 network at batch 64
// (big enough that every matrix product of a step crosses the threads' size threshold), fixed
// seeds and fixed data, three steps of SGD with momentum. It imports the package by name and
// prints one line of JSON: the features, the loss of every step, and every gradient after the
// first backward run as base64 of its float32 bytes (so a comparison can be bitwise).
//
//   node|deno|bun train-threads.mjs [--threads N] [--simd128] [--no-close]
//
// `--no-close` leaves the runtime open at the end, as a script that forgets `sg.close()`
// does: the process must still exit on its own. test/runtimes/threads.test.ts runs it.
import { init } from "simdgrad";

const args = typeof globalThis.Deno !== "undefined" ? globalThis.Deno.args : globalThis.process.argv.slice(2);
const flag = (name) => args.includes(name);
const threadsAt = args.indexOf("--threads");
const threads = threadsAt >= 0 ? Number(args[threadsAt + 1]) : 1;

function runtimeName() {
  if (typeof globalThis.Bun !== "undefined") return `bun ${globalThis.Bun.version}`;
  if (typeof globalThis.Deno !== "undefined") return `deno ${globalThis.Deno.version.deno}`;
  return `node ${globalThis.process.versions.node}`;
}

/** Float32 bytes as base64, without Buffer (not every runtime has it). */
function base64(f32) {
  const bytes = new Uint8Array(f32.buffer, f32.byteOffset, f32.byteLength);
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

const BATCH = 64;
const IN = 784;
const HIDDEN = 256;
const OUT = 10;
const STEPS = 3;

// Inputs from integer arithmetic only (exact in float32 on every engine).
const x = new Float32Array(BATCH * IN);
for (let i = 0; i < x.length; i++) x[i] = ((i * 7919) % 1000) / 1000 - 0.25;
const y = new Float32Array(BATCH * OUT);
for (let r = 0; r < BATCH; r++) y[r * OUT + ((r * 3) % OUT)] = 1;

const sg = await init({ threads, ...(flag("--simd128") ? { relaxedSimd: false } : {}) });
const g = sg.graph();
const xIn = g.input([BATCH, IN], "x");
const yIn = g.input([BATCH, OUT], "y");
const W1 = g.param([IN, HIDDEN], { init: "he", seed: 1, name: "W1" });
const b1 = g.param([HIDDEN], { init: "normal", std: 0.05, seed: 2, name: "b1" });
const W2 = g.param([HIDDEN, OUT], { init: "xavier", seed: 3, name: "W2" });
const b2 = g.param([OUT], { init: "zeros", name: "b2" });
const loss = g.softmaxCrossEntropy(g.linear(g.linear(xIn, W1, b1, "relu"), W2, b2), yIn);
const opt = sg.sgd(g.params, { lr: 0.05, momentum: 0.9 });

const losses = [];
let grads = null;
g.forward({ x, y });
for (let step = 0; step < STEPS; step++) {
  opt.zeroGrad();
  g.forward();
  g.backward(loss);
  losses.push(loss.value.toArray()[0]);
  if (grads === null) {
    grads = {};
    for (const p of g.params) grads[p.name] = base64(p.grad.toArray());
  }
  opt.step();
}
g.forward();
losses.push(loss.value.toArray()[0]);

console.log(JSON.stringify({ runtime: runtimeName(), features: sg.features, losses, grads }));
if (!flag("--no-close")) await sg.close();
