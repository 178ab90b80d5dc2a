/**
 * "Why slopes matter", as the page runs it: one deep net (6 hidden layers of 32 units on the
 * spirals), built five times with the same data, the same seeds and the same optimizer, once
 * per activation: step, sigmoid, tanh, ReLU and GeLU. Trained side by side, they show what
 * backpropagation needs from an activation:
 *
 *   - step: its derivative is 0 wherever it is defined, so no gradient reaches any hidden
 *     layer (their gradient norms are exactly 0); only the output layer learns, on top of
 *     frozen random features, and the net stays near chance;
 *   - sigmoid: its slope is at most 1/4, so the gradient shrinks at every layer on its way
 *     back; the first layer's gradient is orders of magnitude smaller than the last one's and
 *     the net barely moves;
 *   - tanh (slope 1 at 0), ReLU (slope 1 where active) and GeLU pass the gradient through and
 *     train.
 *
 * Plain JavaScript over simdgrad's graph API; it takes the runtime as an argument, so it runs
 * in the page's worker, on the page, or in Node.
 */

/** The comparison's settings. */
export const LESSON = Object.freeze({
  data: "spirals",
  seed: 1,
  depth: 6,
  width: 32,
  steps: 1000,
  lr: 0.05,
  momentum: 0.9,
  activations: Object.freeze(["step", "sigmoid", "tanh", "relu", "gelu"]),
});

/** Each net's usual initialisation: He for the rectifiers, Xavier for the others. */
const INIT = { step: "xavier", sigmoid: "xavier", tanh: "xavier", relu: "he", gelu: "he" };

/**
 * The deep net for one activation, ready to train on `data` (a plane data set of data.js):
 * `{ activation, g, loss, logits, opt, layers, ... }`. `layers` are its weight matrices,
 * first layer first, as `{ name, index }` with the index into `g.params`.
 */
export function buildLessonNet(sg, activation, data, settings = LESSON) {
  const { depth, width, lr, momentum } = settings;
  const g = sg.graph();
  const x = g.input([data.n, 2], "x");
  const y = g.input([data.n, data.classes], "y");
  let h = x;
  let fan = 2;
  for (let i = 0; i < depth; i++) {
    const W = g.param([fan, width], { init: INIT[activation], seed: 10 + i, name: `W${i + 1}` });
    const b = g.param([width], { init: "zeros", name: `b${i + 1}` });
    h = g.linear(h, W, b, activation);
    fan = width;
  }
  const W = g.param([fan, data.classes], { init: "xavier", seed: 99, name: "Wout" });
  const b = g.param([data.classes], { init: "zeros", name: "bout" });
  const logits = g.linear(h, W, b);
  const loss = g.softmaxCrossEntropy(logits, y);
  const targets = new Float32Array(data.n * data.classes);
  data.label.forEach((c, i) => (targets[i * data.classes + c] = 1));
  g.forward({ x: data.x, y: targets }); // the whole set is one batch, fed once
  g.trackStats(true);
  const layers = g.params.map((p, index) => ({ name: p.name, index })).filter((l) => l.name.startsWith("W"));
  return {
    activation,
    data,
    g,
    loss,
    logits,
    opt: sg.sgd(g.params, { lr, momentum }),
    layers,
    step: 0,
    firstLoss: NaN,
    lastLoss: NaN,
    normBuf: new Float64Array(g.params.length),
    /** Σ over steps of each layer's ‖∂L/∂W‖ (for the mean per layer). */
    normSum: new Float64Array(layers.length),
    lossBuf: new Float32Array(1),
    logitsBuf: new Float32Array(data.n * data.classes),
  };
}

/** One SGD step over the whole set; returns its loss (before the update). */
export function lessonStep(net) {
  net.opt.zeroGrad();
  net.g.forward();
  net.g.backward(net.loss);
  net.g.gradNorms(net.normBuf);
  net.layers.forEach((l, i) => (net.normSum[i] += net.normBuf[l.index]));
  net.opt.step();
  net.loss.value.readInto(net.lossBuf);
  const loss = net.lossBuf[0];
  if (net.step === 0) net.firstLoss = loss;
  net.lastLoss = loss;
  net.step++;
  return loss;
}

/**
 * Where a net stands: its steps, first and latest loss, training accuracy (of a forward pass
 * with the current weights), each layer's mean gradient norm over the steps so far, and the
 * ratio of the last layer's to the first layer's.
 */
export function lessonSummary(net) {
  const { data } = net;
  net.g.forward();
  net.logits.value.readInto(net.logitsBuf);
  let right = 0;
  for (let i = 0; i < data.n; i++) {
    let best = 0;
    for (let c = 1; c < data.classes; c++) if (net.logitsBuf[i * data.classes + c] > net.logitsBuf[i * data.classes + best]) best = c;
    if (best === data.label[i]) right++;
  }
  net.loss.value.readInto(net.lossBuf);
  const norms = Array.from(net.normSum, (s) => (net.step > 0 ? s / net.step : NaN));
  const first = norms[0];
  const last = norms[norms.length - 1];
  return {
    activation: net.activation,
    steps: net.step,
    firstLoss: net.firstLoss,
    loss: net.lossBuf[0],
    accuracy: right / data.n,
    layers: net.layers.map((l) => l.name),
    norms,
    firstNorm: first,
    lastNorm: last,
    ratio: first > 0 ? last / first : Infinity,
  };
}

/** A one-line reading of a summary, for the table. */
export function verdict(s) {
  if (s.steps === 0) return "";
  if (s.firstNorm === 0) return "no slope: no gradient reaches the hidden layers";
  if (s.ratio >= 100) return `vanishing gradient: the first layer gets ${formatRatio(s.ratio)}× less than the last`;
  if (s.accuracy >= 0.9) return "learns";
  return "still learning";
}

function formatRatio(r) {
  return r >= 1000 ? r.toExponential(0).replace("e+", "e") : r.toFixed(0);
}

/** Frees a net's graph and optimizer. */
export function disposeLessonNet(net) {
  net.opt.dispose();
  net.g.dispose();
}
