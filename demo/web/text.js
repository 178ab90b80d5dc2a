// The text page: a module worker (text-worker.js; on this page itself where module workers
// are missing, or with ?noworker) trains the demo's character-level transformer on Brown
// corpus text; this page draws the loss, lists samples as they come and draws where one
// attention head looks in a sentence the person types.
import { offerDownload } from "./download.js";
import { ALPHABET, encodeSentence } from "../data/brown-core.js";

const $ = (id) => document.getElementById(id);
const CONTEXT = 64;
const status = (text, state) => {
  $("status").textContent = text;
  $("status").dataset.state = state;
};
const showError = (id, text) => {
  $(id).textContent = text;
  $(id).dataset.shown = text ? "1" : "";
};

const state = { ready: false, running: false, losses: [], held: [], unigram: NaN, samples: 0, lastAttention: null };

// ------------------------------------------------------------------ threads and the worker

const params = new URLSearchParams(location.search);
// One thread unless asked (the select, or ?threads=2): this model is small (width 64), and on a
// busy two-core machine a second thread made a training step about 2.3× slower and sampling
// (batch 1) over 10× slower; two threads can help on an idle machine with cores to spare.
const asked = Number(params.get("threads"));
const threads = asked === 1 || asked === 2 ? asked : 1;
$("threads").value = String(threads);
$("threads").addEventListener("change", () => {
  params.set("threads", $("threads").value);
  location.search = params.toString();
});

/**
 * Whether this browser starts module workers: a browser that knows them reads the options'
 * `type` (one that does not would start the module as a classic script, where its imports fail).
 */
function moduleWorkers() {
  if (typeof Worker !== "function") return false;
  let read = false;
  try {
    // The options are read before the URL is parsed; this URL does not parse, so no worker starts.
    new Worker("http://[", {
      get type() {
        read = true;
        return "module";
      },
    }).terminate();
  } catch {
    // the expected SyntaxError for the URL
  }
  return read;
}

/**
 * Starts the trainer (text-trainer.js) in a module worker; where module workers are missing or
 * the worker fails to load, or with ?noworker, it runs on this page instead.
 */
function startTrainer() {
  const link = { send: () => {} };
  const onPage = (why) => {
    $("status").dataset.where = "page";
    status(`starting simdgrad on the page (${why})…`, "loading");
    import("./text-trainer.js")
      .then(({ createTextTrainer }) => {
        // Replies arrive as a worker's would: after the current task, as events.
        // ?wholetasks: samples and evaluations in one piece each, as in a worker (to compare frames).
        const trainer = createTextTrainer((msg) => setTimeout(() => handle(msg), 0), { onPage: true, wholeTasks: params.has("wholetasks") });
        link.send = (msg) => setTimeout(() => trainer(msg), 0);
        link.send({ type: "init", threads });
      })
      .catch((e) => {
        status("failed to start", "error");
        showError("error", `The trainer failed to load: ${e instanceof Error ? e.message : String(e)}`);
      });
  };
  if (params.has("noworker")) {
    onPage("?noworker");
    return link;
  }
  if (!moduleWorkers()) {
    onPage("this browser has no module workers");
    return link;
  }
  const worker = new Worker(new URL("./text-worker.js", import.meta.url), { type: "module", name: "simdgrad-text" });
  let started = false;
  worker.onmessage = (e) => {
    started = true;
    handle(e.data);
  };
  worker.onerror = (e) => {
    if (!started) {
      // It never answered: it could not load here. Train on the page instead.
      e.preventDefault();
      worker.terminate();
      onPage(`the worker failed to load: ${e.message || "no reason given"}`);
      return;
    }
    status("the worker failed", "error");
    showError("error", `The training worker failed: ${e.message ?? "see the console"}`);
  };
  $("status").dataset.where = "worker";
  link.send = (msg) => worker.postMessage(msg);
  link.send({ type: "init", threads });
  return link;
}
const trainerLink = startTrainer();
const send = (msg) => trainerLink.send(msg);

function handle(msg) {
  switch (msg.type) {
    case "status":
      status(msg.text, "loading");
      break;
    case "ready": {
      state.ready = true;
      state.unigram = msg.unigram;
      $("threads-label").textContent = String(msg.threads);
      $("threads-label").dataset.value = String(msg.threads);
      $("vocab").textContent = String(msg.vocab);
      $("files").textContent = String(msg.files);
      $("chars").textContent =
        `${(msg.bytes / 1024).toFixed(0)} KB fetched, ${msg.trainChars.toLocaleString("en")} characters to train on and ` +
        `${msg.heldOutChars.toLocaleString("en")} held out; ${msg.params.toLocaleString("en")} parameters`;
      $("unigram").textContent = msg.unigram.toFixed(3);
      const warnings = msg.warnings ?? [];
      $("warnings").hidden = warnings.length === 0;
      $("warnings").innerHTML = "";
      for (const w of warnings) {
        const li = document.createElement("li");
        li.textContent = w;
        $("warnings").appendChild(li);
      }
      $("train").disabled = false;
      $("sample-now").disabled = false;
      $("download-st").disabled = false;
      $("download-onnx").disabled = false;
      status(`ready (${msg.relaxedSimd ? "relaxed SIMD" : "SIMD128"}, ${msg.threads === 1 ? "1 thread" : `${msg.threads} threads`}): press Train`, "ready");
      sendSampleSettings(false);
      requestAttention();
      drawLoss();
      break;
    }
    case "progress": {
      for (const l of msg.losses) state.losses.push(l);
      $("steps").textContent = String(msg.step);
      $("steps").dataset.value = String(msg.step);
      const recent = state.losses.slice(-10);
      const mean = recent.reduce((a, b) => a + b, 0) / recent.length;
      $("loss").textContent = mean.toFixed(3);
      $("loss").dataset.value = String(mean);
      $("speed").textContent = `${Math.round(msg.charsPerSecond).toLocaleString("en")} characters/s (${msg.msPerStep.toFixed(0)} ms per step), lr ${msg.lr.toExponential(1)}`;
      drawLoss();
      break;
    }
    case "eval":
      state.held.push([msg.step, msg.heldOutBits]);
      $("held").textContent = msg.heldOutBits.toFixed(3);
      $("held").dataset.value = String(msg.heldOutBits);
      drawLoss();
      break;
    case "sample":
      addSample(msg);
      break;
    case "attention":
      if (msg.req === attentionReq) drawHeat(msg);
      break;
    case "file":
      modelStatus(offerDownload(msg.name, msg.bytes), "downloaded");
      break;
    case "error":
      if (msg.where === "save") {
        modelStatus(msg.message, "error");
        break;
      }
      if (msg.where === "attention") {
        showError("attention-error", msg.message);
        clearHeat();
      }
      else if (msg.where === "sampleSettings") showError("sample-error", msg.message);
      else {
        showError("error", `${msg.where}: ${msg.message}`);
        if (msg.where === "init") status("failed to start", "error");
      }
      break;
  }
}

const modelStatus = (text, state) => {
  $("model-status").textContent = text;
  $("model-status").dataset.state = state;
};

$("download-st").addEventListener("click", () => send({ type: "save", format: "safetensors" }));
$("download-onnx").addEventListener("click", () => send({ type: "save", format: "onnx" }));

$("train").addEventListener("click", () => {
  if (!state.ready || state.running) return;
  state.running = true;
  $("train").disabled = true;
  $("stop").disabled = false;
  status("training", "training");
  send({ type: "train" });
});
$("stop").addEventListener("click", () => {
  state.running = false;
  $("train").disabled = false;
  $("stop").disabled = true;
  status("paused", "ready");
  send({ type: "pause" });
});

// ------------------------------------------------------------------ the loss curve

function drawLoss() {
  const c = $("loss-chart");
  const ctx = c.getContext("2d");
  const W = c.width, H = c.height, L = 34, B = 18;
  ctx.clearRect(0, 0, W, H);
  const n = state.losses.length;
  const top = Math.max(6, ...state.losses.slice(0, 5));
  const xMax = Math.max(n, 20);
  const x = (step) => L + ((W - L - 6) * step) / xMax;
  const y = (bits) => 6 + (H - B - 6) * (1 - Math.min(bits, top) / top);
  // Axes with a tick every bit.
  ctx.fillStyle = "#5d6775";
  ctx.strokeStyle = "#e5e8ec";
  ctx.font = "11px system-ui, sans-serif";
  for (let b = 0; b <= top; b++) {
    ctx.beginPath();
    ctx.moveTo(L, y(b));
    ctx.lineTo(W - 6, y(b));
    ctx.stroke();
    ctx.fillText(String(b), L - 12, y(b) + 4);
  }
  ctx.fillText(`step ${n}`, W - 60, H - 4);
  if (Number.isFinite(state.unigram)) {
    ctx.strokeStyle = "#9aa3ad";
    ctx.setLineDash([5, 4]);
    ctx.beginPath();
    ctx.moveTo(L, y(state.unigram));
    ctx.lineTo(W - 6, y(state.unigram));
    ctx.stroke();
    ctx.setLineDash([]);
  }
  ctx.fillStyle = ctx.strokeStyle = "#d9480f";
  ctx.lineWidth = 2;
  ctx.beginPath();
  state.held.forEach(([s, b], i) => (i === 0 ? ctx.moveTo(x(s), y(b)) : ctx.lineTo(x(s), y(b))));
  ctx.stroke();
  ctx.lineWidth = 1;
  for (const [s, b] of state.held) {
    ctx.beginPath();
    ctx.arc(x(s), y(b), 3, 0, 2 * Math.PI);
    ctx.fill();
  }
  if (n >= 2) {
    ctx.strokeStyle = "#2f6fdb";
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    state.losses.forEach((l, i) => (i === 0 ? ctx.moveTo(x(i + 1), y(l)) : ctx.lineTo(x(i + 1), y(l))));
    ctx.stroke();
    ctx.lineWidth = 1;
  }
  c.dataset.points = String(n);
  c.dataset.first = n > 0 ? String(state.losses[0]) : "";
}

// ------------------------------------------------------------------ samples

function sampleSettings() {
  const prompt = $("prompt").value;
  const enc = encodeSentence(prompt, CONTEXT);
  if (enc.error) return { error: `Prompt: ${enc.error}` };
  const temperature = Number($("temperature").value);
  if ($("temperature").value.trim() === "" || !(temperature > 0 && temperature <= 2)) return { error: `Temperature must be a number above 0 and at most 2, got "${$("temperature").value}".` };
  const seed = Number($("seed").value);
  if ($("seed").value.trim() === "" || !Number.isInteger(seed) || seed < 0 || seed > 2 ** 32 - 1) return { error: `Seed must be a whole number from 0 to 4294967295, got "${$("seed").value}".` };
  return { prompt: prompt.toLowerCase(), promptIds: enc.ids, temperature, seed };
}

function sendSampleSettings(now) {
  const s = sampleSettings();
  showError("sample-error", s.error ?? "");
  if (s.error || !state.ready) return;
  send({ type: "sampleSettings", ...s, now });
}
for (const id of ["prompt", "temperature", "seed"]) $(id).addEventListener("change", () => sendSampleSettings(false));
$("sample-now").addEventListener("click", () => sendSampleSettings(true));

function addSample(msg) {
  const li = document.createElement("li");
  const b = document.createElement("b");
  b.textContent = `step ${msg.step}`;
  const p = document.createElement("span");
  p.className = "prompt";
  p.textContent = msg.prompt;
  li.append(b, p);
  // The whole sample; a line break (the end of a sentence) shows as ⏎.
  msg.text.split("\n").forEach((part, i) => {
    if (i > 0) {
      const nl = document.createElement("span");
      nl.className = "nl";
      nl.textContent = " ⏎ ";
      li.append(nl);
    }
    li.append(document.createTextNode(part));
  });
  li.title = `temperature ${msg.temperature}, seed ${msg.seed}; the model wrote: ${JSON.stringify(msg.text)}`;
  li.dataset.step = String(msg.step);
  li.dataset.text = msg.text;
  $("samples").prepend(li);
  state.samples++;
}

// ------------------------------------------------------------------ the attention heat map

let pending = 0;
let attentionReq = 0; // heat maps of older requests are not drawn
function requestAttention() {
  const enc = encodeSentence($("sentence").value, CONTEXT);
  attentionReq++;
  if (enc.error) {
    showError("attention-error", enc.error);
    clearHeat();
    if (state.ready) send({ type: "attention", ids: null, req: attentionReq });
    return;
  }
  showError("attention-error", "");
  if (!state.ready) return;
  send({ type: "attention", ids: enc.ids, layer: Number($("layer").value), head: Number($("head").value), req: attentionReq });
}
$("sentence").addEventListener("input", () => {
  clearTimeout(pending);
  pending = setTimeout(requestAttention, 150);
});
$("layer").addEventListener("change", requestAttention);
$("head").addEventListener("change", requestAttention);

function clearHeat() {
  const c = $("heat");
  c.getContext("2d").clearRect(0, 0, c.width, c.height);
  c.dataset.step = "";
  c.dataset.size = "0";
  c.dataset.probs = "";
}

function drawHeat(msg) {
  const c = $("heat");
  const ctx = c.getContext("2d");
  const T = msg.ids.length;
  const probs = msg.probs;
  const M = 22; // room for the labels
  const cell = Math.max(1, Math.floor((Math.min(c.width, c.height) - M) / T));
  ctx.clearRect(0, 0, c.width, c.height);
  ctx.font = `${Math.min(12, Math.max(7, cell - 1))}px ui-monospace, monospace`;
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  ctx.fillStyle = "#1d2430";
  const label = (id) => (ALPHABET[id] === " " ? "␣" : ALPHABET[id]);
  for (let t = 0; t < T; t++) {
    ctx.fillText(label(msg.ids[t]), M + t * cell + cell / 2, M / 2);
    ctx.fillText(label(msg.ids[t]), M / 2, M + t * cell + cell / 2);
  }
  for (let i = 0; i < T; i++) {
    for (let j = 0; j <= i; j++) {
      const p = probs[i * T + j];
      // White (0) to deep blue (1).
      const r = Math.round(255 - p * (255 - 20));
      const g = Math.round(255 - p * (255 - 60));
      const b = Math.round(255 - p * (255 - 160));
      ctx.fillStyle = `rgb(${r}, ${g}, ${b})`;
      ctx.fillRect(M + j * cell, M + i * cell, cell, cell);
    }
  }
  // The masked part (a character never reads later ones).
  ctx.fillStyle = "#f1f2f4";
  for (let i = 0; i < T; i++) if (i + 1 < T) ctx.fillRect(M + (i + 1) * cell, M + i * cell, (T - i - 1) * cell, cell);
  c.dataset.step = String(msg.step);
  c.dataset.size = String(T);
  c.dataset.layer = String(msg.layer);
  c.dataset.head = String(msg.head);
  c.dataset.probs = JSON.stringify(Array.from(probs));
}

if ($("status").dataset.where === "worker") status("starting simdgrad in a worker…", "loading");
