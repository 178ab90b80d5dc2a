/**
 * A character-level transformer on real text (the Brown corpus, see demo/data/brown-chars.js):
 * token and learned position embeddings, 2 pre-norm blocks (d_model 64, 4 heads of 16,
 * causal fused attention, GeLU MLP of 256), a final layer norm and a linear head over the
 * alphabet; cross-entropy on next-character prediction at every position of a 64-character
 * window. AdamW (decay on matrices only), gradient clipping by global norm, linear warm-up
 * then cosine decay of the learning rate.
 *
 * Used by `npm run demo` (demo/train.js) and by test/char-model.test.ts. Only the public
 * API of simdgrad is used.
 */
import { nn, warmupCosine } from "../dist/index.js";

export const DEFAULTS = { layers: 2, dModel: 64, heads: 4, context: 64, hidden: 256, batch: 16 };

/** A small seeded generator (xorshift32) → numbers in [0, 1). */
export function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

/**
 * Builds the model on graph g for batch B and context T: inputs ids [B, T] and pos [B, T]
 * (0 … T−1), labels [B·T]; returns the nodes. Params are named (tok.weight, block0.attn.q.weight, …).
 */
export function buildCharModel(g, vocab, cfg, B) {
  const T = cfg.context;
  const ids = g.input([B, T], "ids");
  const pos = g.input([B, T], "pos");
  let h = g.add(nn.embedding(g, ids, vocab, cfg.dModel, { name: "tok" }), nn.embedding(g, pos, T, cfg.dModel, { name: "pos" }));
  for (let l = 0; l < cfg.layers; l++) h = nn.block(g, h, { name: `block${l}`, heads: cfg.heads, hidden: cfg.hidden, causal: true });
  const logits3 = nn.linear(g, nn.layerNorm(g, h, { name: "lnf" }), vocab, { name: "head" });
  const logits = g.reshape(logits3, [B * T, vocab]);
  const labels = g.input([B * T], "labels");
  const loss = g.crossEntropy(logits, labels);
  return { ids, pos, labels, logits, loss };
}

/** Fills ids/labels [B·T] with windows of `text` starting at the given offsets. */
function fillWindows(text, starts, T, ids, labels) {
  for (let b = 0; b < starts.length; b++) {
    const s = starts[b];
    for (let t = 0; t < T; t++) {
      ids[b * T + t] = text[s + t];
      labels[b * T + t] = text[s + t + 1];
    }
  }
}

/** Cross-entropy (bits per character) of held-out text under the training text's character frequencies. */
export function unigramBits(train, heldOut, vocab) {
  const c = new Float64Array(vocab).fill(1); // add-one smoothing
  for (const x of train) c[x]++;
  const total = c.reduce((a, b) => a + b, 0);
  let bits = 0;
  for (const x of heldOut) bits -= Math.log2(c[x] / total);
  return bits / heldOut.length;
}

/**
 * Trains the model. opts: steps, lr, warmup, seed, evalBatches, log (a function of a line),
 * cfg (overrides DEFAULTS). Returns { trainBits, heldOutBits, unigram, msPerStep, tokensPerSecond,
 * graph, model, sampleText(prompt, n, temperature, seed) }.
 */
export function trainCharModel(sg, data, opts = {}) {
  const cfg = { ...DEFAULTS, ...(opts.cfg ?? {}) };
  const { batch: B, context: T } = cfg;
  const steps = opts.steps ?? 300;
  const log = opts.log ?? (() => {});
  const g = sg.graph();
  const model = buildCharModel(g, data.vocab, cfg, B);
  const opt = sg.adamw(g.params, { lr: opts.lr ?? 3e-3, weightDecay: 0.1, beta2: 0.99 });
  const lrAt = warmupCosine({ lr: opts.lr ?? 3e-3, warmup: Math.min(opts.warmup ?? 30, steps), total: steps, minLr: (opts.lr ?? 3e-3) / 10 });
  const ids = new Float32Array(B * T);
  const labels = new Float32Array(B * T);
  const pos = new Float32Array(B * T);
  for (let i = 0; i < B * T; i++) pos[i] = i % T;
  const random = rng(opts.seed ?? 1);
  const starts = new Array(B);
  const pick = (text) => {
    for (let b = 0; b < B; b++) starts[b] = Math.floor(random() * (text.length - T - 1));
    fillWindows(text, starts, T, ids, labels);
  };
  // Held-out windows: fixed, evenly spread.
  const evalBatches = opts.evalBatches ?? 8;
  const heldBits = () => {
    let sum = 0;
    const span = data.heldOut.length - T - 1;
    for (let e = 0; e < evalBatches; e++) {
      for (let b = 0; b < B; b++) starts[b] = Math.floor(((e * B + b) * span) / (evalBatches * B));
      fillWindows(data.heldOut, starts, T, ids, labels);
      g.forward({ ids, pos, labels }, { outputs: [model.loss] });
      sum += model.loss.value.toArray()[0];
    }
    return sum / evalBatches / Math.LN2;
  };
  g.train?.(true);
  let recent = 0;
  let recentN = 0;
  const t0 = performance.now();
  for (let step = 0; step < steps; step++) {
    pick(data.train);
    opt.lr = lrAt(step);
    opt.zeroGrad();
    g.forward({ ids, pos, labels });
    g.backward(model.loss);
    sg.clipGradNorm(g.params, 1.0);
    opt.step();
    recent += model.loss.value.toArray()[0];
    recentN++;
    if (opts.logEvery && (step + 1) % opts.logEvery === 0) {
      log(`  step ${String(step + 1).padStart(4)}: train ${(recent / recentN / Math.LN2).toFixed(3)} bits/char, lr ${opt.lr.toExponential(1)}`);
      recent = 0;
      recentN = 0;
    }
  }
  const ms = performance.now() - t0;
  const trainBits = recentN > 0 ? recent / recentN / Math.LN2 : NaN;
  const heldOutBits = heldBits();
  opt.dispose();

  // Sampling: a graph for one sequence, sharing the trained weights by name. The context
  // grows from the prompt; the model reads the last T characters, padded at the end (causal
  // attention: position t sees only positions ≤ t, so the padding never matters).
  const sampleText = (prompt, n, temperature, seed) => {
    const gs = sg.graph();
    const m1 = buildCharModel(gs, data.vocab, cfg, 1);
    gs.loadParams(g.saveParams());
    const r = rng(seed);
    const ctx = Array.from(prompt);
    const sid = new Float32Array(T);
    const spos = new Float32Array(T);
    for (let t = 0; t < T; t++) spos[t] = t;
    const row = new Float32Array(data.vocab);
    const out = [];
    for (let i = 0; i < n; i++) {
      const win = ctx.slice(-T);
      sid.fill(0);
      win.forEach((c, t) => (sid[t] = c));
      gs.forward({ ids: sid, pos: spos, labels: new Float32Array(T) }, { outputs: [m1.logits] });
      const all = m1.logits.value.data;
      row.set(all.subarray((win.length - 1) * data.vocab, win.length * data.vocab));
      const next = nn.sample(row, temperature, r);
      ctx.push(next);
      out.push(next);
    }
    gs.dispose();
    return out;
  };
  return {
    trainBits,
    heldOutBits,
    unigram: unigramBits(data.train, data.heldOut, data.vocab),
    msPerStep: ms / steps,
    tokensPerSecond: (steps * B * T) / (ms / 1e3),
    graph: g,
    model,
    sampleText,
  };
}
