// The two builds side by side: the same simdgrad rows from the SIMD128 run and the relaxed
// run, with the relaxed build's gain.
import { printTable, fmt, ratio } from "./table.js";

const CASE = { AB: "A·B", AtB: "Aᵀ·B", ABt: "A·Bᵀ" };

export function printBothBuilds(simd, relaxed) {
  const cells = [];
  const find = (run, suite, key) => run.suites?.[suite]?.find((r) => r.key === key);
  cells.push(["peak probe", "mul+add GFLOPS", fmt(simd.peak.muladd), fmt(relaxed.peak.muladd), ratio(relaxed.peak.muladd, simd.peak.muladd)]);
  if (relaxed.peak.madd) cells.push(["peak probe", "relaxed_madd GFLOPS", "—", fmt(relaxed.peak.madd), ratio(relaxed.peak.madd, simd.peak.muladd)]);
  for (const r of simd.suites.gemm ?? []) {
    const square = r.m === r.k && r.k === r.n;
    if (square ? ![64, 1024].includes(r.n) : !r.uses) continue; // n = 64, 1024, and the layer's products
    const q = find(relaxed, "gemm", r.key);
    cells.push([`GEMM ${CASE[r.case]} ${r.m}×${r.k}×${r.n}${r.uses ? ` (${r.uses})` : ""}`, "GFLOPS", fmt(r.sg), fmt(q?.sg), ratio(q?.sg, r.sg)]);
  }
  for (const r of simd.suites.train ?? []) {
    const q = find(relaxed, "train", r.key);
    cells.push([`train ${r.net}, batch ${r.batch}`, "ms/step", fmt(r.sg, 3), fmt(q?.sg, 3), ratio(r.sg, q?.sg)]);
  }
  printTable(
    "simdgrad on both builds (selected rows)",
    [{ title: "row", align: "l" }, { title: "unit", align: "l" }, { title: "SIMD128" }, { title: "relaxed" }, { title: "gain" }],
    cells,
    ["gain: how much faster the relaxed-SIMD build is (each build beside its own peers, in its own process)."],
  );
}
