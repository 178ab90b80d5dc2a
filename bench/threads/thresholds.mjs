// Measures where splitting a kernel over 2 threads starts to pay: each size is timed on one
// thread and split over the pool with the thresholds at 0, alternating, medians of many
// rounds. The size thresholds in src/threads/split.ts come from this table.
//   node bench/threads/thresholds.mjs [--threads 2] [--only=gemm,elementwise,batch]
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

const onlyArg = process.argv.find((a) => a.startsWith("--only="));
const only = onlyArg ? onlyArg.slice(7).split(",") : ["gemm", "elementwise", "batch"];

if (only.includes("gemm")) console.log(`GEMM, square n³ and layer shapes (MACs = m·n·k), ${T} threads`);
if (only.includes("gemm")) for (const [m, n, k] of [[32, 32, 32], [48, 48, 48], [64, 64, 64], [96, 96, 96], [128, 128, 128], [192, 192, 192], [256, 256, 256], [512, 512, 512], [64, 256, 784], [784, 256, 64], [64, 784, 256], [1, 256, 784]]) {
  const a = sg.randn([m, k]), b = sg.randn([k, n]), c = sg.zeros([m, n]);
  const scr = rt.scratch(raw.gemm_scratch_bytes(m, n, k));
  const args = [0, 0, m, n, k, 1, a.ptr, k, b.ptr, n, 0, c.ptr, n, scr];
  compare(`${m}×${n}×${k} (${(m * n * k / 1e6).toFixed(2)}M MACs)`, () => raw.gemm(...args), () => split.gemm(...args));
  for (const t of [a, b, c]) t.dispose();
}
if (only.includes("elementwise")) console.log(`\ntanh forward and gelu backward by range, ${T} threads`);
if (only.includes("elementwise")) for (const n of [4096, 16384, 32768, 65536, 262144, 1 << 20]) {
  const x = sg.randn([n]), y = sg.zeros([n]), dy = sg.randn([n]);
  compare(`tanh_forward n=${n}`, () => raw.tanh_forward(x.ptr, y.ptr, n), () => split.tanh_forward(x.ptr, y.ptr, n));
  compare(`gelu_backward n=${n}`, () => raw.gelu_backward(x.ptr, dy.ptr, y.ptr, n, 0), () => split.gelu_backward(x.ptr, dy.ptr, y.ptr, n, 0));
  for (const t of [x, y, dy]) t.dispose();
}
if (only.includes("batch")) {
  // Item-wise kernels by whole images / rows: 2×2 pooling on N images of 28×28×16 (12,544
  // floats an image in, 3,136 out) and softmax / layer norm on N rows of 256.
  const pk = (lo, hi) => (lo | (hi << 16)) >>> 0;
  const [G0, G1, G2] = [pk(2, 2), pk(2, 2), 0];
  console.log(`\npooling by images (N × 28×28×16 → 14×14×16), ${T} threads`);
  for (const n of [1, 2, 4, 8, 16, 32]) {
    const x = sg.randn([n, 28, 28, 16]), y = sg.zeros([n, 14, 14, 16]), dy = sg.randn([n, 14, 14, 16]), dx = sg.zeros([n, 28, 28, 16]);
    raw.maxpool2d_forward(x.ptr, y.ptr, n, 28, 28, 16, 14, 14, G0, G1, G2);
    const e = n * 12544;
    compare(`avgpool fwd ${e}`, () => raw.avgpool2d_forward(x.ptr, y.ptr, n, 28, 28, 16, 14, 14, G0, G1, G2), () => split.avgpool2d_forward(x.ptr, y.ptr, n, 28, 28, 16, 14, 14, G0, G1, G2));
    compare(`avgpool bwd ${e}`, () => raw.avgpool2d_backward(dy.ptr, dx.ptr, n, 28, 28, 16, 14, 14, G0, G1, G2, 1), () => split.avgpool2d_backward(dy.ptr, dx.ptr, n, 28, 28, 16, 14, 14, G0, G1, G2, 1));
    compare(`maxpool fwd ${e}`, () => raw.maxpool2d_forward(x.ptr, y.ptr, n, 28, 28, 16, 14, 14, G0, G1, G2), () => split.maxpool2d_forward(x.ptr, y.ptr, n, 28, 28, 16, 14, 14, G0, G1, G2));
    compare(`maxpool bwd ${e}`, () => raw.maxpool2d_backward(x.ptr, y.ptr, dy.ptr, dx.ptr, n, 28, 28, 16, 14, 14, G0, G1, G2, 1), () => split.maxpool2d_backward(x.ptr, y.ptr, dy.ptr, dx.ptr, n, 28, 28, 16, 14, 14, G0, G1, G2, 1));
    for (const t of [x, y, dy, dx]) t.dispose();
  }
  console.log(`\nsoftmax and layer norm by rows (N × 256), ${T} threads`);
  for (const n of [32, 64, 128, 256, 1024]) {
    const x = sg.randn([n, 256]), y = sg.zeros([n, 256]), dy = sg.randn([n, 256]), dx = sg.zeros([n, 256]);
    const g = sg.randn([256]), b = sg.randn([256]), mean = sg.zeros([n]), rstd = sg.zeros([n]);
    const e = n * 256;
    compare(`softmax fwd ${e}`, () => raw.softmax_forward(x.ptr, y.ptr, n, 256, 1), () => split.softmax_forward(x.ptr, y.ptr, n, 256, 1));
    compare(`softmax bwd ${e}`, () => raw.softmax_backward(y.ptr, dy.ptr, dx.ptr, n, 256, 1, 1), () => split.softmax_backward(y.ptr, dy.ptr, dx.ptr, n, 256, 1, 1));
    compare(`layernorm fwd ${e}`, () => raw.layernorm_forward(x.ptr, g.ptr, b.ptr, y.ptr, mean.ptr, rstd.ptr, n, 256, 1e-5), () => split.layernorm_forward(x.ptr, g.ptr, b.ptr, y.ptr, mean.ptr, rstd.ptr, n, 256, 1e-5));
    for (const t of [x, y, dy, dx, g, b, mean, rstd]) t.dispose();
  }
}
await sg.close();
