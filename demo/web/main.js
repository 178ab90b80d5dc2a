/**
 * The page: reads the controls, talks to the trainer (in a module worker), and draws what
 * it reports: the loss curve, the gradient health, the decision boundary or the held-out
 * sentences, the statistics, the "why slopes matter" comparison and the benchmark table.
 */

import { offerDownload } from "./download.js";
const $ = (id) => document.getElementById(id);

const CLASS_COLORS = [
  [232, 119, 34], // orange
  [47, 111, 219], // blue
  [46, 160, 67], // green
  [163, 73, 164], // purple
];

// ------------------------------------------------------------------ the trainer

/**
 * Starts the trainer in a module worker; where module workers cannot load, runs it on the
 * page instead (`?noworker` asks for that).
 * @returns {{ send(msg: object): void }} the link to the trainer
 */
function startTrainer(onMessage) {
  const link = { send: () => {} };
  const onPage = (why) => {
    state.onPage = true;
    setStatus(`Loading simdgrad on the page (no module worker: ${why})…`);
    import("./trainer.js").then(({ Trainer }) => {
      const trainer = new Trainer((msg) => onMessage(msg));
      link.send = (msg) => trainer.handle(msg);
      link.send(initRequest());
    });
  };
  if (typeof Worker !== "function" || new URLSearchParams(location.search).has("noworker")) {
    onPage("disabled");
    return link;
  }
  const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module", name: "simdgrad-trainer" });
  let started = false;
  worker.onmessage = (e) => {
    started = true;
    onMessage(e.data);
  };
  worker.onerror = (e) => {
    if (started) {
      console.error(`trainer worker: ${e.message}`);
      return;
    }
    e.preventDefault();
    worker.terminate();
    onPage(e.message || "it failed to load");
  };
  link.send = (msg) => worker.postMessage(msg);
  link.send(initRequest());
  return link;
}

/** What the trainer needs to (re)load the runtime: the build, thread count and GEMM tile the controls name. */
function initRequest() {
  return { type: "init", build: $("build").value, threads: Number($("threads").value) || 1, gemmTile: $("tile").value };
}

// ------------------------------------------------------------------ state

const state = {
  send: null,
  ready: false,
  running: false,
  benchRunning: false,
  onPage: false, // true when the trainer runs on the page instead of in a worker
  loading: true, // between asking for a runtime and hearing "ready" (or an error)
  task: null, // what "configured" reported
  losses: null,
  norms: null, // one LossSeries per layer: its weight gradient norm per step
  lesson: null, // the "why slopes matter" comparison, as the trainer reports it
  lessonRunning: false,
};

/** Colours of the activations in the "why slopes matter" charts. */
const LESSON_COLORS = { step: "#7a7f87", sigmoid: "#d1495b", tanh: "#e09b1a", relu: "#2f6fdb", gelu: "#2ea043" };

/** Colours of the layers in the gradient-health chart, first layer first. */
const LAYER_COLORS = ["#d1495b", "#edae49", "#00798c", "#30638e", "#6a4c93", "#8d6a9f"];

// ------------------------------------------------------------------ controls

/** The configuration the controls describe, or throws an Error naming the bad control. */
function readConfig() {
  const text = $("hidden").value.trim();
  const hidden = text === "" ? [] : text.split(/[\s,]+/).filter((s) => s !== "").map(Number);
  if (hidden.length > 4 || hidden.some((w) => !Number.isInteger(w) || w < 1 || w > 512)) {
    throw Object.assign(new Error("Hidden layer sizes: up to 4 whole numbers between 1 and 512, separated by commas."), { control: "hidden" });
  }
  const lr = Number($("lr").value);
  if (!(lr > 0 && lr <= 10)) throw Object.assign(new Error("Learning rate: a number above 0 (and at most 10)."), { control: "lr" });
  const seed = Number($("seed").value);
  if (!Number.isInteger(seed) || seed < 0) throw Object.assign(new Error("Seed: a whole number, 0 or more."), { control: "seed" });
  return { data: $("data").value, hidden, activation: $("activation").value, optimizer: $("optimizer").value, lr, seed };
}

/** Sends the controls' configuration (the trainer rebuilds the net from its seed); false if a control is invalid. */
function configure() {
  for (const id of ["hidden", "lr", "seed"]) $(id).classList.remove("invalid");
  const err = $("config-error");
  let config;
  try {
    config = readConfig();
  } catch (e) {
    err.textContent = e.message;
    err.hidden = false;
    if (e.control) $(e.control).classList.add("invalid");
    return false;
  }
  err.hidden = true;
  state.send({ type: "config", config });
  return true;
}

function updateButtons() {
  const idle = state.ready && !state.benchRunning && !state.lessonRunning;
  $("train").disabled = !idle || state.running;
  $("stop").disabled = !state.running;
  $("reset").disabled = !idle;
  $("gflops-btn").disabled = !idle;
  $("bench-btn").disabled = !idle;
  $("slopes-btn").disabled = !state.ready || state.benchRunning;
  $("slopes-btn").textContent = state.lessonRunning ? "Stop the comparison" : "Run the comparison";
  $("build").disabled = state.loading || state.benchRunning || state.lessonRunning;
  $("threads").disabled = state.loading || state.benchRunning || state.lessonRunning;
  $("tile").disabled = state.loading || state.benchRunning || state.lessonRunning;
  for (const id of ["download-st", "download-onnx", "load-model", "restore"]) $(id).disabled = !idle;
}

/** Fills the threads control with 1 … the number of logical cores; picks `?threads=n`, else every core when threads can work here. */
function setupThreads() {
  const cores = Math.max(1, navigator.hardwareConcurrency || 1);
  const sel = $("threads");
  for (let n = 1; n <= cores; n++) {
    const o = document.createElement("option");
    o.value = String(n);
    o.textContent = n === 1 ? "1 (no workers)" : String(n);
    sel.append(o);
  }
  const asked = Number(new URLSearchParams(location.search).get("threads"));
  const fallback = globalThis.crossOriginIsolated ? Math.min(cores, 8) : 1;
  sel.value = String(Number.isInteger(asked) && asked >= 1 && asked <= cores ? asked : fallback);
}

/** Shows the runtime's warnings (e.g. why it runs on fewer threads than asked), or hides the list. */
function showWarnings(warnings) {
  const list = $("warnings");
  list.replaceChildren(
    ...warnings.map((w) => {
      const li = document.createElement("li");
      li.textContent = w;
      return li;
    }),
  );
  list.hidden = warnings.length === 0;
}

function setStatus(text, isError = false) {
  const s = $("status");
  s.textContent = text;
  s.classList.toggle("error", isError);
}

// ------------------------------------------------------------------ the loss curve

/** Losses per step, averaged in buckets of `stride` steps once there are many. */
class LossSeries {
  constructor(cap = 4096) {
    this.cap = cap;
    this.values = new Float32Array(cap);
    this.length = 0;
    this.stride = 1;
    this.partial = 0;
    this.partialCount = 0;
    this.steps = 0;
  }

  push(v) {
    this.steps++;
    this.partial += v;
    if (++this.partialCount < this.stride) return;
    if (this.length === this.cap) {
      // Full: halve the resolution.
      for (let i = 0; i < this.cap / 2; i++) this.values[i] = (this.values[2 * i] + this.values[2 * i + 1]) / 2;
      this.length = this.cap / 2;
      this.stride *= 2;
      if (this.partialCount < this.stride) return;
    }
    this.values[this.length++] = this.partial / this.partialCount;
    this.partial = 0;
    this.partialCount = 0;
  }
}

function fitCanvas(canvas) {
  const dpr = Math.max(1, Math.min(3, window.devicePixelRatio || 1));
  const w = Math.round(canvas.clientWidth * dpr);
  const h = Math.round(canvas.clientHeight * dpr);
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return { ctx, w: canvas.clientWidth, h: canvas.clientHeight };
}

/**
 * Draws series of positive values on a log scale: `lines` are { series (a LossSeries),
 * color, label, width? }, each stretched over the plot's width, the first drawn first. Returns false (after writing `hint`)
 * when there is nothing to draw yet.
 */
/** Horizontal grid lines and labels at the powers of ten from 10^l0 to 10^l1 that `keep` selects. */
function logGrid(ctx, l0, l1, keep, yOf, pad, pw) {
  ctx.strokeStyle = "#e6e9ee";
  ctx.lineWidth = 1;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (let e = l0; e <= l1; e++) {
    if (!keep(e)) continue;
    const y = Math.round(yOf(10 ** e)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(pad.l, y);
    ctx.lineTo(pad.l + pw, y);
    ctx.stroke();
    ctx.fillText(e >= -3 && e <= 3 ? String(Number((10 ** e).toPrecision(1))) : `1e${e}`, pad.l - 6, y);
  }
}

function drawLogChart(canvas, lines, hint) {
  const { ctx, w, h } = fitCanvas(canvas);
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, w, h);
  const pad = { l: 52, r: 12, t: 12, b: 28 };
  const pw = w - pad.l - pad.r;
  const ph = h - pad.t - pad.b;
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillStyle = "#5d6775";
  const drawn = lines.filter((l) => l.series && l.series.length > 0);
  if (drawn.length === 0) {
    ctx.fillText(hint, pad.l + 10, pad.t + ph / 2);
    return false;
  }
  let lo = Infinity;
  let hi = -Infinity;
  for (const { series: s } of drawn) {
    for (let i = 0; i < s.length; i++) {
      const v = s.values[i];
      if (v > 0 && Number.isFinite(v)) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
    }
  }
  if (!(hi > 0)) {
    ctx.fillText("every value is 0 (nothing to draw on a log scale)", pad.l + 10, pad.t + ph / 2);
    return false;
  }
  lo = Math.max(lo, hi * 1e-9, 1e-30);
  let l0 = Math.floor(Math.log10(lo));
  let l1 = Math.ceil(Math.log10(hi));
  if (l1 - l0 < 1) l1 = l0 + 1;
  const yOf = (v) => pad.t + ph * (1 - (Math.log10(Math.min(Math.max(v, 10 ** l0), 10 ** l1)) - l0) / (l1 - l0));
  // Grid lines and labels at powers of ten (every other one when there are many).
  const every = Math.ceil((l1 - l0) / 8);
  logGrid(ctx, l0, l1, (e) => (e - l0) % every === 0, yOf, pad, pw);
  ctx.textAlign = "left";
  ctx.textBaseline = "alphabetic";
  ctx.fillText("0", pad.l, h - 8);
  ctx.textAlign = "right";
  const steps = Math.max(...drawn.map((l) => l.series.steps));
  ctx.fillText(`step ${steps.toLocaleString("en")}`, pad.l + pw, h - 8);
  // The curves, each over the steps it has.
  for (const { series: s, color, width = 1.5 } of drawn) {
    ctx.strokeStyle = color;
    ctx.lineWidth = width;
    ctx.beginPath();
    const n = s.length;
    const span = steps > 0 ? s.steps / steps : 1;
    for (let i = 0; i < n; i++) {
      const x = pad.l + (n === 1 ? 0 : (i / (n - 1)) * pw * span);
      const y = yOf(s.values[i]);
      if (i === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    }
    ctx.stroke();
  }
  // The legend, top right.
  const labelled = drawn.filter((l) => l.label);
  ctx.textAlign = "left";
  ctx.textBaseline = "middle";
  labelled.forEach((l, i) => {
    const x = pad.l + pw - 86;
    const y = pad.t + 8 + i * 14;
    ctx.fillStyle = "rgba(255, 255, 255, 0.85)";
    ctx.fillRect(x - 4, y - 7, 90, 14);
    ctx.fillStyle = l.color;
    ctx.fillRect(x, y - 1.5, 14, 3);
    ctx.fillStyle = "#1d2430";
    ctx.fillText(l.label, x + 18, y);
  });
  return true;
}

function drawLoss() {
  drawLogChart($("loss"), [{ series: state.losses, color: "#2f6fdb" }], "Press Train to start.");
}

// ------------------------------------------------------------------ gradient health

function drawHealth() {
  const names = state.task?.layers ?? [];
  const lines = names.map((name, i) => ({ series: state.norms?.[i], color: LAYER_COLORS[i % LAYER_COLORS.length], label: `‖∂L/∂${name}‖` }));
  drawLogChart($("health"), lines, "Gradient norms per layer appear while training.");
}

/** The flat-region table: one row per hidden layer with a flat region (values from g.stats()). */
function showFlat(health) {
  const body = $("flat").tBodies[0];
  const rows = health.flat.map((f) => {
    const tr = document.createElement("tr");
    const cells = [
      [String(f.layer)],
      [f.activation],
      [{ dead: "dead (exactly 0)", saturated: "saturated (within 1% of a bound)", clipped: "clipped (at ±1)", step: "flat everywhere" }[f.region] ?? f.region],
      [`${(100 * f.flatShare).toFixed(1)}%`, "num", f.flatShare],
      [`${f.flatUnits} of ${f.units}`, "num", f.flatUnits / Math.max(1, f.units)],
    ];
    for (const [text, cls, value] of cells) {
      const td = document.createElement("td");
      td.textContent = text;
      if (cls) td.className = cls;
      if (value !== undefined) td.dataset.value = String(value);
      tr.append(td);
    }
    return tr;
  });
  if (rows.length === 0) {
    const tr = document.createElement("tr");
    const td = document.createElement("td");
    td.colSpan = 5;
    td.textContent = "This activation has no flat region to count.";
    tr.append(td);
    rows.push(tr);
  }
  body.replaceChildren(...rows);
}

// ------------------------------------------------------------------ why slopes matter

/** The runs of the comparison's latest result, in the order of its activations. */
function lessonRuns() {
  return state.lesson?.result?.runs ?? [];
}

function drawLessonLoss() {
  const steps = state.lesson?.result?.steps ?? 0;
  // Each run's loss curve: means over windows of steps, as demo/slopes.js records them.
  // The step and sigmoid nets both stay at ln 2: step's line is drawn wide underneath, so it
  // shows as a grey band around sigmoid's where they coincide.
  const lines = lessonRuns().map((r) => ({
    series: { values: r.curve.loss, length: r.curve.loss.length, steps },
    color: LESSON_COLORS[r.activation] ?? "#000",
    label: r.activation,
    width: r.activation === "step" ? 6 : r.activation === "sigmoid" ? 2 : 1.5,
  }));
  drawLogChart($("slopes-loss"), lines, "Press “Run the comparison”.");
}

/**
 * Each activation's gradient norm per layer, the median over the steps so far (x: layers,
 * first on the left; y: log scale). A norm of exactly 0 has no place on a log scale: it is
 * drawn as an open circle on a row of its own under the scale, marked "0".
 */
function drawLessonNorms() {
  const { ctx, w, h } = fitCanvas($("slopes-norms"));
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, w, h);
  const pad = { l: 52, r: 80, t: 12, b: 28 };
  const pw = w - pad.l - pad.r;
  const ph = h - pad.t - pad.b;
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillStyle = "#5d6775";
  const l = state.lesson;
  const rows = lessonRuns()
    .map((r) => ({ a: r.activation, norms: r.summary.layerGradNorms }))
    .filter((r) => r.norms.every((v) => Number.isFinite(v)));
  if (rows.length === 0) {
    ctx.fillText("Gradient norms per layer appear while the nets train.", pad.l + 10, pad.t + ph / 2);
    return;
  }
  let lo = Infinity;
  let hi = -Infinity;
  for (const { norms } of rows) {
    for (const v of norms) {
      if (v > 0 && Number.isFinite(v)) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
    }
  }
  if (!(hi > 0)) hi = lo = 1;
  const l0 = Math.floor(Math.log10(lo));
  let l1 = Math.ceil(Math.log10(hi));
  if (l1 - l0 < 2) l1 = l0 + 2;
  // Positive norms on the log scale; zeros on their own row under it.
  const zeroRow = pad.t + ph;
  const yOf = (v) => (v > 0 ? pad.t + (ph - 18) * (1 - (Math.log10(v) - l0) / (l1 - l0)) : zeroRow);
  const layers = l.layers;
  const xOf = (i) => pad.l + (layers.length === 1 ? pw / 2 : (i / (layers.length - 1)) * pw);
  const every = Math.ceil((l1 - l0) / 7);
  logGrid(ctx, l0, l1, (e) => (l1 - e) % every === 0, yOf, pad, pw);
  ctx.textAlign = "center";
  ctx.textBaseline = "alphabetic";
  layers.forEach((name, i) => ctx.fillText(name, xOf(i), h - 6));
  for (const { a, norms } of rows) {
    const color = LESSON_COLORS[a] ?? "#000";
    ctx.strokeStyle = color;
    ctx.fillStyle = color;
    ctx.lineWidth = 2;
    ctx.beginPath();
    norms.forEach((v, i) => (i === 0 ? ctx.moveTo(xOf(i), yOf(v)) : ctx.lineTo(xOf(i), yOf(v))));
    ctx.stroke();
    norms.forEach((v, i) => {
      ctx.beginPath();
      ctx.arc(xOf(i), yOf(v), 3.5, 0, 2 * Math.PI);
      if (v > 0) ctx.fill();
      else {
        ctx.fillStyle = "#fff";
        ctx.fill();
        ctx.stroke();
        ctx.fillStyle = color;
      }
    });
  }
  // The legend, in the right margin.
  ctx.textAlign = "left";
  ctx.textBaseline = "middle";
  rows.forEach(({ a }, i) => {
    const x = pad.l + pw + 18;
    const y = pad.t + 8 + i * 16;
    ctx.fillStyle = LESSON_COLORS[a] ?? "#000";
    ctx.fillRect(x, y - 1.5, 14, 3);
    ctx.fillStyle = "#1d2430";
    ctx.fillText(a, x + 18, y);
  });
  ctx.fillStyle = "#5d6775";
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  ctx.fillText("0", pad.l - 6, zeroRow);
}

function formatNumber(v) {
  if (!Number.isFinite(v)) return v === Infinity ? "∞" : "–";
  if (v === 0) return "0";
  return Math.abs(v) < 1e-3 || Math.abs(v) >= 1e4 ? v.toExponential(2) : v.toPrecision(3);
}

/** A one-line reading of a run's summary, for the table. */
function verdict(s) {
  if (s.startLoss === null) return "";
  if (s.firstLayerGradNorm === 0) return "no slope: no gradient reaches the hidden layers";
  if (s.shrink !== null && s.shrink >= 100) return `vanishing gradient: the first layer gets ${formatNumber(s.shrink)}× less than the last`;
  if (s.endAccuracy >= 0.9) return "learns";
  return "still learning";
}

/** The comparison's table: one row per activation, every number also in a data-value. */
function showLessonTable() {
  const l = state.lesson;
  const runs = new Map(lessonRuns().map((r) => [r.activation, r]));
  const steps = l.result?.steps ?? 0;
  const rows = l.activations.map((a) => {
    const s = runs.get(a)?.summary;
    const has = s && s.startLoss !== null;
    const tr = document.createElement("tr");
    tr.dataset.activation = a;
    const cells = [
      [a, "name"],
      [runs.get(a)?.init ?? "", "init"],
      [String(steps), "steps", steps],
      [has ? formatNumber(s.startLoss) : "–", "first-loss", has ? s.startLoss : undefined],
      [has ? formatNumber(s.endLoss) : "–", "loss", has ? s.endLoss : undefined],
      [has ? `${(100 * s.endAccuracy).toFixed(1)}%` : "–", "accuracy", has ? s.endAccuracy : undefined],
      [has ? formatNumber(s.firstLayerGradNorm) : "–", "first-norm", has ? s.firstLayerGradNorm : undefined],
      [has ? formatNumber(s.lastLayerGradNorm) : "–", "last-norm", has ? s.lastLayerGradNorm : undefined],
      [has ? (s.shrink === null ? "∞ (no gradient)" : `${formatNumber(s.shrink)}×`) : "–", "ratio", has ? (s.shrink ?? Infinity) : undefined],
      [has ? (s.flatShare === null ? "none" : `${(100 * s.flatShare).toFixed(0)}%`) : "–", "flat", has && s.flatShare !== null ? s.flatShare : undefined],
      [has ? verdict(s) : "", "verdict"],
    ];
    for (const [text, field, value] of cells) {
      const td = document.createElement("td");
      td.textContent = text;
      td.dataset.field = field;
      if (value !== undefined) {
        td.className = "num";
        td.dataset.value = String(value);
      }
      if (field === "verdict" && has) td.className = text === "learns" ? "good" : text === "still learning" ? "" : "bad";
      if (field === "name") {
        td.style.color = LESSON_COLORS[a] ?? "";
        td.style.fontWeight = "600";
      }
      tr.append(td);
    }
    return tr;
  });
  $("slopes-table").tBodies[0].replaceChildren(...rows);
}

function onLessonProgress(msg) {
  const l = state.lesson;
  if (!l) return 0;
  l.result = msg.result;
  showLessonTable();
  drawLessonLoss();
  drawLessonNorms();
  $("slopes-status").dataset.steps = String(msg.result.steps);
  return msg.result.steps;
}

// ------------------------------------------------------------------ the decision boundary

const boundaryImage = { canvas: null, grid: 0 };

/** Paints the class probabilities of the grid (GRID² × classes) into an off-screen image. */
function paintBoundary(probs) {
  const t = state.task;
  const G = t.grid;
  const C = t.classes;
  if (!boundaryImage.canvas || boundaryImage.grid !== G) {
    boundaryImage.canvas = document.createElement("canvas");
    boundaryImage.canvas.width = boundaryImage.canvas.height = G;
    boundaryImage.grid = G;
  }
  const octx = boundaryImage.canvas.getContext("2d");
  const img = octx.createImageData(G, G);
  for (let k = 0; k < G * G; k++) {
    let r = 0, g = 0, b = 0, best = 0;
    for (let c = 0; c < C; c++) {
      const p = probs[k * C + c];
      const col = CLASS_COLORS[c % CLASS_COLORS.length];
      r += p * col[0];
      g += p * col[1];
      b += p * col[2];
      best = Math.max(best, p);
    }
    // Confident regions get a stronger tint; undecided ones stay pale.
    const a = 0.2 + 0.45 * ((best - 1 / C) / (1 - 1 / C));
    img.data[4 * k] = 255 + a * (r - 255);
    img.data[4 * k + 1] = 255 + a * (g - 255);
    img.data[4 * k + 2] = 255 + a * (b - 255);
    img.data[4 * k + 3] = 255;
  }
  octx.putImageData(img, 0, 0);
}

function drawBoundary() {
  const { ctx, w, h } = fitCanvas($("boundary"));
  const t = state.task;
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, w, h);
  if (!t || !t.x) return;
  if (boundaryImage.canvas && t.painted) {
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(boundaryImage.canvas, 0, 0, w, h);
  }
  const { min, max } = t.bounds;
  for (let i = 0; i < t.label.length; i++) {
    const px = ((t.x[2 * i] - min) / (max - min)) * w;
    const py = ((max - t.x[2 * i + 1]) / (max - min)) * h;
    const col = CLASS_COLORS[t.label[i] % CLASS_COLORS.length];
    ctx.beginPath();
    ctx.arc(px, py, 3.5, 0, 2 * Math.PI);
    ctx.fillStyle = `rgb(${col[0]}, ${col[1]}, ${col[2]})`;
    ctx.fill();
    ctx.lineWidth = 1;
    ctx.strokeStyle = "#fff";
    ctx.stroke();
  }
}

// ------------------------------------------------------------------ held-out sentences

function drawHeldOut(heldOut) {
  const t = state.task;
  const box = $("heldout");
  const bySentence = new Map();
  heldOut.where.forEach(([si, wi], r) => {
    if (!bySentence.has(si)) bySentence.set(si, []);
    bySentence.get(si)[wi] = heldOut.probs[r];
  });
  box.replaceChildren();
  for (const [si, probs] of bySentence) {
    const s = t.sentences[si];
    const p = document.createElement("p");
    s.words.forEach((word, wi) => {
      const span = document.createElement("span");
      const prob = probs[wi] ?? 0;
      span.textContent = word;
      span.title = `p(location) = ${prob.toFixed(3)}`;
      span.style.background = `rgba(47, 111, 219, ${prob.toFixed(3)})`;
      if (prob > 0.6) span.style.color = "#fff";
      if (s.label[wi]) span.className = "gold";
      p.append(span, " ");
    });
    box.append(p);
  }
}

// ------------------------------------------------------------------ messages from the trainer

function setStat(id, value, text) {
  const el = $(id);
  el.dataset.value = String(value);
  el.textContent = text;
}

function setModelStatus(text, state) {
  const el = $("model-status");
  el.textContent = text;
  el.dataset.state = state;
}

function onMessage(msg) {
  switch (msg.type) {
    case "ready": {
      state.ready = true;
      state.loading = false;
      const label = msg.build === "relaxed" ? "relaxed SIMD" : msg.build === "simd" ? "SIMD128" : msg.build;
      $("build-label").textContent = label;
      $("build-label").dataset.value = msg.build;
      $("threads-label").textContent = String(msg.threads);
      $("threads-label").dataset.value = String(msg.threads);
      $("tile-label").textContent = msg.gemmTile ?? "4x8";
      $("tile-label").dataset.value = msg.gemmTile ?? "4x8";
      // The CPU the browser reports (Chromium-based browsers do; "auto" takes 4 × 16 on arm64).
      $("tile-label").dataset.arch = msg.arch ?? "";
      $("tile-label").title = msg.arch ? `this browser reports an ${msg.arch} CPU` : "this browser does not report its CPU";
      $("isolation").textContent = msg.crossOriginIsolated ? "cross-origin isolated" : "not cross-origin isolated";
      showWarnings(msg.warnings ?? []);
      const threads = msg.threads === 1 ? "1 thread" : `${msg.threads} threads`;
      setStatus(`simdgrad loaded (${label} build, ${state.onPage ? "on the page" : "in a worker"}, ${threads}). Press Train.`);
      configure();
      updateButtons();
      break;
    }
    case "gflops":
      $("gflops").textContent = `${msg.gflops.toFixed(1)} GFLOPS`;
      $("gflops").dataset.value = String(msg.gflops);
      break;
    case "configured": {
      const plane = msg.kind !== "windows";
      state.task = { ...msg, painted: false };
      state.losses = new LossSeries();
      state.norms = msg.layers.map(() => new LossSeries());
      $("flat").tBodies[0].replaceChildren();
      $("boundary-panel").hidden = !plane;
      $("heldout-panel").hidden = plane;
      $("stat-heldout-box").hidden = plane;
      setStat("stat-params", msg.params, msg.params.toLocaleString("en"));
      setStat("stat-loss", "", "–");
      setStat("stat-acc", "", "–");
      setStat("stat-heldout", "", "–");
      if (plane) drawBoundary();
      drawLoss();
      drawHealth();
      break;
    }
    case "progress": {
      if (!state.task) break;
      for (const v of msg.losses) state.losses.push(v);
      const layers = state.norms.length;
      for (let i = 0; i + layers <= msg.norms.length; i += layers) {
        for (let l = 0; l < layers; l++) state.norms[l].push(msg.norms[i + l]);
      }
      if (msg.health) showFlat(msg.health);
      const last = msg.losses.length ? msg.losses[msg.losses.length - 1] : NaN;
      setStat("stat-step", msg.step, msg.step.toLocaleString("en"));
      if (!Number.isNaN(last)) setStat("stat-loss", last, last !== 0 && Math.abs(last) < 1e-3 ? last.toExponential(2) : last.toPrecision(3));
      setStat("stat-acc", msg.accuracy, `${(100 * msg.accuracy).toFixed(1)}%`);
      if (msg.stepsPerSec > 0) setStat("stat-sps", msg.stepsPerSec, Math.round(msg.stepsPerSec).toLocaleString("en"));
      $("stat-loss").dataset.first = String(msg.firstLoss);
      if (msg.boundary) {
        paintBoundary(msg.boundary);
        state.task.painted = true;
        drawBoundary();
      }
      if (msg.heldOut) {
        drawHeldOut(msg.heldOut);
        setStat("stat-heldout", msg.heldOut.f1, `${msg.heldOut.f1.toFixed(2)} (P ${msg.heldOut.precision.toFixed(2)}, R ${msg.heldOut.recall.toFixed(2)})`);
      }
      drawLoss();
      drawHealth();
      break;
    }
    case "training":
      state.running = msg.running;
      setStatus(msg.running ? "Training…" : state.losses?.steps ? "Stopped." : "Ready.");
      updateButtons();
      break;
    case "lesson-start":
      state.lessonRunning = true;
      state.running = false;
      state.lesson = { activations: msg.activations, layers: msg.layers, steps: msg.steps, result: null };
      $("slopes-status").textContent =
        `training ${msg.activations.length} nets of ${msg.depth - 1} hidden layers × ${msg.width} units, ${msg.steps} steps of ${msg.batch} fresh points…`;
      $("slopes-status").dataset.state = "running";
      showLessonTable();
      drawLessonLoss();
      drawLessonNorms();
      updateButtons();
      break;
    case "lesson-progress": {
      const steps = onLessonProgress(msg);
      $("slopes-status").textContent = `step ${steps} of ${state.lesson.steps}…`;
      break;
    }
    case "lesson-done":
      state.lessonRunning = false;
      if (msg.stopped) {
        $("slopes-status").textContent = "stopped.";
        $("slopes-status").dataset.state = "stopped";
      } else {
        const steps = onLessonProgress(msg);
        $("slopes-status").textContent = `done: ${steps} steps each in ${msg.seconds.toFixed(1)} s.`;
        $("slopes-status").dataset.state = "done";
      }
      updateButtons();
      break;
    case "bench-start":
      $("bench-table").tBodies[0].replaceChildren();
      $("bench-status").textContent = "running…";
      break;
    case "bench-row": {
      const r = msg.row;
      const tr = document.createElement("tr");
      const digits = r.unit === "GFLOPS" ? 1 : 3;
      for (const [text, cls] of [[r.name], [r.size], [r.value.toFixed(digits), "num"], [r.unit], [r.note ?? ""]]) {
        const td = document.createElement("td");
        td.textContent = text;
        if (cls) {
          td.className = cls;
          td.dataset.value = String(r.value);
        }
        tr.append(td);
      }
      $("bench-table").tBodies[0].append(tr);
      break;
    }
    case "bench-done":
      state.benchRunning = false;
      $("bench-status").textContent = `done (${$("build-label").textContent} build, ${$("threads-label").textContent} thread(s), ${navigator.hardwareConcurrency || "?"} logical cores)`;
      updateButtons();
      break;
    case "stored": {
      // IndexedDB holds (or just took) trained params for this net: offer them back.
      const r = $("restore");
      r.hidden = !msg.available;
      r.textContent = msg.available ? `Restore last trained (step ${msg.step.toLocaleString("en")})` : "Restore last trained";
      if (msg.justSaved) setModelStatus(`Kept the params of step ${msg.step.toLocaleString("en")} in this browser (IndexedDB).`, "stored");
      else if (msg.error) setModelStatus(`Could not keep the params in this browser: ${msg.error}`, "error");
      break;
    }
    case "model-file": {
      setModelStatus(offerDownload(msg.name, msg.bytes), "downloaded");
      break;
    }
    case "model-loaded":
      setModelStatus(`Loaded ${msg.source}.`, "loaded");
      break;
    case "error":
      if (["download", "load-model", "restore"].includes(msg.request)) setModelStatus(msg.message, "error");
      console.error(`simdgrad demo (${msg.request}): ${msg.message}`);
      setStatus(msg.message, true);
      if (msg.request === "init") state.loading = false; // another build or thread count can be chosen
      if (msg.request === "bench") {
        state.benchRunning = false;
        $("bench-status").textContent = "failed";
      }
      if (msg.request === "lesson") {
        state.lessonRunning = false;
        $("slopes-status").textContent = "failed";
        $("slopes-status").dataset.state = "failed";
      }
      updateButtons();
      break;
  }
}

// ------------------------------------------------------------------ wiring

function main() {
  setupThreads();
  updateButtons();
  drawLoss();
  drawHealth();
  drawLessonLoss();
  drawLessonNorms();
  drawBoundary();
  const link = startTrainer(onMessage);
  state.send = (msg) => link.send(msg);
  for (const id of ["data", "hidden", "activation", "optimizer", "lr", "seed"]) {
    $(id).addEventListener("change", () => state.ready && configure());
  }
  const reload = (what) => {
    state.ready = false;
    state.loading = true;
    updateButtons();
    setStatus(what);
    state.send(initRequest());
  };
  $("build").addEventListener("change", () => reload("Loading the other build…"));
  $("threads").addEventListener("change", () => reload(`Starting simdgrad on ${$("threads").value} thread(s)…`));
  $("tile").addEventListener("change", () => reload(`Starting simdgrad with the ${$("tile").value} matrix product tile…`));
  $("train").addEventListener("click", () => {
    if (!state.task && !configure()) return;
    state.send({ type: "train" });
  });
  $("stop").addEventListener("click", () => state.send({ type: "stop" }));
  $("reset").addEventListener("click", () => configure() && setStatus("Reset: the net starts again from its seed."));
  $("gflops-btn").addEventListener("click", () => {
    $("gflops").textContent = "…";
    state.send({ type: "gflops" });
  });
  $("slopes-btn").addEventListener("click", () => {
    state.send({ type: state.lessonRunning ? "lesson-stop" : "lesson" });
  });
  $("bench-btn").addEventListener("click", () => {
    state.benchRunning = true;
    updateButtons();
    state.send({ type: "bench" });
  });
  $("download-st").addEventListener("click", () => state.send({ type: "download", format: "safetensors" }));
  $("download-onnx").addEventListener("click", () => state.send({ type: "download", format: "onnx" }));
  $("load-model").addEventListener("click", () => $("model-file").click());
  $("model-file").addEventListener("change", async () => {
    const file = $("model-file").files?.[0];
    if (!file) return;
    const bytes = await file.arrayBuffer();
    $("model-file").value = "";
    state.send({ type: "load-model", bytes, name: file.name });
  });
  $("restore").addEventListener("click", () => state.send({ type: "restore" }));
  window.addEventListener("resize", () => {
    drawLoss();
    drawHealth();
    drawLessonLoss();
    drawLessonNorms();
    if (state.task?.x) drawBoundary();
  });
}

main();
