// Thread scaling: the same work on a runtime with threads: 1 and one with threads: 2 (the
// cores of this machine; pass more with SIMDGRAD_BENCH_THREADS), timed by the wall clock
// (threads exist to cut wall time), alternating, medians. GEMM n = 256 and 1024 (A·B) and
// the 784→256 ReLU→10 training step at batch 64 and 256.
import { printTable, fmt, ratio, change } from "../lib/table.js";
import { median, timeOnce } from "../lib/timing.js";

function trainStep(sg, batch) {
  const g = sg.graph();
  const x = g.input([batch, 784], "x");
  const y = g.input([batch, 10], "y");
  const W1 = g.param([784, 256], { init: "he", seed: 1 });
  const b1 = g.param([256]);
  const W2 = g.param([256, 10], { init: "xavier", seed: 2 });
  const b2 = g.param([10]);
  const loss = g.softmaxCrossEntropy(g.linear(g.linear(x, W1, b1, "relu"), W2, b2), y);
  const opt = sg.sgd(g.params, { lr: 0.01 });
  const xs = new Float32Array(batch * 784).map((_, i) => Math.sin(i) * 0.5 + 0.5);
  const ys = new Float32Array(batch * 10);
  for (let r = 0; r < batch; r++) ys[r * 10 + (r % 10)] = 1;
  g.forward({ x: xs, y: ys });
  const step = () => {
    g.forward({});
    g.backward(loss);
    opt.step();
    opt.zeroGrad();
  };
  return { step, dispose: () => (opt.dispose(), g.dispose()) };
}

function gemm(sg, n) {
  const a = sg.randn([n, n], { seed: 1 });
  const b = sg.randn([n, n], { seed: 2 });
  const c = sg.zeros([n, n]);
  return { step: () => sg.matmul(a, b, { out: c }), dispose: () => [a, b, c].forEach((t) => t.dispose()), flops: 2 * n * n * n };
}

export async function run(ctx) {
  const { sg, build, quick, prev } = ctx;
  const { init } = await import("../../dist/index.js");
  const T = Number(process.env.SIMDGRAD_BENCH_THREADS) || 2;
  const sgT = await init({ relaxedSimd: build === "relaxed", threads: T });
  const rounds = quick ? 3 : 9;
  const minMs = quick ? 20 : 60;
  const cases = [
    { key: "gemm256", what: "GEMM 256³ A·B", make: (s) => gemm(s, 256) },
    { key: "gemm1024", what: "GEMM 1024³ A·B", make: (s) => gemm(s, 1024) },
    { key: "train64", what: "train 784→256→10, batch 64", make: (s) => trainStep(s, 64) },
    { key: "train256", what: "train 784→256→10, batch 256", make: (s) => trainStep(s, 256) },
  ];
  const rows = [];
  for (const c of cases) {
    const one = c.make(sg);
    const many = c.make(sgT);
    for (let i = 0; i < (quick ? 5 : 20); i++) (one.step(), many.step());
    const t1 = [];
    const tT = [];
    for (let r = 0; r < rounds; r++) {
      t1.push(timeOnce(one.step, minMs));
      tT.push(timeOnce(many.step, minMs));
    }
    const m1 = median(t1);
    const mT = median(tT);
    rows.push({ key: c.key, what: c.what, ms1: m1, msT: mT, speedup: m1 / mT, threads: T, gflops1: one.flops ? one.flops / m1 / 1e6 : null, gflopsT: one.flops ? one.flops / mT / 1e6 : null });
    one.dispose();
    many.dispose();
  }
  await sgT.close();
  printTable(
    `Thread scaling (${build}): threads 1 vs ${T}, wall-clock ms (median of ${rounds} alternating rounds)`,
    [{ title: "work", align: "l" }, { title: "1 thread" }, { title: `${T} threads` }, { title: "speed-up" }, { title: "GFLOPS 1 → T" }, { title: "Δ prev" }],
    rows.map((r) => [
      r.what,
      fmt(r.ms1, 3),
      fmt(r.msT, 3),
      ratio(r.ms1, r.msT),
      r.gflops1 ? `${fmt(r.gflops1)} → ${fmt(r.gflopsT)}` : "",
      change(r.speedup, prev(r.key)?.speedup),
    ]),
    ["Expected with 2 threads on an idle 2-core machine: GEMM n = 1024 ≥ 1.7×, n = 256 ≥ 1.3×, training step at batch 256 ≥ 1.5×.",
     "Wall clock: on a busy machine the second thread waits for a core and the speed-up shrinks."],
  );
  return rows;
}
