/**
 * Embedding lookup: out[..., :] = table[ids[...], :]. ids hold integer values (float32
 * tensors, as every tensor) in [0, V); table is [V, D]; the output is ids' shape + [D].
 * The table's gradient is a scatter-add of dy's rows into the rows used (repeated ids
 * sum), O(ids·D). The ids get no gradient. Kernels: assembly/embedding.ts.
 *
 * Sparse updates. When a param table is used only through embedding lookups, its gradient
 * carries a row set (the rows written since it was last zeroed); zeroGrad and the
 * optimizers then touch only those rows, so a step costs O(rows used · D), not O(V·D).
 * See rowSetOf().
 */
import { type Shape, fmtShape } from "../runtime/shape.js";
import { type In, call, defineOp, method } from "./define.js";
import { checkIndices } from "./softmax.js";

declare module "../runtime/kernels.js" {
  interface Kernels {
    embedding_forward(ids: number, table: number, out: number, n: number, D: number): void;
    embedding_backward(ids: number, dy: number, dtable: number, n: number, D: number, rowset: number): void;
    rowset_bytes(V: number): number;
    rowset_init(rowset: number, V: number): void;
    rowset_count(rowset: number): number;
    rowset_zero(g: number, D: number, rowset: number): void;
    sgd_step_rows(w: number, g: number, v: number, D: number, rowset: number, lr: number, momentum: number, weightDecay: number): void;
    adam_step_rows(w: number, g: number, m: number, v: number, D: number, rowset: number, lr: number, beta1: number, beta2: number, eps: number, bc1: number, bc2: number, weightDecay: number, decoupled: number): void;
  }
}

/** The rows of a table's gradient written since it was last zeroed (in linear memory). */
export interface RowSet {
  /** Pointer to the kernels' row-set record (assembly/embedding.ts). */
  readonly ptr: number;
  readonly rows: number;
  readonly dim: number;
  /**
   * True once the table is also used by an op other than an embedding lookup: its gradient
   * may then be dense, and zeroGrad and optimizers treat it as a whole.
   */
  dense: boolean;
}

/** Row sets by gradient buffer (the Tensor object a param's gradient lives in). */
const rowSets = new WeakMap<object, RowSet>();

/** Attaches a row set to a table's gradient buffer. */
export function attachRowSet(grad: object, rs: RowSet): void {
  rowSets.set(grad, rs);
}

/** The row set of a gradient buffer used sparsely, or null (none, or used densely too). */
export function rowSetOf(grad: object | null): RowSet | null {
  if (grad === null) return null;
  const rs = rowSets.get(grad);
  return rs !== undefined && !rs.dense ? rs : null;
}

/** Any row set of a gradient buffer, dense or not. */
export function anyRowSet(grad: object | null): RowSet | null {
  return grad === null ? null : rowSets.get(grad) ?? null;
}

function ramp(n: number): number[] {
  return Array.from({ length: n }, (_, i) => ((i * 29) % 23) / 11 - 1);
}

export const embeddingOp = defineOp<void>({
  needs: "embedding_forward",
  name: "embedding",
  // Ids are float32 values holding integers: Gather takes them cast to int64 (to: 7).
  onnx: { emit: (b, [ids, table]) => b.node("Gather", [table!, b.node("Cast", [ids!], { to: 7 })[0]!], { axis: 0 })[0]! },
  samples: [
    { label: "repeated and unused ids", inputs: [[5], [6, 3]], attrs: undefined, constant: [0], values: (i, n) => (i === 0 ? [2, 0, 2, 5, 2] : ramp(n)) },
    { label: "2-D ids", inputs: [[2, 3], [4, 5]], attrs: undefined, constant: [0], values: (i, n) => (i === 0 ? [3, 3, 0, 1, 3, 0] : ramp(n)) },
  ],
  badSamples: [
    { inputs: [[3], [6]], attrs: undefined, message: "table must be [V, D]" },
    { inputs: [[3], [0, 4]], attrs: undefined, message: "no rows" },
  ],
  shape(inputs) {
    if (inputs.length !== 2) throw new Error(`embedding: expects 2 inputs (ids, table), got ${inputs.length}`);
    const [ids, t] = inputs as [Shape, Shape];
    if (t.length !== 2) throw new Error(`embedding: table must be [V, D]: ids is ${fmtShape(ids)}, table is ${fmtShape(t)}`);
    if (t[0] === 0) throw new Error(`embedding: the table has no rows: table is ${fmtShape(t)}`);
    return [...ids, t[1]!];
  },
  forward(k, x, y) {
    const [ids, table] = x as [typeof x[0], typeof x[0]];
    const [V, D] = table!.shape as [number, number];
    checkIndices(k, "embedding", "id", ids!, V, `table is ${fmtShape(table!.shape)}`);
    k.embedding_forward(ids!.ptr, table!.ptr, y.ptr, ids!.size, D);
  },
  backward(k, x, _y, dy, dx) {
    const d = dx[1];
    if (!d) return;
    const D = x[1]!.shape[1]!;
    const rs = anyRowSet(d);
    k.embedding_backward(x[0]!.ptr, dy.ptr, d.ptr, x[0]!.size, D, rs ? rs.ptr : 0);
  },
});

export const methods = {
  /**
   * Rows of `table` [V, D] picked by `ids` (integer values in [0, V), any shape): the result is
   * ids' shape + [D]. An id that is not such an integer is an error naming the first one. The
   * table's gradient adds dy's rows into the rows used (repeated ids sum); when the table is a
   * param used only by lookups, zeroGrad and the optimizers touch only those rows.
   */
  embedding: method(2, (ids: In, table: In) => call(embeddingOp, [ids, table], undefined)),
};
