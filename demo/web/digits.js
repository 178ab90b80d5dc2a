// The digits page: the demo's LeNet-style CNN (demo/digits.js) learns real MNIST digits in a
// module worker (digits-trainer.js; on this page itself with ?noworker), while this page
// draws the loss and the first layer's filters as it learns, and asks the trainer for the
// class probabilities of what a person draws on the pad as they draw.
import { PIXELS, SIDE } from "../data/digits-core.js";
import { offerDownload } from "./download.js";

const $ = (id) => document.getElementById(id);
const status = (text, state) => {
  $("status").textContent = text;
  $("status").dataset.state = state;
};

let steps = 0;
let running = false;
const losses = [];
let send = () => {};

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

/** The first layer's 8 filters [5, 5, 1, 8], red positive and blue negative. */
function drawFilters(f) {
  const c = $("filters");
  const ctx = c.getContext("2d");
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

/** Shows what the net sees, then asks the trainer for its probabilities (one request at a time). */
let asked = 0; // id of the last request sent
let waiting = false; // a request is in flight
let again = false; // the pad changed while it was
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
  if (!px) {
    asked++; // an answer still on its way is for an older drawing
    showProbs(null);
    return;
  }
  if (waiting) {
    again = true;
    probs.dataset.state = "pending";
    return;
  }
  waiting = true;
  again = false;
  probs.dataset.state = "pending";
  send({ type: "classify", id: ++asked, pixels: px });
}

function showProbs(p) {
  const rows = probs.querySelectorAll("tr");
  probs.dataset.state = "current";
  if (!p) {
    rows.forEach((tr) => {
      tr.className = "";
      tr.querySelector(".bar").style.width = "0%";
      const cell = tr.querySelector(".p");
      cell.textContent = "—";
      cell.dataset.p = "";
    });
    return;
  }
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
  send({ type: "train" });
});
$("stop").addEventListener("click", () => {
  running = false;
  $("train").disabled = false;
  $("stop").disabled = true;
  // The held-out accuracy of the net as it stops arrives with the trainer's answer.
  $("accuracy").dataset.value = "";
  status("pausing…", "busy");
  send({ type: "stop" });
});

// ------------------------------------------------------------------ model files

const modelStatus = (text, state) => {
  $("model-status").textContent = text;
  $("model-status").dataset.state = state;
};


// The trained params by name (f1, c1, f2, c2, W1, b1, W2, b2), channels last as trained; and
// the CNN for inference as ONNX: input "x" [any, 28, 28, 1] (grey levels in [0, 1]), output the
// logits [any, 10].
$("download-st").addEventListener("click", () => send({ type: "save", format: "safetensors" }));
$("download-onnx").addEventListener("click", () => send({ type: "save", format: "onnx" }));

// ------------------------------------------------------------------ the trainer

function onMessage(msg) {
  switch (msg.type) {
    case "ready":
      drawFilters(msg.filters);
      clearPad();
      $("train").disabled = false;
      $("download-st").disabled = false;
      $("download-onnx").disabled = false;
      status(`ready: ${msg.trainN} training digits, ${msg.testN} held out`, "ready");
      return;
    case "progress":
      steps = msg.steps;
      losses.push(...msg.losses);
      $("steps").textContent = String(steps);
      $("steps").dataset.value = String(steps);
      $("loss").textContent = losses[losses.length - 1].toFixed(3);
      $("speed").textContent = `${msg.rate.toFixed(0)} steps/s`;
      drawLoss();
      drawFilters(msg.filters);
      classifyPad(); // the net changed: read the pad again
      return;
    case "accuracy":
      if (msg.steps < steps) return;
      steps = msg.steps;
      $("steps").textContent = String(steps);
      $("steps").dataset.value = String(steps);
      $("accuracy").textContent = `${(100 * msg.accuracy).toFixed(1)}% (of 1,000)`;
      $("accuracy").dataset.value = String(msg.accuracy);
      if (!running) status("paused", "ready");
      return;
    case "probs":
      waiting = false;
      if (msg.id === asked) showProbs(msg.probs);
      if (again) classifyPad();
      return;
    case "file":
      modelStatus(offerDownload(msg.name, msg.bytes), "downloaded");
      return;
    case "error":
      if (msg.request === "classify") waiting = false;
      if (msg.request === "save") modelStatus(msg.message, "error");
      else {
        status(`error: ${msg.message}`, "error");
        console.error(`simdgrad digits (${msg.request}): ${msg.message}`);
      }
      return;
  }
}

async function startTrainer() {
  const inPage = new URLSearchParams(location.search).has("noworker");
  if (!inPage) {
    try {
      const w = new Worker(new URL("./digits-worker.js", import.meta.url), { type: "module" });
      w.onmessage = (e) => onMessage(e.data);
      w.onerror = (e) => {
        status(`error: the trainer's worker failed (${e.message ?? "unknown"})`, "error");
        console.error(`simdgrad digits (worker): ${e.message ?? "failed"}`);
      };
      send = (m) => w.postMessage(m);
      $("status").dataset.where = "worker";
      return;
    } catch {
      // fall through: train on this page
    }
  }
  const { startDigitsTrainer } = await import("./digits-trainer.js");
  // Replies are delivered as events would be, after the current task.
  const handle = await startDigitsTrainer((m) => setTimeout(() => onMessage(m), 0));
  send = (m) => setTimeout(() => handle(m), 0);
  $("status").dataset.where = "page";
}

status("loading digits…", "loading");
startTrainer().catch((e) => {
  status(`error: ${e.message}`, "error");
  console.error(`simdgrad digits: ${e.message}`);
});
