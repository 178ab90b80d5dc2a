/**
 * Saving and loading a graph's params by name, and checkpoints that add an optimizer's state
 * so training resumes exactly where it stopped. Both are safetensors files (F32): params
 * under their own names, so any safetensors reader (PyTorch, NumPy, another simdgrad) sees
 * them; a checkpoint's optimizer buffers under `optimizer/<slot>/<param name>`, described by
 * a JSON entry of the `__metadata__` map.
 *
 * Loading checks everything first (every name, every shape, the optimizer's kind and
 * settings) and writes only when all of it fits, so a failed load changes nothing.
 */
import type { Graph } from "../graph/graph.js";
import type { Node } from "../graph/node.js";
import type { OptimizerState } from "../optim/optimizers.js";
import type { SGD, Adam } from "../optim/optimizers.js";
import { fmtShape, sameShape } from "../runtime/shape.js";
import type { Tensor } from "../runtime/tensor.js";
import { type SafetensorsTensor, parseFile, serialize } from "./safetensors.js";

export interface SaveParamsOptions {
  /** Extra `__metadata__` entries (strings). */
  metadata?: Record<string, string>;
}

export interface LoadParamsOptions {
  /**
   * true (default): the file must hold exactly the graph's params. false: params the file
   * lacks keep their values and tensors the graph lacks are ignored (shapes are still checked).
   */
  strict?: boolean;
}

export interface CheckpointTarget {
  graph: Graph;
  optimizer?: SGD | Adam;
}

/** The metadata key of a checkpoint's description. */
const CHECKPOINT_KEY = "simdgrad.checkpoint";
const CHECKPOINT_VERSION = 1;

function liveParams(g: Graph, op: string): Node[] {
  if (g === null || typeof g !== "object" || typeof (g as Partial<Graph>).saveParams !== "function") {
    throw new TypeError(`${op}: expected a graph (sg.graph())`);
  }
  if (g.disposed) throw new Error(`${op}: the graph has been disposed`);
  return g.params;
}

/** The params of `g` as a safetensors file, by name. */
export function saveParams(g: Graph, opts: SaveParamsOptions = {}): Uint8Array {
  const params = liveParams(g, "saveParams");
  return serialize(paramRecord(params), { metadata: opts.metadata });
}

function paramRecord(params: readonly Node[]): Record<string, { shape: readonly number[]; data: Float32Array }> {
  const record = Object.create(null) as Record<string, { shape: readonly number[]; data: Float32Array }>;
  for (const p of params) record[p.name] = { shape: p.shape, data: p.value.data };
  return record;
}

/** Reads params by name from a safetensors file; checks all of them before writing any. */
export function loadParams(g: Graph, bytes: Uint8Array | ArrayBuffer, opts: LoadParamsOptions = {}): void {
  const op = "loadParams";
  const params = liveParams(g, op);
  if (opts === null || typeof opts !== "object") throw new TypeError(`${op}: options must be an object`);
  const strict = opts.strict ?? true;
  const { tensors } = wrap(op, () => parseFile(bytes));
  const writes = planParams(op, params, tensors, new Set(), strict);
  for (const [t, data] of writes) t.set(data);
}

/** Matches file tensors to params by name and shape; returns the writes to make. */
function planParams(
  op: string,
  params: readonly Node[],
  tensors: Record<string, SafetensorsTensor>,
  reserved: ReadonlySet<string>,
  strict: boolean,
): [Tensor, Float32Array][] {
  const writes: [Tensor, Float32Array][] = [];
  const missing: string[] = [];
  for (const p of params) {
    const t = tensors[p.name];
    if (t === undefined) {
      missing.push(`'${p.name}' ${fmtShape(p.shape)}`);
      continue;
    }
    if (!sameShape(t.shape, p.shape)) {
      throw new Error(`${op}: param '${p.name}' is ${fmtShape(p.shape)} in the graph but ${fmtShape(t.shape)} in the file; nothing was loaded`);
    }
    writes.push([p.value, t.data]);
  }
  if (strict) {
    if (missing.length > 0) {
      throw new Error(`${op}: the file has no ${missing.length === 1 ? "tensor" : "tensors"} for param${missing.length === 1 ? "" : "s"} ${missing.join(", ")}; nothing was loaded (pass { strict: false } to load a part)`);
    }
    const names = new Set(params.map((p) => p.name));
    const extra = Object.keys(tensors).filter((n) => !names.has(n) && !reserved.has(n));
    if (extra.length > 0) {
      const shown = extra.slice(0, 8).map((n) => `'${n}' ${fmtShape(tensors[n]!.shape)}`).join(", ");
      throw new Error(`${op}: the file has ${extra.length === 1 ? "a tensor" : "tensors"} the graph has no param for: ${shown}${extra.length > 8 ? ", …" : ""}; nothing was loaded (pass { strict: false } to ignore them)`);
    }
  }
  return writes;
}

function wrap<T>(op: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof Error && e.message.startsWith("safetensors")) throw new Error(`${op}: ${e.message}`);
    throw e;
  }
}

// ------------------------------------------------------------------ checkpoints

interface CheckpointDescription {
  version: number;
  params: string[];
  /**
   * The graph's count of training-mode forward runs, which with each dropout's seed decides
   * its next masks (absent in checkpoints written before it was saved: the count is left as it is).
   */
  trainingRuns?: number;
  optimizer: null | {
    kind: string;
    params: string[];
    restored: Record<string, number>;
    fixed: Record<string, number>;
    slots: Record<string, (string | null)[]>;
  };
}

function checkTarget(target: unknown, op: string): { graph: Graph; state: OptimizerState | null } {
  if (target === null || typeof target !== "object") throw new TypeError(`${op}: expected { graph, optimizer? }`);
  const { graph, optimizer } = target as CheckpointTarget;
  liveParams(graph, op);
  let state: OptimizerState | null = null;
  if (optimizer !== undefined && optimizer !== null) {
    if (typeof (optimizer as { _state?: unknown })._state !== "function") throw new TypeError(`${op}: optimizer must be one made by sg.sgd or sg.adam`);
    state = optimizer._state(op);
  }
  return { graph, state };
}

const slotName = (slot: string, param: string) => `optimizer/${slot}/${param}`;

/** The params of `target.graph` and the state of `target.optimizer` as one safetensors file. */
export function saveCheckpoint(target: CheckpointTarget): Uint8Array {
  const op = "checkpoint.save";
  const { graph, state } = checkTarget(target, op);
  const params = graph.params;
  const record: Record<string, { shape: readonly number[]; data: Float32Array }> = paramRecord(params);
  const desc: CheckpointDescription = { version: CHECKPOINT_VERSION, params: params.map((p) => p.name), trainingRuns: graph._trainingRuns, optimizer: null };
  if (state !== null) {
    const slots: Record<string, (string | null)[]> = {};
    for (const [slot, buffers] of Object.entries(state.slots)) {
      slots[slot] = buffers.map((t, i) => {
        if (t === null) return null;
        const p = state.params[i]!;
        const name = slotName(slot, p.name);
        if (name in record) throw new Error(`${op}: the name '${name}' is used by a param and by the optimizer's state; rename the param`);
        record[name] = { shape: p.shape, data: t.data };
        return name;
      });
    }
    desc.optimizer = { kind: state.kind, params: state.params.map((p) => p.name), restored: state.restored, fixed: state.fixed, slots };
  }
  return serialize(record, { metadata: { [CHECKPOINT_KEY]: JSON.stringify(desc) } });
}

/**
 * Restores a checkpoint into `target.graph` (params by name) and `target.optimizer` (its
 * buffers, learning rate and step count), so the following steps are those training would
 * have taken had it never stopped. Everything is checked before anything is written.
 */
export function loadCheckpoint(bytes: Uint8Array | ArrayBuffer, target: CheckpointTarget): void {
  const op = "checkpoint.load";
  const { graph, state } = checkTarget(target, op);
  const { tensors, metadata } = wrap(op, () => parseFile(bytes));
  const desc = readDescription(metadata[CHECKPOINT_KEY], op);
  const reserved = new Set<string>();
  for (const list of Object.values(desc.optimizer?.slots ?? {})) for (const n of list) if (n !== null) reserved.add(n);
  const writes = planParams(op, graph.params, tensors, reserved, true);
  if (state !== null) {
    const o = desc.optimizer;
    if (o === null) throw new Error(`${op}: the checkpoint holds no optimizer state (it was saved without an optimizer); load it without one or with checkpoint.load(bytes, { graph })`);
    if (o.kind !== state.kind) throw new Error(`${op}: the checkpoint holds ${o.kind} state, the optimizer is ${state.kind}`);
    for (const [k, v] of Object.entries(state.fixed)) {
      if (o.fixed[k] !== v) throw new Error(`${op}: the checkpoint's ${o.kind} has ${k} ${String(o.fixed[k])}, this optimizer ${v}; resuming needs the same settings`);
    }
    const names = state.params.map((p) => p.name);
    if (names.length !== o.params.length || names.some((n, i) => n !== o.params[i])) {
      throw new Error(`${op}: the checkpoint's optimizer updates params [${o.params.join(", ")}], this one [${names.join(", ")}]`);
    }
    for (const k of Object.keys(state.restored)) {
      const v = o.restored[k];
      if (typeof v !== "number" || !Number.isFinite(v) || v < 0) throw new Error(`${op}: the checkpoint's optimizer ${k} is ${String(v)}, not a non-negative number`);
    }
    for (const [slot, buffers] of Object.entries(state.slots)) {
      const stored = o.slots[slot];
      if (!Array.isArray(stored) || stored.length !== buffers.length) throw new Error(`${op}: the checkpoint has no ${o.kind} '${slot}' state for every param`);
      buffers.forEach((t, i) => {
        if (t === null) return;
        const p = state.params[i]!;
        const name = stored[i];
        const src = typeof name === "string" ? tensors[name] : undefined;
        if (src === undefined) throw new Error(`${op}: the checkpoint lacks the ${o.kind} '${slot}' state of '${p.name}'`);
        if (!sameShape(src.shape, t.shape)) {
          throw new Error(`${op}: the ${o.kind} '${slot}' state of '${p.name}' is ${fmtShape(src.shape)} in the checkpoint, ${fmtShape(t.shape)} here`);
        }
        writes.push([t, src.data]);
      });
    }
  }
  for (const [t, data] of writes) t.set(data);
  if (state !== null) target.optimizer!._restore(desc.optimizer!.restored);
  if (desc.trainingRuns !== undefined) graph._trainingRuns = desc.trainingRuns;
}

function readDescription(text: string | undefined, op: string): CheckpointDescription {
  if (text === undefined) throw new Error(`${op}: the file is not a simdgrad checkpoint (no '${CHECKPOINT_KEY}' metadata); for params alone use g.loadParams`);
  let d: unknown;
  try {
    d = JSON.parse(text);
  } catch {
    throw new Error(`${op}: the checkpoint's description is not valid JSON`);
  }
  const desc = d as CheckpointDescription;
  const isStrings = (a: unknown): a is string[] => Array.isArray(a) && a.every((s) => typeof s === "string");
  const isNumbers = (r: unknown): r is Record<string, number> =>
    r !== null && typeof r === "object" && !Array.isArray(r) && Object.values(r).every((v) => typeof v === "number");
  if (desc === null || typeof desc !== "object" || desc.version !== CHECKPOINT_VERSION || !isStrings(desc.params)) {
    throw new Error(`${op}: the checkpoint's description is not one this version of simdgrad reads (version ${String((desc as { version?: unknown } | null)?.version)})`);
  }
  const runs = desc.trainingRuns;
  if (runs !== undefined && !(typeof runs === "number" && Number.isSafeInteger(runs) && runs >= 0)) {
    throw new Error(`${op}: the checkpoint's count of training runs is ${JSON.stringify(runs)}, not a non-negative integer`);
  }
  const o = desc.optimizer;
  if (o !== null) {
    const slotsOk =
      o !== undefined && typeof o === "object" && o.slots !== null && typeof o.slots === "object" &&
      Object.values(o.slots).every((l) => Array.isArray(l) && l.every((n) => n === null || typeof n === "string"));
    if (!slotsOk || typeof o.kind !== "string" || !isStrings(o.params) || !isNumbers(o.restored) || !isNumbers(o.fixed)) {
      throw new Error(`${op}: the checkpoint's optimizer description is malformed`);
    }
  }
  return desc;
}
