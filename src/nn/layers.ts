/**
 * Layer helpers: plain functions over a graph that create named params with the usual
 * initialisation and return nodes, so a model reads like its diagram:
 *
 *     const h = nn.embedding(g, ids, V, 64, { name: "tok" });
 *     const y = nn.block(g, h, { name: "block0", heads: 4, hidden: 256, causal: true });
 *     const logits = nn.linear(g, nn.layerNorm(g, y, { name: "lnf" }), V, { name: "head" });
 *
 * Params are named `<name>.weight`, `<name>.bias` (and so on), which is what saveParams,
 * loadParams and checkpoints key on. Each param's initial values are seeded from its name
 * (and `seed`), so building the same model twice gives the same weights.
 */
import type { Graph } from "../graph/graph.js";
import type { Node } from "../graph/node.js";
import type { InitName } from "./init.js";
import type { LinearActivation } from "../ops/linear.js";
import { fmtShape } from "../runtime/shape.js";

/** A 32-bit FNV-1a hash of a param name, mixed with a seed: the param's init seed. */
function seedOf(name: string, seed: number): number {
  let h = 0x811c9dc5 ^ (seed >>> 0);
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function checkName(op: string, opts: { name?: unknown } | undefined): string {
  if (opts === null || typeof opts !== "object" || typeof opts.name !== "string" || opts.name.length === 0) {
    throw new TypeError(`nn.${op}: options must name the layer, e.g. { name: "${op}1" } (its params are called <name>.weight, …)`);
  }
  return opts.name;
}

function checkCount(op: string, what: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) throw new RangeError(`nn.${op}: ${what} must be an integer ≥ 1, got ${String(v)}`);
  return v;
}

export interface LinearOptions {
  /** Names the params: `<name>.weight` [in, out] and `<name>.bias` [out]. */
  name: string;
  /** Add a bias (default true). */
  bias?: boolean;
  /** Activation applied in the same kernel pass (default none). */
  activation?: LinearActivation;
  /** Weight init (default "uniform" with half-width 1/√in, as PyTorch's Linear); bias starts at 0. */
  init?: InitName;
  /** Standard deviation ("normal") or half-width ("uniform") of the weight init. */
  std?: number;
  seed?: number;
}

/**
 * x·W + b over the last axis of x [..., in] → [..., out], with W [in, out] and b [out] new
 * params. Leading axes are flattened for one fused matmul and restored after.
 */
export function linear(g: Graph, x: Node, outFeatures: number, opts: LinearOptions): Node {
  const name = checkName("linear", opts);
  checkCount("linear", "outFeatures", outFeatures);
  if (x.shape.length < 1) throw new Error(`nn.linear '${name}': x must have at least one axis, x is ${fmtShape(x.shape)}`);
  const inF = x.shape[x.shape.length - 1]!;
  const seed = opts.seed ?? 0;
  const init = opts.init ?? "uniform";
  const std = opts.std ?? (init === "uniform" ? 1 / Math.sqrt(Math.max(inF, 1)) : undefined);
  const W = g.param([inF, outFeatures], { name: `${name}.weight`, init, std, seed: seedOf(`${name}.weight`, seed) });
  const b = opts.bias === false ? null : g.param([outFeatures], { name: `${name}.bias`, init: "zeros" });
  const lead = x.shape.slice(0, -1);
  const rows = lead.reduce((a, d) => a * d, 1);
  const flat = x.shape.length === 2 ? x : g.reshape(x, [rows, inF]);
  const y = g.linear(flat, W, b, opts.activation);
  return x.shape.length === 2 ? y : g.reshape(y, [...lead, outFeatures]);
}

export interface EmbeddingOptions {
  /** Names the table param `<name>.weight` [vocab, dim]. */
  name: string;
  /** Standard deviation of the normal init (default 0.02). */
  std?: number;
  seed?: number;
}

/** Rows of a new table param [vocab, dim] picked by integer ids (any shape) → [...ids, dim]. */
export function embedding(g: Graph, ids: Node, vocab: number, dim: number, opts: EmbeddingOptions): Node {
  const name = checkName("embedding", opts);
  checkCount("embedding", "vocab", vocab);
  checkCount("embedding", "dim", dim);
  const table = g.param([vocab, dim], { name: `${name}.weight`, init: "normal", std: opts.std ?? 0.02, seed: seedOf(`${name}.weight`, opts.seed ?? 0) });
  return g.embedding(ids, table);
}

export interface LayerNormOptions {
  /** Names the params `<name>.weight` (gain, starts at 1) and `<name>.bias` (starts at 0). */
  name: string;
  eps?: number;
}

/** Layer norm over the last axis with a learned gain and bias of that axis' size. */
export function layerNorm(g: Graph, x: Node, opts: LayerNormOptions): Node {
  const name = checkName("layerNorm", opts);
  const d = x.shape[x.shape.length - 1];
  if (d === undefined) throw new Error(`nn.layerNorm '${name}': x must have at least one axis, x is ${fmtShape(x.shape)}`);
  const gamma = g.param([d], { name: `${name}.weight`, init: "ones" });
  const beta = g.param([d], { name: `${name}.bias`, init: "zeros" });
  return g.layerNorm(x, gamma, beta, { eps: opts.eps ?? 1e-5 });
}

export interface AttentionOptions {
  /** Names the projections `<name>.q`, `<name>.k`, `<name>.v` and `<name>.out`. */
  name: string;
  /** Number of heads; must divide the model width. */
  heads: number;
  /** Each position attends to itself and earlier positions only (default false). */
  causal?: boolean;
  seed?: number;
}

/**
 * Multi-head self-attention over x [B, T, d]: q, k, v = x·Wq, x·Wk, x·Wv, each [B, T, d]
 * holding `heads` heads of d/heads side by side; softmax(q·kᵀ/√(d/heads) (+ causal mask))·v
 * per head by the fused op (heads read in place), projected by Wout → [B, T, d].
 */
export function attention(g: Graph, x: Node, opts: AttentionOptions): Node {
  const name = checkName("attention", opts);
  const heads = checkCount("attention", "heads", opts.heads);
  if (x.shape.length !== 3) throw new Error(`nn.attention '${name}': x must be [B, T, d], x is ${fmtShape(x.shape)}`);
  const d = x.shape[2]!;
  if (d % heads !== 0) throw new Error(`nn.attention '${name}': ${heads} heads do not divide the width ${d} (x is ${fmtShape(x.shape)})`);
  const seed = opts.seed ?? 0;
  // The heads stay side by side in each row ([B, T, heads·dh], as the projections leave
  // them): the fused op reads them in place, so no transposes are made either way.
  const q = linear(g, x, d, { name: `${name}.q`, seed });
  const k = linear(g, x, d, { name: `${name}.k`, seed });
  const v = linear(g, x, d, { name: `${name}.v`, seed });
  const y = g.attention(q, k, v, { causal: opts.causal === true, heads });
  return linear(g, y, d, { name: `${name}.out`, seed });
}

export interface MlpOptions {
  /** Names the layers `<name>.fc` and `<name>.proj`. */
  name: string;
  /** Activation of the hidden layer (default exact GeLU). */
  activation?: LinearActivation;
  seed?: number;
}

/** Two linear layers with an activation between: x [..., d] → [..., hidden] → [..., d]. */
export function mlp(g: Graph, x: Node, hidden: number, opts: MlpOptions): Node {
  const name = checkName("mlp", opts);
  const d = x.shape[x.shape.length - 1]!;
  const h = linear(g, x, hidden, { name: `${name}.fc`, activation: opts.activation ?? "gelu", seed: opts.seed });
  return linear(g, h, d, { name: `${name}.proj`, seed: opts.seed });
}

export interface BlockOptions {
  /** Names the block's parts: `<name>.ln1`, `<name>.attn`, `<name>.ln2`, `<name>.mlp`. */
  name: string;
  heads: number;
  /** Width of the MLP's hidden layer (commonly 4·d). */
  hidden: number;
  causal?: boolean;
  seed?: number;
}

/**
 * A pre-norm transformer block over x [B, T, d]:
 *   h = x + attention(layerNorm(x)),   y = h + mlp(layerNorm(h)).
 */
export function block(g: Graph, x: Node, opts: BlockOptions): Node {
  const name = checkName("block", opts);
  const a = attention(g, layerNorm(g, x, { name: `${name}.ln1` }), { name: `${name}.attn`, heads: opts.heads, causal: opts.causal, seed: opts.seed });
  const h = g.add(x, a);
  const m = mlp(g, layerNorm(g, h, { name: `${name}.ln2` }), opts.hidden, { name: `${name}.mlp`, seed: opts.seed });
  return g.add(h, m);
}

/**
 * Picks one index from logits with temperature: p ∝ e^(logits/temperature), sampled with
 * `random()` (a number in [0, 1)); temperature 0 gives the arg max. Pure JavaScript over a
 * row the caller read back (sampling runs once per generated token, not per element).
 */
export function sample(logits: ArrayLike<number>, temperature: number, random: () => number): number {
  if (!(temperature >= 0) || !Number.isFinite(temperature)) throw new RangeError(`nn.sample: temperature must be a finite number ≥ 0, got ${String(temperature)}`);
  const n = logits.length;
  if (n === 0) throw new RangeError("nn.sample: no logits to sample from");
  let best = 0;
  for (let i = 1; i < n; i++) if (logits[i]! > logits[best]!) best = i;
  if (temperature === 0) return best;
  const m = logits[best]!;
  let sum = 0;
  const p = new Float64Array(n);
  for (let i = 0; i < n; i++) sum += p[i] = Math.exp((logits[i]! - m) / temperature);
  let r = random() * sum;
  for (let i = 0; i < n; i++) {
    r -= p[i]!;
    if (r < 0) return i;
  }
  return best;
}
