// Sampling from the demo's character transformer (demo/char-model.js: d_model 64, 2 blocks,
// 4 heads, context 64) on a growing context, ms per character through reader.sample, for two
// readers with the same weights, timed in alternating order each round on new readers:
//
//   before   plans as a graph with its defaults makes them: each in memory of its own, 8 kept
//            (least recently used dropped), so a context growing from 4 to 63 plans (and
//            allocates) every length on every sample
//   after    the reader as it is: compiled for context 64 on its first run, a plan kept per
//            length, every plan laid out in the longest plan's memory
//
// Rows: the first sample of a new reader (prompt of 4, 60 characters: lengths 4…63, each
// planned once by both), later samples of the same reader, and 20 characters on a full context
// (no planning in either); medians over rounds and the median of the per-round ratios
// after/before (paired, so a shared machine's drift cancels); the linear memory each reader
// holds and the allocations its later samples made. bench/sample-growing.mjs prints the same.
import { printTable, fmt, change } from "../lib/table.js";

const V = 60;
const T = 64;

const median = (xs) => {
  const s = xs.filter((x) => typeof x === "number").sort((a, b) => a - b);
  if (s.length === 0) return null;
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * Times both readers over `rounds` alternating rounds (after two warm-up rounds); returns, per
 * row, the medians of each and of the paired ratios, and each reader's memory. Throws if the
 * two readers ever sample different ids.
 */
export async function measureSampling(sg, rounds) {
  const { createReader, rng } = await import("../../demo/char-model.js");
  // Weights moved away from their init so the draws vary; the same in every reader.
  const source = createReader(sg, V, {}, { fresh: true });
  const r = rng(1);
  for (const p of source.graph.params) p.value = Array.from(p.value.toArray(), (v) => v + (r() - 0.5) * 0.2);
  const prompt4 = [1, 2, 3, 4];
  const prompt64 = Array.from({ length: T }, (_, i) => (i * 7) % V);
  const variants = { before: { fresh: true }, after: {} };
  const perChar = (f, n) => {
    const t0 = performance.now();
    f();
    return (performance.now() - t0) / n;
  };
  const round = (name, seed) => {
    const base = sg.memory.bytesInUse;
    const reader = createReader(sg, V, {}, variants[name]);
    reader.load(source.graph);
    let ids;
    const first = perChar(() => (ids = reader.sample(prompt4, 60, 1, seed)), 60);
    const allocs = sg.memory.totalAllocations;
    const later = [];
    for (let i = 0; i < 3; i++) later.push(perChar(() => reader.sample(prompt4, 60, 1, seed + 1 + i), 60));
    const full = perChar(() => reader.sample(prompt64, 20, 1, seed), 20);
    const out = { first, growing: median(later), full, allocs: sg.memory.totalAllocations - allocs, mib: (sg.memory.bytesInUse - base) / 2 ** 20, ids: ids.join(",") };
    reader.dispose();
    return out;
  };
  try {
    for (let i = 0; i < 2; i++) for (const name in variants) round(name, 100 + i);
    const res = { before: [], after: [] };
    for (let i = 0; i < rounds; i++) {
      for (const name of i % 2 === 0 ? ["before", "after"] : ["after", "before"]) res[name].push(round(name, i));
      if (res.before[i].ids !== res.after[i].ids) throw new Error(`sample bench: round ${i}: the two readers sampled different ids`);
    }
    const row = (key, what) => ({
      key,
      what,
      before: median(res.before.map((x) => x[key])),
      after: median(res.after.map((x) => x[key])),
      ratio: median(res.after.map((x, i) => x[key] / res.before[i][key])),
    });
    return {
      rows: [row("first", "growing 4→63, first sample of a reader"), row("growing", "growing 4→63, later samples"), row("full", "full context 64")],
      memory: { before: median(res.before.map((x) => x.mib)), after: median(res.after.map((x) => x.mib)) },
      allocs: { before: median(res.before.map((x) => x.allocs)), after: median(res.after.map((x) => x.allocs)) },
      rounds,
    };
  } finally {
    source.dispose();
  }
}

export function printSampling(build, m, prev = () => undefined) {
  printTable(
    `Sampling the char transformer on a growing context (${build}): ms per character, median of ${m.rounds} alternating rounds`,
    [{ title: "phase", align: "l" }, { title: "before" }, { title: "after" }, { title: "after/before" }, { title: "Δ prev" }],
    m.rows.map((r) => [r.what, fmt(r.before, 3), fmt(r.after, 3), `${fmt(r.ratio, 2)}×`, change(1 / r.ratio, prev(r.key) ? 1 / prev(r.key).ratio : undefined)]),
    [
      `Linear memory held: before ${fmt(m.memory.before, 2)} MiB (8 plans of their own), after ${fmt(m.memory.after, 2)} MiB (one region for every length).`,
      `Allocations during 3 later samples: before ${m.allocs.before}, after ${m.allocs.after}. The same ids sampled by both readers in every round.`,
      "before: a plan per new length, 8 kept, each in memory of its own; after: compiled for 64 first, a plan per length in its memory.",
    ],
  );
}

export async function run(ctx) {
  const { sg, build, quick, prev } = ctx;
  const m = await measureSampling(sg, quick ? 3 : 7);
  printSampling(build, m, prev);
  return m.rows.map(({ key, what, before, after, ratio }) => ({ key, what, before, after, ratio }));
}
