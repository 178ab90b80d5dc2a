// Embedding lookups: gather rows of a table by integer ids, scatter-add gradients back,
// and the bookkeeping that lets optimizers touch only the rows a step used.
//
// Ids are f32 values holding integers in [0, V) (checked first with find_bad_index of
// softmax.ts). A table is [V, D], row-major.
//
// Row sets. A row set records which rows of a [V, D] gradient are nonzero, so that zeroing
// it and updating the table cost O(rows used · D), not O(V·D). Layout at a 16-byte aligned
// pointer rs (rowset_bytes(V) bytes, zero-filled before first use):
//   i32 count at rs, i32 V at rs + 4;  i32 list[V] at rs + 16 (the rows, in first-use order);
//   u8 mark[V] at rs + 16 + 4V (1 for the rows in the list).
import { adam_step, adamw_step, sgd_step } from "./optim";

/** Bytes of a row set for a table of V rows. */
export function rowset_bytes(V: i32): i32 {
  return 16 + 4 * V + ((V + 15) & ~15);
}

// @ts-ignore: decorator
@inline function copy_row(src: usize, dst: usize, D: i32): void {
  let i = 0;
  for (; i + 8 <= D; i += 8) {
    const o = <usize>i << 2;
    v128.store(dst + o, v128.load(src + o));
    v128.store(dst + o, v128.load(src + o, 16), 16);
  }
  for (; i + 4 <= D; i += 4) v128.store(dst + (<usize>i << 2), v128.load(src + (<usize>i << 2)));
  for (; i < D; i++) store<f32>(dst + (<usize>i << 2), load<f32>(src + (<usize>i << 2)));
}

// @ts-ignore: decorator
@inline function add_row(src: usize, dst: usize, D: i32): void {
  let i = 0;
  for (; i + 8 <= D; i += 8) {
    const o = <usize>i << 2;
    v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
    v128.store(dst + o, f32x4.add(v128.load(dst + o, 16), v128.load(src + o, 16)), 16);
  }
  for (; i + 4 <= D; i += 4) {
    const o = <usize>i << 2;
    v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
  }
  for (; i < D; i++) {
    const o = <usize>i << 2;
    store<f32>(dst + o, load<f32>(dst + o) + load<f32>(src + o));
  }
}

/**
 * Gather: out[i, ·] = table[ids[i], ·] for i < n (out is [n, D]). Ids must be integers in
 * [0, V) (find_bad_index); out must not overlap table.
 */
export function embedding_forward(ids: usize, table: usize, out: usize, n: i32, D: i32): void {
  const stride = <usize>D << 2;
  for (let i = 0; i < n; i++) {
    const id = <usize><i32>load<f32>(ids + (<usize>i << 2));
    copy_row(table + id * stride, out + <usize>i * stride, D);
  }
}

/**
 * Scatter-add: dtable[ids[i], ·] += dy[i, ·] for i < n (repeated ids sum; other rows are
 * not touched). With rs ≠ 0, every row written is also recorded in the row set rs (see the
 * top of the file). Cost O(n·D).
 */
export function embedding_backward(ids: usize, dy: usize, dtable: usize, n: i32, D: i32, rs: usize): void {
  const stride = <usize>D << 2;
  const V0 = rs != 0 ? load<i32>(rs, 4) : 0; // V, stored by rowset_init
  for (let i = 0; i < n; i++) {
    const id = <i32>load<f32>(ids + (<usize>i << 2));
    add_row(dy + <usize>i * stride, dtable + <usize>id * stride, D);
    if (rs != 0) {
      const mark = rs + 16 + (<usize>V0 << 2) + <usize>id;
      if (load<u8>(mark) == 0) {
        store<u8>(mark, 1);
        const c = load<i32>(rs);
        store<i32>(rs + 16 + (<usize>c << 2), id);
        store<i32>(rs, c + 1);
      }
    }
  }
}

/** Prepares a row set for V rows: empty list, no marks. Writes rowset_bytes(V) bytes. */
export function rowset_init(rs: usize, V: i32): void {
  memory.fill(rs, 0, <usize>rowset_bytes(V));
  store<i32>(rs, V, 4);
}

/** Rows in the row set. */
export function rowset_count(rs: usize): i32 {
  return load<i32>(rs);
}

/**
 * Zeroes the recorded rows of g [V, D] and empties the row set: O(rows · D).
 */
export function rowset_zero(g: usize, D: i32, rs: usize): void {
  const V = load<i32>(rs, 4), c = load<i32>(rs);
  const stride = <usize>D << 2;
  for (let j = 0; j < c; j++) {
    const id = load<i32>(rs + 16 + (<usize>j << 2));
    memory.fill(g + <usize>id * stride, 0, stride);
    store<u8>(rs + 16 + (<usize>V << 2) + <usize>id, 0);
  }
  store<i32>(rs, 0);
}

/**
 * SGD (sgd_step's rule and arguments) on the recorded rows of w, g and v (v: momentum
 * state [V, D] or 0) only: rows not used since the last rowset_zero are left alone, their
 * momentum too (a lazy update).
 */
export function sgd_step_rows(w: usize, g: usize, v: usize, D: i32, rs: usize, lr: f32, momentum: f32, weightDecay: f32): void {
  const c = load<i32>(rs);
  const stride = <usize>D << 2;
  for (let j = 0; j < c; j++) {
    const o = <usize>load<i32>(rs + 16 + (<usize>j << 2)) * stride;
    sgd_step(w + o, g + o, v != 0 ? v + o : 0, D, lr, momentum, weightDecay);
  }
}

/**
 * Adam (adam_step's rule and arguments, or adamw_step's when decoupled ≠ 0) on the recorded
 * rows only: lazy Adam, the rule of PyTorch's SparseAdam. The moments of a row advance only
 * on the steps that use it; the bias corrections bc1, bc2 follow the global step count.
 */
export function adam_step_rows(w: usize, g: usize, m: usize, v: usize, D: i32, rs: usize, lr: f32, beta1: f32, beta2: f32, eps: f32, bc1: f32, bc2: f32, weightDecay: f32, decoupled: i32): void {
  const c = load<i32>(rs);
  const stride = <usize>D << 2;
  for (let j = 0; j < c; j++) {
    const o = <usize>load<i32>(rs + 16 + (<usize>j << 2)) * stride;
    if (decoupled) adamw_step(w + o, g + o, m + o, v + o, D, lr, beta1, beta2, eps, bc1, bc2, weightDecay);
    else adam_step(w + o, g + o, m + o, v + o, D, lr, beta1, beta2, eps, bc1, bc2, weightDecay);
  }
}
