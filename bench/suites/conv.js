// Convolutions: conv2d forward, input gradient and filter gradient on the layers of a small
// digits CNN (3×3 1→16 and 16→32 at batch 32, "same") and a 3×3 64→64 layer at 32×32,
// batch 16, in GFLOPS, beside
//   - sg.matmul on the equal GEMM (the patch matrix as a stored matrix): how close the
//     convolution comes to the GEMM it is built on;
//   - TensorFlow.js wasm (XNNPACK) and cpu, and a plain JS loop over the definition;
// then the CNN's training step (conv 1→16 + bias, ReLU, 2×2 avg pool, conv 16→32 + bias, ReLU,
// 2×2 avg pool, dense 1568→10, softmax cross-entropy, SGD) at batch 32, each library's
// convolutions with their bias and ReLU fused (g.conv2d's { bias, activation }, tfjs's
// tf.fused.conv2d), as users write them: simdgrad's graph against
// tfjs cpu (tfjs wasm cannot train it: Conv2DBackpropFilter is not registered there), and
// each library's forward pass.
//
// tfjs's cpu backend is a second pass: tfjs runs one backend at a time, so the cpu rows are
// timed after switching, again beside simdgrad (whose second timing gives the ratio).
import { uniform, oneHot, missing, reason } from "../lib/data.js";
import { measureSet } from "../lib/timing.js";
import { printTable, fmt, ratio, change } from "../lib/table.js";

const LAYERS = [
  { key: "3x3-1-16-28-b32", label: "3×3 1→16 28×28 b32", x: [32, 28, 28, 1], f: [3, 3, 1, 16] },
  { key: "3x3-16-32-14-b32", label: "3×3 16→32 14×14 b32", x: [32, 14, 14, 16], f: [3, 3, 16, 32] },
  { key: "3x3-64-64-32-b16", label: "3×3 64→64 32×32 b16", x: [16, 32, 32, 64], f: [3, 3, 64, 64] },
];
const OPTS = { padding: "same" };
const KINDS = [
  { id: "fwd", label: "forward" },
  { id: "dx", label: "input grad" },
  { id: "df", label: "filter grad" },
];

/** Direct convolution ("same", stride 1), float64 sums: the plain JS peer. */
function naiveConv(x, f, y, [n, h, w, c], [kh, kw, , F]) {
  const pt = (kh - 1) >> 1;
  const pl = (kw - 1) >> 1;
  const acc = new Float64Array(F);
  for (let b = 0; b < n; b++) for (let oy = 0; oy < h; oy++) for (let ox = 0; ox < w; ox++) {
    acc.fill(0);
    for (let ky = 0; ky < kh; ky++) {
      const iy = oy - pt + ky;
      if (iy < 0 || iy >= h) continue;
      for (let kx = 0; kx < kw; kx++) {
        const ix = ox - pl + kx;
        if (ix < 0 || ix >= w) continue;
        const xo = ((b * h + iy) * w + ix) * c;
        const fo = (ky * kw + kx) * c * F;
        for (let ch = 0; ch < c; ch++) {
          const v = x[xo + ch];
          const fr = fo + ch * F;
          for (let j = 0; j < F; j++) acc[j] += v * f[fr + j];
        }
      }
    }
    const o = ((b * h + oy) * w + ox) * F;
    for (let j = 0; j < F; j++) y[o + j] = acc[j];
  }
}

/** simdgrad's three kernels on a layer, and sg.matmul on the equal GEMMs. */
function sgLayer(sg, L) {
  const [n, h, w, c] = L.x;
  const [kh, kw, , F] = L.f;
  const M = n * h * w;
  const K = kh * kw * c;
  const t = [];
  const mk = (shape, seed) => {
    const v = sg.tensor(shape, uniform(shape.reduce((a, b) => a * b, 1), seed));
    t.push(v);
    return v;
  };
  const x = mk(L.x, 1), f = mk(L.f, 2), y = mk([n, h, w, F], 3), dy = mk([n, h, w, F], 4);
  const dx = mk(L.x, 5), df = mk(L.f, 6);
  const P = mk([M, K], 7), W = mk([K, F], 8), D = mk([M, F], 9);
  const cF = mk([M, F], 10), cI = mk([M, K], 11), cW = mk([K, F], 12);
  return {
    conv: {
      fwd: () => sg.conv2d(x, f, OPTS, y),
      dx: () => sg.conv2dBackwardInput(dy, f, L.x, OPTS, dx),
      df: () => sg.conv2dBackwardFilter(x, dy, L.f, OPTS, df),
    },
    // y = P·W; dP = dy·Wᵀ (before col2im); dW = Pᵀ·dy
    gemm: {
      fwd: () => sg.matmul(P, W, { out: cF }),
      dx: () => sg.matmul(D, W, { transposeB: true, out: cI }),
      df: () => sg.matmul(P, D, { transposeA: true, out: cW }),
    },
    dispose: () => t.forEach((v) => v.dispose()),
  };
}

/** tfjs on the active backend: forward, input gradient, filter gradient (where registered). */
function tfLayer(tf, L) {
  const [n, h, w] = L.x;
  const F = L.f[3];
  const x = tf.tensor4d(uniform(L.x.reduce((a, b) => a * b), 1), L.x);
  const f = tf.tensor4d(uniform(L.f.reduce((a, b) => a * b), 2), L.f);
  const dy = tf.tensor4d(uniform(n * h * w * F, 4), [n, h, w, F]);
  return {
    fwd: () => tf.conv2d(x, f, 1, "same").dispose(),
    dx: () => tf.conv2dTranspose(dy, f, L.x, 1, "same").dispose(),
    df: () => tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, { strides: 1, pad: "same", dataFormat: "NHWC", dimRoundingMode: undefined, filterShape: L.f }).dispose(),
    dispose: () => tf.dispose([x, f, dy]),
  };
}

// ------------------------------------------------------------------ the CNN

const B = 32;

function cnnWeights() {
  const he = (fanIn, n, seed) => uniform(n, seed, -Math.sqrt(6 / fanIn), Math.sqrt(6 / fanIn));
  return {
    f1: he(9, 9 * 16, 31), f2: he(144, 144 * 32, 32), W: he(1568, 1568 * 10, 33), b: new Float32Array(10),
    c1: uniform(16, 35, -0.1, 0.1), c2: uniform(32, 36, -0.1, 0.1),
    x: uniform(B * 784, 34, 0, 1), y: oneHot(B, 10),
  };
}

function sgCnn(sg) {
  const why = missing(sg, ["graph", "sgd", "conv2d"]);
  if (why) return { missing: why };
  const w = cnnWeights();
  const g = sg.graph();
  const x = g.input([B, 28, 28, 1], "x");
  const t = g.input([B, 10], "t");
  const f1 = g.param([3, 3, 1, 16], { data: w.f1, name: "f1" });
  const f2 = g.param([3, 3, 16, 32], { data: w.f2, name: "f2" });
  const W = g.param([1568, 10], { data: w.W, name: "W" });
  const b = g.param([10], { data: w.b, name: "b" });
  const c1 = g.param([16], { data: w.c1, name: "c1" });
  const c2 = g.param([32], { data: w.c2, name: "c2" });
  let h = g.avgPool2d(g.conv2d(x, f1, { ...OPTS, bias: c1, activation: "relu" }), { size: 2 });
  h = g.avgPool2d(g.conv2d(h, f2, { ...OPTS, bias: c2, activation: "relu" }), { size: 2 });
  const logits = g.linear(g.reshape(h, [B, 1568]), W, b);
  const loss = g.softmaxCrossEntropy(logits, t);
  const opt = sg.sgd(g.params, { lr: 0.05 });
  g.forward({ x: w.x, t: w.y });
  return {
    step: () => {
      opt.zeroGrad();
      g.forward();
      g.backward(loss);
      opt.step();
    },
    forward: () => g.forward({}, { outputs: [logits] }),
    lossValue: () => (g.forward(), loss.value.toArray()[0]),
    dispose: () => g.dispose(),
  };
}

function tfCnn(tf) {
  const w = cnnWeights();
  const v = (data, shape) => {
    const t = tf.tensor(data, shape);
    const r = tf.variable(t);
    t.dispose();
    return r;
  };
  const f1 = v(w.f1, [3, 3, 1, 16]), f2 = v(w.f2, [3, 3, 16, 32]), W = v(w.W, [1568, 10]), b = v(w.b, [10]);
  const c1 = v(w.c1, [16]), c2 = v(w.c2, [32]);
  const conv = (x, filter, bias) => tf.fused.conv2d({ x, filter, strides: 1, pad: "same", bias, activation: "relu" });
  const xs = tf.tensor4d(w.x, [B, 28, 28, 1]);
  const ys = tf.tensor2d(w.y, [B, 10]);
  const opt = tf.train.sgd(0.05);
  const logitsOf = () => {
    let h = tf.avgPool(conv(xs, f1, c1), 2, 2, "valid");
    h = tf.avgPool(conv(h, f2, c2), 2, 2, "valid");
    return tf.fused.matMul({ a: tf.reshape(h, [B, 1568]), b: W, bias: b });
  };
  const lossFn = () => tf.losses.softmaxCrossEntropy(ys, logitsOf());
  return {
    step: () => opt.minimize(lossFn, false, [f1, f2, W, b, c1, c2]),
    forward: () => tf.tidy(logitsOf).dispose(),
    lossValue: () => tf.tidy(() => lossFn().dataSync()[0]),
    dispose: () => {
      tf.dispose([f1, f2, W, b, c1, c2, xs, ys]);
      opt.dispose();
    },
  };
}

async function setBackend(tf, name) {
  if (name === "cpu") await import("@tensorflow/tfjs-backend-cpu");
  const ok = await tf.setBackend(name);
  await tf.ready();
  if (!ok || tf.getBackend() !== name) throw new Error(`tfjs: could not switch to the ${name} backend`);
}

export async function run(ctx) {
  const { sg, tf, prev, quick } = ctx;
  const rows = [];
  const sgMissing = missing(sg, ["conv2d", "conv2dBackwardInput", "conv2dBackwardFilter", "matmul"]);

  // Pass 1: simdgrad, its equal GEMMs, tfjs wasm and plain JS, per layer and kind.
  for (const L of LAYERS) {
    const [n, h, w] = L.x;
    const [kh, kw, c, F] = L.f;
    const flops = 2 * n * h * w * kh * kw * c * F;
    const s = sgMissing ? null : sgLayer(sg, L);
    const t = tfLayer(tf, L);
    for (const K of KINDS) {
      const row = { key: `${K.id}/${L.key}`, layer: L.label, kind: K.id, c, flops };
      const fns = {};
      if (s) {
        fns.sg = s.conv[K.id];
        fns.gemm = s.gemm[K.id];
      } else row.sg = sgMissing;
      fns.tf = t[K.id];
      if (K.id === "fwd" && !(quick && flops > 2e8)) {
        const xv = uniform(L.x.reduce((a, b) => a * b), 1);
        const fv = uniform(L.f.reduce((a, b) => a * b), 2);
        const yv = new Float64Array(n * h * w * F);
        fns.naive = () => naiveConv(xv, fv, yv, L.x, L.f);
      }
      const r = measureSet(fns);
      for (const name in r) row[name] = r[name].error ? reason(r[name].error) : flops / r[name].seconds / 1e9;
      row.pctGemm = typeof row.sg === "number" && typeof row.gemm === "number" ? (100 * row.sg) / row.gemm : null;
      rows.push(row);
    }
    s?.dispose();
    t.dispose();
  }

  // Pass 2: the CNN step and forward pass, simdgrad beside tfjs wasm (forward only).
  const cnn = { key: "cnn/b32" };
  const sgc = sgMissing ? { missing: sgMissing } : sgCnn(sg);
  {
    const tfc = tfCnn(tf);
    const fns = {};
    if (!sgc.missing) {
      fns.sgStep = sgc.step;
      fns.sgFwd = sgc.forward;
      cnn.sgLoss = [sgc.lossValue()];
    }
    fns.tfWasmFwd = tfc.forward;
    fns.tfWasmStep = tfc.step;
    const r = measureSet(fns);
    for (const name in r) cnn[name] = r[name].error ? reason(r[name].error) : r[name].seconds * 1e3;
    tfc.dispose();
  }

  // Pass 3: tfjs cpu, beside simdgrad again.
  await setBackend(tf, "cpu");
  try {
    for (const L of LAYERS) {
      const [n, h, w] = L.x;
      const [kh, kw, c, F] = L.f;
      const flops = 2 * n * h * w * kh * kw * c * F;
      const s = sgMissing ? null : sgLayer(sg, L);
      const t = tfLayer(tf, L);
      for (const K of KINDS) {
        const row = rows.find((x) => x.key === `${K.id}/${L.key}`);
        if (quick && K.id !== "fwd") {
          row.tfCpu = null;
          continue;
        }
        const r = measureSet(s ? { sg: s.conv[K.id], tfCpu: t[K.id] } : { tfCpu: t[K.id] });
        row.tfCpu = r.tfCpu.error ? reason(r.tfCpu.error) : flops / r.tfCpu.seconds / 1e9;
        row.sgCpuPass = r.sg && !r.sg.error ? flops / r.sg.seconds / 1e9 : null;
      }
      s?.dispose();
      t.dispose();
    }
    const tfc = tfCnn(tf);
    const fns = { tfCpuStep: tfc.step, tfCpuFwd: tfc.forward };
    if (!sgc.missing) (fns.sgStep2 = sgc.step), (fns.sgFwd2 = sgc.forward);
    const r = measureSet(fns);
    for (const name in r) cnn[name] = r[name].error ? reason(r[name].error) : r[name].seconds * 1e3;
    tfc.dispose();
  } finally {
    await setBackend(tf, "wasm");
  }
  if (!sgc.missing) {
    cnn.sgLoss.push(sgc.lossValue());
    sgc.dispose();
  } else cnn.sgStep = sgc.missing;

  const num = (v) => typeof v === "number";
  // The cpu ratio from the pass that timed both (simdgrad's own timing in that pass).
  cnn.speedupCpu = num(cnn.tfCpuStep) && num(cnn.sgStep2) ? cnn.tfCpuStep / cnn.sgStep2 : null;
  cnn.stepOverFwd = num(cnn.sgStep) && num(cnn.sgFwd) ? cnn.sgStep / cnn.sgFwd : null;
  rows.push(cnn);

  const cells = rows.filter((r) => r.kind).map((r) => {
    const p = prev(r.key);
    const cpuRatio = num(r.sgCpuPass) && num(r.tfCpu) ? ratio(r.sgCpuPass, r.tfCpu) : "—";
    return [
      r.layer, KINDS.find((k) => k.id === r.kind).label,
      fmt(r.sg), fmt(r.gemm), r.pctGemm === null ? "—" : `${fmt(r.pctGemm, 0)}%`,
      fmt(r.tf), ratio(r.sg, r.tf), fmt(r.tfCpu, 2), cpuRatio, fmt(r.naive, 2), ratio(r.sg, r.naive),
      change(r.sg, p?.sg),
    ];
  });
  printTable(
    "conv2d, GFLOPS (channels last, 3×3, \"same\"; 2·N·H·W·KH·KW·C·F flops for each of the three)",
    [
      { title: "layer", align: "l" }, { title: "kernel", align: "l" },
      { title: "simdgrad" }, { title: "= GEMM" }, { title: "of GEMM" },
      { title: "tfjs-wasm" }, { title: "sg/wasm" }, { title: "tfjs-cpu" }, { title: "sg/cpu" },
      { title: "naive JS" }, { title: "sg/naive" }, { title: "Δ prev" },
    ],
    cells,
    [
      "simdgrad: sg.conv2d / sg.conv2dBackwardInput / sg.conv2dBackwardFilter into preallocated outputs.",
      "= GEMM: sg.matmul on the equal product with the patch matrix stored (P·W, dy·Wᵀ, Pᵀ·dy), timed in the same rounds.",
      "tfjs: tf.conv2d, tf.conv2dTranspose (input grad), the Conv2DBackpropFilter kernel (not registered in wasm: n/a).",
      "tfjs-cpu rows are timed in a second pass beside simdgrad again; sg/cpu uses simdgrad's timing of that pass.",
      "naive JS: a direct float64 loop over the definition (forward only" + (quick ? "; --quick: small layers only" : "") + ").",
    ],
  );
  printTable(
    "CNN training step at batch 32, ms (conv 3×3 1→16 + bias, ReLU, avg pool 2, conv 3×3 16→32 + bias, ReLU, avg pool 2, dense 1568→10, softmax CE, SGD; bias and ReLU fused into each conv on both sides)",
    [{ title: "library", align: "l" }, { title: "forward ms" }, { title: "step ms" }, { title: "step/forward" }, { title: "loss", align: "l" }],
    [
      ["simdgrad", fmt(cnn.sgFwd, 3), fmt(cnn.sgStep, 3), cnn.stepOverFwd === null ? "—" : `${fmt(cnn.stepOverFwd, 2)}×`,
        cnn.sgLoss?.length === 2 ? `${fmt(cnn.sgLoss[0], 3)}→${fmt(cnn.sgLoss[1], 3)}` : "—"],
      ["tfjs wasm", fmt(cnn.tfWasmFwd, 3), fmt(cnn.tfWasmStep, 3), "", ""],
      ["tfjs cpu", fmt(cnn.tfCpuFwd, 3), fmt(cnn.tfCpuStep, 1), num(cnn.tfCpuStep) && num(cnn.tfCpuFwd) ? `${fmt(cnn.tfCpuStep / cnn.tfCpuFwd, 2)}×` : "", ""],
      ["simdgrad (cpu pass)", fmt(cnn.sgFwd2, 3), fmt(cnn.sgStep2, 3), "", ""],
    ],
    [
      `simdgrad step vs tfjs cpu step: ${cnn.speedupCpu === null ? "—" : `${fmt(cnn.speedupCpu, 0)}× faster`} (timed side by side in the cpu pass);`
        + ` simdgrad forward vs tfjs wasm forward: ${ratio(cnn.tfWasmFwd, cnn.sgFwd)}.`,
      "simdgrad: one graph built once; a step is zeroGrad, forward, backward, SGD step. tfjs: tf.variables, optimizer.minimize.",
    ],
  );
  return rows;
}
