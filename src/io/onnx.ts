/**
 * ONNX export of the inference part of a graph: `g.exportOnnx({ inputs, outputs })` walks
 * the nodes the outputs depend on in topological order and writes each as one or a few
 * standard ONNX operators (default opset 17), params as initializers (float32, raw little-
 * endian bytes). The protobuf encoding is @bufbuild/protobuf's, imported on first use so it
 * stays out of every other code path (see onnx-proto.ts).
 *
 * Each op's export is one small entry of ONNX_MAPPINGS, keyed by the op's definition; an op
 * definition may also carry its own mapping in an `onnx` field, which wins. An op with no
 * mapping (a custom op, a loss) is an error that names the node.
 */
import type { Graph } from "../graph/graph.js";
import { Node } from "../graph/node.js";
import { topoSort } from "../graph/topo.js";
import type { OpDef } from "../ops/op.js";
import { activationOps, preluOp } from "../ops/activations.js";
import { linearOp, type LinearAttrs } from "../ops/linear.js";
import { matmulOp, outerOp } from "../ops/matmul.js";
import { addOp, maxOp, mulOp, scaleOp, subOp } from "../ops/elementwise.js";
import { dotOp, meanOp, sumOp } from "../ops/reduce.js";
import { mseOp, sigmoidCrossEntropyOp, softmaxCrossEntropyOp } from "../ops/losses.js";
import type { Shape } from "../runtime/shape.js";
import { ATTR_TYPE, DATA_TYPE, type WireModule, encodeMessage } from "./onnx-proto.js";

export type { WireModule };

export interface ExportOnnxOptions {
  /** The graph inputs the model takes (fed by their names). Every input the outputs depend on must be listed. */
  inputs: readonly Node[];
  /** The nodes whose values the model returns, under their node names. */
  outputs: readonly Node[];
  /** ONNX operator set, 17 (default) to 21. From 20, GeLU is written as the opset's Gelu. */
  opset?: number;
  /** The model graph's name (default "simdgrad"). */
  name?: string;
  /**
   * Writes the first dimension of every input and output as a named free dimension (the
   * batch), so the model takes any number of rows. Default false: the graph's shapes as built.
   */
  dynamicBatch?: boolean | string;
  /**
   * @bufbuild/protobuf's `wire` module, for places where its package name cannot be
   * imported (a browser page without a bundler or import map): the module object of the
   * package's dist/esm/wire/index.js, loaded by URL.
   */
  protobuf?: WireModule;
}

/** An attribute value: exactly one of f (float), i (int), s (string), floats, ints. */
export type OnnxAttr = { f: number } | { i: number } | { s: string } | { floats: number[] } | { ints: number[] };

/** What an op's mapping uses to write ONNX nodes. */
export interface OnnxBuilder {
  /** The operator set being written. */
  readonly opset: number;
  /** Adds one ONNX node; returns its first output's name (a fresh one unless given). */
  emit(opType: string, inputs: readonly string[], attrs?: Record<string, OnnxAttr>, output?: string): string;
  /** A float32 constant (an initializer) of `shape` holding `values`; returns its name. */
  constant(values: readonly number[], shape?: Shape, hint?: string): string;
  /** An int64 constant (axes, shapes); returns its name. */
  constantInt64(values: readonly number[], shape?: Shape, hint?: string): string;
}

/**
 * An op's ONNX export: writes ONNX nodes that compute `node`'s value from `inputs` (the
 * names of its input values), the last of them producing the value name `out`.
 */
export type OnnxMapping = (b: OnnxBuilder, node: Node, inputs: readonly string[], out: string) => void;

const DEFAULT_OPSET = 17;
const MAX_OPSET = 21;
/** The IR version of each opset (onnx's versioning table): opset 17–18 → IR 8, 19–20 → IR 9, 21 → IR 10. */
const IR_VERSION: Record<number, number> = { 17: 8, 18: 8, 19: 9, 20: 9, 21: 10 };

// ------------------------------------------------------------------ the mappings

/** Writes activation `kind` (the linear layer's and the activation ops' names) of x into out. */
function activation(b: OnnxBuilder, kind: string, p: number, x: string, out: string): void {
  switch (kind) {
    case "none":
    case "identity":
      b.emit("Identity", [x], undefined, out);
      return;
    case "step": {
      const gt = b.emit("Greater", [x, b.constant([p], [], "theta")]);
      b.emit("Cast", [gt], { to: { i: DATA_TYPE.FLOAT } }, out);
      return;
    }
    case "sigmoid":
      b.emit("Sigmoid", [x], undefined, out);
      return;
    case "tanh":
      b.emit("Tanh", [x], undefined, out);
      return;
    case "hardTanh":
      b.emit("Clip", [x, b.constant([-1], [], "minus_one"), b.constant([1], [], "one")], undefined, out);
      return;
    case "relu":
      b.emit("Relu", [x], undefined, out);
      return;
    case "leakyRelu":
      b.emit("LeakyRelu", [x], { alpha: { f: p } }, out);
      return;
    case "swish":
      b.emit("Mul", [x, b.emit("Sigmoid", [x])], undefined, out);
      return;
    case "gelu":
      if (b.opset >= 20) {
        b.emit("Gelu", [x], undefined, out);
      } else {
        // x·Φ(x) = x·(1 + erf(x/√2))/2
        const e = b.emit("Erf", [b.emit("Div", [x, b.constant([Math.SQRT2], [], "sqrt2")])]);
        const xe = b.emit("Mul", [x, b.emit("Add", [e, b.constant([1], [], "one")])]);
        b.emit("Mul", [xe, b.constant([0.5], [], "half")], undefined, out);
      }
      return;
    case "geluTanh":
      if (b.opset >= 20) {
        b.emit("Gelu", [x], { approximate: { s: "tanh" } }, out);
      } else {
        // x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))/2
        const x3 = b.emit("Mul", [b.emit("Mul", [x, x]), x]);
        const inner = b.emit("Add", [x, b.emit("Mul", [x3, b.constant([0.044715], [], "gelu_c")])]);
        const t = b.emit("Tanh", [b.emit("Mul", [inner, b.constant([Math.sqrt(2 / Math.PI)], [], "sqrt_2_over_pi")])]);
        const xt = b.emit("Mul", [x, b.emit("Add", [t, b.constant([1], [], "one")])]);
        b.emit("Mul", [xt, b.constant([0.5], [], "half")], undefined, out);
      }
      return;
    default:
      throw new Error(`no ONNX form for the activation '${kind}'`);
  }
}

/** Transposes the last two axes of a value of rank `rank` (≥ 2). */
function swapLast(b: OnnxBuilder, x: string, rank: number): string {
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return b.emit("Transpose", [x], { perm: { ints: perm } });
}

function matmulMapping(b: OnnxBuilder, node: Node, [a, c]: readonly string[], out: string): void {
  const attrs = node.attrs as { transposeA?: boolean; transposeB?: boolean };
  const ra = node.inputs[0]!.shape.length;
  const rb = node.inputs[1]!.shape.length;
  const tA = ra >= 2 && attrs.transposeA === true;
  const tB = rb >= 2 && attrs.transposeB === true;
  if (ra === 2 && rb === 2) {
    const g: Record<string, OnnxAttr> = {};
    if (tA) g.transA = { i: 1 };
    if (tB) g.transB = { i: 1 };
    b.emit("Gemm", [a!, c!], g, out);
    return;
  }
  b.emit("MatMul", [tA ? swapLast(b, a!, ra) : a!, tB ? swapLast(b, c!, rb) : c!], undefined, out);
}

function linearMapping(b: OnnxBuilder, node: Node, inputs: readonly string[], out: string): void {
  const a = node.attrs as LinearAttrs;
  const [x, W, bias] = inputs;
  const plain = a.name === "none";
  let z: string;
  if (node.inputs[0]!.shape.length === 2) {
    z = b.emit("Gemm", bias ? [x!, W!, bias] : [x!, W!], undefined, plain ? out : undefined);
  } else {
    const xw = b.emit("MatMul", [x!, W!], undefined, plain && !bias ? out : undefined);
    z = bias ? b.emit("Add", [xw, bias], undefined, plain ? out : undefined) : xw;
  }
  if (!plain) activation(b, a.name, a.p, z, out);
}

function reduceMapping(kind: "ReduceSum" | "ReduceMean"): OnnxMapping {
  return (b, node, [x], out) => {
    const axis = (node.attrs as { axis?: number } | undefined)?.axis;
    const keep = { keepdims: { i: 0 } };
    if (axis === undefined || axis === null) {
      b.emit(kind, [x!], keep, out);
    } else if (kind === "ReduceSum" || b.opset >= 18) {
      b.emit(kind, [x!, b.constantInt64([axis], [1], "axes")], keep, out);
    } else {
      b.emit(kind, [x!], { ...keep, axes: { ints: [axis] } }, out);
    }
  };
}

const act = (kind: string): OnnxMapping => (b, node, [x], out) => activation(b, kind, (node.attrs as { p?: number } | undefined)?.p ?? 0, x!, out);
const same = (opType: string): OnnxMapping => (b, _node, inputs, out) => {
  b.emit(opType, inputs, undefined, out);
};
const lossError: OnnxMapping = (_b, node) => {
  throw new Error(`${node.describe()} is a loss, which is not part of the model; export what it is computed from (e.g. the logits) instead`);
};

/** The ONNX form of every op, keyed by the op's definition. */
export const ONNX_MAPPINGS = new Map<OpDef<never>, OnnxMapping>([
  [matmulOp, matmulMapping],
  [linearOp, linearMapping],
  [outerOp, (b, _n, [u, v], out) => {
    const col = b.emit("Unsqueeze", [u!, b.constantInt64([1], [1], "axes")]);
    const row = b.emit("Unsqueeze", [v!, b.constantInt64([0], [1], "axes")]);
    b.emit("Mul", [col, row], undefined, out);
  }],
  [addOp, same("Add")],
  [subOp, same("Sub")],
  [mulOp, same("Mul")],
  [maxOp, same("Max")],
  [scaleOp, (b, node, [x], out) => {
    b.emit("Mul", [x!, b.constant([(node.attrs as { s: number }).s], [], "scale")], undefined, out);
  }],
  [dotOp, same("MatMul")],
  [sumOp, reduceMapping("ReduceSum")],
  [meanOp, reduceMapping("ReduceMean")],
  [preluOp, same("PRelu")],
  ...Object.keys(activationOps).map((k) => [activationOps[k as keyof typeof activationOps], act(k)] as unknown as [OpDef<never>, OnnxMapping]),
  [softmaxCrossEntropyOp, lossError],
  [sigmoidCrossEntropyOp, lossError],
  [mseOp, lossError],
] as [OpDef<never>, OnnxMapping][]);

/** Adds or replaces the ONNX form of an op (ops defined elsewhere plug in here). */
export function registerOnnx(op: OpDef<never> | OpDef<unknown>, mapping: OnnxMapping): void {
  ONNX_MAPPINGS.set(op as OpDef<never>, mapping);
}

function mappingOf(node: Node): OnnxMapping | undefined {
  const op = node.op as (OpDef<unknown> & { onnx?: OnnxMapping }) | null;
  if (op === null) return undefined;
  return typeof op.onnx === "function" ? op.onnx : ONNX_MAPPINGS.get(op as OpDef<never>);
}

// ------------------------------------------------------------------ building the model

type Msg = Record<string, unknown>;

class Builder implements OnnxBuilder {
  readonly nodes: Msg[] = [];
  readonly initializers: Msg[] = [];
  private readonly used = new Set<string>();
  private counter = 0;
  /** Name of the node being exported (ONNX node names derive from it). */
  current = "";

  constructor(readonly opset: number) {}

  claim(name: string): string {
    let n = name;
    for (let i = 1; this.used.has(n); i++) n = `${name}_${i}`;
    this.used.add(n);
    return n;
  }

  fresh(hint: string): string {
    return this.claim(`${this.current}/${hint}`);
  }

  emit(opType: string, inputs: readonly string[], attrs?: Record<string, OnnxAttr>, output?: string): string {
    const out = output ?? this.fresh(opType);
    const attribute = Object.entries(attrs ?? {}).map(([name, v]) => attributeProto(name, v));
    this.nodes.push({
      input: inputs.slice(),
      output: [out],
      name: `${this.current}/${opType}_${this.counter++}`,
      op_type: opType,
      ...(attribute.length ? { attribute } : {}),
    });
    return out;
  }

  constant(values: readonly number[], shape: Shape = [values.length], hint = "const"): string {
    const name = this.fresh(hint);
    this.initializers.push(tensorProto(name, shape, DATA_TYPE.FLOAT, floatBytes(values)));
    return name;
  }

  constantInt64(values: readonly number[], shape: Shape = [values.length], hint = "const"): string {
    const name = this.fresh(hint);
    const bytes = new Uint8Array(8 * values.length);
    const dv = new DataView(bytes.buffer);
    values.forEach((v, i) => dv.setBigInt64(8 * i, BigInt(v), true));
    this.initializers.push(tensorProto(name, shape, DATA_TYPE.INT64, bytes));
    return name;
  }
}

function attributeProto(name: string, v: OnnxAttr): Msg {
  if ("f" in v) return { name, type: ATTR_TYPE.FLOAT, f: v.f };
  if ("i" in v) return { name, type: ATTR_TYPE.INT, i: v.i };
  if ("s" in v) return { name, type: ATTR_TYPE.STRING, s: v.s };
  if ("floats" in v) return { name, type: ATTR_TYPE.FLOATS, floats: v.floats };
  return { name, type: ATTR_TYPE.INTS, ints: v.ints };
}

function tensorProto(name: string, shape: Shape, dataType: number, raw: Uint8Array): Msg {
  return { dims: shape.slice(), data_type: dataType, name, raw_data: raw };
}

function floatBytes(values: ArrayLike<number>): Uint8Array {
  const bytes = new Uint8Array(4 * values.length);
  const dv = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) dv.setFloat32(4 * i, values[i]!, true);
  return bytes;
}

function valueInfo(name: string, shape: Shape, batch: string | null): Msg {
  const dim = shape.map((d, i) => (i === 0 && batch !== null) || d < 0 ? { dim_param: i === 0 && batch !== null ? batch : `d${i}` } : { dim_value: d });
  return { name, type: { tensor_type: { elem_type: DATA_TYPE.FLOAT, shape: { dim } } } };
}

function nodeList(v: unknown, what: string, g: Graph): Node[] {
  if (!Array.isArray(v) || v.length === 0) throw new TypeError(`exportOnnx: ${what} must be a non-empty array of nodes of this graph`);
  const seen = new Set<Node>();
  for (const n of v) {
    if (!(n instanceof Node)) throw new TypeError(`exportOnnx: ${what} must hold nodes of this graph, got ${n === null ? "null" : typeof n}`);
    if (n.graph !== g) throw new Error(`exportOnnx: ${n.describe()} in ${what} belongs to another graph`);
    if (seen.has(n)) throw new Error(`exportOnnx: ${n.describe()} appears twice in ${what}`);
    seen.add(n);
  }
  return v as Node[];
}

/**
 * The ONNX model of `opts.outputs` computed from `opts.inputs`, as a plain ModelProto
 * object (field names as in onnx.proto). Throws, naming the node, when a node cannot be
 * exported. Param values are copied as they are now.
 */
export function buildOnnxModel(g: Graph, opts: ExportOnnxOptions): Msg {
  if (opts === null || typeof opts !== "object") throw new TypeError("exportOnnx: options { inputs, outputs } are required");
  if (g.disposed) throw new Error("exportOnnx: the graph has been disposed");
  const inputs = nodeList(opts.inputs, "inputs", g);
  const outputs = nodeList(opts.outputs, "outputs", g);
  for (const n of inputs) if (n.kind !== "input") throw new Error(`exportOnnx: ${n.describe()} is listed in inputs but is not an input (g.input)`);
  const opset = opts.opset ?? DEFAULT_OPSET;
  if (!Number.isInteger(opset) || opset < DEFAULT_OPSET || opset > MAX_OPSET) {
    throw new RangeError(`exportOnnx: opset must be an integer from ${DEFAULT_OPSET} to ${MAX_OPSET}, got ${String(opset)}`);
  }
  const batch = opts.dynamicBatch === true ? "batch" : typeof opts.dynamicBatch === "string" && opts.dynamicBatch ? opts.dynamicBatch : null;
  const b = new Builder(opset);
  const names = new Map<Node, string>();
  // Inputs, params and outputs keep their node names (those are what users feed and read).
  const order = topoSort(outputs);
  const inputSet = new Set(inputs);
  for (const n of order) {
    if (n.kind === "input" && !inputSet.has(n)) {
      throw new Error(`exportOnnx: the outputs depend on input ${n.describe()}, which is not in inputs`);
    }
  }
  for (const n of [...inputs, ...order.filter((n) => n.kind === "param"), ...outputs]) {
    if (!names.has(n)) names.set(n, b.claim(n.name));
  }
  for (const n of order) {
    if (n.kind === "param") b.initializers.push(tensorProto(names.get(n)!, n.shape, DATA_TYPE.FLOAT, floatBytes(n.value.data)));
  }
  for (const n of order) {
    if (n.kind === "input" || n.kind === "param") continue;
    if (n.kind === "custom") throw new Error(`exportOnnx: ${n.describe()} is a custom op, which has no ONNX form`);
    const mapping = mappingOf(n);
    if (mapping === undefined) throw new Error(`exportOnnx: ${n.describe()} has no ONNX form yet`);
    if (!names.has(n)) names.set(n, b.claim(n.name));
    b.current = n.name;
    try {
      mapping(b, n, n.inputs.map((i) => names.get(i)!), names.get(n)!);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      throw new Error(msg.startsWith("exportOnnx") ? msg : `exportOnnx: ${n.describe()}: ${msg}`);
    }
  }
  // An output that is an input or a param gets an Identity so the graph output is a computed value.
  const outNames = outputs.map((n) => {
    if (n.kind !== "input" && n.kind !== "param") return names.get(n)!;
    b.current = n.name;
    return b.emit("Identity", [names.get(n)!], undefined, b.claim(`${n.name}_out`));
  });
  const graph: Msg = {
    node: b.nodes,
    name: opts.name ?? "simdgrad",
    initializer: b.initializers,
    input: inputs.map((n) => valueInfo(names.get(n)!, n.shape, batch)),
    output: outputs.map((n, i) => valueInfo(outNames[i]!, n.shape, batch !== null && n.shape.length > 0 ? batch : null)),
  };
  return {
    ir_version: IR_VERSION[opset]!,
    producer_name: "simdgrad",
    graph,
    opset_import: [{ version: opset }], // the default domain (ai.onnx)
  };
}

/** Loads the protobuf writer on first use (a separate module, kept out of every other path). */
async function loadWire(): Promise<WireModule> {
  try {
    return (await import("@bufbuild/protobuf/wire")) as unknown as WireModule;
  } catch (e) {
    throw new Error(
      "exportOnnx: could not load the protobuf encoder '@bufbuild/protobuf' (install it: npm install @bufbuild/protobuf; " +
        `in a page without a bundler, pass its wire module as the protobuf option): ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}

/** The ONNX model as bytes (a .onnx file). Checks everything before loading the encoder. */
export async function exportOnnx(g: Graph, opts: ExportOnnxOptions): Promise<Uint8Array> {
  const model = buildOnnxModel(g, opts);
  const wire = opts.protobuf ?? (await loadWire());
  if (wire === null || typeof wire !== "object" || typeof wire.BinaryWriter !== "function" || typeof wire.WireType !== "object") {
    throw new TypeError("exportOnnx: protobuf must be @bufbuild/protobuf's wire module (with BinaryWriter and WireType)");
  }
  return encodeMessage(wire, "ModelProto", model);
}
