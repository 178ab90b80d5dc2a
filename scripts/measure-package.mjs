// What a user downloads and waits for: the size of simdgrad's .wasm and JavaScript (raw and
// gzip) beside TensorFlow.js's wasm backend, and the time from nothing to ready in fresh Node
// processes (median of several) for both. Prints tables; decides nothing.
//
//   npm run build && node scripts/measure-package.mjs [--runs 15]
//
// Budgets: both simdgrad .wasm files together under 64 KB, its JavaScript under 64 KB; what a
// page fetches (the minified browser module and one .wasm) under 40 KB gzip.
import { spawnSync } from "node:child_process";
import { readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { RELAXED_FLAG, relaxedFlags } from "./relaxed-simd.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const KB = 1024;
const BUDGET = 64 * KB;

const argv = process.argv.slice(2);
const runsAt = argv.indexOf("--runs");
const RUNS = runsAt >= 0 ? Number(argv[runsAt + 1]) : 15;

function walk(dir, keep) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p, keep));
    else if (keep(p)) out.push(p);
  }
  return out.sort();
}

/** Raw bytes and gzip -9 bytes of files taken together (concatenated, as a bundle would be). */
function sizeOf(files) {
  const bufs = files.map((f) => readFileSync(f));
  const all = Buffer.concat(bufs);
  return { files: files.length, raw: all.length, gzip: gzipSync(all, { level: 9 }).length };
}

const kb = (n) => (n / KB).toFixed(1);
function table(title, header, rows) {
  console.log(`\n${title}`);
  const cells = [header, ...rows].map((r) => r.map(String));
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  for (const [j, r] of cells.entries()) {
    console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  "));
    if (j === 0) console.log(widths.map((w) => "-".repeat(w)).join("  "));
  }
}

// ------------------------------------------------------------------ sizes

const tfWasmDir = path.join(ROOT, "node_modules/@tensorflow/tfjs-backend-wasm/dist");
const tfCoreDir = path.join(ROOT, "node_modules/@tensorflow/tfjs-core/dist");
const has = (p) => {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
};

const simd = sizeOf([path.join(ROOT, "build/simdgrad.simd.wasm")]);
const relaxed = sizeOf([path.join(ROOT, "build/simdgrad.relaxed.wasm")]);
// The dense kernel set (init({ kernels: "dense" }), assembly/dense.ts).
const denseSimd = sizeOf([path.join(ROOT, "build/simdgrad.dense.simd.wasm")]);
const denseRelaxed = sizeOf([path.join(ROOT, "build/simdgrad.dense.relaxed.wasm")]);
const bothWasm = { raw: simd.raw + relaxed.raw, gzip: simd.gzip + relaxed.gzip };
// The modules tsc writes (the minified browser bundle in dist/browser/ is counted on its own).
const distJs = sizeOf(walk(path.join(ROOT, "dist"), (p) => p.endsWith(".js") && !p.includes(`${path.sep}browser${path.sep}`)));
const loaderJs = sizeOf([path.join(ROOT, "node_modules/@assemblyscript/loader/index.js")]);

// A user's bundler would take dist/index.js and the loader into one minified file; rolldown
// (already installed with vitest) shows what that weighs. Skipped when it is not there.
let bundle = null;
try {
  const { rolldown } = await import("rolldown");
  const b = await rolldown({ input: path.join(ROOT, "dist/index.js"), external: [/^node:/], logLevel: "silent" });
  const { output } = await b.generate({ format: "esm", minify: true });
  const code = Buffer.from(output.filter((o) => o.type === "chunk").map((o) => o.code).join("\n"));
  bundle = { raw: code.length, gzip: gzipSync(code, { level: 9 }).length, chunks: output.length };
  await b.close();
} catch (e) {
  console.log(`(no minified bundle size: ${e instanceof Error ? e.message.split("\n")[0] : e})`);
}

const rows = [
  ["simdgrad.simd.wasm", kb(simd.raw), kb(simd.gzip), ""],
  ["simdgrad.relaxed.wasm", kb(relaxed.raw), kb(relaxed.gzip), ""],
  ["simdgrad: both .wasm", kb(bothWasm.raw), kb(bothWasm.gzip), bothWasm.raw <= BUDGET ? "within 64 KB" : `OVER 64 KB by ${kb(bothWasm.raw - BUDGET)} KB`],
  ["simdgrad.dense.simd.wasm (kernels: \"dense\")", kb(denseSimd.raw), kb(denseSimd.gzip), ""],
  ["simdgrad.dense.relaxed.wasm (kernels: \"dense\")", kb(denseRelaxed.raw), kb(denseRelaxed.gzip), ""],
  [`simdgrad: dist/**/*.js (${distJs.files} files, unminified)`, kb(distJs.raw), kb(distJs.gzip), distJs.raw <= BUDGET ? "within 64 KB" : `OVER 64 KB by ${kb(distJs.raw - BUDGET)} KB`],
  ["@assemblyscript/loader index.js (dependency)", kb(loaderJs.raw), kb(loaderJs.gzip), ""],
];
if (bundle) rows.push(["simdgrad + loader, one minified ESM bundle", kb(bundle.raw), kb(bundle.gzip), bundle.raw <= BUDGET ? "within 64 KB" : "over 64 KB"]);
// What a page fetches from the shipped browser path (package.json's "browser" condition):
// the minified module (scripts/build-browser.mjs) and one .wasm, the larger of the two builds.
const PAGE_AIM = 40 * KB;
const minJs = path.join(ROOT, "dist/browser/simdgrad.min.js");
if (has(minJs)) {
  const js = sizeOf([minJs]);
  const wasm = simd.gzip >= relaxed.gzip ? simd : relaxed;
  const page = { raw: js.raw + wasm.raw, gzip: js.gzip + wasm.gzip };
  rows.push(["dist/browser/simdgrad.min.js (shipped, minified)", kb(js.raw), kb(js.gzip), ""]);
  rows.push([`one .wasm (${wasm === simd ? "simdgrad.simd.wasm" : "simdgrad.relaxed.wasm"}, the larger)`, kb(wasm.raw), kb(wasm.gzip), ""]);
  // Files beside it that the module imports only when a feature needs them (the ONNX exporter).
  for (const f of readdirSync(path.dirname(minJs)).filter((f) => f.endsWith(".min.js") && f !== "simdgrad.min.js").sort()) {
    const s = sizeOf([path.join(path.dirname(minJs), f)]);
    rows.push([`  dist/browser/${f} (fetched on first use only)`, kb(s.raw), kb(s.gzip), ""]);
  }
  rows.push(["a page fetches: simdgrad.min.js + one .wasm", kb(page.raw), kb(page.gzip),
    page.gzip <= PAGE_AIM ? "gzip within the 40 KB aim" : `gzip OVER the 40 KB aim by ${kb(page.gzip - PAGE_AIM)} KB`]);
  const dw = denseSimd.gzip >= denseRelaxed.gzip ? denseSimd : denseRelaxed;
  const densePage = { raw: js.raw + dw.raw, gzip: js.gzip + dw.gzip };
  rows.push(['a page with init({ kernels: "dense" }): simdgrad.min.js + one dense .wasm', kb(densePage.raw), kb(densePage.gzip),
    densePage.gzip <= PAGE_AIM ? "gzip within the 40 KB aim" : `gzip OVER the 40 KB aim by ${kb(densePage.gzip - PAGE_AIM)} KB`]);
} else console.log("(no dist/browser/simdgrad.min.js: run npm run build)");
if (has(tfWasmDir)) {
  for (const f of ["tfjs-backend-wasm-simd.wasm", "tfjs-backend-wasm-threaded-simd.wasm", "tfjs-backend-wasm.wasm"]) {
    const s = sizeOf([path.join(tfWasmDir, f)]);
    rows.push([`tfjs: ${f}`, kb(s.raw), kb(s.gzip), ""]);
  }
  const tfBackend = sizeOf([path.join(tfWasmDir, "tf-backend-wasm.es2017.min.js")]);
  const tfCore = sizeOf([path.join(tfCoreDir, "tf-core.es2017.min.js")]);
  const tfBoth = sizeOf([path.join(tfWasmDir, "tf-backend-wasm.es2017.min.js"), path.join(tfCoreDir, "tf-core.es2017.min.js")]);
  rows.push(["tfjs: tf-backend-wasm.es2017.min.js", kb(tfBackend.raw), kb(tfBackend.gzip), ""]);
  rows.push(["tfjs: tf-core.es2017.min.js (needed too)", kb(tfCore.raw), kb(tfCore.gzip), ""]);
  rows.push(["tfjs: core + wasm backend JS, minified", kb(tfBoth.raw), kb(tfBoth.gzip), ""]);
}
table("Sizes (KB = 1024 bytes; gzip -9; files taken together are gzipped as one stream)", ["what", "raw KB", "gzip KB", "budget"], rows);

// ------------------------------------------------------------------ load time

// Each probe runs in a fresh Node process and prints, in ms: the import, init/ready, and the
// whole time from the process's start (Node's own start-up included, the same for both).
const PROBES = {
  // build: which build init() must end up with; ask: pass relaxedSimd explicitly (else defaults).
  // pretouch: touch globalThis.Response first, so init() is timed without Node loading fetch.
  simdgrad: (build, ask, pretouch = false) => `
    ${pretouch ? "void typeof Response;" : ""}
    const t0 = performance.now();
    const { init } = await import(${JSON.stringify(new URL("../dist/index.js", import.meta.url).href)});
    const t1 = performance.now();
    const sg = await init(${ask ? `{ relaxedSimd: ${build === "relaxed"} }` : ""});
    const t2 = performance.now();
    if (sg.features.build !== ${JSON.stringify(build)}) throw new Error("got build " + sg.features.build);
    console.log(JSON.stringify({ importMs: t1 - t0, readyMs: t2 - t1, sinceStartMs: t2 }));`,
  // Node loads its fetch implementation the first time anything touches globalThis.Response.
  response: () => `
    const t0 = performance.now();
    const r = typeof Response;
    const t1 = performance.now();
    console.log(JSON.stringify({ importMs: 0, readyMs: t1 - t0, sinceStartMs: t1, r }));`,
  tfjs: () => `
    const t0 = performance.now();
    const tf = await import("@tensorflow/tfjs-core");
    await import("@tensorflow/tfjs-backend-wasm");
    const t1 = performance.now();
    await tf.setBackend("wasm");
    await tf.ready();
    const t2 = performance.now();
    if (tf.getBackend() !== "wasm") throw new Error("backend " + tf.getBackend());
    console.log(JSON.stringify({ importMs: t1 - t0, readyMs: t2 - t1, sinceStartMs: t2 }));`,
};

function probe(code, flags) {
  const r = spawnSync(process.execPath, [...flags, "--input-type=module", "-e", code], { cwd: ROOT, encoding: "utf8" });
  if (r.status !== 0) throw new Error(r.stderr.trim().split("\n").slice(-3).join(" "));
  return JSON.parse(r.stdout.trim().split("\n").pop());
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const cases = [
  ["simdgrad, init() defaults (SIMD128 on Node 20)", PROBES.simdgrad("simd", false), []],
  ["simdgrad, init({ relaxedSimd: false })", PROBES.simdgrad("simd", true), []],
  ["simdgrad, init() defaults, Response already loaded", PROBES.simdgrad("simd", false, true), []],
  [`simdgrad, relaxed build${relaxedFlags().length ? ` (${RELAXED_FLAG})` : ""}`, PROBES.simdgrad("relaxed", false), relaxedFlags()],
];
if (has(tfWasmDir)) cases.push(["tfjs-core + tfjs-backend-wasm", PROBES.tfjs(), []]);
cases.push(["(for scale: Node's first touch of globalThis.Response)", PROBES.response(), []]);

const timeRows = [];
const totals = {};
for (const [label, code, flags] of cases) {
  try {
    probe(code, flags); // not counted: warms the file cache
    const samples = [];
    for (let i = 0; i < RUNS; i++) samples.push(probe(code, flags));
    const m = (k) => median(samples.map((s) => s[k]));
    totals[label] = m("importMs") + m("readyMs");
    timeRows.push([label, m("importMs").toFixed(1), m("readyMs").toFixed(1), (m("importMs") + m("readyMs")).toFixed(1), m("sinceStartMs").toFixed(1)]);
  } catch (e) {
    timeRows.push([label, "n/a", "n/a", "n/a", e instanceof Error ? e.message.slice(0, 80) : String(e)]);
  }
}
table(
  `Load time in Node ${process.versions.node}, fresh process each, median of ${RUNS} (ms)`,
  ["library", "import", "init/ready", "import+ready", "since process start"],
  timeRows,
);
const sgTotal = totals["simdgrad, init() defaults (SIMD128 on Node 20)"];
const tfTotal = totals["tfjs-core + tfjs-backend-wasm"];
if (sgTotal && tfTotal) console.log(`\nimport+ready: tfjs-wasm takes ${(tfTotal / sgTotal).toFixed(1)}× as long as simdgrad's init().`);
