/**
 * Tensor: a float32, row-major shape plus an offset into the runtime's linear memory.
 * Views are re-derived whenever `memory.buffer` changes (growth detaches old views).
 */
import type { Arena } from "./arena.js";
import { type Shape, checkShape, fmtShape, sizeOf } from "./shape.js";

/** What a tensor needs of its runtime. */
export interface TensorHost {
  readonly memory: WebAssembly.Memory;
  readonly arena: Arena;
  /** Set once the runtime is closed: every tensor of it is unusable. */
  readonly closed: boolean;
}

/**
 * What a tensor of a graph plan checks before it is read: whether its memory still holds its
 * plan's data (plans of one graph share memory), and if not, why, for the error.
 */
export interface TensorLease {
  readonly live: boolean;
  readonly why: string;
}

export class Tensor {
  readonly shape: Shape;
  readonly size: number;
  /** Byte offset of element 0 in linear memory. */
  readonly ptr: number;
  /** A name for error messages (a graph node's name, or "tensor"). */
  label: string;
  private _disposed = false;
  private _view: Float32Array | null = null;
  /** @internal set on the tensors of a graph plan, whose memory other plans of the graph reuse. */
  _lease: TensorLease | null = null;

  /** @internal use sg.tensor / sg.zeros / …; `owner` decides whether dispose() frees the memory. */
  constructor(
    readonly host: TensorHost,
    shape: Shape,
    ptr: number,
    /** @internal */ readonly owner: "self" | "graph" = "self",
    label = "tensor",
  ) {
    this.shape = shape;
    this.size = sizeOf(shape);
    this.ptr = ptr;
    this.label = label;
  }

  get disposed(): boolean {
    return this._disposed || this.host.closed;
  }

  /** Throws if this tensor can no longer be used; `op` names who asked. */
  check(op: string): this {
    if (this.host.closed) throw new Error(`${op}: ${this.label} ${fmtShape(this.shape)} belongs to a closed runtime`);
    if (this._disposed) throw new Error(`${op}: ${this.label} ${fmtShape(this.shape)} has been disposed`);
    if (this._lease !== null && !this._lease.live) throw new Error(`${op}: ${this.label} ${fmtShape(this.shape)} ${this._lease.why}`);
    return this;
  }

  /** A Float32Array over this tensor's memory; valid until the next allocation may grow memory. */
  get data(): Float32Array {
    this.check("data");
    const buf = this.host.memory.buffer;
    let v = this._view;
    if (v === null || v.buffer !== buf || v.length !== this.size) {
      v = this._view = new Float32Array(buf, this.ptr, this.size);
    }
    return v;
  }

  /** A copy of the values. */
  toArray(): Float32Array {
    return this.data.slice();
  }

  /** Copies the values into `out` (length ≥ size); allocates nothing. */
  readInto(out: Float32Array): Float32Array {
    this.check("readInto");
    if (!(out instanceof Float32Array)) throw new TypeError(`readInto: expected a Float32Array, got ${typeName(out)}`);
    if (out.length < this.size) {
      throw new RangeError(`readInto: ${this.label} ${fmtShape(this.shape)} has ${this.size} values, the output holds only ${out.length}`);
    }
    out.set(this.data);
    return out;
  }

  /** Overwrites the values with exactly `size` numbers (an array, a typed array or a Tensor of the same runtime). */
  set(values: ArrayLike<number> | Tensor): this {
    this.check("set");
    if (values instanceof Tensor) {
      checkTensor(values, "set", this.host, "the source tensor");
      if (values.size !== this.size) {
        throw new RangeError(`set: ${this.label} ${fmtShape(this.shape)} takes ${this.size} values, the source tensor ${fmtShape(values.shape)} has ${values.size}`);
      }
      this.data.set(values.data);
      return this;
    }
    if (values === null || typeof values !== "object" || typeof values.length !== "number") {
      throw new TypeError(`set: expected an array of ${this.size} numbers or a Tensor for ${this.label} ${fmtShape(this.shape)}, got ${typeName(values)}`);
    }
    if (values.length !== this.size) {
      throw new RangeError(`set: ${this.label} ${fmtShape(this.shape)} takes ${this.size} values, got ${values.length}${staleHint(values)}`);
    }
    this.data.set(values);
    return this;
  }

  /** Fills with one value. */
  fill(value: number): this {
    this.data.fill(value);
    return this;
  }

  /** Frees the memory (tensors owned by a graph are freed with the graph). Idempotent. */
  dispose(): void {
    if (this._disposed) return;
    if (this.owner === "graph" && !this.host.closed) {
      throw new Error(`dispose: ${this.label.startsWith("grad of ") || this.label.startsWith("saved by ") ? this.label : `'${this.label}'`} ${fmtShape(this.shape)} belongs to its graph; g.dispose() frees it (disposing it alone would break the graph)`);
    }
    this._disposed = true;
    this._view = null;
    if (this.owner === "self" && !this.host.closed) this.host.arena.release(this.ptr);
  }

  /** @internal marks a graph-owned tensor dead when its graph is disposed. */
  _kill(): void {
    this._disposed = true;
    this._view = null;
  }

  toString(): string {
    return `Tensor${fmtShape(this.shape)}`;
  }
}

export function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return `array of ${v.length}`;
  if (ArrayBuffer.isView(v)) return `${v.constructor.name} of ${(v as Float32Array).length}`;
  return typeof v;
}

/**
 * The one check for a tensor handed to this runtime by a caller (eager ops, graph feeds,
 * custom ops' results, optimizers): a Tensor, of this runtime, not disposed. `name` says
 * which argument it is in the message.
 */
export function checkTensor(t: unknown, op: string, host: TensorHost, name = "input"): Tensor {
  if (!(t instanceof Tensor)) throw new TypeError(`${op}: ${name} must be a Tensor, got ${typeName(t)}`);
  if (t.host !== host) throw new Error(`${op}: ${name} ${fmtShape(t.shape)} belongs to another simdgrad runtime`);
  if (name !== "input" && !t.host.closed && t.disposed) throw new Error(`${op}: ${name} ${fmtShape(t.shape)} has been disposed`);
  return t.check(op);
}

/**
 * Text to append to a length error when the array is a typed array whose buffer is empty:
 * most likely a `t.data` view read before an allocation grew linear memory (growth detaches
 * the old buffer, and views over it read as empty).
 */
export function staleHint(values: ArrayLike<number>): string {
  if (ArrayBuffer.isView(values) && values.byteLength === 0 && values.buffer.byteLength === 0) {
    return " (it is an empty view: if it came from tensor.data before an allocation, it is stale, because memory grew and detached it; read .data again after allocating, or pass the Tensor itself)";
  }
  return "";
}

/**
 * Where a caller's array lies in linear memory, if it is a view of it (e.g. `t.data`), so a
 * library call can re-derive it after an allocation that may grow (and detach) the memory.
 * Returns `values` itself when it is not such a view.
 */
export function pinView(host: TensorHost, values: ArrayLike<number>): ArrayLike<number> | PinnedView {
  if (values instanceof Float32Array && values.buffer === host.memory.buffer && values.length > 0) {
    return { pinned: true, byteOffset: values.byteOffset, length: values.length };
  }
  return values;
}

export interface PinnedView {
  pinned: true;
  byteOffset: number;
  length: number;
}

/** The values behind `pinView`'s result, over the memory's current buffer. */
export function unpinView(host: TensorHost, p: ArrayLike<number> | PinnedView): ArrayLike<number> {
  if ((p as PinnedView).pinned === true) {
    const v = p as PinnedView;
    return new Float32Array(host.memory.buffer, v.byteOffset, v.length);
  }
  return p as ArrayLike<number>;
}

/** Allocates an uninitialised tensor of `shape` in `host`'s memory. */
export function allocTensor(host: TensorHost, shape: unknown, op: string, owner: "self" | "graph" = "self", label?: string): Tensor {
  const s = checkShape(shape, op);
  const ptr = host.arena.alloc(sizeOf(s) * 4, op);
  return new Tensor(host, s, ptr, owner, label);
}
