/**
 * The contract every op of src/ops/ fulfils: ONE definition per op, read by everything that
 * needs to know about it.
 *
 *   - the graph builds nodes from it (shape rule, forward, backward, saved buffers, scratch);
 *   - the plan calls `prepare` once per node and hands the result to every run (per-op
 *     geometry such as GEMM dimensions or a broadcast case is not recomputed per step);
 *   - the eager API (sg.relu(x)) runs the same forward;
 *   - the thread pool reads `threads` (which of the op's kernels split, and how);
 *   - tests walk `samples` (eager equals graph, gradcheck, 1 vs 2 threads, bad shapes);
 *   - the exporter reads `id`, the typed attributes and `onnx`.
 *
 * The graph methods (g.relu) and eager functions (sg.relu) are not written per op: they come
 * from the op's method entry (src/ops/define.ts, collected in src/ops/registry.ts).
 *
 * An op knows its shape rule, its kernel calls and its local gradient; it knows nothing of
 * graphs or loading.
 */
import type { Kernels } from "../runtime/kernels.js";
import type { Shape } from "../runtime/shape.js";

/** A float32 buffer in linear memory: what a kernel call needs of a tensor. */
export interface Buf {
  readonly ptr: number;
  readonly shape: Shape;
  readonly size: number;
}

/**
 * How a tensor's elements sit in memory: element (i₀, i₁, …) is at
 * `ptr + 4·(offset + Σ iₖ·strides[k])`. Contiguous row-major is the default (and what every
 * planned buffer is); an op that can read another layout (a transposed view folded into GEMM
 * packing, one attention head's columns) reads it from here instead of asking for a copy.
 */
export interface Layout {
  readonly shape: Shape;
  /** Element strides per dimension (not bytes). */
  readonly strides: readonly number[];
  /** Element offset of element (0, 0, …) from the buffer's pointer. */
  readonly offset: number;
}

/** A value an exporter can write out: numbers, booleans, strings, lists of numbers. */
export type AttrValue = number | boolean | string | readonly number[] | undefined;

/**
 * Typed, serialisable attributes: a flat record whose every field is an AttrValue
 * (`undefined` means "the default"). `void` for ops without attributes. The constraint is
 * structural, so a plain interface qualifies.
 */
export type AttrsOf<A> = A extends void ? void : { readonly [K in keyof A]: AttrValue };

/** Per-call extras an op may ask for. */
export interface OpEnv<P = unknown> {
  /** Buffers the op asked for with `saved`, kept from forward to backward. */
  readonly saved: readonly Buf[];
  /** Start of a scratch area of at least `scratchBytes(...)` bytes, 16-byte aligned. */
  readonly scratch: number;
  /**
   * What `prepare` returned for these input shapes and attrs (undefined without `prepare`).
   * A graph computes it once per node when it plans; eager calls compute it per call.
   */
  readonly prep?: P;
  /** Layouts of the inputs, when a caller passes views; absent: every input is contiguous. */
  readonly layouts?: readonly (Layout | null)[];
  /** The graph's run mode (dropout reads it); absent in eager calls (training, step 0). */
  readonly mode?: RunMode;
  /**
   * Bit i set: `dx[i]` is fresh this backward (its first writer, with nothing in it yet),
   * so the backward must write every element of it rather than add (only for the inputs
   * the op lists in `overwrites`; a graph's backward sets it, eager calls leave it 0).
   */
  fresh?: number;
}

/** A graph's run mode, shared by its nodes: training or evaluation, and which run this is. */
export interface RunMode {
  /** Training mode (g.train(on)): dropout drops only in training. */
  training: boolean;
  /** Training-mode forward runs before the current one (0 for the first). */
  step: number;
}

/**
 * How one kernel spreads a big call over the worker pool (src/threads/split.ts applies it).
 * - elementwise: cut by range in multiples of 4 elements; `ptrs` are the argument indices of
 *   the pointers to advance (a pointer argument of 0 means "absent" and stays 0), `n` the
 *   index of the element count.
 * - gemm: the output is cut into blocks of whole micro-tiles (the GEMM kernels' own rule).
 * - conv: the convolution kernels' own rule (pixels, result blocks or images per thread).
 * - attention: whole batch·head slices per thread (the attention kernels' own rule).
 * - batch: cut into runs of whole items (images, rows) that the kernel treats independently;
 *   `n` is the index of the item count, and each `[ptr, dims]` of `ptrs` advances pointer
 *   argument `ptr` by the product of the arguments at `dims` floats per item (a pointer of
 *   0 stays 0). For kernels with nothing summed across items, so each thread's items come
 *   out exactly as on one thread.
 */
export type SplitRule =
  | { readonly kind: "elementwise"; readonly ptrs: readonly number[]; readonly n: number }
  | { readonly kind: "batch"; readonly n: number; readonly ptrs: readonly (readonly [number, readonly number[]])[] }
  | { readonly kind: "gemm" }
  | { readonly kind: "conv" }
  | { readonly kind: "attention" };

/** The split rules of the kernels an op calls, by kernel name. */
export type KernelSplits = Readonly<Partial<Record<string, SplitRule>>>;

/** Which tensors an op's backward reads (so a planner knows what must survive forward). */
export interface BackwardReads {
  /** Indices of the inputs whose values backward reads. */
  readonly inputs: readonly number[];
  /** Whether backward reads the op's output y. */
  readonly output: boolean;
}

/**
 * What an ONNX exporter needs to write one node. Either a single ONNX op with attributes
 * computed from ours, or a function that emits any number of nodes through the exporter.
 */
export type OnnxMapping<A> =
  | {
      readonly opType: string;
      readonly domain?: string;
      /** ONNX attributes from ours (omit: none). */
      readonly attributes?: (attrs: A) => Record<string, AttrValue>;
    }
  | {
      /** Emits the nodes computing this op from `inputs` (value names); returns the output's value name. */
      readonly emit: (b: OnnxEmitter, inputs: readonly string[], attrs: A, shapes: readonly Shape[]) => string;
    };

/** The exporter's side of an `emit` mapping (implemented by src/io/onnx.ts). */
export interface OnnxEmitter {
  /** The ONNX operator set being written (17 or later): a mapping may pick ops by it. */
  readonly opset: number;
  /**
   * Adds a node; returns the names of its outputs (`outputs`, default 1). Attribute numbers
   * are written as ONNX ints or floats by the attribute's name (alpha, beta, epsilon… are
   * floats; axis, perm, to… ints); booleans as ints.
   */
  node(opType: string, inputs: readonly string[], attributes?: Record<string, AttrValue>, opts?: { outputs?: number; domain?: string }): string[];
  /** Adds a float32 constant (an initializer); returns its value name. */
  constant(shape: Shape, data: ArrayLike<number>): string;
  /** Adds an int64 constant (axes, shapes, starts); returns its value name. */
  constantInt64(shape: Shape, data: ArrayLike<number>): string;
  /**
   * `x` with its axes permuted (axis i of the result is axis perm[i] of x).
   * A constant (a param's initializer) is permuted as it is written, into a new initializer;
   * any other value gets a Transpose node. Transposes that undo each other are removed when the
   * model is finished.
   */
  permute(x: string, perm: readonly number[]): string;
}

/**
 * One test case of an op, run by test/ops-registry.test.ts: eager equals graph, gradcheck
 * (unless `gradcheck: false`), 1 and 2 threads agree bitwise.
 */
export interface OpSample<A> {
  /** A few words, for the test's name. */
  readonly label?: string;
  readonly inputs: readonly Shape[];
  readonly attrs: A;
  /**
   * Values of input i (default: seeded normal values). Use it to keep samples away from kinks
   * (|x| > h for relu) or inside a domain (x > 0 for log), or for one-hot targets.
   */
  readonly values?: (input: number, size: number) => ArrayLike<number>;
  /** Inputs that get no gradient check (data such as targets). */
  readonly constant?: readonly number[];
  /** false: no gradcheck (a function with no useful gradient, such as step). */
  readonly gradcheck?: false | { readonly tol?: number; readonly h?: number };
}

/** Shapes the shape rule must refuse, with an error naming the op. */
export interface OpBadSample<A> {
  readonly inputs: readonly Shape[];
  readonly attrs: A;
  /** What the message must contain (besides the op's name). */
  readonly message?: string | RegExp;
}

export interface OpDef<A = void, P = unknown> {
  /** The name users see in messages (`gelu` for both GeLU forms). */
  readonly name: string;
  /**
   * The op's unique identity (`gelu` vs `gelu_tanh`): what an exporter, a saved graph or a
   * registry lookup uses. Defaults to `name`; the registry refuses two ops with one id.
   */
  readonly id?: string;
  /**
   * A kernel this op calls that the dense kernel set (init({ kernels: "dense" })) leaves out,
   * one of src/runtime/kernel-set.ts's OUTSIDE_DENSE: on a runtime without it, making the op
   * (a graph node or an eager call) throws, naming the op. Absent: the op runs on either set
   * (test/kernel-sets.test.ts runs every op's samples on the dense set to hold this true).
   */
  readonly needs?: string;
  /**
   * Set on ops whose output is input number `view` under a new shape, the same elements in
   * the same order (reshape). A graph then gives the output no buffer of its own: its value
   * is that input's buffer, and where that input's gradient is planned with the op nodes'
   * gradients, its gradient is that gradient buffer too. forward and backward must then do
   * nothing when the buffers are the same (y.ptr = x.ptr, dx.ptr = dy.ptr), and copy or
   * add when they differ.
   */
  readonly view?: number;
  /**
   * true: forward may write its output over an input of the output's shape, the very same
   * buffer (the eager `sg.relu(x, x)`), because every output element reads only the input
   * elements at its own index, before writing (elementwise ops). Without it, the eager API
   * refuses an `out` that shares memory with any input (a row-wise or windowed kernel would
   * read values it has already overwritten); a partial overlap is refused for every op.
   * test/eager-aliasing.test.ts checks each op that claims it against a separate `out`.
   */
  readonly inPlace?: boolean;
  /**
   * The output shape for these input shapes. Throws an Error whose message starts with
   * the op's name and shows the shapes, e.g. `matmul: inner dimensions differ: a is [2, 3], b is [4, 5]`.
   */
  shape(inputs: readonly Shape[], attrs: A): Shape;
  /**
   * Per-op geometry from the input shapes and attrs (GEMM dimensions, a broadcast case),
   * computed once when a graph plans and passed to forward/backward as `env.prep`. Called
   * only after `shape` accepted these shapes.
   */
  prepare?(inputs: readonly Shape[], attrs: A, layouts?: readonly (Layout | null)[]): P;
  /**
   * Set on ops whose output is input 0's elements read through another layout (a
   * transpose): that layout over input 0's contiguous buffer for these shapes, or null where
   * they give none. A graph may then run no copy at all: when every consumer of the node
   * reads that layout (`readsLayout`), the consumers read input 0's buffer through it, and
   * write their gradients straight into input 0's gradient.
   */
  layoutOf?(inputs: readonly Shape[], attrs: A): Layout | null;
  /**
   * Whether input `i`, of logical shape `inputs[i]`, may be handed over as `layout` instead of
   * a contiguous buffer. If so, a graph calls `prepare` with `layouts` and passes them in
   * `env.layouts`: `x[i]` and `dx[i]` are then the underlying buffers (of the underlying
   * shape), read and written through the layout.
   */
  readsLayout?(i: number, layout: Layout, inputs: readonly Shape[], attrs: A): boolean;
  /** Shapes of extra buffers forward fills for backward (e.g. softmax probabilities). */
  saved?(inputs: readonly Shape[], attrs: A): Shape[];
  /**
   * Bytes of scratch forward or backward needs at most; with `layouts`, when inputs are
   * handed over through them (as `prepare` is told: the geometry, and so the need, can differ).
   */
  scratchBytes?(inputs: readonly Shape[], attrs: A, layouts?: readonly (Layout | null)[]): number;
  /** Writes the output `y` from inputs `x` (overwrites y). */
  forward(k: Kernels, x: readonly Buf[], y: Buf, attrs: A, env: OpEnv<P>): void;
  /**
   * Inputs whose gradient backward can write instead of add to: when bit i of `env.fresh`
   * is set, it writes every element of dx[i] (dx[i] = (∂y/∂x_i)ᵀ·dy) and reads none. A
   * graph sets the bit for the first op to send a gradient back to an op node in a
   * backward run, and then does not zero that gradient first.
   */
  readonly overwrites?: readonly number[];
  /**
   * Adds each input's share of the gradient into `dx[i]` (dx[i] += (∂y/∂x_i)ᵀ·dy, or
   * writes it where `env.fresh` says dx[i] is fresh, see `overwrites`; gradients are shaped
   * like their inputs). `dx[i]` is null where that
   * gradient is not wanted. `y` holds the forward output, `env.saved` what forward saved.
   * Omitted for ops with no gradient to any input.
   */
  backward?(k: Kernels, x: readonly Buf[], y: Buf, dy: Buf, dx: readonly (Buf | null)[], attrs: A, env: OpEnv<P>): void;
  /** Which tensors backward reads (default: every input and the output). */
  readonly backwardReads?: BackwardReads;
  /** How the kernels this op calls split over threads (kernels not listed stay on one thread). */
  readonly threads?: KernelSplits;
  /** How the op is written to ONNX (absent: the exporter reports the op as unsupported). */
  readonly onnx?: OnnxMapping<A>;
  /** Test cases for the generic op test. */
  readonly samples?: readonly OpSample<A>[];
  /** Shapes that must be refused. */
  readonly badSamples?: readonly OpBadSample<A>[];
}

/** The identity of an op: its `id`, or its name. */
export function opId(op: OpDef<any, any>): string {
  return op.id ?? op.name;
}

/** Shorthand for shape errors: `${op}: ${what}: a is [..], b is [..]`. */
export function shapeError(op: string, what: string, named: Record<string, Shape>): Error {
  const parts = Object.entries(named).map(([n, s]) => `${n} is [${s.join(", ")}]`);
  return new Error(`${op}: ${what}${parts.length ? ": " + parts.join(", ") : ""}`);
}
