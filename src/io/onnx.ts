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
import type { AttrValue, OnnxEmitter, OnnxMapping, OpDef } from "../ops/op.js";
import { activationOps } from "../ops/activations.js";
import { linearOp, type LinearAttrs } from "../ops/linear.js";
import { matmulOp, outerOp } from "../ops/matmul.js";
import { addOp, maxOp, mulOp, scaleOp, subOp } from "../ops/elementwise.js";
import { dotOp, meanOp, sumOp } from "../ops/reduce.js";
import { reshapeOp, sliceOp } from "../ops/shapes.js";
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
   * batch; a string names it), so the model takes any number of rows. Default false: the
   * graph's shapes as built.
   */
  dynamicBatch?: boolean | string;
  /**
   * @bufbuild/protobuf's `wire` module, for places where its package name cannot be
   * imported (a browser page without a bundler or import map): the module object of the
   * package's dist/esm/wire/index.js, loaded by URL.
   */
  protobuf?: WireModule;
}

const DEFAULT_OPSET = 17;
const MAX_OPSET = 21;
/** The IR version of each opset (onnx's versioning table): opset 17–18 → IR 8, 19–20 → IR 9, 21 → IR 10. */
const IR_VERSION: Record<number, number> = { 17: 8, 18: 8, 19: 9, 20: 9, 21: 10 };

/** ONNX attributes whose numbers are floats (every other number is an int). */
const FLOAT_ATTRS = new Set(["alpha", "beta", "gamma", "epsilon", "lambd", "bias", "ratio", "momentum", "spatial_scale", "min", "max"]);

// ------------------------------------------------------------------ the mappings of ops not in the registry yet

type Emit<A = unknown> = (b: OnnxEmitter, inputs: readonly string[], attrs: A, shapes: readonly Shape[]) => string;

const one = (b: OnnxEmitter, opType: string, inputs: readonly string[], attrs?: Record<string, AttrValue>) => b.node(opType, inputs, attrs)[0]!;

/** Applies the ONNX form of activation `name` (an activation op's name, or "none"/"identity") to x. */
function activation(b: OnnxEmitter, name: string, p: number, x: string, shapes: readonly Shape[]): string {
  if (name === "none" || name === "identity") return x;
  const op = (activationOps as Record<string, OpDef<unknown>>)[name];
  if (op === undefined) throw new Error(`no ONNX form for the activation '${name}'`);
  return applyMapping(b, op, [x], { p }, shapes);
}

/** Transposes the last two axes of a value of rank `rank` (≥ 2). */
function swapLast(b: OnnxEmitter, x: string, rank: number): string {
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return one(b, "Transpose", [x], { perm });
}

const matmulEmit: Emit<{ transposeA?: boolean; transposeB?: boolean }> = (b, [a, c], attrs, [sa, sb]) => {
  const ra = sa!.length;
  const rb = sb!.length;
  const tA = ra >= 2 && attrs?.transposeA === true;
  const tB = rb >= 2 && attrs?.transposeB === true;
  if (ra === 2 && rb === 2) {
    return one(b, "Gemm", [a!, c!], { ...(tA ? { transA: 1 } : {}), ...(tB ? { transB: 1 } : {}) });
  }
  return one(b, "MatMul", [tA ? swapLast(b, a!, ra) : a!, tB ? swapLast(b, c!, rb) : c!]);
};

const linearEmit: Emit<LinearAttrs> = (b, [x, W, bias], a, shapes) => {
  let z: string;
  if (shapes[0]!.length === 2) z = one(b, "Gemm", bias ? [x!, W!, bias] : [x!, W!]);
  else {
    z = one(b, "MatMul", [x!, W!]);
    if (bias) z = one(b, "Add", [z, bias]);
  }
  return activation(b, a.name, a.p, z, shapes);
};

const reduceEmit = (kind: "ReduceSum" | "ReduceMean"): Emit<{ axis?: number | readonly number[] | null; keepDims?: boolean }> => (b, [x], attrs) => {
  const axis = attrs?.axis;
  const keepdims = attrs?.keepDims === true ? 1 : 0;
  if (axis === undefined || axis === null) return one(b, kind, [x!], { keepdims });
  const axes: readonly number[] = typeof axis === "number" ? [axis] : axis;
  if (axes.length === 0) return one(b, "Identity", [x!]);
  if (kind === "ReduceSum" || b.opset >= 18) return one(b, kind, [x!, b.constantInt64([axes.length], axes)], { keepdims });
  return one(b, kind, [x!], { keepdims, axes });
};

const same = (opType: string): Emit => (b, inputs) => one(b, opType, inputs);

const lossEmit: Emit = () => {
  throw new Error("is a loss, which is not part of the model; export what it is computed from (e.g. the logits) instead");
};

/**
 * The ONNX form of ops whose definitions do not carry one yet, by op definition (an op's own
 * `onnx` field wins). Each entry is in the registry's `{ emit }` form, ready to move into the
 * op's definition.
 */
export const ONNX_MAPPINGS = new Map<OpDef<any, any>, OnnxMapping<any>>([
  [matmulOp, { emit: matmulEmit }],
  [linearOp, { emit: linearEmit }],
  [outerOp, {
    emit: (b, [u, v]) =>
      one(b, "Mul", [one(b, "Unsqueeze", [u!, b.constantInt64([1], [1])]), one(b, "Unsqueeze", [v!, b.constantInt64([1], [0])])]),
  }],
  [addOp, { emit: same("Add") }],
  [subOp, { emit: same("Sub") }],
  [mulOp, { emit: same("Mul") }],
  [maxOp, { emit: same("Max") }],
  [scaleOp, { emit: (b, [x], a: { s: number }) => one(b, "Mul", [x!, b.constant([], [a.s])]) }],
  [dotOp, { emit: same("MatMul") }],
  [sumOp, { emit: reduceEmit("ReduceSum") }],
  [meanOp, { emit: reduceEmit("ReduceMean") }],
  // A leading dimension kept as it is is written 0 ("copy the input's"), so a model exported
  // with a free batch (dynamicBatch) reshapes any batch, e.g. the flatten after convolutions.
  [reshapeOp, {
    emit: (b, [x], a: { shape: readonly number[] }, [s]) => {
      const shape = a.shape.map((d, i) => (i === 0 && s!.length > 0 && d === s![0] && d > 0 ? 0 : d));
      return one(b, "Reshape", [x!, b.constantInt64([shape.length], shape)]);
    },
  }],
  [sliceOp, {
    emit: (b, [x], a: { begin: readonly number[]; size: readonly number[] }) => {
      // "to the end" (-1) is written as the largest end, which ONNX clamps to the axis's
      // length: with a free batch (dynamicBatch) the slice then keeps every row of any batch.
      const ends = a.size.map((n, i) => (n === -1 ? Number.MAX_SAFE_INTEGER : a.begin[i]! + n));
      const axes = a.begin.map((_, i) => i);
      const r = a.begin.length;
      return one(b, "Slice", [x!, b.constantInt64([r], a.begin), b.constantInt64([r], ends), b.constantInt64([r], axes)]);
    },
  }],
  [softmaxCrossEntropyOp, { emit: lossEmit }],
  [sigmoidCrossEntropyOp, { emit: lossEmit }],
  [mseOp, { emit: lossEmit }],
]);

/** Adds or replaces the ONNX form of an op that does not carry one in its definition. */
export function registerOnnx<A>(op: OpDef<A, any>, mapping: OnnxMapping<A>): void {
  ONNX_MAPPINGS.set(op, mapping);
}

function mappingOf(op: OpDef<any, any>): OnnxMapping<any> | undefined {
  return op.onnx ?? ONNX_MAPPINGS.get(op);
}

/** Writes one op through its mapping (either form); returns the name of its output value. */
function applyMapping(b: OnnxEmitter, op: OpDef<any, any>, inputs: readonly string[], attrs: unknown, shapes: readonly Shape[]): string {
  const m = mappingOf(op);
  if (m === undefined) throw new Error(`has no ONNX form yet`);
  if ("emit" in m) return m.emit(b, inputs, attrs, shapes);
  return b.node(m.opType, inputs, m.attributes?.(attrs) ?? {}, m.domain ? { domain: m.domain } : undefined)[0]!;
}

// ------------------------------------------------------------------ building the model

type Msg = Record<string, unknown>;

class Builder implements OnnxEmitter {
  readonly nodes: Msg[] = [];
  readonly initializers: Msg[] = [];
  private readonly used = new Set<string>();
  private counter = 0;
  /** Name of the graph node being exported (ONNX names derive from it). */
  current = "";

  constructor(readonly opset: number) {}

  claim(name: string): string {
    let n = name;
    for (let i = 1; this.used.has(n); i++) n = `${name}_${i}`;
    this.used.add(n);
    return n;
  }

  private fresh(hint: string): string {
    return this.claim(`${this.current}/${hint}`);
  }

  node(opType: string, inputs: readonly string[], attributes: Record<string, AttrValue> = {}, opts: { outputs?: number; domain?: string } = {}): string[] {
    const outputs = Array.from({ length: opts.outputs ?? 1 }, () => this.fresh(opType));
    const attribute = Object.entries(attributes)
      .filter(([, v]) => v !== undefined)
      .map(([name, v]) => attributeProto(name, v!));
    this.nodes.push({
      input: inputs.slice(),
      output: outputs,
      name: `${this.current}/${opType}_${this.counter++}`,
      op_type: opType,
      ...(opts.domain ? { domain: opts.domain } : {}),
      ...(attribute.length ? { attribute } : {}),
    });
    return outputs;
  }

  constant(shape: Shape, data: ArrayLike<number>): string {
    const name = this.fresh("const");
    this.floatInitializer(name, shape, data);
    return name;
  }

  /** Float initializers by name, with their values (what permute reads). */
  private readonly floats = new Map<string, { shape: Shape; data: ArrayLike<number> }>();
  /** Permuted copies of initializers already written, by `${name}|${perm}`. */
  private readonly permuted = new Map<string, string>();

  floatInitializer(name: string, shape: Shape, data: ArrayLike<number>): void {
    this.floats.set(name, { shape, data });
    this.initializers.push(tensorProto(name, shape, DATA_TYPE.FLOAT, floatBytes(data)));
  }

  permute(x: string, perm: readonly number[]): string {
    if (perm.every((p, i) => p === i)) return x;
    const c = this.floats.get(x);
    if (c === undefined) return this.node("Transpose", [x], { perm: perm.slice() })[0]!;
    if (perm.length !== c.shape.length) throw new Error(`permute: perm [${perm.join(", ")}] does not fit ${x} [${c.shape.join(", ")}]`);
    const key = `${x}|${perm.join(",")}`;
    const done = this.permuted.get(key);
    if (done !== undefined) return done;
    const shape = perm.map((p) => c.shape[p]!);
    const data = new Float32Array(c.data.length);
    const r = perm.length;
    const inStrides = new Array<number>(r).fill(1);
    for (let i = r - 2; i >= 0; i--) inStrides[i] = inStrides[i + 1]! * c.shape[i + 1]!;
    const idx = new Array<number>(r).fill(0);
    for (let o = 0; o < data.length; o++) {
      let src = 0;
      for (let i = 0; i < r; i++) src += idx[i]! * inStrides[perm[i]!]!;
      data[o] = c.data[src]!;
      for (let i = r - 1; i >= 0; i--) {
        if (++idx[i]! < shape[i]!) break;
        idx[i] = 0;
      }
    }
    const name = this.claim(`${x}_T${perm.join("")}`);
    this.floatInitializer(name, shape, data);
    this.permuted.set(key, name);
    return name;
  }

  /**
   * Moves each Transpose below the elementwise ops that read only it (and constants): a
   * Transpose feeding Relu becomes Relu feeding the Transpose, so the transposes around
   * channels-first convolutions and pools meet and cancel (conv → +bias → ReLU → pool stays
   * channels first). A scalar constant operand is kept; a [F] constant (a bias along the last
   * axis) is written reshaped to follow that axis where the Transpose's input holds it.
   */
  private sinkTransposes(graphOutputs: readonly string[]): void {
    const outs = new Set(graphOutputs);
    const reshaped = new Map<string, string>();
    for (let changed = true, rounds = 0; changed && rounds < 10_000; rounds++) {
      changed = false;
      const producer = new Map<string, number>();
      const uses = new Map<string, number>();
      this.nodes.forEach((n, i) => {
        for (const o of n.output as string[]) producer.set(o, i);
        for (const v of n.input as string[]) uses.set(v, (uses.get(v) ?? 0) + 1);
      });
      for (let i = 0; i < this.nodes.length; i++) {
        const u = this.nodes[i]!;
        const op = u.op_type as string;
        const unary = ELEMENTWISE_UNARY.has(op);
        if ((!unary && !ELEMENTWISE_BROADCAST.has(op)) || (u.output as string[]).length !== 1) continue;
        const ins = u.input as string[];
        const t = ins.find((v) => this.nodes[producer.get(v) ?? -1]?.op_type === "Transpose");
        if (t === undefined || outs.has(t) || uses.get(t) !== ins.filter((v) => v === t).length) continue;
        const j = producer.get(t)!;
        const tr = this.nodes[j]!;
        const perm = permOf(tr);
        if (perm === null) continue;
        const r = perm.length;
        // Every other operand: a float constant, scalar (any op), or [F] along the last axis.
        const moved: string[] = [];
        let ok = true;
        for (const v of ins) {
          if (v === t) {
            moved.push((tr.input as string[])[0]!);
            continue;
          }
          const c = this.floats.get(v);
          if (c !== undefined && c.shape.length === 0) moved.push(v);
          else if (c !== undefined && c.shape.length === 1 && !unary && r >= 1) {
            const ones = r - 1 - perm[r - 1]!;
            if (ones === 0) {
              moved.push(v);
              continue;
            }
            const shape = [c.shape[0]!, ...new Array<number>(ones).fill(1)];
            const key = `${v}|${shape.join(",")}`;
            let name = reshaped.get(key);
            if (name === undefined) {
              name = this.claim(`${v}_${shape.join("x")}`);
              this.floatInitializer(name, shape, c.data);
              reshaped.set(key, name);
              this.reshapedFrom.set(name, v);
            }
            moved.push(name);
          } else {
            ok = false;
            break;
          }
        }
        if (!ok) continue;
        const out = (u.output as string[])[0]!;
        const inner = this.claim(`${out}/before_transpose`);
        u.input = moved;
        u.output = [inner];
        tr.input = [inner];
        tr.output = [out];
        this.nodes[j] = u;
        this.nodes[i] = tr;
        changed = true;
        break; // the maps changed: rebuild them
      }
    }
  }

  /** Initializers written reshaped by sinkTransposes, to the [F] initializer each came from. */
  private readonly reshapedFrom = new Map<string, string>();

  /**
   * Folds a bias into the convolution before it: Conv (no B) whose one reader is an Add of a
   * float constant [M, 1, 1] (what a [M] bias over simdgrad's channel axis becomes once the
   * transposes have moved below it), where the filter is a constant with M output channels,
   * becomes Conv with B = that [M] constant. The Add's output keeps its name.
   */
  private foldConvBias(graphOutputs: readonly string[]): void {
    const outs = new Set(graphOutputs);
    const uses = new Map<string, number>();
    const producer = new Map<string, Msg>();
    for (const n of this.nodes) {
      for (const v of n.input as string[]) uses.set(v, (uses.get(v) ?? 0) + 1);
      for (const o of n.output as string[]) producer.set(o, n);
    }
    const drop = new Set<Msg>();
    for (const add of this.nodes) {
      if (add.op_type !== "Add") continue;
      const ins = add.input as string[];
      if (ins.length !== 2 || ins[0] === ins[1]) continue;
      for (const side of [0, 1]) {
        const y = ins[side]!;
        const conv = producer.get(y);
        if (conv === undefined || conv.op_type !== "Conv" || drop.has(conv)) continue;
        const cin = conv.input as string[];
        if (cin.length !== 2 || uses.get(y) !== 1 || outs.has(y)) continue;
        const w = this.floats.get(cin[1]!);
        const bias = this.floats.get(ins[1 - side]!);
        if (w === undefined || bias === undefined) continue;
        const m = w.shape[0]!;
        const r = w.shape.length - 1; // the bias must be [M, 1, …] over the spatial axes
        if (bias.shape.length !== r || bias.shape[0] !== m || !bias.shape.slice(1).every((d) => d === 1)) continue;
        const name = ins[1 - side]!;
        const from = this.reshapedFrom.get(name);
        conv.input = [cin[0]!, cin[1]!, from ?? this.reshapeConstant(name, [m])];
        conv.output = (add.output as string[]).slice();
        drop.add(add);
        break;
      }
    }
    if (drop.size > 0) this.nodes.splice(0, this.nodes.length, ...this.nodes.filter((n) => !drop.has(n)));
  }

  /** A float constant written again under another shape (same data), named after it. */
  private reshapeConstant(x: string, shape: Shape): string {
    const c = this.floats.get(x)!;
    const name = this.claim(`${x}_${shape.join("x")}`);
    this.floatInitializer(name, shape, c.data);
    return name;
  }

  /**
   * Tidies the finished graph: a Transpose of a Transpose that undoes it is replaced by the
   * first one's input; then nodes whose outputs nobody reads (and that are not graph outputs)
   * and initializers no node reads are dropped.
   */
  finish(graphOutputs: readonly string[]): void {
    this.sinkTransposes(graphOutputs);
    this.foldConvBias(graphOutputs);
    const outs = new Set(graphOutputs);
    const producer = new Map<string, Msg>();
    for (const n of this.nodes) for (const o of n.output as string[]) producer.set(o, n);
    const replace = new Map<string, string>();
    const resolve = (v: string) => replace.get(v) ?? v;
    for (const n of this.nodes) {
      n.input = (n.input as string[]).map(resolve);
      if (n.op_type !== "Transpose") continue;
      const p = producer.get((n.input as string[])[0]!);
      if (p === undefined || p.op_type !== "Transpose") continue;
      const p1 = permOf(p);
      const p2 = permOf(n);
      if (p1 === null || p2 === null || p1.length !== p2.length || !p2.every((a, i) => p1[a] === i)) continue;
      const src = (p.input as string[])[0]!;
      const out = (n.output as string[])[0]!;
      if (outs.has(out)) {
        n.op_type = "Identity";
        n.input = [src];
        delete n.attribute;
      } else {
        replace.set(out, src);
      }
    }
    // Dead nodes, last to first (a node's readers come after it).
    const read = new Set<string>(graphOutputs);
    const keep: Msg[] = [];
    for (let i = this.nodes.length - 1; i >= 0; i--) {
      const n = this.nodes[i]!;
      if (!(n.output as string[]).some((o) => read.has(o))) continue;
      keep.push(n);
      for (const v of n.input as string[]) read.add(v);
    }
    this.nodes.splice(0, this.nodes.length, ...keep.reverse());
    const live = this.initializers.filter((t) => read.has(t.name as string));
    this.initializers.splice(0, this.initializers.length, ...live);
  }

  constantInt64(shape: Shape, data: ArrayLike<number>): string {
    const name = this.fresh("const");
    const bytes = new Uint8Array(8 * data.length);
    const dv = new DataView(bytes.buffer);
    for (let i = 0; i < data.length; i++) dv.setBigInt64(8 * i, BigInt(data[i]!), true);
    this.initializers.push(tensorProto(name, shape, DATA_TYPE.INT64, bytes));
    return name;
  }

  /**
   * Gives the value `from`, made by the nodes written since node index `since`, the name
   * `to` (the graph node's own name); a value from elsewhere (an input passed through) gets
   * an Identity.
   */
  rename(from: string, to: string, since: number): void {
    const mine = this.nodes.slice(since);
    if (!mine.some((n) => (n.output as string[]).includes(from))) {
      this.node("Identity", [from]);
      (this.nodes[this.nodes.length - 1]!.output as string[])[0] = to;
      return;
    }
    for (const n of mine) {
      n.input = (n.input as string[]).map((v) => (v === from ? to : v));
      n.output = (n.output as string[]).map((v) => (v === from ? to : v));
    }
  }
}

/** Elementwise ONNX ops of one tensor (besides scalar constants): a transpose commutes with them. */
const ELEMENTWISE_UNARY = new Set(["Relu", "Sigmoid", "Tanh", "LeakyRelu", "Exp", "Log", "Sqrt", "Erf", "Neg", "Abs", "Identity", "Cast", "Clip", "Softplus", "Elu", "HardSigmoid"]);
/** Elementwise ONNX ops with broadcasting operands (scalars and [F] biases are moved along). */
const ELEMENTWISE_BROADCAST = new Set(["Add", "Sub", "Mul", "Div", "Max", "Min", "Pow", "PRelu", "Greater", "Less"]);

function permOf(n: Msg): number[] | null {
  const a = (n.attribute as Msg[] | undefined)?.find((x) => x.name === "perm");
  return a === undefined ? null : (a.ints as number[]);
}

function attributeProto(name: string, v: Exclude<AttrValue, undefined>): Msg {
  if (typeof v === "string") return { name, type: ATTR_TYPE.STRING, s: v };
  if (typeof v === "boolean") return { name, type: ATTR_TYPE.INT, i: v ? 1 : 0 };
  if (typeof v === "number") {
    if (FLOAT_ATTRS.has(name) || !Number.isInteger(v)) return { name, type: ATTR_TYPE.FLOAT, f: v };
    return { name, type: ATTR_TYPE.INT, i: v };
  }
  const list = Array.from(v);
  if (FLOAT_ATTRS.has(name) || !list.every(Number.isInteger)) return { name, type: ATTR_TYPE.FLOATS, floats: list };
  return { name, type: ATTR_TYPE.INTS, ints: list };
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
    if (n.kind === "param") b.floatInitializer(names.get(n)!, n.shape, n.value.data);
  }
  for (const n of order) {
    if (n.kind === "input" || n.kind === "param") continue;
    if (n.kind === "custom" || n.op === null) throw new Error(`exportOnnx: ${n.describe()} is a custom op, which has no ONNX form`);
    if (!names.has(n)) names.set(n, b.claim(n.name));
    b.current = n.name;
    const since = b.nodes.length;
    try {
      const out = applyMapping(b, n.op, n.inputs.map((i) => names.get(i)!), n.attrs, n.inputs.map((i) => i.declShape));
      b.rename(out, names.get(n)!, since);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      throw new Error(msg.startsWith("exportOnnx") ? msg : `exportOnnx: ${n.describe()} ${msg}`);
    }
  }
  // An output that is an input or a param gets an Identity so the graph output is a computed value.
  const outNames = outputs.map((n) => {
    if (n.kind !== "input" && n.kind !== "param") return names.get(n)!;
    b.current = n.name;
    const out = b.claim(`${n.name}_out`);
    b.rename(names.get(n)!, out, b.nodes.length);
    return out;
  });
  b.finish(outNames);
  const graph: Msg = {
    node: b.nodes,
    name: opts.name ?? "simdgrad",
    initializer: b.initializers,
    // Declared shapes: a -1 dimension stays free however the graph was last fed.
    input: inputs.map((n) => valueInfo(names.get(n)!, n.declShape, batch)),
    output: outputs.map((n, i) => valueInfo(outNames[i]!, n.declShape, batch !== null && n.declShape.length > 0 ? batch : null)),
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
