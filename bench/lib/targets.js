// The speed targets simdgrad aims for, checked against a run's rows and printed as one table.
import { printTable, fmt } from "./table.js";

const num = (v) => typeof v === "number" && Number.isFinite(v);

/** min over rows of f(row), with the row; null when a row has no number. */
function worst(rows, f) {
  let best = null;
  for (const r of rows) {
    const v = f(r);
    if (!num(v)) return { value: null, row: r };
    if (!best || v < best.value) best = { value: v, row: r };
  }
  return best;
}

const CASE = { AB: "A·B", AtB: "Aᵀ·B", ABt: "A·Bᵀ" };
const where = (r) => (r ? `${CASE[r.case] ?? ""} ${r.m}×${r.k}×${r.n}`.trim() : "");

export function targetsOf(run) {
  const out = [];
  const gemm = run.suites.gemm;
  if (gemm) {
    // Narrow products (n ≤ 16 or k ≤ 16: the classifier's three) have their own line below:
    // they take the narrow and shallow paths of assembly/gemm-narrow.ts, whose ceilings are
    // different ones (one or two column tiles; ten depth steps a tile).
    const narrow = (r) => r.n <= 16 || r.k <= 16;
    const big = gemm.filter((r) => !narrow(r) && (!(r.m === r.k && r.k === r.n) || r.n >= 128));
    const relaxed = run.header?.build === "relaxed";
    // The ceiling of each build: mul+add for SIMD128, relaxed_madd (FMA) for relaxed.
    const share = (r) => (relaxed ? r.pctFma : r.pctPeak);
    const of = relaxed ? "relaxed_madd" : "mul+add";
    const need = relaxed ? 85 : 90;
    out.push({ what: `GEMM ≥ ${need}% of ${of} peak (all cases, n ≥ 128 and layer shapes)`, need, unit: "%", ...worst(big, share) });
    const thin = gemm.filter(narrow);
    if (thin.length) out.push({ what: `GEMM narrow products (n or k = 10: the classifier's) ≥ 60% of ${of} peak`, need: 60, unit: "%", ...worst(thin, share) });
    const small = gemm.filter((r) => r.m === 64 && r.k === 64 && r.n === 64);
    if (small.length) out.push({ what: `GEMM 64×64×64 ≥ 85% of ${of} peak (all cases)`, need: 85, unit: "%", ...worst(small, share) });
    const at = (c, n) => gemm.filter((r) => r.case === c && r.m === n && r.k === n && r.n === n);
    const sp = (r) => (num(r.sg) && num(r.tf) ? r.sg / r.tf : null);
    out.push({ what: "GEMM A·B ≥ 1.3× tfjs at n = 1024", need: 1.3, unit: "×", ...worst(at("AB", 1024), sp) });
    out.push({ what: "GEMM A·B ≥ 3× tfjs at n = 64", need: 3, unit: "×", ...worst(at("AB", 64), sp) });
    out.push({ what: "GEMM Aᵀ·B and A·Bᵀ ≥ 10× tfjs (worst shape)", need: 10, unit: "×", ...worst(gemm.filter((r) => r.case !== "AB"), sp) });
  }
  const train = run.suites.train;
  if (train) {
    const t = (key, need, what) => {
      const r = train.find((x) => x.key === key);
      if (r) out.push({ what, need, unit: "×", value: num(r.speedup) ? r.speedup : null, row: null });
    };
    t("mlp784-256-10/b64", 6, "train step 784→256→10 ≥ 6× tfjs at batch 64");
    t("mlp784-256-10/b1", 8, "train step 784→256→10 ≥ 8× tfjs at batch 1");
    t("mlp2-16-1/b32", 20, "train step 2→16→1 ≥ 20× tfjs");
    const eff = train.find((x) => x.key === "mlp784-256-10/b64");
    if (eff) out.push({ what: "train step 784→256→10 at batch 64: ≥ 88% of its GEMM time at the peak", need: 88, unit: "%", value: num(eff.stepEff) ? eff.stepEff : null, row: null });
  }
  const tr = run.suites.transformer;
  if (tr) {
    const r = tr.find((x) => x.key?.startsWith("attention/causal/"));
    if (r) {
      out.push({ what: "causal attention fwd+bwd (64×256×64) fused ≥ 2× composed", need: 2, unit: "×", value: num(r.vsComposed) ? r.vsComposed : null, row: null });
      out.push({ what: "causal attention fwd+bwd (64×256×64) fused ≥ 20× tfjs", need: 20, unit: "×", value: num(r.vsTf) ? r.vsTf : null, row: null });
    }
    const c = tr.find((x) => x.key?.startsWith("charmodel/train/"));
    if (c) out.push({ what: "char model train step (batch 16) ≥ 5× tfjs", need: 5, unit: "×", value: num(c.vsTf) ? c.vsTf : null, row: null });
  }
  const conv = run.suites.conv;
  if (conv) {
    const layers = conv.filter((r) => r.kind);
    const fwd = layers.filter((r) => r.kind === "fwd");
    const at = (r) => (r ? `${r.kind} ${r.layer}` : "");
    const sp = (r) => (num(r.sg) && num(r.tf) ? r.sg / r.tf : null);
    const w1 = worst(fwd, sp);
    out.push({ what: "conv2d forward ≥ 1.0× tfjs wasm (every layer)", need: 1, unit: "×", value: w1?.value ?? null, label: at(w1?.row) });
    const w2 = worst(layers.filter((r) => r.c >= 16), (r) => r.pctGemm);
    out.push({ what: "conv2d fwd, input and filter grad ≥ 80% of the equal GEMM (C ≥ 16)", need: 80, unit: "%", value: w2?.value ?? null, label: at(w2?.row) });
    const cnn = conv.find((r) => r.key === "cnn/b32");
    if (cnn) {
      out.push({ what: "CNN step at batch 32 ≥ 500× tfjs cpu", need: 500, unit: "×", value: num(cnn.speedupCpu) ? cnn.speedupCpu : null, row: null });
      out.push({ what: "CNN step ≤ 3.5× its own forward pass", need: 3.5, unit: "×", lower: true, value: num(cnn.stepOverFwd) ? cnn.stepOverFwd : null, row: null });
    }
  }
  return out;
}

/** Prints every run's targets; returns true when all are met. */
export function checkTargets(runs) {
  let ok = true;
  const cells = [];
  for (const run of runs) {
    for (const t of targetsOf(run)) {
      const status = t.value === null ? "n/a" : (t.lower ? t.value <= t.need : t.value >= t.need) ? "met" : "SHORT";
      if (status !== "met") ok = false;
      cells.push([run.header.build, t.what, t.value === null ? "—" : `${fmt(t.value, t.unit === "%" ? 0 : 2)}${t.unit}`, status, t.label ?? where(t.row)]);
    }
  }
  if (cells.length) {
    printTable(
      "Targets",
      [{ title: "build", align: "l" }, { title: "target", align: "l" }, { title: "measured" }, { title: "status", align: "l" }, { title: "worst row", align: "l" }],
      cells,
    );
  }
  return ok;
}
