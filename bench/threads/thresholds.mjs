// Measures where splitting a kernel over 2 threads starts to pay: each size is timed on one
// thread and split over the pool with the thresholds at 0, alternating, medians of many
// rounds. The size thresholds in src/threads/split.ts come from this table.
//   node bench/threads/thresholds.mjs [--threads 2]
import { init } from "../../dist/index.js";
import { threadedKernels } from "../../dist/threads/split.js";
import { median, timeOnce } from "../lib/timing.js";

const time = (f) => timeOnce(f, 2);

const T = Number(process.argv[process.argv.indexOf("--threads") + 1]) || 2;
const sg = await init({ threads: T });
const rt = sg.rt;
const raw = rt.rawKernels;
const split = threadedKernels(raw, rt.threadPool, rt.workerScratch, { gemmMinMacs: 0, elementwiseMin: 0 });

function compare(label, one, many, rounds = 15) {
  for (let i = 0; i < 5; i++) { one(); many(); }
  const a = [], b = [];
  for (let r = 0; r < rounds; r++) { a.push(time(one)); b.push(time(many)); }
  const ta = median(a), tb = median(b);
  console.log(`${label.padEnd(28)} 1 thread ${(ta * 1000).toFixed(1).padStart(9)} µs   ${T} threads ${(tb * 1000).toFixed(1).padStart(9)} µs   speed-up ${(ta / tb).toFixed(2)}×`);
}

console.log(`GEMM, square n³ and layer shapes (MACs = m·n·k), ${T} threads`);
for (const [m, n, k] of [[32, 32, 32], [48, 48, 48], [64, 64, 64], [96, 96, 96], [128, 128, 128], [192, 192, 192], [256, 256, 256], [512, 512, 512], [64, 256, 784], [784, 256, 64], [64, 784, 256], [1, 256, 784]]) {
  const a = sg.randn([m, k]), b = sg.randn([k, n]), c = sg.zeros([m, n]);
  const scr = rt.scratch(raw.gemm_scratch_bytes(m, n, k));
  const args = [0, 0, m, n, k, 1, a.ptr, k, b.ptr, n, 0, c.ptr, n, scr];
  compare(`${m}×${n}×${k} (${(m * n * k / 1e6).toFixed(2)}M MACs)`, () => raw.gemm(...args), () => split.gemm(...args));
  for (const t of [a, b, c]) t.dispose();
}
console.log(`\ntanh forward and gelu backward by range, ${T} threads`);
for (const n of [4096, 16384, 32768, 65536, 262144, 1 << 20]) {
  const x = sg.randn([n]), y = sg.zeros([n]), dy = sg.randn([n]);
  compare(`tanh_forward n=${n}`, () => raw.tanh_forward(x.ptr, y.ptr, n), () => split.tanh_forward(x.ptr, y.ptr, n));
  compare(`gelu_backward n=${n}`, () => raw.gelu_backward(x.ptr, dy.ptr, y.ptr, n, 0), () => split.gelu_backward(x.ptr, dy.ptr, y.ptr, n, 0));
  for (const t of [x, y, dy]) t.dispose();
}
await sg.close();
