// Training steps, ms per step: forward + backward + SGD update on one fixed batch, for
// simdgrad's graph API (built once, run many times) and a TensorFlow.js wasm model of
// tf.variables trained with tf.train.sgd().minimize. Both start from the same weights and
// data; the loss before and after the timed steps shows both really train.
import { uniform, oneHot, missing, reason } from "../lib/data.js";
import { measureSet, measureShare } from "../lib/timing.js";
import { printTable, fmt, ratio, change } from "../lib/table.js";

/** He-uniform weights: U(−√(6/fanIn), √(6/fanIn)). */
function heUniform(fanIn, fanOut, seed) {
  const lim = Math.sqrt(6 / fanIn);
  return uniform(fanIn * fanOut, seed, -lim, lim);
}

/** The networks: layer sizes, hidden activation, loss, batch, data. */
function nets() {
  const mnist = (batch) => ({
    key: `mlp784-256-10/b${batch}`,
    label: "784→256 ReLU→10, softmax CE",
    batch, sizes: [784, 256, 10], act: "relu", loss: "softmaxCrossEntropy", lr: 0.05,
    x: uniform(batch * 784, 101, 0, 1), y: oneHot(batch, 10),
  });
  const tiny = (batch) => {
    const x = uniform(batch * 2, 202, -1, 1);
    const y = new Float32Array(batch);
    for (let r = 0; r < batch; r++) y[r] = x[2 * r] * x[2 * r + 1] > 0 ? 1 : 0;
    return {
      key: `mlp2-16-1/b${batch}`,
      label: "2→16 tanh→1, sigmoid CE",
      batch, sizes: [2, 16, 1], act: "tanh", loss: "sigmoidCrossEntropy", lr: 0.5, x, y,
    };
  };
  return [mnist(64), mnist(1), tiny(32)];
}

function weights(net) {
  const [i, h, o] = net.sizes;
  return { W1: heUniform(i, h, 7), b1: new Float32Array(h), W2: heUniform(h, o, 9), b2: new Float32Array(o) };
}

/** simdgrad: build the graph once; a step is forward, backward, SGD update, zeroing grads. */
function simdgradNet(sg, net) {
  const why = missing(sg, ["graph", "sgd"]);
  if (why) return { missing: why };
  const [ni, nh, no] = net.sizes;
  const B = net.batch;
  const w = weights(net);
  const g = sg.graph();
  const need = ["input", "param", net.loss, typeof g.linear === "function" ? "linear" : "matmul"];
  const whyG = missing(g, need, "g.");
  if (whyG) {
    g.dispose?.();
    return { missing: whyG };
  }
  const x = g.input([B, ni], "x");
  const y = g.input([B, no], "y");
  const W1 = g.param([ni, nh], { data: w.W1, name: "W1" });
  const b1 = g.param([nh], { data: w.b1, name: "b1" });
  const W2 = g.param([nh, no], { data: w.W2, name: "W2" });
  const b2 = g.param([no], { data: w.b2, name: "b2" });
  let h, logits;
  if (typeof g.linear === "function") {
    h = g.linear(x, W1, b1, net.act);
    logits = g.linear(h, W2, b2);
  } else {
    h = g[net.act](g.add(g.matmul(x, W1), b1));
    logits = g.add(g.matmul(h, W2), b2);
  }
  const loss = g[net.loss](logits, y);
  const opt = sg.sgd(g.params, { lr: net.lr });
  const xs = sg.tensor([B, ni], net.x);
  const ys = sg.tensor([B, no], net.y);
  // Fed once, like the tfjs side's fixed tensors: an input keeps its last fed value.
  g.forward({ x: xs, y: ys });
  const step = () => {
    opt.zeroGrad();
    g.forward();
    g.backward(loss);
    opt.step();
  };
  const lossValue = () => {
    g.forward();
    return loss.value.toArray()[0];
  };
  const dispose = () => {
    g.dispose();
    xs.dispose();
    ys.dispose();
  };
  return { step, lossValue, dispose };
}

/** TensorFlow.js: tf.variables, fused matMul + bias (+ activation) as tfjs-layers' Dense runs it. */
function tfNet(tf, net) {
  const [ni, nh, no] = net.sizes;
  const B = net.batch;
  const w = weights(net);
  const variable = (data, shape) => {
    const t = tf.tensor(data, shape);
    const v = tf.variable(t);
    t.dispose();
    return v;
  };
  const W1 = variable(w.W1, [ni, nh]);
  const b1 = variable(w.b1, [nh]);
  const W2 = variable(w.W2, [nh, no]);
  const b2 = variable(w.b2, [no]);
  const xs = tf.tensor2d(net.x, [B, ni]);
  const ys = tf.tensor2d(net.y, [B, no]);
  const opt = tf.train.sgd(net.lr);
  const vars = [W1, b1, W2, b2];
  const lossFn = () => {
    const h = net.act === "relu"
      ? tf.fused.matMul({ a: xs, b: W1, bias: b1, activation: "relu" })
      : tf.tanh(tf.fused.matMul({ a: xs, b: W1, bias: b1 }));
    const logits = tf.fused.matMul({ a: h, b: W2, bias: b2 });
    return net.loss === "softmaxCrossEntropy"
      ? tf.losses.softmaxCrossEntropy(ys, logits)
      : tf.losses.sigmoidCrossEntropy(ys, logits);
  };
  const step = () => {
    opt.minimize(lossFn, false, vars);
  };
  const lossValue = () => tf.tidy(() => lossFn().dataSync()[0]);
  const dispose = () => {
    tf.dispose([...vars, xs, ys]);
    opt.dispose();
  };
  return { step, lossValue, dispose };
}

/**
 * Flops of the matrix products one training step runs (2·m·k·n each): forward x·W1 and
 * h·W2, backward dW1 = xᵀ·dz1, dW2 = hᵀ·dz2 and dh = dz2·W2ᵀ (no gradient for the input x).
 */
export function stepGemmFlops(net) {
  const [i, h, o] = net.sizes;
  const B = net.batch;
  return 2 * B * (i * h + h * o) + 2 * B * (i * h + h * o) + 2 * B * o * h;
}

export async function run(ctx) {
  const { sg, tf, prev, peak, quick, build } = ctx;
  // The ceiling the GEMM of this build aims at: mul+add (SIMD128) or relaxed_madd (relaxed).
  const probe = build === "relaxed" && peak?.probes?.madd ? peak.probes.madd : peak?.probes?.muladd ?? null;
  const rows = [];
  const cells = [];
  const notes = [];
  for (const net of nets()) {
    const row = { key: net.key, net: net.label, batch: net.batch, gemmFlops: stepGemmFlops(net), stepEff: null };
    const impls = {};
    try {
      const impl = simdgradNet(sg, net);
      if (impl.missing) row.sg = impl.missing;
      else impls.sg = impl;
    } catch (e) {
      row.sg = reason(e);
    }
    const tensorsBefore = tf.memory().numTensors;
    impls.tf = tfNet(tf, net);
    try {
      const before = {};
      for (const name in impls) before[name] = impls[name].lossValue();
      const fns = Object.fromEntries(Object.entries(impls).map(([name, impl]) => [name, impl.step]));
      const t = measureSet(fns);
      // Step efficiency: the time the step's matrix products alone would take at the peak,
      // over the step's time (100% = every cycle of the step spent at the peak). The step and
      // the peak probe are timed in short bursts side by side (see measureShare).
      if (probe && fns.sg && !t.sg?.error) {
        const r = measureShare(fns.sg, row.gemmFlops, probe);
        if (!r.error) row.stepEff = 100 * r.share;
      }
      for (const name in t) {
        if (t[name].error) row[name] = reason(t[name].error);
        else {
          row[name] = t[name].seconds * 1e3;
          row[`${name}Loss`] = [before[name], impls[name].lossValue()];
        }
      }
    } catch (e) {
      row.sg = typeof row.sg === "string" ? row.sg : reason(e);
      row.tf = reason(e);
    } finally {
      for (const name in impls) impls[name].dispose();
    }
    const leaked = tf.memory().numTensors - tensorsBefore;
    if (leaked !== 0) notes.push(`tfjs ${net.key}: ${leaked} tensors leaked per run (harness bug)`);

    row.speedup = typeof row.sg === "number" && typeof row.tf === "number" ? row.tf / row.sg : null;
    rows.push(row);
    const loss = (l) => (l ? `${fmt(l[0], 3)}→${fmt(l[1], 3)}` : "—");
    cells.push([
      net.label,
      String(net.batch),
      fmt(row.sg, 3),
      fmt(row.tf, 3),
      ratio(row.tf, row.sg),
      fmt(row.stepEff, 0) + (row.stepEff === null ? "" : "%"),
      change(prev(net.key)?.sg, row.sg), // lower is better: speed change = prev/now
      loss(row.sgLoss),
      loss(row.tfLoss),
    ]);
  }
  printTable(
    "Training steps, ms per step (forward + backward + SGD update; lower is better)",
    [
      { title: "network", align: "l" },
      { title: "batch" },
      { title: "simdgrad ms" },
      { title: "tfjs-wasm ms" },
      { title: "speedup" },
      { title: "eff" },
      { title: "Δ prev" },
      { title: "simdgrad loss", align: "l" },
      { title: "tfjs loss", align: "l" },
    ],
    cells,
    ["speedup = tfjs ms / simdgrad ms. Δ prev is the speed change (+ = faster than the previous run).",
     `eff: the time the step's matrix products alone take at the ${build === "relaxed" ? "relaxed_madd" : "mul+add"} peak probe` +
       " over simdgrad's step time, the two timed in short bursts side by side (median over pairs).",
     "loss: on the fixed batch, before → after all warm-up and timed steps (both must fall).",
     ...notes],
  );
  return rows;
}
