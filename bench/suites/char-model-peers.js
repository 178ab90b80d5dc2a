// The character-level transformer of demo/char-model.js (2 pre-norm blocks, d_model 64,
// 4 heads, context 64, GeLU MLP 256, a linear head over the alphabet) as one training step
// at batch 16: forward, backward, gradient clipping by global norm (1.0), AdamW (decay 0.1
// on matrices). simdgrad builds it with the demo's own code (nn helpers, fused attention);
// the TensorFlow.js peer builds the same model from tfjs ops, as a tfjs user would without
// tfjs-layers: fused matMul + bias for the linear layers, layer norm from tf.moments,
// attention composed from batched matMul, a causal mask and softmax, exact GeLU through
// tf.erf, token embeddings as one-hot · table (the wasm backend has no gradient for gather:
// UnsortedSegmentSum is not one of its kernels), tf.variableGrads, the global norm clipped
// with tf ops, tf.train.adam plus the decoupled decay. Both start from the same weights and
// train on the same fixed batch of Brown corpus text.
import { buildCharModel, DEFAULTS } from "../../demo/char-model.js";
import { brownChars } from "../../demo/data/brown-chars.js";

export const CHAR_BATCH = 16;
const LR = 3e-3;
const WD = 0.1;
const BETA2 = 0.99;
const CLIP = 1.0;

/** One fixed batch of windows of real text: ids, next-character labels, positions. */
export function charBatch(B = CHAR_BATCH, T = DEFAULTS.context) {
  const data = brownChars({ maxFiles: 4 });
  const ids = new Float32Array(B * T);
  const labels = new Float32Array(B * T);
  const pos = new Float32Array(B * T);
  const span = data.train.length - T - 1;
  for (let b = 0; b < B; b++) {
    const s = Math.floor((b * span) / B);
    for (let t = 0; t < T; t++) {
      ids[b * T + t] = data.train[s + t];
      labels[b * T + t] = data.train[s + t + 1];
      pos[b * T + t] = t;
    }
  }
  return { ids, labels, pos, vocab: data.vocab, B, T };
}

/** simdgrad: the demo's model and training step. Returns { step, loss, params, dispose }. */
export function sgCharStep(sg, batch) {
  const g = sg.graph();
  const model = buildCharModel(g, batch.vocab, DEFAULTS, batch.B);
  const opt = sg.adamw(g.params, { lr: LR, weightDecay: WD, beta2: BETA2 });
  g.forward({ ids: batch.ids, pos: batch.pos, labels: batch.labels });
  const step = () => {
    opt.zeroGrad();
    g.forward();
    g.backward(model.loss);
    sg.clipGradNorm(g.params, CLIP);
    opt.step();
  };
  const loss = () => {
    g.forward();
    return model.loss.value.toArray()[0];
  };
  const params = () => Object.fromEntries(g.params.map((p) => [p.name, { shape: p.shape, data: p.value.toArray() }]));
  return { step, loss, params, dispose: () => (opt.dispose(), g.dispose()) };
}

/** TensorFlow.js: the same model from its ops, starting from `init` (name → { shape, data }). */
export function tfCharStep(tf, batch, init) {
  const { B, T, vocab: V } = batch;
  const { dModel: D, heads: H, layers: L } = DEFAULTS;
  const dh = D / H;
  const P = {};
  for (const [name, p] of Object.entries(init)) P[name] = tf.variable(tf.tensor(p.data, p.shape), true, name);
  const idsHot = tf.cast(tf.oneHot(tf.tensor1d(Array.from(batch.ids), "int32"), V), "float32");
  const labelsHot = tf.cast(tf.oneHot(tf.tensor1d(Array.from(batch.labels), "int32"), V), "float32");
  const posIds = tf.cast(tf.oneHot(tf.tensor1d(Array.from(batch.pos.subarray(0, T)), "int32"), T), "float32");
  const maskData = new Float32Array(T * T);
  for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) maskData[i * T + j] = -1e9;
  const mask = tf.tensor(maskData, [T, T]);
  const linear = (x, name) => tf.fused.matMul({ a: x, b: P[`${name}.weight`], bias: P[`${name}.bias`] });
  const layerNorm = (x, name) => {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5))), P[`${name}.weight`]), P[`${name}.bias`]);
  };
  const gelu = (x) => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
  const heads = (x) => tf.transpose(tf.reshape(x, [B, T, H, dh]), [0, 2, 1, 3]);
  const lossFn = () => {
    let h = tf.add(tf.reshape(tf.matMul(idsHot, P["tok.weight"]), [B, T, D]), tf.matMul(posIds, P["pos.weight"]));
    for (let l = 0; l < L; l++) {
      const n = `block${l}`;
      const a = tf.reshape(layerNorm(h, `${n}.ln1`), [B * T, D]);
      const q = heads(linear(a, `${n}.attn.q`));
      const k = heads(linear(a, `${n}.attn.k`));
      const v = heads(linear(a, `${n}.attn.v`));
      const s = tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(dh)), mask);
      const y = tf.reshape(tf.transpose(tf.matMul(tf.softmax(s), v), [0, 2, 1, 3]), [B * T, D]);
      h = tf.add(h, tf.reshape(linear(y, `${n}.attn.out`), [B, T, D]));
      const m = tf.reshape(layerNorm(h, `${n}.ln2`), [B * T, D]);
      h = tf.add(h, tf.reshape(linear(gelu(linear(m, `${n}.mlp.fc`)), `${n}.mlp.proj`), [B, T, D]));
    }
    const logits = linear(tf.reshape(layerNorm(h, "lnf"), [B * T, D]), "head");
    return tf.losses.softmaxCrossEntropy(labelsHot, logits);
  };
  const vars = Object.values(P);
  const decayed = vars.filter((v) => v.shape.length >= 2);
  const opt = tf.train.adam(LR, 0.9, BETA2, 1e-8);
  const step = () => {
    tf.tidy(() => {
      const { grads } = tf.variableGrads(lossFn, vars);
      const norm = tf.sqrt(tf.addN(vars.map((v) => tf.sum(tf.square(grads[v.name])))));
      const f = tf.minimum(1, tf.div(CLIP, tf.add(norm, 1e-6)));
      for (const v of vars) grads[v.name] = tf.mul(grads[v.name], f);
      // AdamW: the decay is decoupled from the gradient (applied to the weights, not through Adam).
      for (const v of decayed) v.assign(tf.mul(v, 1 - LR * WD));
      opt.applyGradients(grads);
    });
  };
  const loss = () => tf.tidy(() => lossFn().dataSync()[0]);
  const dispose = () => {
    opt.dispose();
    tf.dispose([...vars, idsHot, labelsHot, posIds, mask]);
  };
  return { step, loss, dispose };
}
