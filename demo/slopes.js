/**
 * "Why slopes matter": the same deep network trained five times, with the threshold unit
 * (step), sigmoid, tanh, ReLU and GeLU, side by side.
 *
 * Backpropagation multiplies the upstream gradient by each unit's local slope on the way
 * down. The step function has slope 0 everywhere, so nothing below the output layer ever
 * moves. The sigmoid's slope is at most 1/4 (less where it saturates), so each layer
 * shrinks the gradient, and after seven of them the first layer gets orders of magnitude
 * less than the last; tanh's slope reaches 1 at 0, ReLU's is exactly 1 wherever a unit is
 * on, GeLU's is close to that, and those nets train.
 *
 * The task: points x ~ N(0, I₂) in the plane; the class is whether |x|² > 2·ln 2 (the
 * median, so the classes are even). The net: 2 → 7 hidden layers of 32 units → 2 logits,
 * softmax cross-entropy, SGD with momentum on fresh batches (every loss is measured on data
 * the net has not trained on yet). Each net starts from the same seeds with the init its
 * activation is usually paired with (Glorot for step, sigmoid and tanh; He for ReLU and
 * GeLU), zero biases, and an output layer of zeros, so every net starts at loss ln 2 = 0.693,
 * a coin toss.
 *
 * Why the step net stays there: its hidden layers get exactly zero gradient, so they keep
 * their random start, and only the output layer learns, from features that, with zero
 * biases, depend on the direction of x alone, which says nothing about its length.
 *
 * The module works in Node and in browsers: it imports nothing, takes the `sg` of
 * `await init()`, and has no side effects at load. `runSlopes(sg)` runs everything and
 * returns plain data; `createSlopes(sg)` gives a runner to advance a few steps at a time
 * (for an animation frame); `formatSlopesTable(result)` writes the lesson as a text table.
 * Statistics come from the graph's own gradient-health collection (g.trackStats).
 */

/** The activations compared, in the order of the lesson. */
export const SLOPES_ACTIVATIONS = ["step", "sigmoid", "tanh", "relu", "gelu"];

/** Defaults of the preset (every field can be overridden). */
export const SLOPES_DEFAULTS = Object.freeze({
  /** Weight layers: depth − 1 hidden layers, then the output layer. */
  depth: 8,
  width: 32,
  batch: 64,
  steps: 600,
  lr: 0.05,
  momentum: 0.9,
  /** Record loss, accuracy and gradient norms as means over windows of this many steps. */
  every: 20,
  seed: 7,
  activations: SLOPES_ACTIVATIONS,
});

const INIT = { step: "xavier", sigmoid: "xavier", tanh: "xavier", relu: "he", gelu: "he" };
const RADIUS2 = 2 * Math.LN2;

/** A small deterministic generator (xorshift32 and Box–Muller): the same stream in every runtime. */
function gaussianStream(seed) {
  let s = seed >>> 0 || 1;
  const u = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) + 0.5) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}

/** Fills a batch: x [B, 2] standard normal, y [B, 2] one-hot of |x|² > 2 ln 2. */
function fillBatch(next, x, y) {
  const B = y.length / 2;
  for (let r = 0; r < B; r++) {
    const a = next();
    const b = next();
    x[2 * r] = a;
    x[2 * r + 1] = b;
    const outside = a * a + b * b > RADIUS2 ? 1 : 0;
    y[2 * r] = 1 - outside;
    y[2 * r + 1] = outside;
  }
}

function checkOptions(opts) {
  if (opts === null || typeof opts !== "object") throw new TypeError(`slopes: options must be an object, got ${opts === null ? "null" : typeof opts}`);
  const o = { ...SLOPES_DEFAULTS, ...opts };
  for (const k of ["depth", "width", "batch", "steps", "every"]) {
    if (!Number.isInteger(o[k]) || o[k] < (k === "depth" ? 2 : 1)) throw new RangeError(`slopes: ${k} must be an integer ≥ ${k === "depth" ? 2 : 1}, got ${o[k]}`);
  }
  for (const k of ["lr", "momentum"]) {
    if (typeof o[k] !== "number" || !(o[k] >= 0)) throw new RangeError(`slopes: ${k} must be a number ≥ 0, got ${o[k]}`);
  }
  if (!Array.isArray(o.activations) || o.activations.length === 0 || o.activations.some((a) => !(a in INIT))) {
    throw new RangeError(`slopes: activations must be a non-empty list of ${SLOPES_ACTIVATIONS.join(", ")}`);
  }
  return o;
}

/** One net of the comparison: graph, optimizer, buffers, and what has been recorded. */
function buildNet(sg, o, activation) {
  const g = sg.graph();
  const x = g.input([o.batch, 2], "x");
  const y = g.input([o.batch, 2], "y");
  let h = x;
  let fanIn = 2;
  for (let l = 1; l < o.depth; l++) {
    const W = g.param([fanIn, o.width], { init: INIT[activation], name: `W${l}`, seed: o.seed * 100 + l });
    const b = g.param([o.width], { init: "zeros", name: `b${l}` });
    h = g.name(g.linear(h, W, b, activation), `h${l}`);
    fanIn = o.width;
  }
  const Wout = g.param([fanIn, 2], { init: "zeros", name: `W${o.depth}` });
  const bout = g.param([2], { init: "zeros", name: `b${o.depth}` });
  const logits = g.linear(h, Wout, bout);
  const loss = g.name(g.softmaxCrossEntropy(logits, y), "loss");
  g.trackStats(true);
  const opt = sg.sgd(g.params, { lr: o.lr, momentum: o.momentum });
  const params = g.params;
  const weightIdx = params.map((p, i) => (p.name.startsWith("W") ? i : -1)).filter((i) => i >= 0);
  return {
    activation,
    init: INIT[activation],
    g, x, y, logits, loss, opt,
    weightIdx,
    norms: new Float64Array(params.length),
    xs: sg.tensor([o.batch, 2]),
    ys: sg.tensor([o.batch, 2]),
    // Per window: sums, then pushed as means.
    acc: { loss: 0, correct: 0, grads: new Float64Array(weightIdx.length), n: 0 },
    rec: { step: [], loss: [], accuracy: [], gradNorms: [], flat: [] },
    perStep: [], // every step's per-layer gradient norms (for medians)
    nonfinite: false,
  };
}

/**
 * A runner of the comparison. `step(n)` trains every net n more steps (on the same batches);
 * `result()` returns what has been recorded so far as plain data; `dispose()` frees the
 * graphs. Nothing is allocated per step in linear memory.
 */
export function createSlopes(sg, options = {}) {
  const o = checkOptions(options);
  const nets = o.activations.map((a) => buildNet(sg, o, a));
  const layers = nets[0].weightIdx.map((_, l) => `W${l + 1}`);
  const next = gaussianStream(o.seed);
  const xb = new Float32Array(o.batch * 2);
  const yb = new Float32Array(o.batch * 2);
  const logitsHost = new Float32Array(o.batch * 2);
  let done = 0;
  let disposed = false;

  function record(net) {
    const a = net.acc;
    if (a.n === 0) return;
    net.rec.step.push(done);
    net.rec.loss.push(a.loss / a.n);
    net.rec.accuracy.push(a.correct / (a.n * o.batch));
    net.rec.gradNorms.push(Array.from(a.grads, (s) => s / a.n));
    // Flat-region shares of the hidden layers, from the last forward run.
    net.rec.flat.push(net.g.stats().activations.map((s) => s.flatShare));
    a.loss = 0;
    a.correct = 0;
    a.grads.fill(0);
    a.n = 0;
  }

  function trainStep(net) {
    net.xs.set(xb);
    net.ys.set(yb);
    net.opt.zeroGrad();
    net.g.forward({ x: net.xs, y: net.ys });
    const l = net.loss.value.data[0];
    net.logits.value.readInto(logitsHost);
    let correct = 0;
    for (let r = 0; r < o.batch; r++) {
      const pred = logitsHost[2 * r + 1] > logitsHost[2 * r] ? 1 : 0;
      if (yb[2 * r + pred] === 1) correct++;
    }
    net.g.backward(net.loss);
    net.opt.step();
    net.g.gradNorms(net.norms);
    const a = net.acc;
    a.loss += l;
    a.correct += correct;
    const row = new Float64Array(net.weightIdx.length);
    net.weightIdx.forEach((pi, li) => {
      a.grads[li] += net.norms[pi];
      row[li] = net.norms[pi];
    });
    net.perStep.push(row);
    a.n++;
    if (!Number.isFinite(l)) net.nonfinite = true;
  }

  return {
    options: o,
    layers,
    get stepsDone() {
      return done;
    },
    /** Trains every net `n` more steps (default 1, never past options.steps); returns the steps done. */
    step(n = 1) {
      if (disposed) throw new Error("slopes: this run has been disposed");
      const end = Math.min(o.steps, done + n);
      while (done < end) {
        fillBatch(next, xb, yb);
        for (const net of nets) trainStep(net);
        done++;
        if (done % o.every === 0 || done === o.steps) for (const net of nets) record(net);
      }
      return done;
    },
    /** Everything recorded so far, as plain data (see runSlopes). */
    result() {
      return {
        options: { ...o, activations: [...o.activations] },
        layers,
        steps: done,
        runs: nets.map((net) => summarize(net, layers)),
      };
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      for (const net of nets) {
        net.opt.dispose();
        net.xs.dispose();
        net.ys.dispose();
        net.g.dispose();
      }
    },
  };
}

function median(values) {
  const s = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function mean(values) {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN;
}

/** The recorded curves of one net, and the numbers the lesson quotes. */
function summarize(net, layers) {
  const r = net.rec;
  const n = r.loss.length;
  const tail = Math.max(1, Math.ceil(n / 4));
  // Median over all steps but the first (the output layer starts at zero, so on step one no
  // gradient reaches the hidden layers whatever the activation).
  const steps = net.perStep.slice(1);
  const layerGrad = layers.map((_, l) => median(steps.map((row) => row[l])));
  const lastFlat = r.flat.length ? r.flat[r.flat.length - 1] : [];
  return {
    activation: net.activation,
    init: net.init,
    curve: {
      step: r.step.slice(),
      loss: r.loss.slice(),
      accuracy: r.accuracy.slice(),
      /** Per record, per weight layer (W1 first): mean ‖∂loss/∂W‖ over the window. */
      gradNorms: r.gradNorms.map((row) => row.slice()),
      /** Per record, per hidden layer: share of units in the flat region (dead or saturated). */
      flat: r.flat.map((row) => row.slice()),
    },
    summary: {
      /** Mean loss over the first window (from ln 2 at step 0), and over the last quarter of the run. */
      startLoss: n ? r.loss[0] : null,
      endLoss: n ? mean(r.loss.slice(n - tail)) : null,
      endAccuracy: n ? mean(r.accuracy.slice(n - tail)) : null,
      /** Median over the run of each weight layer's gradient norm (W1 first). */
      layerGradNorms: layerGrad,
      firstLayerGradNorm: layerGrad[0],
      lastLayerGradNorm: layerGrad[layerGrad.length - 1],
      /** How many times smaller the first layer's gradient is than the output layer's (null when it gets none). */
      shrink: layerGrad[0] > 0 ? layerGrad[layerGrad.length - 1] / layerGrad[0] : null,
      /** Mean flat-region share over the hidden layers at the end (null: the activation has no flat region). */
      flatShare: lastFlat.length ? mean(lastFlat) : null,
      nonfinite: net.nonfinite,
    },
  };
}

/**
 * Runs the whole comparison and returns plain data:
 * { options, layers: ["W1", …], steps, runs: [{ activation, init, curve: { step, loss,
 *   accuracy, gradNorms, flat }, summary: { startLoss, endLoss, endAccuracy,
 *   layerGradNorms, firstLayerGradNorm, lastLayerGradNorm, shrink, flatShare } }] }.
 * `onProgress(stepsDone, steps)` is called after every recorded window.
 */
export function runSlopes(sg, options = {}, onProgress) {
  const run = createSlopes(sg, options);
  try {
    while (run.stepsDone < run.options.steps) {
      run.step(run.options.every);
      if (typeof onProgress === "function") onProgress(run.stepsDone, run.options.steps);
    }
    return run.result();
  } finally {
    run.dispose();
  }
}

function sci(v) {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return "0";
  return v.toExponential(1);
}

/** The lesson as a text table (for the Node demo and the console). */
export function formatSlopesTable(result) {
  const { runs, layers, options: o } = result;
  const lines = [];
  lines.push(`Why slopes matter: a ${o.depth}-layer net (${o.depth - 1} hidden layers of ${o.width}) on "is |x|² above its median?", ${result.steps} SGD steps of ${o.batch}`);
  lines.push("");
  const head = ["activation", "init", "loss first→last", "accuracy", `‖∂L/∂W1‖`, `‖∂L/∂W${layers.length}‖`, "last/first", "flat"];
  const rows = runs.map((r) => {
    const s = r.summary;
    return [
      r.activation,
      r.init,
      s.startLoss === null ? "—" : `${s.startLoss.toFixed(3)} → ${s.endLoss.toFixed(3)}`,
      s.endAccuracy === null ? "—" : `${(100 * s.endAccuracy).toFixed(1)}%`,
      sci(s.firstLayerGradNorm),
      sci(s.lastLayerGradNorm),
      s.shrink === null ? (s.firstLayerGradNorm === 0 ? "∞ (no slope)" : "—") : `${s.shrink >= 1000 ? sci(s.shrink) : s.shrink.toPrecision(2)}×`,
      s.flatShare === null ? "—" : `${(100 * s.flatShare).toFixed(0)}%`,
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (cells) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  lines.push(fmt(head));
  lines.push(widths.map((w) => "─".repeat(w)).join("  "));
  for (const r of rows) lines.push(fmt(r));
  lines.push("");
  lines.push(`Gradient norm per layer, W1 (input side) … W${layers.length} (output):`);
  for (const r of runs) lines.push(`  ${r.activation.padEnd(8)} ${r.summary.layerGradNorms.map(sci).map((s) => s.padStart(8)).join(" ")}`);
  lines.push("");
  lines.push("step: slope 0 everywhere, the hidden layers never move; the loss stays at ln 2 = 0.693 (a coin toss).");
  lines.push("sigmoid: slope ≤ 1/4 per layer, so the first layer's gradient is orders of magnitude below the last's.");
  lines.push("tanh, ReLU, GeLU: slope near 1 where the units work, and the deep net trains.");
  lines.push(`loss: mean over the first ${o.every} steps → over the last quarter; accuracy: last quarter, on batches not yet trained on.`);
  lines.push("‖∂L/∂W‖: median over the run. flat: share of hidden values in a flat region at the end (ReLU exactly 0, sigmoid/tanh within 1% of a bound, step: all; GeLU has none).");
  return lines.join("\n");
}
