// GEMM: GFLOPS of C = op(A)·op(B) for square sizes and the shapes of a 784→256 layer at
// batch 64, in the three cases training uses (A·B forward, Aᵀ·B weight gradient, A·Bᵀ input
// gradient), for simdgrad, TensorFlow.js wasm and a naive JS triple loop.
import { uniform, missing, reason } from "../lib/data.js";
import { measureSet, measureShare } from "../lib/timing.js";
import { printTable, fmt, ratio, change } from "../lib/table.js";

export const CASES = [
  { id: "AB", label: "A·B", tA: false, tB: false },
  { id: "AtB", label: "Aᵀ·B", tA: true, tB: false },
  { id: "ABt", label: "A·Bᵀ", tA: false, tB: true },
];

/** [M, K, N] with a note for the rows a 784→256 layer at batch 64 (and a convolution) runs in training. */
function shapes(quick) {
  const square = quick ? [64, 128, 256, 512, 1024] : [64, 128, 256, 512, 1024, 2048];
  // --quick: n = 1024 only for A·B (tfjs takes seconds per transposed 1024 product).
  const list = square.map((n) => ({ m: n, k: n, n, cases: quick && n >= 1024 ? ["AB"] : null }));
  list.push({ m: 64, k: 784, n: 256, uses: { AB: "forward x·W" } });
  list.push({ m: 784, k: 64, n: 256, uses: { AtB: "weight grad xᵀ·dy" } });
  list.push({ m: 64, k: 256, n: 784, uses: { ABt: "input grad dy·Wᵀ" } });
  // A 3×3 64→64 convolution's forward product at 32×32, batch 4 (patches · filter): few
  // columns and many rows, which assembly/gemm.ts runs transposed.
  list.push({ m: 4096, k: 576, n: 64, uses: { AB: "conv 64→64 P·W" } });
  // The 256→10 classifier layer at batch 64: narrow outputs (n = 10) and a depth of 10.
  list.push({ m: 64, k: 256, n: 10, uses: { AB: "classifier fwd h·W2" } });
  list.push({ m: 256, k: 64, n: 10, uses: { AtB: "classifier grad hᵀ·dy" } });
  list.push({ m: 64, k: 10, n: 256, uses: { ABt: "classifier grad dy·W2ᵀ" } });
  return list;
}

/** Naive JS only where it finishes in reasonable time (--quick: even less). */
const naiveMaxFlops = (quick) => 2 * (quick ? 128 : 256) ** 3;

/** C[M×N] = op(A)·op(B), one dot product per output, float64 accumulation. */
export function naiveGemm(a, b, c, m, k, n, tA, tB) {
  const ai = tA ? 1 : k, ap = tA ? m : 1; // A(i, p) = a[i·ai + p·ap]
  const bp = tB ? 1 : n, bj = tB ? k : 1; // B(p, j) = b[p·bp + j·bj]
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * ai + p * ap] * b[p * bp + j * bj];
      c[i * n + j] = s;
    }
  }
}

/**
 * Runs every transpose case of both libraries at n = 64 and 128 for `seconds` (wall and CPU)
 * first, so the first rows do not time code V8 has not optimized yet.
 */
function warmUp(sg, tf, withSg, seconds) {
  const made = [];
  const sets = [64, 128].map((n) => {
    const data = uniform(n * n, 3);
    const a = tf.tensor2d(data, [n, n]);
    const sa = withSg ? sg.tensor([n, n], data) : null;
    const out = withSg ? sg.zeros([n, n]) : null;
    made.push(() => a.dispose(), () => sa?.dispose(), () => out?.dispose());
    return { a, sa, out };
  });
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const cpu = () => {
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / 1e6;
  };
  while (performance.now() - t0 < seconds * 1000 || cpu() < seconds) {
    for (const { a, sa, out } of sets) {
      for (const c of CASES) {
        tf.matMul(a, a, c.tA, c.tB).dispose();
        if (withSg) sg.matmul(sa, sa, { transposeA: c.tA, transposeB: c.tB, out });
      }
    }
  }
  for (const f of made) f();
}

export async function run(ctx) {
  const { sg, tf, prev, peak, quick } = ctx;
  const rows = [];
  const cells = [];
  const sgMissing = missing(sg, ["matmul"]);
  warmUp(sg, tf, sgMissing === null, quick ? 0.15 : 1);
  for (const s of shapes(quick)) {
    const { m, k, n } = s;
    const flops = 2 * m * k * n;
    for (const c of CASES) {
      if (s.cases && !s.cases.includes(c.id)) continue;
      const aShape = c.tA ? [k, m] : [m, k];
      const bShape = c.tB ? [n, k] : [k, n];
      const aData = uniform(m * k, 11 + m);
      const bData = uniform(k * n, 23 + n);
      const key = `${c.id}/${m}x${k}x${n}`;
      const row = { key, case: c.id, m, k, n, uses: s.uses?.[c.id] ?? null };

      // One setup per implementation, then all of them timed in alternating rounds.
      const fns = {};
      const cleanup = [];
      if (sgMissing) row.sg = sgMissing;
      else {
        try {
          const a = sg.tensor(aShape, aData);
          cleanup.push(() => a.dispose());
          const b = sg.tensor(bShape, bData);
          cleanup.push(() => b.dispose());
          const out = sg.zeros([m, n]);
          cleanup.push(() => out.dispose());
          const opts = { transposeA: c.tA, transposeB: c.tB, out };
          fns.sg = () => sg.matmul(a, b, opts);
        } catch (e) {
          row.sg = reason(e);
        }
      }
      {
        const a = tf.tensor2d(aData, aShape);
        const b = tf.tensor2d(bData, bShape);
        cleanup.push(() => tf.dispose([a, b]));
        fns.tf = () => tf.matMul(a, b, c.tA, c.tB).dispose();
      }
      if (flops <= naiveMaxFlops(quick)) {
        const cOut = new Float64Array(m * n);
        fns.naive = () => naiveGemm(aData, bData, cOut, m, k, n, c.tA, c.tB);
      } else row.naive = null;
      try {
        const t = measureSet(fns);
        for (const name in t) row[name] = t[name].error ? reason(t[name].error) : flops / t[name].seconds / 1e9;
        // The share of the SIMD ceiling: simdgrad and the peak probe timed in short bursts side
        // by side, the median of the per-pair shares (see measureShare).
        if (typeof row.sg === "number") {
          for (const [probe, key, share] of [[peak?.probes?.muladd, "peak", "pctPeak"], [peak?.probes?.madd, "fmaPeak", "pctFma"]]) {
            if (!probe) continue;
            const r = measureShare(fns.sg, flops, probe);
            if (r.error) continue;
            row[share] = 100 * r.share;
            row[key] = probe.flops / r.probeSeconds / 1e9;
          }
        }
      } finally {
        for (const f of cleanup) f();
      }
      row.pctPeak ??= null;
      row.pctFma ??= null;
      row.peak ??= null;
      rows.push(row);
      const p = prev(key);
      cells.push([
        `${m}×${k}×${n}`,
        c.label,
        fmt(row.sg),
        fmt(row.pctPeak, 0) + (row.pctPeak === null ? "" : "%"),
        fmt(row.peak),
        ...(peak?.madd ? [fmt(row.pctFma, 0) + (row.pctFma === null ? "" : "%")] : []),
        fmt(row.tf),
        fmt(row.naive, 2),
        ratio(row.sg, row.tf),
        ratio(row.sg, row.naive),
        change(row.sg, p?.sg),
        row.uses ?? "",
      ]);
    }
  }
  printTable(
    "GEMM, GFLOPS (C = op(A)·op(B), M×K×N; %peak: of the mul+add peak" +
      (peak?.madd ? ", %fma: of the relaxed_madd peak" : "") + ")",
    [
      { title: "M×K×N", align: "l" },
      { title: "case", align: "l" },
      { title: "simdgrad" },
      { title: "%peak" },
      { title: "peak" },
      ...(peak?.madd ? [{ title: "%fma" }] : []),
      { title: "tfjs-wasm" },
      { title: "naive JS" },
      { title: "sg/tfjs" },
      { title: "sg/naive" },
      { title: "Δ prev" },
      { title: "training use", align: "l" },
    ],
    cells,
    ["simdgrad: sg.matmul(a, b, { transposeA, transposeB, out }); tfjs: tf.matMul(a, b, transposeA, transposeB) then dispose.",
     `naive JS: one float64 dot product per output, only up to 2·${quick ? 128 : 256}³ flops (— above).`,
     "%peak: simdgrad's speed over the peak probe's, both timed in short bursts side by side, the median over pairs",
     "(peak: the probe's GFLOPS in those pairs; simdgrad's GFLOPS column is timed in rounds beside tfjs)."],
  );
  return rows;
}
