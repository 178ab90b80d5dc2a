/**
 * The page: reads the controls, talks to the trainer (in a module worker), and draws what
 * it reports: the loss curve, the decision boundary or the held-out sentences, the
 * statistics and the benchmark table.
 */

const $ = (id) => document.getElementById(id);

const CLASS_COLORS = [
  [232, 119, 34], // orange
  [47, 111, 219], // blue
  [46, 160, 67], // green
  [163, 73, 164], // purple
];

// ------------------------------------------------------------------ the trainer

/**
 * Starts the trainer in a module worker; where module workers (or the library inside one)
 * cannot load, runs it on the page instead, through the page's import map.
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
      link.send({ type: "init", build: $("build").value });
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
  link.send({ type: "init", build: $("build").value });
  return link;
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
};

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
  const idle = state.ready && !state.benchRunning;
  $("train").disabled = !idle || state.running;
  $("stop").disabled = !state.running;
  $("reset").disabled = !idle;
  $("gflops-btn").disabled = !idle;
  $("bench-btn").disabled = !idle;
  $("build").disabled = state.loading || state.benchRunning;
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

function drawLoss() {
  const { ctx, w, h } = fitCanvas($("loss"));
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, w, h);
  const pad = { l: 52, r: 12, t: 12, b: 28 };
  const pw = w - pad.l - pad.r;
  const ph = h - pad.t - pad.b;
  const s = state.losses;
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillStyle = "#5d6775";
  if (!s || s.length === 0) {
    ctx.fillText("Press Train to start.", pad.l + 10, pad.t + ph / 2);
    return;
  }
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < s.length; i++) {
    const v = s.values[i];
    if (v > 0 && Number.isFinite(v)) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  if (!(hi > 0)) return;
  lo = Math.max(lo, hi * 1e-6, 1e-7);
  let l0 = Math.floor(Math.log10(lo));
  let l1 = Math.ceil(Math.log10(hi));
  if (l1 - l0 < 1) l1 = l0 + 1;
  const yOf = (v) => pad.t + ph * (1 - (Math.log10(Math.max(v, 10 ** l0)) - l0) / (l1 - l0));
  // Grid lines and labels at powers of ten.
  ctx.strokeStyle = "#e6e9ee";
  ctx.lineWidth = 1;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (let e = l0; e <= l1; e++) {
    const y = Math.round(yOf(10 ** e)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(pad.l, y);
    ctx.lineTo(pad.l + pw, y);
    ctx.stroke();
    ctx.fillText(e >= -3 && e <= 3 ? String(Number((10 ** e).toPrecision(1))) : `1e${e}`, pad.l - 6, y);
  }
  ctx.textAlign = "left";
  ctx.textBaseline = "alphabetic";
  ctx.fillText("0", pad.l, h - 8);
  ctx.textAlign = "right";
  ctx.fillText(`step ${s.steps.toLocaleString("en")}`, pad.l + pw, h - 8);
  // The curve.
  ctx.strokeStyle = "#2f6fdb";
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const x = pad.l + (n === 1 ? 0 : (i / (n - 1)) * pw);
    const y = yOf(s.values[i]);
    if (i === 0) ctx.moveTo(x, y);
    else ctx.lineTo(x, y);
  }
  ctx.stroke();
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

function onMessage(msg) {
  switch (msg.type) {
    case "ready": {
      state.ready = true;
      state.loading = false;
      const label = msg.build === "relaxed" ? "relaxed SIMD" : msg.build === "simd" ? "SIMD128" : msg.build;
      $("build-label").textContent = label;
      $("build-label").dataset.value = msg.build;
      $("isolation").textContent = msg.crossOriginIsolated ? "cross-origin isolated" : "not cross-origin isolated";
      setStatus(`simdgrad loaded (${label} build, ${state.onPage ? "on the page" : "in a worker"}). Press Train.`);
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
      $("boundary-panel").hidden = !plane;
      $("heldout-panel").hidden = plane;
      $("stat-heldout-box").hidden = plane;
      setStat("stat-params", msg.params, msg.params.toLocaleString("en"));
      setStat("stat-loss", "", "–");
      setStat("stat-acc", "", "–");
      setStat("stat-heldout", "", "–");
      if (plane) drawBoundary();
      drawLoss();
      break;
    }
    case "progress": {
      if (!state.task) break;
      for (const v of msg.losses) state.losses.push(v);
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
      break;
    }
    case "training":
      state.running = msg.running;
      setStatus(msg.running ? "Training…" : state.losses?.steps ? "Stopped." : "Ready.");
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
      $("bench-status").textContent = `done (${$("build-label").textContent} build, ${navigator.hardwareConcurrency || "?"} logical cores)`;
      updateButtons();
      break;
    case "error":
      console.error(`simdgrad demo (${msg.request}): ${msg.message}`);
      setStatus(msg.message, true);
      if (msg.request === "init") state.loading = false; // another build can be chosen
      if (msg.request === "bench") {
        state.benchRunning = false;
        $("bench-status").textContent = "failed";
      }
      updateButtons();
      break;
  }
}

// ------------------------------------------------------------------ wiring

function main() {
  updateButtons();
  drawLoss();
  drawBoundary();
  const link = startTrainer(onMessage);
  state.send = (msg) => link.send(msg);
  for (const id of ["data", "hidden", "activation", "optimizer", "lr", "seed"]) {
    $(id).addEventListener("change", () => state.ready && configure());
  }
  $("build").addEventListener("change", () => {
    state.ready = false;
    state.loading = true;
    updateButtons();
    setStatus("Loading the other build…");
    state.send({ type: "init", build: $("build").value });
  });
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
  $("bench-btn").addEventListener("click", () => {
    state.benchRunning = true;
    updateButtons();
    state.send({ type: "bench" });
  });
  window.addEventListener("resize", () => {
    drawLoss();
    if (state.task?.x) drawBoundary();
  });
}

main();
