// Sampling from the demo's character transformer (demo/char-model.js, d_model 64, 2 blocks,
// context 64) on a growing context: ms per character through reader.sample, for two readers
// with the same weights in one process, timed in alternating order each round:
//
//   before   a graph with its defaults, each plan in memory of its own (8 kept, least recently
//            used dropped): a context growing from 4 to 63 plans every length on every sample
//   after    the reader as it is: compiled for context 64 first, a plan kept per length, every
//            plan laid out in the longest plan's memory
//
// Columns: "first" the first sample of a new reader (prompt of 4, 60 characters: lengths
// 4…63, each planned once); "growing" later samples of the same; "at 64" 20 characters on a
// full context (no planning in either); then the linear memory each reader holds and the
// allocations its later samples made. Medians over rounds, and the median of the per-round
// ratios after/before (paired, so the drift of a shared machine cancels).
//
//   npm run build && node bench/sample-growing.mjs [--runs=9] [--relaxed]
import { parseArgs } from "./lib/args.js";

const args = parseArgs();
const RUNS = Number(args.runs ?? 9);
const { init } = await import("../dist/index.js");
const { createReader, rng } = await import("../demo/char-model.js");

const sg = await init({ relaxedSimd: args.relaxed === "1" });
const V = 60;
const T = 64;
// Weights moved away from their init so the draws vary; the same in every reader.
const source = createReader(sg, V, {}, { fresh: true });
const r = rng(1);
for (const p of source.graph.params) p.value = Array.from(p.value.toArray(), (v) => v + (r() - 0.5) * 0.2);
const prompt4 = [1, 2, 3, 4];
const prompt64 = Array.from({ length: T }, (_, i) => (i * 7) % V);

const VARIANTS = { before: { fresh: true }, after: {} };
const med = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const perChar = (f, n) => {
  const t0 = performance.now();
  f();
  return (performance.now() - t0) / n;
};

/** One round of one variant on a new reader. */
function round(name, seed) {
  const base = sg.memory.bytesInUse;
  const reader = createReader(sg, V, {}, VARIANTS[name]);
  reader.load(source.graph);
  const out = {};
  let ids;
  out.first = perChar(() => (ids = reader.sample(prompt4, 60, 1, seed)), 60);
  const later = [];
  const allocs = sg.memory.totalAllocations;
  for (let i = 0; i < 3; i++) later.push(perChar(() => reader.sample(prompt4, 60, 1, seed + 1 + i), 60));
  out.growing = med(later);
  out.full = perChar(() => reader.sample(prompt64, 20, 1, seed), 20);
  out.allocs = sg.memory.totalAllocations - allocs;
  out.mib = (sg.memory.bytesInUse - base) / 2 ** 20;
  out.ids = ids.join(",");
  reader.dispose();
  return out;
}

// Warm-up: both variants, twice (V8 tiers wasm and JS up on the first runs).
for (let i = 0; i < 2; i++) for (const name in VARIANTS) round(name, 100 + i);

const res = { before: [], after: [] };
for (let i = 0; i < RUNS; i++) {
  const order = i % 2 === 0 ? ["before", "after"] : ["after", "before"];
  for (const name of order) res[name].push(round(name, i));
  if (res.before[i].ids !== res.after[i].ids) throw new Error(`round ${i}: the two readers sampled different ids`);
}

const cols = ["first", "growing", "full"];
console.log(`sampling the char transformer, ${sg.features.build} build, ${RUNS} rounds (ms per character, medians)`);
console.log(`${"".padEnd(8)}${"first".padStart(9)}${"growing".padStart(9)}${"at 64".padStart(9)}${"MiB held".padStart(10)}${"allocs".padStart(8)}`);
for (const name in res) {
  const rows = res[name];
  const line = cols.map((c) => med(rows.map((x) => x[c])).toFixed(3).padStart(9)).join("");
  console.log(`${name.padEnd(8)}${line}${med(rows.map((x) => x.mib)).toFixed(2).padStart(10)}${String(med(rows.map((x) => x.allocs))).padStart(8)}`);
}
const ratios = cols.map((c) => med(res.after.map((a, i) => a[c] / res.before[i][c])).toFixed(2).padStart(9)).join("");
console.log(`${"after/before".padEnd(8)}`.slice(0, 8) + ratios + "   (median of per-round ratios)");
console.log("the same ids sampled by both readers in every round");
source.dispose();
await sg.close();
