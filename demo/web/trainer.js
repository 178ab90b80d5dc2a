/**
 * The demo's engine: builds the data set and the network with simdgrad's graph API, trains
 * it in time slices, follows its gradient health, evaluates the decision boundary on a grid,
 * measures matmul GFLOPS and runs the benchmark rows. It talks only through messages
 * (`handle(msg)` in, `post(msg)` out), so the same code runs in the module worker
 * (worker.js) or, where module workers are missing, on the page itself.
 */
// The built library by relative URL: module workers have no import maps, and simdgrad's
// release builds import nothing by bare name, so this one line serves the page and its worker
// from any static server. (In an application: `import { init } from "simdgrad"`.)
import { init } from "../../dist/index.js";
import { dataset } from "./data.js";
import { createSlopes } from "../slopes.js";
import { clearLast, loadLast, netKey, protobufWire, storeLast } from "./model-store.js";

/** Activation names of the page → how the fused linear layer (or prelu) applies them. */
const ACTIVATIONS = {
  step: "step",
  sigmoid: "sigmoid",
  tanh: "tanh",
  hardTanh: "hardTanh",
  relu: "relu",
  leakyRelu: { name: "leakyRelu", slope: 0.01 },
  prelu: null, // a linear layer, then g.prelu with a learned slope per unit
  swish: "swish",
  gelu: "gelu",
  geluTanh: { name: "gelu", approximate: "tanh" },
};
export const ACTIVATION_NAMES = Object.keys(ACTIVATIONS);
export const OPTIMIZERS = ["sgd", "momentum", "adam"];

/** Side of the grid the decision boundary is evaluated on (GRID² points). */
export const GRID = 96;

const now = () => performance.now();

/** Checks a training configuration from the page; throws an Error naming the bad field. */
export function checkConfig(c) {
  if (!["spirals", "moons", "windows"].includes(c.data)) throw new Error(`config: unknown data set '${c.data}'`);
  if (!Array.isArray(c.hidden) || c.hidden.length > 4 || c.hidden.some((w) => !Number.isInteger(w) || w < 1 || w > 512)) {
    throw new Error(`config: hidden layers must be 0 to 4 sizes between 1 and 512, got [${c.hidden}]`);
  }
  if (!ACTIVATION_NAMES.includes(c.activation)) throw new Error(`config: unknown activation '${c.activation}'`);
  if (!OPTIMIZERS.includes(c.optimizer)) throw new Error(`config: unknown optimizer '${c.optimizer}'`);
  if (typeof c.lr !== "number" || !(c.lr > 0 && c.lr <= 10)) throw new Error(`config: learning rate must be in (0, 10], got ${c.lr}`);
  if (!Number.isInteger(c.seed) || c.seed < 0) throw new Error(`config: seed must be a non-negative integer, got ${c.seed}`);
  return c;
}

/**
 * A multilayer perceptron on graph g: x [batch, inDim] → hidden layers → logits
 * [batch, outDim]. Params get fresh values from the seed, or, with `from`, copies of the
 * values of another net of the same shape (an inference graph of another batch size).
 */
function buildNet(g, { inDim, outDim, hidden, activation, seed, words }, batch, from) {
  const params = [];
  const param = (shape, name, fresh) => {
    const p = g.param(shape, from ? { name, data: from.byName.get(name).value.toArray() } : { name, ...fresh });
    params.push(p);
    return p;
  };
  const reluLike = ["relu", "leakyRelu", "prelu"].includes(activation);
  let x, h, fan;
  if (words) {
    // The notes' window model: x = the learned vectors of the window's words, concatenated.
    x = g.input([batch, words.width], "x"); // word ids
    const E = param([words.vocab, words.dim], "E", { init: "normal", std: 0.1, seed: seed * 97 + 99 });
    fan = words.width * words.dim;
    h = g.reshape(g.embedding(x, E), [batch, fan]);
  } else {
    x = g.input([batch, inDim], "x");
    h = x;
    fan = inDim;
  }
  hidden.forEach((width, i) => {
    const W = param([fan, width], `W${i + 1}`, { init: reluLike ? "he" : "xavier", seed: seed * 97 + i });
    const b = param([width], `b${i + 1}`, { init: "zeros" });
    if (activation === "prelu") {
      const a = param([width], `a${i + 1}`, { data: new Float32Array(width).fill(0.25) });
      h = g.prelu(g.linear(h, W, b), a);
    } else {
      h = g.linear(h, W, b, ACTIVATIONS[activation]);
    }
    fan = width;
  });
  const W = param([fan, outDim], "Wout", { init: "xavier", seed: seed * 97 + 50 });
  const b = param([outDim], "bout", { init: "zeros" });
  const logits = g.linear(h, W, b);
  return { x, logits, params, byName: new Map(params.map((p) => [p.name, p])) };
}

/** Yields to the event loop (to receive "stop") without the 4 ms clamp of nested timers. */
function yieldToEvents() {
  return new Promise((resolve) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => {
      ch.port1.close();
      resolve();
    };
    ch.port2.postMessage(0);
  });
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export class Trainer {
  /** @param {(msg: object, transfer?: Transferable[]) => void} post */
  constructor(post) {
    this.post = post;
    this.sg = null;
    this.model = null;
    this.running = false;
    this.runId = 0;
    this.lesson = null; // the "why slopes matter" comparison while it runs
    this.busy = Promise.resolve();
  }

  /** Handles one message from the page; messages run one after another. */
  handle(msg) {
    // "stop" must act at once, even while a training loop holds the queue.
    if (msg.type === "stop") {
      this.stop();
      return this.busy;
    }
    if (msg.type === "lesson-stop") {
      this.disposeLesson(true);
      return this.busy;
    }
    const run = async () => {
      try {
        await this.dispatch(msg);
      } catch (e) {
        this.running = false;
        this.post({ type: "error", request: msg.type, message: e instanceof Error ? e.message : String(e) });
      }
    };
    this.busy = this.busy.then(run);
    return this.busy;
  }

  async dispatch(msg) {
    switch (msg.type) {
      case "init":
        return this.init(msg.build ?? "auto", msg.threads ?? 1, msg.gemmTile ?? "auto");
      case "config":
        return this.configure(checkConfig(msg.config));
      case "train":
        return this.startTraining();
      case "gflops":
        return this.gflopsMeter();
      case "bench":
        return this.benchmark();
      case "lesson":
        return this.startLesson();
      case "download":
        return this.download(msg.format);
      case "load-model":
        return this.loadModel(msg.bytes, msg.name ?? "the file");
      case "restore":
        return this.restore();
      case "forget":
        await clearLast();
        return this.offerStored();
      default:
        throw new Error(`unknown request '${msg.type}'`);
    }
  }

  // ---------------------------------------------------------------- runtime

  /**
   * Loads (or reloads) the runtime on the build, thread count and GEMM tile asked for; the page then
   * sends its configuration. Without cross-origin isolation `init` runs on one thread and
   * says why in `features.warnings`, which the page shows.
   */
  async init(build, threads, gemmTile = "auto") {
    this.stop();
    this.disposeModel();
    this.disposeLesson();
    if (this.sg) await this.sg.close();
    this.sg = null;
    const relaxedSimd = build === "relaxed" ? true : build === "simd" ? false : undefined;
    // The .wasm files sit in the package's build/ directory, two levels above demo/web/.
    this.sg = await init({ relaxedSimd, threads, gemmTile, wasm: new URL("../../build/", import.meta.url) });
    const f = this.sg.features;
    this.post({
      type: "ready",
      build: f.build,
      relaxedSimd: f.relaxedSimd,
      threads: f.threads,
      threadsAsked: threads,
      gemmTile: f.gemmTile,
      arch: f.arch ?? null,
      warnings: [...f.warnings],
      crossOriginIsolated: globalThis.crossOriginIsolated === true,
      cores: globalThis.navigator?.hardwareConcurrency ?? 0,
    });
    await this.gflopsMeter();
  }

  requireRuntime() {
    if (!this.sg) throw new Error("the simdgrad runtime is not loaded yet");
    return this.sg;
  }

  // ---------------------------------------------------------------- model

  /** Ends the comparison (if one runs) and frees its nets; `tell`: say so to the page. */
  disposeLesson(tell = false) {
    const l = this.lesson;
    if (!l) return;
    this.lesson = null;
    l.run.dispose();
    if (tell) this.post({ type: "lesson-done", stopped: true });
  }

  disposeModel() {
    const m = this.model;
    if (!m) return;
    m.opt.dispose();
    m.g.dispose();
    m.evalGraph?.g.dispose();
    this.model = null;
  }

  /** Builds (or rebuilds) the data set, the training graph, its optimizer and an evaluation graph. */
  async configure(config) {
    const sg = this.requireRuntime();
    this.stop();
    this.disposeModel();
    const data = dataset(config.data, config.seed);
    const plane = data.kind !== "windows";
    const shape = {
      inDim: 2,
      words: plane ? null : { vocab: data.vocab.length, dim: data.wordDim, width: data.width },
      outDim: plane ? data.classes : 1,
      hidden: config.hidden,
      activation: config.activation,
      seed: config.seed + 1,
    };
    const trainSet = plane ? { n: data.n, x: data.x } : data.train;
    const g = sg.graph();
    const net = buildNet(g, shape, trainSet.n);
    const y = g.input([trainSet.n, shape.outDim], "y");
    const loss = plane ? g.softmaxCrossEntropy(net.logits, y) : g.sigmoidCrossEntropy(net.logits, y);
    // The whole (small) training set is one batch: fed once, it stays in the graph's inputs.
    g.forward({ x: trainSet.x, y: plane ? oneHot(data.label, data.classes) : data.train.y });
    // Gradient health: one kernel pass over the gradients after each backward run.
    g.trackStats(true);
    const layers = weightLayers(g.params);
    const opt =
      config.optimizer === "adam"
        ? sg.adam(g.params, { lr: config.lr })
        : sg.sgd(g.params, { lr: config.lr, momentum: config.optimizer === "momentum" ? 0.9 : 0 });

    // The evaluation graph: the same net shaped for the grid (or the held-out windows).
    const evalG = sg.graph();
    const evalRows = plane ? GRID * GRID : data.test.n;
    const evalNet = buildNet(evalG, shape, evalRows, net);
    evalG.forward({ x: plane ? gridPoints(data.bounds) : data.test.x });

    this.model = {
      config,
      data,
      plane,
      g,
      net,
      loss,
      opt,
      evalGraph: { g: evalG, net: evalNet, out: new Float32Array(evalRows * shape.outDim) },
      logits: new Float32Array(trainSet.n * shape.outDim),
      lossBuf: new Float32Array(1),
      layers,
      normBuf: new Float64Array(g.params.length),
      norms: [], // per step, one ‖g‖ per layer in `layers`
      step: 0,
      losses: [],
      firstLoss: NaN,
      rate: { t: now(), step: 0, perSec: 0 },
    };
    const msg = {
      type: "configured",
      config,
      kind: data.kind,
      params: paramCount(g.params),
      layers: layers.map((l) => l.name),
    };
    if (plane) Object.assign(msg, { x: data.x, label: data.label, classes: data.classes, bounds: data.bounds, grid: GRID });
    else msg.sentences = data.sentences;
    this.post(msg);
    this.report(true);
    await this.offerStored();
  }

  // ---------------------------------------------------------------- model files

  /** Tells the page whether IndexedDB holds trained params for the net just configured. */
  async offerStored() {
    const m = this.model;
    if (!m) return;
    const rec = await loadLast().catch(() => undefined);
    const usable = rec !== undefined && rec.key === netKey(m.config);
    this.post({ type: "stored", available: usable, step: usable ? rec.step : 0, savedAt: usable ? rec.savedAt : 0 });
  }

  /** Keeps the current params in IndexedDB (after training stops). */
  async persist() {
    const m = this.model;
    if (!m || m.step === 0) return;
    try {
      await storeLast(m.config, m.step, m.g.saveParams({ metadata: { net: netKey(m.config), step: String(m.step) } }));
      this.post({ type: "stored", available: true, step: m.step, savedAt: Date.now(), justSaved: true });
    } catch (e) {
      this.post({ type: "stored", available: false, step: 0, savedAt: 0, error: e instanceof Error ? e.message : String(e) });
    }
  }

  /** The trained params (safetensors) or the net (ONNX, any number of rows) as a file for the page to download. */
  async download(format) {
    const m = this.model;
    if (!m) throw new Error("download: no model yet");
    let bytes;
    if (format === "onnx") {
      bytes = await m.g.exportOnnx({ inputs: [m.net.x], outputs: [m.net.logits], dynamicBatch: true, protobuf: await protobufWire() });
    } else if (format === "safetensors") {
      bytes = m.g.saveParams({ metadata: { net: netKey(m.config), step: String(m.step) } });
    } else {
      throw new Error(`download: unknown format '${format}'`);
    }
    const name = `simdgrad-${m.config.data}-${m.config.activation}-step${m.step}.${format}`;
    this.post({ type: "model-file", format, name, bytes }, [bytes.buffer]);
  }

  /** Loads params from a safetensors file the person picked (names and shapes must fit the current net). */
  async loadModel(bytes, name) {
    const m = this.model;
    if (!m) throw new Error("load: no model yet");
    this.stop();
    m.g.loadParams(new Uint8Array(bytes));
    this.post({ type: "model-loaded", source: name });
    this.report(true);
  }

  /** Brings back the params kept in IndexedDB. */
  async restore() {
    const m = this.model;
    if (!m) throw new Error("restore: no model yet");
    const rec = await loadLast();
    if (!rec || rec.key !== netKey(m.config)) throw new Error("restore: no stored params for this net");
    this.stop();
    m.g.loadParams(rec.bytes);
    this.post({ type: "model-loaded", source: `the params stored after step ${rec.step}` });
    this.report(true);
  }

  // ---------------------------------------------------------------- training

  stop() {
    this.running = false;
    this.runId++;
  }

  /** One step: forward over the training set, backward from the loss, optimizer update. */
  trainStep() {
    const m = this.model;
    m.opt.zeroGrad();
    m.g.forward();
    m.g.backward(m.loss);
    m.opt.step();
    m.loss.value.readInto(m.lossBuf);
    m.g.gradNorms(m.normBuf); // the gradient norms of this step's backward run, no allocation
    for (const l of m.layers) m.norms.push(m.normBuf[l.index]);
    m.step++;
    m.losses.push(m.lossBuf[0]);
    if (Number.isNaN(m.firstLoss)) m.firstLoss = m.lossBuf[0];
  }

  async startTraining() {
    if (!this.model) throw new Error("train: no model yet (configure first)");
    this.disposeLesson(true);
    if (this.running) return;
    this.running = true;
    const id = ++this.runId;
    const m = this.model;
    m.rate = { t: now(), step: m.step, perSec: m.rate.perSec };
    let lastReport = now();
    let lastEval = 0;
    this.post({ type: "training", running: true });
    // Not awaited by the queue: the loop yields between slices so "stop" and other
    // requests get in; it ends when stop() changes the run id.
    const loop = async () => {
      while (this.running && id === this.runId && this.model === m) {
        const t0 = now();
        do this.trainStep();
        while (now() - t0 < 20);
        const t = now();
        if (t - lastReport > 100) {
          lastReport = t;
          const evalNow = t - lastEval > 250;
          if (evalNow) lastEval = t;
          this.report(evalNow);
        }
        await yieldToEvents();
      }
      if (this.model === m) {
        this.report(true);
        await this.persist();
      }
      this.post({ type: "training", running: false });
    };
    loop().catch((e) => {
      this.running = false;
      this.post({ type: "error", request: "train", message: e instanceof Error ? e.message : String(e) });
      this.post({ type: "training", running: false });
    });
  }

  /** Posts progress: new losses, accuracy, steps per second, and (if `withEval`) the boundary or the held-out predictions. */
  report(withEval) {
    const m = this.model;
    if (!m) return;
    const t = now();
    if (t - m.rate.t > 500) {
      m.rate.perSec = ((m.step - m.rate.step) * 1000) / (t - m.rate.t);
      m.rate = { t, step: m.step, perSec: m.rate.perSec };
    }
    const losses = Float32Array.from(m.losses);
    const norms = Float32Array.from(m.norms);
    m.losses.length = 0;
    m.norms.length = 0;
    const msg = {
      type: "progress",
      step: m.step,
      losses,
      norms,
      firstLoss: m.firstLoss,
      stepsPerSec: m.rate.perSec,
      accuracy: this.trainAccuracy(),
      health: this.health(),
    };
    const transfer = [losses.buffer, norms.buffer];
    if (withEval) {
      const e = this.evaluate();
      Object.assign(msg, e.msg);
      transfer.push(...e.transfer);
    }
    this.post(msg, transfer);
  }

  /** Accuracy on the training set, from the logits of the last forward pass. */
  trainAccuracy() {
    const m = this.model;
    m.g.forward();
    m.net.logits.value.readInto(m.logits);
    if (m.plane) return argmaxAccuracy(m.logits, m.data.label, m.data.classes);
    return binaryCounts(m.logits, m.data.train.y).accuracy;
  }

  /**
   * The gradient-health summary of `g.stats()`: per layer its last gradient norm and
   * update/weight ratio, per hidden activation the share of values (and of units) in its flat
   * region over the training set, as the last forward pass left them.
   */
  health() {
    const m = this.model;
    const st = m.g.stats();
    const byName = new Map(st.params.map((p) => [p.name, p]));
    return {
      runs: st.runs,
      gradNorm: st.gradNorm,
      layers: m.layers.map(({ name }) => {
        const p = byName.get(name);
        return { name, gradNorm: p.gradNorm, updateRatio: p.updateRatio };
      }),
      flat: st.activations.map((a, i) => ({
        layer: i + 1,
        activation: a.activation,
        region: a.region,
        flatShare: a.flatShare,
        flatUnits: a.flatUnits,
        units: a.units,
      })),
    };
  }

  /** The evaluation graph with the current params: class probabilities on the grid, or p(location) per held-out word. */
  evaluate() {
    const m = this.model;
    const ev = m.evalGraph;
    for (const p of ev.net.params) p.value = m.net.byName.get(p.name).value; // a copy in linear memory
    ev.g.forward();
    ev.net.logits.value.readInto(ev.out);
    if (m.plane) {
      const probs = softmaxRows(ev.out, m.data.classes);
      return { msg: { boundary: probs }, transfer: [probs.buffer] };
    }
    const probs = ev.out.map((s) => 1 / (1 + Math.exp(-s)));
    const counts = binaryCounts(ev.out, m.data.test.y);
    return { msg: { heldOut: { probs, where: m.data.test.where, ...counts } }, transfer: [probs.buffer] };
  }

  // ---------------------------------------------------------------- why slopes matter

  /**
   * Runs the "why slopes matter" preset of demo/slopes.js: the same deep net with step,
   * sigmoid, tanh, ReLU and GeLU, trained side by side on the same batches, a window of steps
   * at a time in time slices; posts what it recorded a few times a second, then "lesson-done".
   * Training of the main net pauses meanwhile.
   */
  async startLesson() {
    const sg = this.requireRuntime();
    const wasRunning = this.running;
    this.stop();
    if (wasRunning) this.post({ type: "training", running: false });
    this.disposeLesson();
    const run = createSlopes(sg);
    const lesson = { run };
    this.lesson = lesson;
    const o = run.options;
    this.post({
      type: "lesson-start",
      activations: [...o.activations],
      layers: [...run.layers],
      steps: o.steps,
      depth: o.depth,
      width: o.width,
      batch: o.batch,
      threads: sg.features.threads,
    });
    const t0 = now();
    const report = (done) => this.post({ type: done ? "lesson-done" : "lesson-progress", result: run.result(), seconds: (now() - t0) / 1000 });
    const loop = async () => {
      let lastReport = now();
      while (this.lesson === lesson && run.stepsDone < o.steps) {
        const t = now();
        do run.step(o.every);
        while (now() - t < 20 && run.stepsDone < o.steps);
        if (now() - lastReport > 150 && run.stepsDone < o.steps) {
          lastReport = now();
          report(false);
        }
        await yieldToEvents();
      }
      if (this.lesson !== lesson) return; // stopped (the page was told) or replaced
      report(true);
      this.disposeLesson();
    };
    loop().catch((e) => {
      if (this.lesson === lesson) this.disposeLesson();
      this.post({ type: "error", request: "lesson", message: e instanceof Error ? e.message : String(e) });
    });
  }

  // ---------------------------------------------------------------- measuring

  /** GFLOPS of sg.matmul on 256×256 (A·B) after a warm-up. */
  async gflopsMeter() {
    const sg = this.requireRuntime();
    const wasRunning = this.running;
    this.stop();
    if (wasRunning) await yieldToEvents();
    const gflops = this.gemmRate(sg, 256, false, false, 100, 3, 100);
    this.post({ type: "gflops", n: 256, gflops });
    if (wasRunning) await this.startTraining();
  }

  /** Median GFLOPS of C = op(A)·op(B), n×n, over `reps` timed runs of at least `ms` each. */
  gemmRate(sg, n, transposeA, transposeB, warmMs, reps, ms) {
    const a = sg.randn([n, n], { seed: 1 });
    const b = sg.randn([n, n], { seed: 2 });
    const c = sg.zeros([n, n]);
    const opts = { transposeA, transposeB, out: c };
    try {
      const run = (minMs) => {
        let calls = 0;
        const t0 = now();
        let t = t0;
        do {
          sg.matmul(a, b, opts);
          calls++;
          t = now();
        } while (t - t0 < minMs || calls < 2);
        return (2 * n * n * n * calls) / ((t - t0) * 1e6);
      };
      run(warmMs);
      const rates = [];
      for (let r = 0; r < reps; r++) rates.push(run(ms));
      return median(rates);
    } finally {
      for (const t of [a, b, c]) t.dispose();
    }
  }

  /** Milliseconds per training step of 784 → 256 ReLU → 10 at batch 64 (softmax cross-entropy, SGD). */
  trainStepMs(sg, reps, ms) {
    const g = sg.graph();
    const batch = 64;
    const x = g.input([batch, 784], "x");
    const y = g.input([batch, 10], "y");
    const W1 = g.param([784, 256], { init: "he", seed: 1, name: "W1" });
    const b1 = g.param([256], { name: "b1" });
    const W2 = g.param([256, 10], { init: "xavier", seed: 2, name: "W2" });
    const b2 = g.param([10], { name: "b2" });
    const loss = g.softmaxCrossEntropy(g.linear(g.linear(x, W1, b1, "relu"), W2, b2), y);
    const u = Float32Array.from({ length: batch * 784 }, (_, i) => ((i * 7919) % 1000) / 1000);
    const labels = new Int32Array(batch).map((_, i) => (i * 3) % 10);
    const opt = sg.sgd(g.params, { lr: 0.01 });
    try {
      g.forward({ x: u, y: oneHot(labels, 10) });
      const step = () => {
        opt.zeroGrad();
        g.forward();
        g.backward(loss);
        opt.step();
      };
      const run = (minMs) => {
        let steps = 0;
        const t0 = now();
        let t = t0;
        do {
          step();
          steps++;
          t = now();
        } while (t - t0 < minMs || steps < 2);
        return (t - t0) / steps;
      };
      run(150);
      const times = [];
      for (let r = 0; r < reps; r++) times.push(run(ms));
      return median(times);
    } finally {
      opt.dispose();
      g.dispose();
    }
  }

  /** The in-browser benchmark: headline rows, posted one by one as they finish. */
  async benchmark() {
    const sg = this.requireRuntime();
    const wasRunning = this.running;
    this.stop();
    if (wasRunning) await yieldToEvents();
    const reps = 5;
    const ms = 150;
    this.post({ type: "bench-start", build: sg.features.build });
    const rows = [];
    const emit = (row) => {
      rows.push(row);
      this.post({ type: "bench-row", row });
    };
    for (const n of [256, 512]) {
      for (const [label, ta, tb] of [["A·B", false, false], ["Aᵀ·B", true, false], ["A·Bᵀ", false, true]]) {
        const gflops = this.gemmRate(sg, n, ta, tb, 200, reps, ms);
        emit({ name: `matmul ${label}`, size: `${n}×${n}×${n}`, value: gflops, unit: "GFLOPS" });
        await yieldToEvents();
      }
    }
    // The same A·B product as a plain JavaScript loop, for scale.
    const jsGflops = plainJsGemm(256, 3);
    const ours = rows.find((r) => r.name === "matmul A·B" && r.size.startsWith("256"));
    emit({ name: "plain JS loop A·B", size: "256×256×256", value: jsGflops, unit: "GFLOPS", note: `simdgrad is ${(ours.value / jsGflops).toFixed(1)}× faster` });
    await yieldToEvents();
    const stepMs = this.trainStepMs(sg, reps, ms);
    emit({ name: "training step 784→256 ReLU→10", size: "batch 64", value: stepMs, unit: "ms/step", note: "forward + backward + SGD" });
    this.post({ type: "bench-done", rows });
    if (wasRunning) await this.startTraining();
  }
}

// ------------------------------------------------------------------ small helpers

function oneHot(labels, classes) {
  const out = new Float32Array(labels.length * classes);
  labels.forEach((c, i) => (out[i * classes + c] = 1));
  return out;
}

/** Every point of a GRID × GRID lattice over bounds, row by row from the top. */
function gridPoints({ min, max }) {
  const xs = new Float32Array(GRID * GRID * 2);
  for (let r = 0; r < GRID; r++) {
    for (let c = 0; c < GRID; c++) {
      const k = r * GRID + c;
      xs[2 * k] = min + ((c + 0.5) / GRID) * (max - min);
      xs[2 * k + 1] = max - ((r + 0.5) / GRID) * (max - min);
    }
  }
  return xs;
}

function softmaxRows(logits, classes) {
  const out = new Float32Array(logits.length);
  for (let i = 0; i < logits.length; i += classes) {
    let mx = -Infinity;
    for (let c = 0; c < classes; c++) mx = Math.max(mx, logits[i + c]);
    let s = 0;
    for (let c = 0; c < classes; c++) s += out[i + c] = Math.exp(logits[i + c] - mx);
    for (let c = 0; c < classes; c++) out[i + c] /= s;
  }
  return out;
}

function argmaxAccuracy(logits, labels, classes) {
  let right = 0;
  for (let i = 0; i < labels.length; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (logits[i * classes + c] > logits[i * classes + best]) best = c;
    if (best === labels[i]) right++;
  }
  return labels.length ? right / labels.length : 0;
}

/** Accuracy, precision, recall and F1 of scores s > 0 against 0/1 targets. */
function binaryCounts(scores, targets) {
  let tp = 0, fp = 0, fn = 0, tn = 0;
  for (let i = 0; i < targets.length; i++) {
    const p = scores[i] > 0;
    const t = targets[i] > 0.5;
    if (p && t) tp++;
    else if (p) fp++;
    else if (t) fn++;
    else tn++;
  }
  const precision = tp + fp ? tp / (tp + fp) : 0;
  const recall = tp + fn ? tp / (tp + fn) : 0;
  const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
  return { accuracy: targets.length ? (tp + tn) / targets.length : 0, precision, recall, f1 };
}

/** The weight matrices of a net built by buildNet, one per layer: { name, index in params }. */
function weightLayers(params) {
  return params.map((p, index) => ({ name: p.name, index })).filter((l) => /^W/.test(l.name));
}

function paramCount(params) {
  return params.reduce((s, p) => s + p.size, 0);
}

/** GFLOPS of a plain JavaScript i-k-j loop computing C = A·B, n×n (median of `reps`). */
function plainJsGemm(n, reps) {
  const a = new Float32Array(n * n).map((_, i) => ((i * 31) % 17) / 17 - 0.5);
  const b = new Float32Array(n * n).map((_, i) => ((i * 13) % 19) / 19 - 0.5);
  const c = new Float32Array(n * n);
  const rates = [];
  for (let r = 0; r <= reps; r++) {
    const t0 = now();
    c.fill(0);
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < n; k++) {
        const aik = a[i * n + k];
        const row = k * n;
        const out = i * n;
        for (let j = 0; j < n; j++) c[out + j] += aik * b[row + j];
      }
    }
    const t = now() - t0;
    if (r > 0) rates.push((2 * n * n * n) / (t * 1e6)); // the first run is the warm-up
  }
  return median(rates);
}
