/**
 * Numeric checking of gradients, as the notes teach: perturb one value by ±h, run forward,
 * and compare the two-sided slope (f(x+h) − f(x−h)) / 2h with what backward computed.
 *
 * Defaults for float32: h = 1e-2 and tol = 1e-2. The slope estimate carries a truncation
 * error of about h²·|f‴|/6 and a rounding error of about ε·|f|/h with ε ≈ 6e-8 (float32
 * rounding): h = 1e-4, the float64 habit, would make the rounding term ~6e-4·|f| and drown
 * small gradients, while h = 1e-2 keeps both terms near 1e-5 for losses of order 1. An
 * element passes when |analytic − numeric| ≤ tol · max(1, |analytic|, |numeric|), the
 * notes' "within about 1e-2" made scale-aware for large gradients.
 */
import type { Feeds, Graph } from "../graph/graph.js";
import { type Node, checkLeafNodes } from "../graph/node.js";
import { Rng } from "../runtime/random.js";
import { fmtShape } from "../runtime/shape.js";

export interface GradcheckOptions {
  feeds?: Feeds;
  /** Step of the two-sided estimate (default 1e-2, see above). */
  h?: number;
  /** Pass threshold (default 1e-2, see above). */
  tol?: number;
  /** Elements checked per param at most; bigger params are sampled (default 64). */
  samples?: number;
  /** Which leaves to check (default: every param and every input with requiresGrad). */
  wrt?: readonly Node[];
  seed?: number;
}

export interface GradcheckEntry {
  name: string;
  shape: readonly number[];
  checked: number;
  maxAbsError: number;
  maxRelError: number;
  /** The worst element: index, analytic and numeric values. */
  worst: { index: number; analytic: number; numeric: number } | null;
}

export interface GradcheckReport {
  ok: boolean;
  maxAbsError: number;
  maxRelError: number;
  params: GradcheckEntry[];
}

function scalarValue(loss: Node): number {
  return loss.value.data[0]!;
}

export function gradcheck(g: Graph, loss: Node, opts: GradcheckOptions = {}): GradcheckReport {
  opts ??= {};
  if (loss.size !== 1) throw new Error(`gradcheck: ${loss.describe()} must be a scalar (size 1), it has shape ${fmtShape(loss.shape)}`);
  const h = opts.h ?? 1e-2;
  const tol = opts.tol ?? 1e-2;
  const samples = opts.samples ?? 64;
  if (!(h > 0)) throw new RangeError(`gradcheck: h must be positive, got ${h}`);
  if (!(tol >= 0)) throw new RangeError(`gradcheck: tol must be a number ≥ 0, got ${String(tol)}`);
  if (!Number.isInteger(samples) || samples < 1) {
    throw new RangeError(`gradcheck: samples must be a positive integer, got ${String(samples)} (checking no element would prove nothing)`);
  }
  const leaves = opts.wrt ?? [...g.params, ...g.inputs.filter((n) => n.requiresGrad)];
  if (leaves.length === 0) {
    throw new Error(`gradcheck: nothing to check: ${opts.wrt ? "wrt is empty" : "the graph has no params and no inputs with requiresGrad"}`);
  }
  checkLeafNodes(leaves, "gradcheck", g._host, "it would be checked twice");
  for (const n of leaves) if (n.graph !== g) throw new Error(`gradcheck: ${n.describe()} belongs to another graph`);
  const run = { outputs: [loss] };

  // Analytic gradients from one clean backward, with leaf gradients zeroed first and
  // restored afterwards so the check leaves the graph as it found it.
  const before = leaves.map((n) => n.grad!.toArray());
  g.forward(opts.feeds ?? {}, run);
  for (const n of leaves) n.grad!.fill(0);
  g.backward(loss);
  const analytic = leaves.map((n) => n.grad!.toArray());
  leaves.forEach((n, i) => n.grad!.set(before[i]!));

  const rng = new Rng(opts.seed ?? 7);
  let maxAbs = 0;
  let maxRel = 0;
  let ok = true;
  const entries: GradcheckEntry[] = [];
  leaves.forEach((node, li) => {
    const n = node.size;
    const idx: number[] = [];
    if (n <= samples) for (let i = 0; i < n; i++) idx.push(i);
    else {
      const seen = new Set<number>();
      while (seen.size < samples) seen.add(rng.int(n));
      idx.push(...[...seen].sort((a, b) => a - b));
    }
    const entry: GradcheckEntry = { name: node.name, shape: node.shape, checked: idx.length, maxAbsError: 0, maxRelError: 0, worst: null };
    for (const i of idx) {
      const data = node.value.data;
      const orig = data[i]!;
      data[i] = orig + h;
      g.forward({}, run);
      const fp = scalarValue(loss);
      node.value.data[i] = orig - h;
      g.forward({}, run);
      const fm = scalarValue(loss);
      node.value.data[i] = orig;
      const numeric = (fp - fm) / (2 * h);
      const a = analytic[li]![i]!;
      const abs = Math.abs(a - numeric);
      const rel = abs / Math.max(Math.abs(a), Math.abs(numeric), 1e-12);
      const pass = abs <= tol * Math.max(1, Math.abs(a), Math.abs(numeric));
      if (!pass) ok = false;
      if (!(abs <= entry.maxAbsError)) {
        entry.maxAbsError = abs;
        entry.worst = { index: i, analytic: a, numeric };
      }
      if (abs > 0 && rel > entry.maxRelError) entry.maxRelError = rel;
    }
    maxAbs = Math.max(maxAbs, entry.maxAbsError);
    maxRel = Math.max(maxRel, entry.maxRelError);
    entries.push(entry);
  });
  // Leave the values computed at the unperturbed point.
  g.forward({}, run);
  return { ok, maxAbsError: maxAbs, maxRelError: maxRel, params: entries };
}
