#!/usr/bin/env node
// Long-run check: `node --expose-gc scripts/soak.mjs [--steps 100000] [--batch 64] [--threads 1]
// [--batches 10] [--max-plans N]` trains the 784→256→10 MLP (SGD, softmax cross-entropy) on
// fixed random data for many steps and prints, at intervals after warm-up, the linear memory in
// use, the number of allocations ever made, the live allocations and the JavaScript heap (after
// a full GC). A training step must allocate nothing: every column but the heap stays exactly
// flat, and the heap stays within noise.
// --batches K: the graph's batch dimension is -1 and each step feeds the next of K batch sizes
// in rotation (1, 2, 3, 7, 8, 9, 16, 31, 33, 64, … up to --batch), so the graph keeps one plan
// per size (sg.graph({ maxPlans }), default K: --max-plans below K re-plans every step).
import { init } from "../dist/index.js";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const steps = opt("steps", 100_000);
const batch = opt("batch", 64);
const threads = opt("threads", 1);
const gc = globalThis.gc ?? null;
if (!gc) console.warn("soak: run with node --expose-gc for heap figures after a full GC");

const batches = opt("batches", 0);
const SIZES = [1, 2, 3, 7, 8, 9, 16, 31, 33, 64, 5, 17, 48, 63, 100, 127, 128];
const sizes = batches > 0 ? SIZES.filter((b) => b <= Math.max(batch, 64)).slice(0, batches) : [batch];
if (sizes.length < Math.max(1, batches)) {
  console.error(`soak: --batches ${batches} needs more sizes than the list has up to --batch ${batch}`);
  process.exit(2);
}
const maxPlans = opt("max-plans", Math.max(8, sizes.length));

const sg = await init({ threads });
const g = sg.graph({ maxPlans });
const B = batches > 0 ? -1 : batch;
const x = g.input([B, 784], "x");
const y = g.input([B, 10], "y");
const W1 = g.param([784, 256], { init: "he", seed: 1, name: "W1" });
const b1 = g.param([256], { name: "b1" });
const W2 = g.param([256, 10], { init: "xavier", seed: 2, name: "W2" });
const b2 = g.param([10], { name: "b2" });
const loss = g.softmaxCrossEntropy(g.linear(g.linear(x, W1, b1, "relu"), W2, b2), y);
const opt_ = sg.sgd(g.params, { lr: 0.01, momentum: 0.9 });

const feedList = sizes.map((n, k) => {
  const xs = sg.randn([n, 784], { seed: 3 + k });
  const ys = sg.zeros([n, 10]);
  const yd = ys.data;
  for (let i = 0; i < n; i++) yd[i * 10 + (i % 10)] = 1;
  return { x: xs, y: ys };
});

const warm = Math.max(sizes.length * 2, Math.min(1000, Math.floor(steps / 10)));
const every = Math.max(1, Math.floor((steps - warm) / 10));
const rows = [];
const snap = (step) => {
  if (gc) gc();
  const m = sg.memory;
  rows.push({ step, bytesInUse: m.bytesInUse, totalAllocations: m.totalAllocations, liveAllocations: m.liveAllocations, heapMB: +(process.memoryUsage().heapUsed / 2 ** 20).toFixed(2), loss: +loss.value.toArray()[0].toFixed(5) });
};
const t0 = performance.now();
for (let s = 1; s <= steps; s++) {
  g.forward(feedList[s % feedList.length]);
  g.backward(loss);
  opt_.step();
  opt_.zeroGrad();
  if (s === warm || (s > warm && (s - warm) % every === 0)) snap(s);
}
const ms = performance.now() - t0;
console.table(rows);
const after = rows.filter((r) => r.step >= warm);
const flat = (k) => after.every((r) => r[k] === after[0][k]);
const heap = after.map((r) => r.heapMB);
console.log(JSON.stringify({
  steps, batch, ...(batches > 0 ? { batchSizes: sizes, maxPlans, planCount: g.planCount } : {}), threads, msPerStep: +(ms / steps).toFixed(4),
  flat: { bytesInUse: flat("bytesInUse"), totalAllocations: flat("totalAllocations"), liveAllocations: flat("liveAllocations") },
  heapMB: { min: Math.min(...heap), max: Math.max(...heap) },
}));
await sg.close();
process.exit(flat("bytesInUse") && flat("totalAllocations") && flat("liveAllocations") ? 0 : 1);
