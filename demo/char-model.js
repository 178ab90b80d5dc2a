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

/**
 * A small seeded generator (xorshift32) → numbers in [0, 1). The seed is mixed first (a
 * multiply-xorshift hash), so small seeds such as 1, 2, 3 give unrelated streams from their
 * first number on (raw xorshift from a small state starts with tiny numbers).
 */
export function rng(seed) {
  let s = Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b);
  s ^= s >>> 13;
  s = Math.imul(s, 0xc2b2ae35);
  s ^= s >>> 16;
  s = s >>> 0 || 1;
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
 *
 * With `{ growing: true }` the context is the -1 input dimension: ids and pos are [B, -1],
 * set by each feed to any length from 1 to cfg.context (the positional table's size), and
 * the graph has no labels and no loss (it reads text, it does not train): logits [B·T, vocab].
 */
export function buildCharModel(g, vocab, cfg, B, opts = {}) {
  const growing = opts.growing === true;
  const T = growing ? -1 : cfg.context;
  const ids = g.input([B, T], "ids");
  const pos = g.input([B, T], "pos");
  let h = g.add(nn.embedding(g, ids, vocab, cfg.dModel, { name: "tok" }), nn.embedding(g, pos, cfg.context, cfg.dModel, { name: "pos" }));
  for (let l = 0; l < cfg.layers; l++) h = nn.block(g, h, { name: `block${l}`, heads: cfg.heads, hidden: cfg.hidden, causal: true });
  const logits3 = nn.linear(g, nn.layerNorm(g, h, { name: "lnf" }), vocab, { name: "head" });
  const logits = g.reshape(logits3, [-1, vocab]);
  if (growing) return { ids, pos, labels: null, logits, loss: null };
  const labels = g.input([B * T], "labels");
  const loss = g.crossEntropy(logits, labels);
  return { ids, pos, labels, logits, loss };
}

/**
 * A reader of one sequence on a growing context, for sampling and for looking inside: a graph
 * of batch 1 whose context is the -1 input dimension (each run is planned for the length it is
 * fed, up to cfg.context; one set of params is shared by every plan). The first run compiles
 * the graph for the longest context, and the graph keeps a plan per length: every shorter plan lies in that
 * plan's memory, so a growing context plans each length once, allocates nothing after that,
 * and holds one length's buffers, not one per length. (`opts.fresh: true`, for comparisons
 * only: plan as a graph with its defaults does, a few plans kept, each in memory of its own.)
 * `load(graph)` copies the trained values of another graph of the same model in by name.
 *
 *   logitsAfter(ids)        the next-character logits after ids (the last cfg.context of them)
 *   sample(prompt, n, temperature, seed)   n ids drawn one at a time, each appended to the
 *                           context (the model reads the last cfg.context ids); reproducible:
 *                           the same seed, prompt and weights give the same ids
 *   sampler(prompt, n, temperature, seed)  the same draws in pieces, for a caller that yields
 *                           between them (the text page): { next(k) draws up to k more ids and
 *                           returns how many it drew, done, ids (the ids drawn so far) }
 *   attentionPattern(ids, layer, head)     the [T, T] attention probabilities of one head for
 *                           ids (T = ids.length ≤ cfg.context), softmax(scale·q·kᵀ + causal
 *                           mask) recomputed with eager ops from the q and k the graph ran
 *                           with (the fused op stores no [T, T] matrix); rows sum to 1
 */
export function createReader(sg, vocab, cfg, opts = {}) {
  cfg = { ...DEFAULTS, ...cfg };
  const T = cfg.context;
  const fresh = opts.fresh === true;
  const g = fresh ? sg.graph() : sg.graph({ maxPlans: opts.maxPlans ?? T });
  if (fresh) g._sharePlanMemory = false;
  const model = buildCharModel(g, vocab, cfg, 1, { growing: true });
  // The fused attention nodes, one per block in order; their inputs are q, k, v [1, T, heads·dh].
  const attn = g.order([model.logits]).filter((n) => n.opName === "attention");
  const dh = cfg.dModel / cfg.heads;
  const posBuf = new Float32Array(T);
  for (let t = 0; t < T; t++) posBuf[t] = t;
  const row = new Float32Array(vocab);

  const checkIds = (ids, what) => {
    if (!ids || typeof ids.length !== "number") throw new TypeError(`char model: ${what} must be an array of character ids`);
    if (ids.length === 0) throw new RangeError(`char model: ${what} is empty; give at least one character`);
    for (let i = 0; i < ids.length; i++) {
      const c = ids[i];
      if (!Number.isInteger(c) || c < 0 || c >= vocab) throw new RangeError(`char model: ${what} holds ${String(c)} at ${i}, not a character id in [0, ${vocab})`);
    }
  };
  // The first run plans the longest context first: every shorter length is planned in its memory.
  let compiled = fresh;
  const run = (ids, outputs) => {
    if (!compiled) {
      g.compile({ ids: [1, T], pos: [1, T] });
      compiled = true;
    }
    g.forward({ ids, pos: posBuf.subarray(0, ids.length) }, { outputs });
  };
  // The logits [len, vocab] are read into one buffer of the largest size; the last row is copied out.
  const all = new Float32Array(T * vocab);
  const lastRow = (len) => {
    model.logits.value.readInto(all.subarray(0, len * vocab));
    row.set(all.subarray((len - 1) * vocab, len * vocab));
    return row;
  };
  const logitsAfter = (ids) => {
    checkIds(ids, "the context");
    const win = ids.length > T ? Array.prototype.slice.call(ids, ids.length - T) : ids;
    run(win, [model.logits]);
    return lastRow(win.length).slice();
  };
  return {
    graph: g,
    model,
    load(from) {
      for (const p of g.params) {
        const src = from.node(p.name);
        if (!src) throw new Error(`char model: the trained graph has no param '${p.name}'`);
        p.value = src.value;
      }
    },
    logitsAfter,
    sample(prompt, n, temperature, seed) {
      const s = this.sampler(prompt, n, temperature, seed);
      s.next(n);
      return s.ids;
    },
    sampler(prompt, n, temperature, seed) {
      checkIds(prompt, "the prompt");
      const r = rng(seed);
      const ctx = Array.from(prompt);
      const out = [];
      return {
        ids: out,
        get done() {
          return out.length >= n;
        },
        next(k) {
          let drawn = 0;
          for (; drawn < k && out.length < n; drawn++) {
            const win = ctx.length > T ? ctx.slice(ctx.length - T) : ctx;
            run(win, [model.logits]);
            lastRow(win.length);
            const next = nn.sample(row, temperature, r);
            ctx.push(next);
            out.push(next);
          }
          return drawn;
        },
      };
    },
    attentionPattern(ids, layer, head) {
      checkIds(ids, "the text");
      if (ids.length > T) throw new RangeError(`char model: the text is ${ids.length} characters long; the model reads at most ${T}`);
      if (!Number.isInteger(layer) || layer < 0 || layer >= attn.length) throw new RangeError(`char model: layer must be 0 … ${attn.length - 1}, got ${String(layer)}`);
      if (!Number.isInteger(head) || head < 0 || head >= cfg.heads) throw new RangeError(`char model: head must be 0 … ${cfg.heads - 1}, got ${String(head)}`);
      run(ids, [attn[layer]]);
      const L = ids.length;
      const [qn, kn] = attn[layer].inputs;
      const temps = [];
      const keep = (t) => (temps.push(t), t);
      try {
        const q = keep(sg.reshape(keep(sg.slice(qn.value, [0, 0, head * dh], [1, L, dh])), [L, dh]));
        const k = keep(sg.reshape(keep(sg.slice(kn.value, [0, 0, head * dh], [1, L, dh])), [L, dh]));
        const mask = keep(sg.tensor([L, L]));
        const m = new Float32Array(L * L);
        for (let i = 0; i < L; i++) for (let j = i + 1; j < L; j++) m[i * L + j] = -Infinity;
        mask.set(m);
        const scores = keep(sg.add(keep(sg.scale(keep(sg.matmul(q, k, { transposeB: true })), 1 / Math.sqrt(dh))), mask));
        return keep(sg.softmax(scores)).toArray();
      } finally {
        for (const t of temps) t.dispose();
      }
    },
    dispose() {
      g.dispose();
    },
  };
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
 * The training loop's parts, for a caller that steps it at its own pace (the text page trains
 * in time slices). opts: lr (peak, default 3e-3), warmup (default 30 steps), total (steps of
 * the cosine decay, after which the rate stays at lr/10; default 300), seed (the batches'
 * draws), evalBatches (held-out batches, default 8), cfg (overrides DEFAULTS).
 * Returns { cfg, graph, model, optimizer, step() → the batch's loss in nats, heldOutBits(),
 * heldOutBatch(e) → held-out batch e's loss in nats (e < evalBatches; heldOutBits is their mean
 * in bits, for a caller that evaluates in pieces), evalBatches, steps (taken so far), lr (of
 * the last step), dispose() }.
 */
export function createTrainer(sg, data, opts = {}) {
  const cfg = { ...DEFAULTS, ...(opts.cfg ?? {}) };
  const { batch: B, context: T } = cfg;
  const total = opts.total ?? 300;
  const lr = opts.lr ?? 3e-3;
  const g = sg.graph();
  const model = buildCharModel(g, data.vocab, cfg, B);
  const opt = sg.adamw(g.params, { lr, weightDecay: 0.1, beta2: 0.99 });
  const lrAt = warmupCosine({ lr, warmup: Math.min(opts.warmup ?? 30, total), total, minLr: lr / 10 });
  const ids = new Float32Array(B * T);
  const labels = new Float32Array(B * T);
  const pos = new Float32Array(B * T);
  for (let i = 0; i < B * T; i++) pos[i] = i % T;
  const random = rng(opts.seed ?? 1);
  const starts = new Array(B);
  const loss1 = new Float32Array(1);
  const pick = (text) => {
    for (let b = 0; b < B; b++) starts[b] = Math.floor(random() * (text.length - T - 1));
    fillWindows(text, starts, T, ids, labels);
  };
  // Held-out windows: fixed, evenly spread; batch e's mean loss in nats.
  const evalBatches = opts.evalBatches ?? 8;
  const heldOutBatch = (e) => {
    const span = data.heldOut.length - T - 1;
    for (let b = 0; b < B; b++) starts[b] = Math.floor(((e * B + b) * span) / (evalBatches * B));
    fillWindows(data.heldOut, starts, T, ids, labels);
    g.forward({ ids, pos, labels }, { outputs: [model.loss] });
    return model.loss.value.readInto(loss1)[0];
  };
  const heldOutBits = () => {
    let sum = 0;
    for (let e = 0; e < evalBatches; e++) sum += heldOutBatch(e);
    return sum / evalBatches / Math.LN2;
  };
  let steps = 0;
  const step = () => {
    pick(data.train);
    opt.lr = lrAt(steps);
    opt.zeroGrad();
    g.forward({ ids, pos, labels });
    g.backward(model.loss);
    sg.clipGradNorm(g.params, 1.0);
    opt.step();
    steps++;
    return model.loss.value.readInto(loss1)[0];
  };
  g.train?.(true);
  return {
    cfg,
    graph: g,
    model,
    optimizer: opt,
    step,
    heldOutBits,
    heldOutBatch,
    evalBatches,
    get steps() {
      return steps;
    },
    get lr() {
      return opt.lr;
    },
    dispose() {
      opt.dispose();
      g.dispose();
    },
  };
}

/**
 * Trains the model. opts: steps, lr, warmup, seed, evalBatches, log (a function of a line),
 * cfg (overrides DEFAULTS). Returns { trainBits, heldOutBits, unigram, msPerStep, tokensPerSecond,
 * graph, model, sampleText(prompt, n, temperature, seed) }.
 */
export function trainCharModel(sg, data, opts = {}) {
  const steps = opts.steps ?? 300;
  const log = opts.log ?? (() => {});
  const tr = createTrainer(sg, data, { ...opts, total: steps });
  const { cfg, graph: g, model } = tr;
  const { batch: B, context: T } = cfg;
  let recent = 0;
  let recentN = 0;
  const t0 = performance.now();
  for (let step = 0; step < steps; step++) {
    recent += tr.step();
    recentN++;
    if (opts.logEvery && (step + 1) % opts.logEvery === 0) {
      log(`  step ${String(step + 1).padStart(4)}: train ${(recent / recentN / Math.LN2).toFixed(3)} bits/char, lr ${tr.lr.toExponential(1)}`);
      recent = 0;
      recentN = 0;
    }
  }
  const ms = performance.now() - t0;
  const trainBits = recentN > 0 ? recent / recentN / Math.LN2 : NaN;
  const heldOutBits = tr.heldOutBits();
  tr.optimizer.dispose();

  // Sampling: a graph for one sequence whose context is the -1 input dimension, given the
  // trained weights by name; the context grows from the prompt, one character per run.
  const sampleText = (prompt, n, temperature, seed) => {
    const reader = createReader(sg, data.vocab, cfg);
    try {
      reader.load(g);
      return reader.sample(prompt, n, temperature, seed);
    } finally {
      reader.dispose();
    }
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
