/**
 * The object `init()` returns: tensor constructors, eager kernels, graphs, optimizers and
 * checking tools over one runtime.
 */
import type { MemoryStats } from "./runtime/arena.js";
import { Runtime, type Features } from "./runtime/runtime.js";
import type { LoadOptions } from "./runtime/load.js";
import { checkKernelNeeded } from "./runtime/kernel-set.js";
import { Rng } from "./runtime/random.js";
import { type Shape, checkShape, fmtShape, sameShape } from "./runtime/shape.js";
import { Tensor, allocTensor, checkTensor, pinView, staleHint, typeName, unpinView } from "./runtime/tensor.js";
import type { Buf, OpDef } from "./ops/op.js";
import { type ActivationName, BACKWARD_READS, activationBackward, activationOps, checkActParam, geluKind, preluChannels, preluOp } from "./ops/activations.js";
import { type EagerOps, installMethods } from "./ops/registry.js";
import type { Method } from "./ops/define.js";
import { batchDims, batchForward, batchScratchBytes, isBatched } from "./ops/bmatmul.js";
import { type MatmulOptions, type OuterOptions, checkOptions, gemmScratchBytes, matmulDims, matmulInto, outerShape, overlaps } from "./ops/matmul.js";
import { meanOp, sumOp } from "./ops/reduce.js";
import { type Conv2dOptions, conv2dAttrs, conv2dOp, convGeom, convScratchBytes, shape4 } from "./ops/conv.js";
import { type Pool2dOptions, avgPool2dOp, maxPool2dOp, pool2dAttrs, poolGeom } from "./ops/pool.js";
import { Graph, type Feeds, type GraphOptions } from "./graph/graph.js";
import { Node } from "./graph/node.js";
import { Adam, type AdamOptions, type AdamWOptions, SGD, type SgdOptions } from "./optim/optimizers.js";
import { type GradcheckOptions, type GradcheckReport, gradcheck } from "./check/gradcheck.js";
import { jacobian } from "./check/jacobian.js";
import { type Clippable, type ClipGradNormOptions, clipGradNorm, clipGradValue } from "./optim/clip.js";
import { type SafetensorsInput, type SafetensorsTensor, type SerializeOptions, metadata as stMetadata, parse as stParse, serialize as stSerialize } from "./io/safetensors.js";
import { type CheckpointTarget, loadCheckpoint, saveCheckpoint } from "./io/params.js";

export interface InitOptions extends LoadOptions {
  /** Worker threads for big kernels (1 = none). */
  threads?: number;
  /**
   * The packed GEMM's register tile: "auto" (default: 4 × 16 on hosts that say they are arm64;
   * elsewhere, browsers included, 5 × 8 in the relaxed-SIMD build, but 4 × 8 under Firefox's
   * engine, and 4 × 8 in the SIMD128 build), "4x8", "4x16" or "5x8" (the relaxed-SIMD build's
   * only: the SIMD128 build runs 4 × 8 and says so in `sg.features.warnings`). The results are
   * the same bit for bit, only the speed differs; `sg.features.gemmTile` says which runs.
   */
  gemmTile?: "auto" | "4x8" | "4x16" | "5x8";
  /**
   * Seed of the runtime's random stream, which `randn` and `rand` without `{ seed }` draw
   * from (each call continues where the last stopped). The same seed replays the same
   * stream; default a fixed seed, so programs are reproducible unless seeded otherwise.
   */
  seed?: number;
}

export interface RandomOptions {
  /** Draw from a fresh generator with this seed (the same seed gives the same values) instead of the runtime's stream. */
  seed?: number;
}

/**
 * The eager op functions (sg.relu(x, out?), …) come from the op definitions through
 * src/ops/registry.ts (see src/ops/define.ts): typed here, installed below the class. Ops
 * whose eager form has another signature keep a hand-written method in the class.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface, @typescript-eslint/no-unsafe-declaration-merging
export interface SimdGrad extends EagerOps<Tensor> {}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
/**
 * The options of conv2d's eager gradients: the geometry only. A fused bias or activation
 * belongs to the forward (its backward is these gradients of dy ⊙ f′, and the bias's is Σ dy),
 * so either one here is an error rather than something silently ignored.
 */
function convGradOptions(opts: Conv2dOptions | undefined, op: string): void {
  if (opts !== null && typeof opts === "object" && ((opts as { bias?: unknown }).bias !== undefined || (opts as { activation?: unknown }).activation !== undefined)) {
    throw new TypeError(`${op}: options take { stride, padding, dilation } only; a bias or an activation is conv2d's (pass dy ⊙ f′ as dy, and sum dy over its rows for the bias)`);
  }
}

export class SimdGrad {
  /** @internal */
  readonly rt: Runtime;

  /** The runtime's random stream (seeded by init's `seed`). */
  private readonly rng: Rng;

  /** @internal use init() */
  constructor(rt: Runtime, seed = DEFAULT_SEED) {
    this.rt = rt;
    this.rng = new Rng(seed);
  }

  get features(): Readonly<Features> {
    return this.rt.features;
  }

  /** Bytes in use and peak bytes of the linear memory, and allocation counts. */
  get memory(): MemoryStats {
    return this.rt.stats;
  }

  // ---------------------------------------------------------------- tensors

  /** A tensor of `shape`, filled with `data` (row-major, exactly size values) or zeros. */
  tensor(shape: readonly number[], data?: ArrayLike<number> | Tensor): Tensor {
    this.alive("tensor");
    const s = checkShape(shape, "tensor");
    if (data instanceof Tensor) {
      checkTensor(data, "tensor", this.rt, "data");
      const n = s.reduce((a, b) => a * b, 1);
      if (data.size !== n) throw new RangeError(`tensor: shape ${fmtShape(s)} takes ${n} values, the data tensor ${fmtShape(data.shape)} has ${data.size}`);
      return allocTensor(this.rt, s, "tensor").set(data);
    }
    if (data !== undefined) {
      if (data === null || typeof data !== "object" || typeof (data as ArrayLike<number>).length !== "number") {
        throw new TypeError(`tensor: data must be an array of numbers, got ${typeName(data)}`);
      }
      const n = s.reduce((a, b) => a * b, 1);
      if (data.length !== n) {
        throw new RangeError(`tensor: shape ${fmtShape(s)} takes ${n} values, data has ${data.length}${staleHint(data)}`);
      }
    }
    // `data` may be a view of linear memory (t.data): re-derive it after the allocation.
    const pinned = data === undefined ? undefined : pinView(this.rt, data);
    const t = allocTensor(this.rt, s, "tensor");
    if (pinned !== undefined) t.data.set(unpinView(this.rt, pinned));
    else t.data.fill(0);
    return t;
  }

  zeros(shape: readonly number[]): Tensor {
    return this.tensor(shape);
  }

  ones(shape: readonly number[]): Tensor {
    return this.tensor(shape).fill(1);
  }

  /**
   * Standard normal values, from the runtime's random stream (which advances with every
   * call), or with `{ seed }` from a fresh generator of that seed (reproducible everywhere).
   */
  randn(shape: readonly number[], opts: RandomOptions = {}): Tensor {
    opts ??= {};
    const rng = this.rngFor("randn", opts);
    const t = this.tensor(shape);
    const d = t.data;
    for (let i = 0; i < d.length; i++) d[i] = rng.normal();
    return t;
  }

  /** Uniform values in [0, 1), from the runtime's stream or, with `{ seed }`, a fresh generator (as randn). */
  rand(shape: readonly number[], opts: RandomOptions = {}): Tensor {
    opts ??= {};
    const rng = this.rngFor("rand", opts);
    const t = this.tensor(shape);
    const d = t.data;
    for (let i = 0; i < d.length; i++) d[i] = rng.uniform();
    return t;
  }

  private rngFor(op: string, opts: RandomOptions): Rng {
    if (opts.seed === undefined) return this.rng;
    return new Rng(checkSeed(opts.seed, op));
  }

  // ---------------------------------------------------------------- eager ops

  /**
   * Runs one op outside any graph: checks shapes, allocates the output unless `out` is
   * given (then checks its shape), runs the forward kernel. Scratch comes from the
   * runtime's shared scratch area; saved buffers are allocated and freed around the call.
   * @internal
   */
  apply<A>(op: OpDef<A>, inputs: readonly Tensor[], attrs: A, out?: Tensor): Tensor {
    this.alive(op.name);
    checkKernelNeeded(op.name, op.needs, this.rt.rawKernels);
    for (let i = 0; i < inputs.length; i++) checkTensor(inputs[i], op.name, this.rt, inputs.length > 1 ? `input ${i + 1}` : "input");
    const shapes = inputs.map((t) => t.shape);
    const yShape = op.shape(shapes, attrs);
    let y: Tensor;
    if (out !== undefined) {
      checkTensor(out, op.name, this.rt);
      if (!sameShape(out.shape, yShape)) {
        throw new Error(`${op.name}: out is ${fmtShape(out.shape)}, the result is ${fmtShape(yShape)}`);
      }
      for (let i = 0; i < inputs.length; i++) {
        const t = inputs[i]!;
        if (!overlaps(out, t)) continue;
        const same = out.ptr === t.ptr && out.size === t.size;
        if (same && (op.inPlace === true || op.view === i)) continue;
        const which = inputs.length > 1 ? `input ${i + 1}` : "the input";
        throw new Error(same
          ? `${op.name}: out ${fmtShape(out.shape)} is ${which} ${fmtShape(t.shape)}: ${op.name} cannot write its result over an input; pass a separate out tensor`
          : `${op.name}: out ${fmtShape(out.shape)} shares memory with ${which} ${fmtShape(t.shape)}`);
      }
      y = out;
    } else {
      y = allocTensor(this.rt, yShape, op.name);
    }
    const savedShapes = op.saved?.(shapes, attrs) ?? [];
    const saved = savedShapes.map((s) => allocTensor(this.rt, s, op.name));
    try {
      const scratch = this.rt.scratch(op.scratchBytes?.(shapes, attrs) ?? 0);
      op.forward(this.rt.kernels, inputs, y, attrs, { saved, scratch });
    } catch (e) {
      if (out === undefined) y.dispose(); // a refused input (a bad id) leaves nothing allocated
      throw e;
    } finally {
      for (const t of saved) t.dispose();
    }
    return y;
  }

  // ---- eager: matmul family (src/ops/matmul.ts) ----

  /**
   * The matrix product op(a)·op(b), op = transpose where asked (2-D operands only). A 1-D
   * a [k] acts as a row and gives [n]; a 1-D b [k] acts as a column and gives [m]; two
   * vectors give their dot product, shape []. The result goes to `out` if given (same
   * shape, not overlapping a or b); `accumulate: true` adds it into `out` instead.
   */
  matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
    opts ??= {};
    this.alive("matmul");
    checkOptions(opts, "matmul");
    checkTensor(a, "matmul", this.rt, "a");
    checkTensor(b, "matmul", this.rt, "b");
    if (isBatched(a.shape, b.shape)) {
      const bd = batchDims(a.shape, b.shape, opts);
      const yb = this.productOut("matmul", bd.shape, [a, b], opts);
      batchForward(this.rt.kernels, bd, a.ptr, b.ptr, yb.ptr, opts.accumulate === true ? 1 : 0, this.rt.scratch(batchScratchBytes(bd)));
      return yb;
    }
    const d = matmulDims(a.shape, b.shape, opts);
    const y = this.productOut("matmul", d.shape, [a, b], opts);
    const scratch = this.rt.scratch(gemmScratchBytes(d.m, d.n, d.k));
    matmulInto(this.rt.kernels, d, a, b, y, opts.accumulate === true ? 1 : 0, scratch);
    return y;
  }

  /** The outer product u·vᵀ of u [m] and v [n], shape [m, n]; `out` and `accumulate` as for matmul. */
  outer(u: Tensor, v: Tensor, opts: OuterOptions = {}): Tensor {
    opts ??= {};
    this.alive("outer");
    checkOptions(opts, "outer");
    checkTensor(u, "outer", this.rt, "u");
    checkTensor(v, "outer", this.rt, "v");
    const shape = outerShape(u.shape, v.shape);
    const y = this.productOut("outer", shape, [u, v], opts);
    this.rt.kernels.outer(shape[0]!, shape[1]!, 1, u.ptr, v.ptr, y.ptr, shape[1]!, opts.accumulate === true ? 1 : 0);
    return y;
  }

  /** @internal the output of an eager product: `opts.out` checked, or a new tensor. */
  private productOut(op: string, shape: Shape, inputs: Tensor[], opts: { out?: Tensor; accumulate?: boolean }): Tensor {
    const out = opts.out;
    if (out === undefined) {
      if (opts.accumulate === true) throw new Error(`${op}: accumulate: true needs out, the tensor to add into`);
      return allocTensor(this.rt, shape, op);
    }
    checkTensor(out, op, this.rt, "out");
    if (!sameShape(out.shape, shape)) {
      throw new Error(`${op}: out is ${fmtShape(out.shape)}, the result is ${fmtShape(shape)}`);
    }
    for (const t of inputs) {
      if (overlaps(out, t)) throw new Error(`${op}: out ${fmtShape(out.shape)} shares memory with an input ${fmtShape(t.shape)}`);
    }
    return out;
  }
  // ---- end matmul family ----

  // ---- eager: activations (src/ops/activations.ts) ----

  /** Threshold unit: 1 where x > theta, else 0 (NaN stays NaN). Its gradient is 0 everywhere. */
  step(x: Tensor, theta: number | Tensor = 0, out?: Tensor): Tensor {
    const [p, o] = this.paramOrOut(theta, out, 0);
    return this.apply(activationOps.step, [x], { p }, o);
  }

  /** x > 0 ? x : slope·x. */
  leakyRelu(x: Tensor, slope: number | Tensor = 0.01, out?: Tensor): Tensor {
    const [p, o] = this.paramOrOut(slope, out, 0.01);
    return this.apply(activationOps.leakyRelu, [x], { p }, o);
  }

  /** x > 0 ? x : a·x with slope tensor a of shape [] (one for all) or [C] (x's last dimension). */
  prelu(x: Tensor, slope: Tensor, out?: Tensor): Tensor {
    if (!(slope instanceof Tensor)) {
      throw new TypeError(`prelu: slope must be a Tensor of shape [] or [C], got ${typeName(slope)} (for a fixed number use leakyRelu)`);
    }
    return this.apply(preluOp, [x, slope], undefined, out);
  }

  /** GeLU: x·Φ(x) exactly (approximate "none", the default), or its tanh approximation. */
  gelu(x: Tensor, opts: { approximate?: "none" | "tanh" } | Tensor = {}, out?: Tensor): Tensor {
    if (opts instanceof Tensor) [opts, out] = [{}, opts];
    return this.apply(activationOps[geluKind("gelu", opts)], [x], { p: 0 }, out);
  }

  /** dx = dy·step′ = 0 (a threshold passes no gradient); takes x. */
  stepBackward(x: Tensor, dy: Tensor, out?: Tensor): Tensor {
    return this.actBackward("step", x, dy, 0, out);
  }

  /** dx = dy·y(1 − y); takes the OUTPUT y = sigmoid(x). */
  sigmoidBackward(y: Tensor, dy: Tensor, out?: Tensor): Tensor {
    return this.actBackward("sigmoid", y, dy, 0, out);
  }

  /** dx = dy·(1 − y²); takes the OUTPUT y = tanh(x). */
  tanhBackward(y: Tensor, dy: Tensor, out?: Tensor): Tensor {
    return this.actBackward("tanh", y, dy, 0, out);
  }

  /** dx = dy where −1 < x < 1, else 0 (so 0 at ±1); takes x (y gives the same). */
  hardTanhBackward(x: Tensor, dy: Tensor, out?: Tensor): Tensor {
    return this.actBackward("hardTanh", x, dy, 0, out);
  }

  /** dx = dy where x > 0, else 0 (so 0 at x = 0); takes x (y gives the same). */
  reluBackward(x: Tensor, dy: Tensor, out?: Tensor): Tensor {
    return this.actBackward("relu", x, dy, 0, out);
  }

  /** dx = dy where x > 0, else slope·dy (slope·dy at x = 0); takes x. */
  leakyReluBackward(x: Tensor, dy: Tensor, slope: number | Tensor = 0.01, out?: Tensor): Tensor {
    const [p, o] = this.paramOrOut(slope, out, 0.01);
    return this.actBackward("leakyRelu", x, dy, p, o);
  }

  /**
   * PReLU's gradients; takes x: dx = dy where x > 0, else a·dy (a·dy at x = 0), and
   * dslope = Σ dy·min(x, 0) over every dimension but the slope's. `out` may hold either or
   * both result tensors.
   */
  preluBackward(x: Tensor, dy: Tensor, slope: Tensor, out: { dx?: Tensor; dslope?: Tensor } = {}): { dx: Tensor; dslope: Tensor } {
    const op = "preluBackward";
    this.alive(op);
    checkTensor(x, op, this.rt, "x");
    checkTensor(dy, op, this.rt, "dy");
    checkTensor(slope, op, this.rt, "slope");
    if (!sameShape(x.shape, dy.shape)) throw new Error(`${op}: dy must have x's shape: x is ${fmtShape(x.shape)}, dy is ${fmtShape(dy.shape)}`);
    if (typeof out !== "object" || out === null || out instanceof Tensor) {
      throw new TypeError(`${op}: out must be { dx?, dslope? }, got ${out instanceof Tensor ? "a Tensor" : typeName(out)}`);
    }
    preluChannels(x.shape, slope.shape, op);
    const dx = this.actOut(op, "dx", x.shape, out.dx);
    const dslope = this.actOut(op, "dslope", slope.shape, out.dslope);
    this.rt.kernels.prelu_backward(x.ptr, dy.ptr, dx.ptr, x.size, slope.ptr, slope.size, dslope.ptr, 0);
    return { dx, dslope };
  }

  /** dx = dy·σ(x)(1 + x(1 − σ(x))); takes x. */
  swishBackward(x: Tensor, dy: Tensor, out?: Tensor): Tensor {
    return this.actBackward("swish", x, dy, 0, out);
  }

  /** dx = dy·(Φ(x) + x·φ(x)) (or the tanh form's derivative); takes x. */
  geluBackward(x: Tensor, dy: Tensor, opts: { approximate?: "none" | "tanh" } | Tensor = {}, out?: Tensor): Tensor {
    if (opts instanceof Tensor) [opts, out] = [{}, opts];
    return this.actBackward(geluKind("geluBackward", opts), x, dy, 0, out);
  }

  /** @internal dx = dy·f′ into `out` or a new tensor; v is x or y as BACKWARD_READS says. */
  private actBackward(name: ActivationName, v: Tensor, dy: Tensor, p: number, out: Tensor | undefined): Tensor {
    const op = `${name === "geluTanh" ? "gelu" : name}Backward`;
    this.alive(op);
    const vName = BACKWARD_READS[name];
    checkTensor(v, op, this.rt, vName);
    checkTensor(dy, op, this.rt, "dy");
    if (!sameShape(v.shape, dy.shape)) {
      throw new Error(`${op}: dy must have ${vName}'s shape: ${vName} is ${fmtShape(v.shape)}, dy is ${fmtShape(dy.shape)}`);
    }
    checkActParam(name, p, op);
    const dx = this.actOut(op, "out", v.shape, out);
    activationBackward(this.rt.kernels, name, v.ptr, dy.ptr, dx.ptr, dx.size, p, 0);
    return dx;
  }

  /** @internal `out` checked against `shape`, or a new tensor. */
  private actOut(op: string, what: string, shape: Shape, out: Tensor | undefined): Tensor {
    if (out === undefined) return allocTensor(this.rt, shape, op);
    checkTensor(out, op, this.rt, what);
    if (!sameShape(out.shape, shape)) throw new Error(`${op}: ${what} is ${fmtShape(out.shape)}, the result is ${fmtShape(shape)}`);
    return out;
  }

  /** (number param, out) from an argument that is either the param or, when omitted, out. */
  private paramOrOut(p: number | Tensor | undefined, out: Tensor | undefined, dflt: number): [number, Tensor | undefined] {
    if (p instanceof Tensor) return [dflt, p];
    return [p ?? dflt, out];
  }

  // ---- end activations ----

  // ---- eager: elementwise, reductions, losses (src/ops/elementwise.ts, reduce.ts, losses.ts) ----

  /** Σ of all elements (a [] tensor), or over an axis or a list of axes (negative count from
   *  the end); the third argument is `out`, or options { keepDims?, out? }. */
  sum(a: Tensor, axis?: number | readonly number[] | null, out?: Tensor | { keepDims?: boolean; out?: Tensor }): Tensor {
    return this.reduceCall(sumOp, a, axis, out);
  }

  /** Mean of all elements (a [] tensor), or over an axis or a list of axes; as sum. The mean
   *  of nothing is NaN. */
  mean(a: Tensor, axis?: number | readonly number[] | null, out?: Tensor | { keepDims?: boolean; out?: Tensor }): Tensor {
    return this.reduceCall(meanOp, a, axis, out);
  }

  private reduceCall(op: typeof sumOp, a: Tensor, axis: number | readonly number[] | null | undefined, o: Tensor | { keepDims?: boolean; out?: Tensor } | undefined): Tensor {
    const opts = o === undefined || o instanceof Tensor ? { out: o } : o;
    if (opts === null || typeof opts !== "object") throw new TypeError(`${op.name}: the third argument must be an out tensor or { keepDims?, out? }, got ${typeName(opts)}`);
    return this.apply(op, [a], { axis: Array.isArray(axis) ? axis.slice() : axis, keepDims: opts.keepDims }, opts.out);
  }

  // ---- end elementwise ----

  // ---- eager: the gradients of convolutions and pooling (src/ops/conv.ts, src/ops/pool.ts);
  // sg.conv2d, sg.maxPool2d and sg.avgPool2d come from the op registry ----

  /**
   * conv2d's gradient to its input: dx = col2im(dy·filterᵀ) for an input of shape `xShape`
   * (dy has conv2d's output shape). Into `out` (overwritten) or a new tensor.
   */
  conv2dBackwardInput(dy: Tensor, filter: Tensor, xShape: readonly number[], opts: Conv2dOptions = {}, out?: Tensor): Tensor {
    const op = "conv2dBackwardInput";
    this.alive(op);
    checkKernelNeeded(op, conv2dOp.needs, this.rt.rawKernels);
    convGradOptions(opts, op);
    checkTensor(dy, op, this.rt, "dy");
    checkTensor(filter, op, this.rt, "filter");
    const xs = shape4(xShape, op, "xShape");
    const g = convGeom(xs, filter.shape, conv2dAttrs(opts, op), op);
    if (!sameShape(dy.shape, g.shape)) throw new Error(`${op}: dy must be ${fmtShape(g.shape)} (the output's shape), got ${fmtShape(dy.shape)}`);
    const dx = this.resultOut(op, xs, [dy, filter], out);
    const scratch = this.rt.scratch(convScratchBytes(g.m, g.k, g.f));
    this.rt.kernels.conv2d_backward_input(dy.ptr, filter.ptr, dx.ptr, g.n, g.h, g.w, g.c, g.f, g.ho, g.wo, g.ksize, g.stride, g.dilation, g.pad, 0, scratch);
    return dx;
  }

  /**
   * conv2d's gradient to its filter: d filter = Pᵀ·dy (P: x's patches) for a filter of shape
   * `filterShape`. Into `out` (overwritten) or a new tensor.
   */
  conv2dBackwardFilter(x: Tensor, dy: Tensor, filterShape: readonly number[], opts: Conv2dOptions = {}, out?: Tensor): Tensor {
    const op = "conv2dBackwardFilter";
    this.alive(op);
    checkKernelNeeded(op, conv2dOp.needs, this.rt.rawKernels);
    convGradOptions(opts, op);
    checkTensor(x, op, this.rt, "x");
    checkTensor(dy, op, this.rt, "dy");
    const fs = shape4(filterShape, op, "filterShape");
    const g = convGeom(x.shape, fs, conv2dAttrs(opts, op), op);
    if (!sameShape(dy.shape, g.shape)) throw new Error(`${op}: dy must be ${fmtShape(g.shape)} (the output's shape), got ${fmtShape(dy.shape)}`);
    const df = this.resultOut(op, fs, [x, dy], out);
    const scratch = this.rt.scratch(convScratchBytes(g.m, g.k, g.f));
    this.rt.kernels.conv2d_backward_filter(x.ptr, dy.ptr, df.ptr, g.n, g.h, g.w, g.c, g.f, g.ho, g.wo, g.ksize, g.stride, g.dilation, g.pad, 0, g.k, 0, g.f, 0, scratch);
    return df;
  }

  /** maxPool2d's gradient to x, given x, y = maxPool2d(x) and dy: each dy goes to the first maximum of its window. */
  maxPool2dBackward(x: Tensor, y: Tensor, dy: Tensor, opts: Pool2dOptions, out?: Tensor): Tensor {
    const op = "maxPool2dBackward";
    this.alive(op);
    checkKernelNeeded(op, maxPool2dOp.needs, this.rt.rawKernels);
    checkTensor(x, op, this.rt, "x");
    checkTensor(y, op, this.rt, "y");
    checkTensor(dy, op, this.rt, "dy");
    const g = poolGeom(x.shape, pool2dAttrs(opts, op), op);
    for (const [t, name] of [[y, "y"], [dy, "dy"]] as const) {
      if (!sameShape(t.shape, g.shape)) throw new Error(`${op}: ${name} must be ${fmtShape(g.shape)} (the output's shape), got ${fmtShape(t.shape)}`);
    }
    const dx = this.resultOut(op, x.shape, [x, y, dy], out);
    this.rt.kernels.maxpool2d_backward(x.ptr, y.ptr, dy.ptr, dx.ptr, g.n, g.h, g.w, g.c, g.ho, g.wo, g.ksize, g.stride, g.pad, 0);
    return dx;
  }

  /** avgPool2d's gradient to an input of shape `xShape`: each dy spread evenly over its window. */
  avgPool2dBackward(dy: Tensor, xShape: readonly number[], opts: Pool2dOptions, out?: Tensor): Tensor {
    const op = "avgPool2dBackward";
    this.alive(op);
    checkKernelNeeded(op, avgPool2dOp.needs, this.rt.rawKernels);
    checkTensor(dy, op, this.rt, "dy");
    const xs = shape4(xShape, op, "xShape");
    const g = poolGeom(xs, pool2dAttrs(opts, op), op);
    if (!sameShape(dy.shape, g.shape)) throw new Error(`${op}: dy must be ${fmtShape(g.shape)} (the output's shape), got ${fmtShape(dy.shape)}`);
    const dx = this.resultOut(op, xs, [dy], out);
    this.rt.kernels.avgpool2d_backward(dy.ptr, dx.ptr, g.n, g.h, g.w, g.c, g.ho, g.wo, g.ksize, g.stride, g.pad, 0);
    return dx;
  }

  /** @internal `out` checked (shape, no overlap with the inputs), or a new tensor. */
  private resultOut(op: string, shape: Shape, inputs: Tensor[], out: Tensor | undefined): Tensor {
    if (out === undefined) return allocTensor(this.rt, shape, op);
    checkTensor(out, op, this.rt, "out");
    if (!sameShape(out.shape, shape)) throw new Error(`${op}: out is ${fmtShape(out.shape)}, the result is ${fmtShape(shape)}`);
    for (const t of inputs) {
      if (overlaps(out, t)) throw new Error(`${op}: out ${fmtShape(out.shape)} shares memory with an input ${fmtShape(t.shape)}`);
    }
    return out;
  }
  // ---- end convolutions ----

  // ---- eager: gradient clipping (src/optim/clip.ts) ----

  /**
   * Rescales the gradients of `params` (g.params, or gradient Tensors) together so their
   * total norm is at most `maxNorm`, as PyTorch's clip_grad_norm_: each g ← g·maxNorm /
   * (total + 1e-6) when that factor is below 1. Returns the total norm before clipping
   * (normType 2 by default, or Infinity for the largest |g|). Call between backward and step.
   */
  clipGradNorm(params: readonly Clippable[], maxNorm: number, opts: ClipGradNormOptions = {}): number {
    this.alive("clipGradNorm");
    return clipGradNorm(this.rt, params, maxNorm, opts);
  }

  /** Clamps every gradient value of `params` into [−clip, clip] in place, as PyTorch's clip_grad_value_. */
  clipGradValue(params: readonly Clippable[], clip: number): void {
    this.alive("clipGradValue");
    clipGradValue(this.rt, params, clip);
  }
  // ---- end gradient clipping ----

  // ---- saving and loading (src/io/) ----

  /** safetensors files: `parse(bytes)` → { name: { shape, data, dtype } } (F32, F16, BF16 read as
   *  float32), `serialize(record, { metadata? })` → bytes (F32), `metadata(bytes)` → the `__metadata__` map. */
  readonly safetensors = {
    parse: (bytes: Uint8Array | ArrayBuffer): Record<string, SafetensorsTensor> => stParse(bytes),
    serialize: (record: SafetensorsInput, opts?: SerializeOptions): Uint8Array => stSerialize(record, opts),
    metadata: (bytes: Uint8Array | ArrayBuffer): Record<string, string> => stMetadata(bytes),
  };

  /**
   * Checkpoints: `save({ graph, optimizer? })` → a safetensors file of the params and the
   * optimizer's state (momentum or Adam's moments, step count, learning rate);
   * `load(bytes, { graph, optimizer? })` restores them, so training continues exactly as if it
   * had never stopped. Loading checks everything first and changes nothing on any mismatch.
   */
  readonly checkpoint = {
    save: (target: CheckpointTarget): Uint8Array => {
      this.alive("checkpoint.save");
      return saveCheckpoint(target);
    },
    load: (bytes: Uint8Array | ArrayBuffer, target: CheckpointTarget): void => {
      this.alive("checkpoint.load");
      loadCheckpoint(bytes, target);
    },
  };
  // ---- end saving and loading ----

  // ---------------------------------------------------------------- graphs, training, checking

  /** A new, empty graph over this runtime (`maxPlans`: plans kept for distinct -1 input shapes, default 8). */
  graph(opts?: GraphOptions): Graph {
    this.alive("graph");
    return new Graph(this.rt, opts);
  }

  /** Stochastic gradient descent over `params` (usually `g.params`). */
  sgd(params: readonly Node[], opts: SgdOptions): SGD {
    this.alive("sgd");
    return new SGD(this.rt, params, opts);
  }

  /** Adam (Kingma & Ba) over `params`. */
  adam(params: readonly Node[], opts: AdamOptions = {}): Adam {
    opts ??= {};
    this.alive("adam");
    return new Adam(this.rt, params, opts);
  }

  /**
   * AdamW (Loshchilov & Hutter): Adam with the weight decay decoupled from the gradient,
   * w ← w·(1 − lr·λ) before each update. λ = weightDecay (default 0.01) applies to params
   * with two or more axes (weight matrices, embedding tables) unless `decay` picks others.
   */
  adamw(params: readonly Node[], opts: AdamWOptions = {}): Adam {
    this.alive("adamw");
    return new Adam(this.rt, params, opts, "adamw");
  }

  /**
   * Compares backward's gradient of the scalar `loss` with the two-sided numeric estimate
   * (f(x+h) − f(x−h)) / 2h for every param element (sampled for big params).
   */
  gradcheck(g: Graph, loss: Node, opts: GradcheckOptions = {}): GradcheckReport {
    opts ??= {};
    this.alive("gradcheck");
    checkGraphAndNode("gradcheck", g, loss, "loss");
    return gradcheck(g, loss, opts);
  }

  /** The full Jacobian [output.size, wrt.size] of `output` with respect to `wrt`. */
  jacobian(g: Graph, output: Node, wrt: Node, opts: { feeds?: Feeds } = {}): Tensor {
    opts ??= {};
    this.alive("jacobian");
    checkGraphAndNode("jacobian", g, output, "output");
    checkGraphAndNode("jacobian", g, wrt, "wrt");
    return jacobian(g, output, wrt, opts, (shape) => this.zeros(shape));
  }

  /** @internal throws when the runtime is closed. */
  alive(op: string): void {
    if (this.rt.closed) throw new Error(`${op}: this simdgrad runtime has been closed`);
  }

  /** Stops workers and frees everything; every tensor of this runtime becomes unusable. */
  async close(): Promise<void> {
    this.rt.close();
  }
}

/** Checks that `t` is a live Tensor of runtime `rt`. */
export { checkTensor };

installMethods(
  SimdGrad.prototype,
  (sg: SimdGrad, m: Method, args: unknown[], name: string) => {
    // The arguments up to the method's arity are its own; one more is the `out` tensor.
    const out = args.length > m.arity ? args[m.arity] : undefined;
    if (out !== undefined && !(out instanceof Tensor)) {
      throw new TypeError(`${name}: out must be a Tensor, got ${typeName(out)}`);
    }
    const c = m.call(...(args.length > m.arity ? args.slice(0, m.arity) : args));
    return sg.apply(c.op, c.inputs as unknown as Tensor[], c.attrs, out as Tensor | undefined);
  },
  (m) => m.eager,
);

export async function init(opts: InitOptions = {}): Promise<SimdGrad> {
  opts ??= {};
  if (opts.threads !== undefined && (!Number.isInteger(opts.threads) || opts.threads < 1)) {
    throw new RangeError(`init: threads must be a positive integer, got ${String(opts.threads)}`);
  }
  const seed = opts.seed === undefined ? DEFAULT_SEED : checkSeed(opts.seed, "init");
  return new SimdGrad(await Runtime.create(opts), seed);
}

const DEFAULT_SEED = 0x5eed;

function checkSeed(seed: unknown, op: string): number {
  if (typeof seed !== "number" || !Number.isInteger(seed)) throw new TypeError(`${op}: seed must be an integer, got ${typeof seed === "number" ? seed : typeName(seed)}`);
  return seed;
}

export type { Shape, Buf };

/** Throws a clear error unless `g` is a Graph and `n` one of its nodes (checks that take a graph and a node). */
function checkGraphAndNode(op: string, g: unknown, n: unknown, what: string): void {
  if (!(g instanceof Graph)) throw new TypeError(`${op}: expected a graph (sg.graph()) first, got ${typeName(g)}`);
  if (!(n instanceof Node)) throw new TypeError(`${op}: ${what} must be a node of the graph, got ${typeName(n)}`);
  if (n.graph !== g) throw new Error(`${op}: ${what} ${n.describe()} belongs to another graph`);
}
