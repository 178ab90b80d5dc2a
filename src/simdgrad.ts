/**
 * The object `init()` returns: tensor constructors, eager kernels, graphs, optimizers and
 * checking tools over one runtime.
 */
import type { MemoryStats } from "./runtime/arena.js";
import { Runtime, type Features } from "./runtime/runtime.js";
import type { LoadOptions } from "./runtime/load.js";
import { Rng } from "./runtime/random.js";
import { type Shape, checkShape, fmtShape, sameShape } from "./runtime/shape.js";
import { Tensor, allocTensor, typeName } from "./runtime/tensor.js";
import type { Buf, OpDef } from "./ops/op.js";

export interface InitOptions extends LoadOptions {
  /** Worker threads for big kernels (1 = none). */
  threads?: number;
}

export interface RandomOptions {
  seed?: number;
}

export class SimdGrad {
  /** @internal */
  readonly rt: Runtime;

  /** @internal use init() */
  constructor(rt: Runtime) {
    this.rt = rt;
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
  tensor(shape: readonly number[], data?: ArrayLike<number>): Tensor {
    this.alive("tensor");
    const s = checkShape(shape, "tensor");
    if (data !== undefined) {
      if (data === null || typeof (data as ArrayLike<number>).length !== "number") {
        throw new TypeError(`tensor: data must be an array of numbers, got ${typeName(data)}`);
      }
      const n = s.reduce((a, b) => a * b, 1);
      if (data.length !== n) {
        throw new RangeError(`tensor: shape ${fmtShape(s)} takes ${n} values, data has ${data.length}`);
      }
    }
    const t = allocTensor(this.rt, s, "tensor");
    if (data !== undefined) t.data.set(data);
    else t.data.fill(0);
    return t;
  }

  zeros(shape: readonly number[]): Tensor {
    return this.tensor(shape);
  }

  ones(shape: readonly number[]): Tensor {
    return this.tensor(shape).fill(1);
  }

  /** Standard normal values from a seeded generator (reproducible everywhere). */
  randn(shape: readonly number[], opts: RandomOptions = {}): Tensor {
    const t = this.tensor(shape);
    const rng = new Rng(opts.seed ?? 0x5eed);
    const d = t.data;
    for (let i = 0; i < d.length; i++) d[i] = rng.normal();
    return t;
  }

  /** Uniform values in [0, 1) from a seeded generator. */
  rand(shape: readonly number[], opts: RandomOptions = {}): Tensor {
    const t = this.tensor(shape);
    const rng = new Rng(opts.seed ?? 0x5eed);
    const d = t.data;
    for (let i = 0; i < d.length; i++) d[i] = rng.uniform();
    return t;
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
    for (const t of inputs) checkTensor(t, op.name, this.rt);
    const shapes = inputs.map((t) => t.shape);
    const yShape = op.shape(shapes, attrs);
    let y: Tensor;
    if (out !== undefined) {
      checkTensor(out, op.name, this.rt);
      if (!sameShape(out.shape, yShape)) {
        throw new Error(`${op.name}: out is ${fmtShape(out.shape)}, the result is ${fmtShape(yShape)}`);
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
    } finally {
      for (const t of saved) t.dispose();
    }
    return y;
  }

  // ---- eager: matmul family (src/ops/matmul.ts) ----
  // ---- end matmul family ----

  // ---- eager: activations (src/ops/activations.ts) ----
  // ---- end activations ----

  // ---- eager: elementwise, reductions, losses (src/ops/elementwise.ts, reduce.ts, losses.ts) ----
  // ---- end elementwise ----

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
export function checkTensor(t: unknown, op: string, rt: Runtime, name = "input"): Tensor {
  if (!(t instanceof Tensor)) throw new TypeError(`${op}: ${name} must be a Tensor, got ${typeName(t)}`);
  if (t.host !== rt) throw new Error(`${op}: ${name} ${fmtShape(t.shape)} belongs to another simdgrad runtime`);
  return t.check(op);
}

export async function init(opts: InitOptions = {}): Promise<SimdGrad> {
  if (opts.threads !== undefined && (!Number.isInteger(opts.threads) || opts.threads < 1)) {
    throw new RangeError(`init: threads must be a positive integer, got ${String(opts.threads)}`);
  }
  return new SimdGrad(await Runtime.create(opts));
}

export type { Shape, Buf };
