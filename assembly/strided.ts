// Strided kernels for N-D tensors: a strided copy (transpose, slice, concat, broadcasting
// a gradient back over reduced axes) and a broadcasting binary map (add, sub, mul, div,
// max and max's gradient weights over operands whose shapes broadcast by NumPy rules).
//
// The TypeScript side collapses every index space to at most four axes [d0, d1, d2, d3]
// (adjacent axes that are laid out alike merge; size-1 axes drop) and passes per-operand
// strides in elements; a stride of 0 repeats a value along that axis (broadcasting).
// Index spaces of more than four collapsed axes are run as several calls over offsets.
//
// Conventions as in elementwise.ts: pointers are byte offsets of f32 arrays, sizes are
// element counts ≥ 0, `accumulate` = 0 overwrites the output (not read), 1 adds into it.
// The innermost axis picks the loop: unit strides run SIMD loads, a zero stride a splat,
// anything else a scalar loop; every SIMD loop has a scalar tail.

const OP_ADD: i32 = 0;
const OP_SUB: i32 = 1;
const OP_MUL: i32 = 2;
const OP_DIV: i32 = 3;
const OP_MAX: i32 = 4;
/** Gradient weight of max(a, b) for a: 1 where a > b, ½ where a = b, else 0. */
const OP_MAXW: i32 = 5;
/** Columns of y per tile of the plane transpose (that many rows of x stay cache-resident). */
const TILE_C: i32 = 64;

// ------------------------------------------------------------------ strided copy

/** y[i·ys] (+)= α·x[i·xs], i < n, for one innermost row. */
// @ts-ignore: decorator
@inline function copy_row(x: usize, y: usize, n: i32, xs: i32, ys: i32, alpha: f32, acc: bool): void {
  let i = 0;
  if (ys == 1 && (xs == 1 || xs == 0)) {
    const av = f32x4.splat(alpha);
    const sv = f32x4.splat(alpha * load<f32>(x));
    for (; i + 8 <= n; i += 8) {
      const o = <usize>i << 2;
      let v0 = sv, v1 = sv;
      if (xs == 1) {
        v0 = f32x4.mul(av, v128.load(x + o));
        v1 = f32x4.mul(av, v128.load(x + o, 16));
      }
      if (acc) {
        v0 = f32x4.add(v128.load(y + o), v0);
        v1 = f32x4.add(v128.load(y + o, 16), v1);
      }
      v128.store(y + o, v0);
      v128.store(y + o, v1, 16);
    }
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      let v0 = xs == 1 ? f32x4.mul(av, v128.load(x + o)) : sv;
      if (acc) v0 = f32x4.add(v128.load(y + o), v0);
      v128.store(y + o, v0);
    }
  }
  const xb = <usize>xs << 2;
  const yb = <usize>ys << 2;
  let p = x + <usize>i * xb, q = y + <usize>i * yb;
  for (; i < n; i++) {
    const v = alpha * load<f32>(p);
    store<f32>(q, acc ? load<f32>(q) + v : v);
    p += xb;
    q += yb;
  }
}

/** A plain copy of one contiguous row (no scaling): the common case of slice and concat. */
// @ts-ignore: decorator
@inline function move_row(x: usize, y: usize, n: i32): void {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const o = <usize>i << 2;
    const v0 = v128.load(x + o), v1 = v128.load(x + o, 16);
    v128.store(y + o, v0);
    v128.store(y + o, v1, 16);
  }
  for (; i + 4 <= n; i += 4) v128.store(y + (<usize>i << 2), v128.load(x + (<usize>i << 2)));
  for (; i < n; i++) store<f32>(y + (<usize>i << 2), load<f32>(x + (<usize>i << 2)));
}

/**
 * Transposes a 4 × 4 block (rows at x with stride xr bytes) into y (rows at stride yr bytes).
 */
// @ts-ignore: decorator
@inline function transpose4x4(x: usize, xr: usize, y: usize, yr: usize, alpha: v128, acc: bool): void {
  const r0 = v128.load(x), r1 = v128.load(x + xr), r2 = v128.load(x + 2 * xr), r3 = v128.load(x + 3 * xr);
  const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5); // a0 b0 a1 b1
  const t1 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5); // c0 d0 c1 d1
  const t2 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7); // a2 b2 a3 b3
  const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7); // c2 d2 c3 d3
  let c0 = f32x4.mul(alpha, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
  let c1 = f32x4.mul(alpha, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7));
  let c2 = f32x4.mul(alpha, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5));
  let c3 = f32x4.mul(alpha, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7));
  if (acc) {
    c0 = f32x4.add(c0, v128.load(y));
    c1 = f32x4.add(c1, v128.load(y + yr));
    c2 = f32x4.add(c2, v128.load(y + 2 * yr));
    c3 = f32x4.add(c3, v128.load(y + 3 * yr));
  }
  v128.store(y, c0);
  v128.store(y + yr, c1);
  v128.store(y + 2 * yr, c2);
  v128.store(y + 3 * yr, c3);
}

/**
 * The last two axes swapped: y[r, c] (+)= α·x[c·xs3 + r] for r < n2, c < n3, where y rows
 * are contiguous with stride ys2 and x's innermost axis (c) has stride xs3 while r is
 * contiguous in x. Runs 4 × 4 blocks through registers over tiles of TILE_C columns of y
 * (TILE_C rows of x stay in L1 while r sweeps across them), scalar edges.
 */
// @ts-ignore: decorator
@inline function transpose_plane(x: usize, y: usize, n2: i32, n3: i32, xs3: i32, ys2: i32, alpha: f32, acc: bool): void {
  const xr = <usize>xs3 << 2;
  const yr = <usize>ys2 << 2;
  const av = f32x4.splat(alpha);
  const c4 = n3 & ~3;
  const r4 = n2 & ~3;
  for (let c0 = 0; c0 < c4; c0 += TILE_C) {
    const c1 = min(c0 + TILE_C, c4);
    for (let r = 0; r < r4; r += 4) {
      for (let c = c0; c < c1; c += 4) {
        // Block rows are x[c..c+3] at offset r (contiguous over r), written to y rows r..r+3.
        transpose4x4(x + <usize>c * xr + (<usize>r << 2), xr, y + <usize>r * yr + (<usize>c << 2), yr, av, acc);
      }
    }
  }
  // Edges: the last n3 mod 4 columns of every row, then the last n2 mod 4 rows.
  for (let r = 0; r < n2; r++) {
    const q = y + <usize>r * yr;
    for (let c = r < r4 ? c4 : 0; c < n3; c++) {
      const v = alpha * load<f32>(x + <usize>c * xr + (<usize>r << 2));
      const qq = q + (<usize>c << 2);
      store<f32>(qq, acc ? load<f32>(qq) + v : v);
    }
  }
}

// @ts-ignore: decorator
@inline function copy_nd_impl(
  acc: bool, x: usize, y: usize, d0: i32, d1: i32, d2: i32, d3: i32,
  xs0: i32, xs1: i32, xs2: i32, xs3: i32, ys0: i32, ys1: i32, ys2: i32, ys3: i32, alpha: f32,
): void {
  // Swapped last two axes with a contiguous y: 4 × 4 register transposes.
  const plane = xs2 == 1 && ys3 == 1 && xs3 != 1 && d2 >= 4 && d3 >= 4;
  const plain = !acc && alpha == 1 && xs3 == 1 && ys3 == 1;
  for (let i0 = 0; i0 < d0; i0++) {
    for (let i1 = 0; i1 < d1; i1++) {
      const xo = x + ((<usize>i0 * <usize>xs0 + <usize>i1 * <usize>xs1) << 2);
      const yo = y + ((<usize>i0 * <usize>ys0 + <usize>i1 * <usize>ys1) << 2);
      if (plane) {
        transpose_plane(xo, yo, d2, d3, xs3, ys2, alpha, acc);
        continue;
      }
      for (let i2 = 0; i2 < d2; i2++) {
        const xr = xo + (<usize>i2 * <usize>xs2 << 2);
        const yr = yo + (<usize>i2 * <usize>ys2 << 2);
        if (plain) move_row(xr, yr, d3);
        else copy_row(xr, yr, d3, xs3, ys3, alpha, acc);
      }
    }
  }
}

/**
 * Strided copy over the index space [d0, d1, d2, d3]:
 *   y[Σ i_k·ys_k] (+)= α·x[Σ i_k·xs_k]   for every index (i0, i1, i2, i3).
 * Strides are in elements and non-negative; an x stride of 0 repeats x along that axis
 * (broadcast). Preconditions: y's strides map distinct indices to distinct elements, and x
 * and y do not overlap. Used for transpose (x strides permuted), slice and concat (an
 * offset sub-block of x or y) and for broadcasting a reduced gradient back (x strides 0 on
 * the reduced axes). Fast paths: unit inner strides (SIMD), zero inner x stride (splat),
 * the last two axes swapped with y contiguous (4 × 4 register transposes).
 */
export function copy_nd(
  x: usize, y: usize, d0: i32, d1: i32, d2: i32, d3: i32,
  xs0: i32, xs1: i32, xs2: i32, xs3: i32, ys0: i32, ys1: i32, ys2: i32, ys3: i32,
  alpha: f32, accumulate: i32,
): void {
  if (d0 <= 0 || d1 <= 0 || d2 <= 0 || d3 <= 0) return;
  if (accumulate) copy_nd_impl(true, x, y, d0, d1, d2, d3, xs0, xs1, xs2, xs3, ys0, ys1, ys2, ys3, alpha);
  else copy_nd_impl(false, x, y, d0, d1, d2, d3, xs0, xs1, xs2, xs3, ys0, ys1, ys2, ys3, alpha);
}

// ------------------------------------------------------------------ broadcasting binary map

// @ts-ignore: decorator
@inline function vbin(op: i32, a: v128, b: v128): v128 {
  if (op == OP_ADD) return f32x4.add(a, b);
  if (op == OP_SUB) return f32x4.sub(a, b);
  if (op == OP_MUL) return f32x4.mul(a, b);
  if (op == OP_DIV) return f32x4.div(a, b);
  if (op == OP_MAX) return f32x4.max(a, b);
  return f32x4.add(v128.and(f32x4.gt(a, b), f32x4.splat(1)), v128.and(f32x4.eq(a, b), f32x4.splat(0.5)));
}

// @ts-ignore: decorator
@inline function sbin(op: i32, a: f32, b: f32): f32 {
  if (op == OP_ADD) return a + b;
  if (op == OP_SUB) return a - b;
  if (op == OP_MUL) return a * b;
  if (op == OP_DIV) return a / b;
  if (op == OP_MAX) return Mathf.max(a, b);
  return a > b ? 1 : a == b ? <f32>0.5 : 0;
}

/** Inner-loop layouts of binary_nd: both operands contiguous, or one of them splatted. */
const PAT_AB: i32 = 0; //  a[i], b[i]
const PAT_A: i32 = 1; //   a[i], b[0]
const PAT_B: i32 = 2; //   a[0], b[i]
const PAT_ANY: i32 = 3; // other strides: scalar loop

/**
 * y[i] (+)= a[i·as] op b[i·bs], i < n, y contiguous. `op`, `pat` and `acc` are constants at
 * every call site (one loop per op, layout and flag: asc-transform.js keeps the compiler's
 * code folding from merging them back into one loop that tests them at every vector).
 */
// @ts-ignore: decorator
@inline function bin_row(op: i32, pat: i32, acc: bool, a: usize, b: usize, y: usize, n: i32, as: i32, bs: i32): void {
  let i = 0;
  if (pat != PAT_ANY) {
    const sa = f32x4.splat(load<f32>(a)), sb = f32x4.splat(load<f32>(b));
    // All loads of a step before its stores, as map2 in elementwise.ts.
    for (; i + 16 <= n; i += 16) {
      const o = <usize>i << 2;
      const a0 = pat == PAT_B ? sa : v128.load(a + o), a1 = pat == PAT_B ? sa : v128.load(a + o, 16);
      const a2 = pat == PAT_B ? sa : v128.load(a + o, 32), a3 = pat == PAT_B ? sa : v128.load(a + o, 48);
      const b0 = pat == PAT_A ? sb : v128.load(b + o), b1 = pat == PAT_A ? sb : v128.load(b + o, 16);
      const b2 = pat == PAT_A ? sb : v128.load(b + o, 32), b3 = pat == PAT_A ? sb : v128.load(b + o, 48);
      let y0 = vbin(op, a0, b0), y1 = vbin(op, a1, b1), y2 = vbin(op, a2, b2), y3 = vbin(op, a3, b3);
      if (acc) {
        y0 = f32x4.add(v128.load(y + o), y0);
        y1 = f32x4.add(v128.load(y + o, 16), y1);
        y2 = f32x4.add(v128.load(y + o, 32), y2);
        y3 = f32x4.add(v128.load(y + o, 48), y3);
      }
      v128.store(y + o, y0);
      v128.store(y + o, y1, 16);
      v128.store(y + o, y2, 32);
      v128.store(y + o, y3, 48);
    }
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      let y0 = vbin(op, pat == PAT_B ? sa : v128.load(a + o), pat == PAT_A ? sb : v128.load(b + o));
      if (acc) y0 = f32x4.add(v128.load(y + o), y0);
      v128.store(y + o, y0);
    }
  }
  const ab = <usize>as << 2;
  const bb = <usize>bs << 2;
  let p = a + <usize>i * ab, q = b + <usize>i * bb;
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const v = sbin(op, load<f32>(p), load<f32>(q));
    store<f32>(y + o, acc ? load<f32>(y + o) + v : v);
    p += ab;
    q += bb;
  }
}

// @ts-ignore: decorator
@inline function bin_nd_pat(
  op: i32, pat: i32, acc: bool, a: usize, b: usize, y: usize, d0: i32, d1: i32, d2: i32, d3: i32,
  as0: i32, as1: i32, as2: i32, as3: i32, bs0: i32, bs1: i32, bs2: i32, bs3: i32,
): void {
  let yr = y;
  const rowBytes = <usize>d3 << 2;
  for (let i0 = 0; i0 < d0; i0++) {
    for (let i1 = 0; i1 < d1; i1++) {
      const ao = a + ((<usize>i0 * <usize>as0 + <usize>i1 * <usize>as1) << 2);
      const bo = b + ((<usize>i0 * <usize>bs0 + <usize>i1 * <usize>bs1) << 2);
      for (let i2 = 0; i2 < d2; i2++) {
        bin_row(op, pat, acc, ao + (<usize>i2 * <usize>as2 << 2), bo + (<usize>i2 * <usize>bs2 << 2), yr, d3, as3, bs3);
        yr += rowBytes;
      }
    }
  }
}

/** The layout of binary_nd's innermost axis: both contiguous, one splatted, or strided. */
// @ts-ignore: decorator
@inline function pattern(as3: i32, bs3: i32): i32 {
  if (as3 == 1) return bs3 == 1 ? PAT_AB : bs3 == 0 ? PAT_A : PAT_ANY;
  return as3 == 0 && bs3 == 1 ? PAT_B : PAT_ANY;
}

/** The SIMD layouts (pat ≠ PAT_ANY) of one op and flag value. */
// @ts-ignore: decorator
@inline function bin_nd_simd(
  op: i32, pat: i32, acc: bool, a: usize, b: usize, y: usize, d0: i32, d1: i32, d2: i32, d3: i32,
  as0: i32, as1: i32, as2: i32, as3: i32, bs0: i32, bs1: i32, bs2: i32, bs3: i32,
): void {
  if (pat == PAT_AB) bin_nd_pat(op, PAT_AB, acc, a, b, y, d0, d1, d2, d3, as0, as1, as2, as3, bs0, bs1, bs2, bs3);
  else if (pat == PAT_A) bin_nd_pat(op, PAT_A, acc, a, b, y, d0, d1, d2, d3, as0, as1, as2, as3, bs0, bs1, bs2, bs3);
  else bin_nd_pat(op, PAT_B, acc, a, b, y, d0, d1, d2, d3, as0, as1, as2, as3, bs0, bs1, bs2, bs3);
}

/**
 * One op over the SIMD layouts: a loop per layout that overwrites, and for mul and div (the
 * ops gradients accumulate through: dy·b, dy/b) one per layout that accumulates. Returns
 * false for what it leaves to bin_nd_any: strided inner axes, other ops accumulating (no
 * caller asks them to).
 */
// @ts-ignore: decorator
@inline function bin_nd_op(
  op: i32, a: usize, b: usize, y: usize, d0: i32, d1: i32, d2: i32, d3: i32,
  as0: i32, as1: i32, as2: i32, as3: i32, bs0: i32, bs1: i32, bs2: i32, bs3: i32, accumulate: i32,
): bool {
  const pat = pattern(as3, bs3);
  if (pat == PAT_ANY) return false;
  if (!accumulate) bin_nd_simd(op, pat, false, a, b, y, d0, d1, d2, d3, as0, as1, as2, as3, bs0, bs1, bs2, bs3);
  else if (op == OP_MUL || op == OP_DIV) bin_nd_simd(op, pat, true, a, b, y, d0, d1, d2, d3, as0, as1, as2, as3, bs0, bs1, bs2, bs3);
  else return false;
  return true;
}

// One function per op (kept out of line by asc-transform.js), so an engine compiles the
// optimized code of each op on its first calls, not of all six at once.
function binary_add(a: usize, b: usize, y: usize, d0: i32, d1: i32, d2: i32, d3: i32, as0: i32, as1: i32, as2: i32, as3: i32, bs0: i32, bs1: i32, bs2: i32, bs3: i32, accumulate: i32): bool {
  return bin_nd_op(OP_ADD, a, b, y, d0, d1, d2, d3, as0, as1, as2, as3, bs0, bs1, bs2, bs3, accumulate);
}
function binary_sub(a: usize, b: usize, y: usize, d0: i32, d1: i32, d2: i32, d3: i32, as0: i32, as1: i32, as2: i32, as3: i32, bs0: i32, bs1: i32, bs2: i32, bs3: i32, accumulate: i32): bool {
  return bin_nd_op(OP_SUB, a, b, y, d0, d1, d2, d3, as0, as1, as2, as3, bs0, bs1, bs2, bs3, accumulate);
}
function binary_mul(a: usize, b: usize, y: usize, d0: i32, d1: i32, d2: i32, d3: i32, as0: i32, as1: i32, as2: i32, as3: i32, bs0: i32, bs1: i32, bs2: i32, bs3: i32, accumulate: i32): bool {
  return bin_nd_op(OP_MUL, a, b, y, d0, d1, d2, d3, as0, as1, as2, as3, bs0, bs1, bs2, bs3, accumulate);
}
function binary_div(a: usize, b: usize, y: usize, d0: i32, d1: i32, d2: i32, d3: i32, as0: i32, as1: i32, as2: i32, as3: i32, bs0: i32, bs1: i32, bs2: i32, bs3: i32, accumulate: i32): bool {
  return bin_nd_op(OP_DIV, a, b, y, d0, d1, d2, d3, as0, as1, as2, as3, bs0, bs1, bs2, bs3, accumulate);
}
function binary_max(a: usize, b: usize, y: usize, d0: i32, d1: i32, d2: i32, d3: i32, as0: i32, as1: i32, as2: i32, as3: i32, bs0: i32, bs1: i32, bs2: i32, bs3: i32, accumulate: i32): bool {
  return bin_nd_op(OP_MAX, a, b, y, d0, d1, d2, d3, as0, as1, as2, as3, bs0, bs1, bs2, bs3, accumulate);
}
function binary_maxw(a: usize, b: usize, y: usize, d0: i32, d1: i32, d2: i32, d3: i32, as0: i32, as1: i32, as2: i32, as3: i32, bs0: i32, bs1: i32, bs2: i32, bs3: i32, accumulate: i32): bool {
  return bin_nd_op(OP_MAXW, a, b, y, d0, d1, d2, d3, as0, as1, as2, as3, bs0, bs1, bs2, bs3, accumulate);
}

/**
 * Everything else, one scalar loop for every op and flag (both tested per element): inner
 * strides other than 0 and 1, and add, sub, max or max's weights accumulating.
 */
function bin_nd_any(
  op: i32, a: usize, b: usize, y: usize, d0: i32, d1: i32, d2: i32, d3: i32,
  as0: i32, as1: i32, as2: i32, as3: i32, bs0: i32, bs1: i32, bs2: i32, bs3: i32, accumulate: i32,
): void {
  bin_nd_pat(op, PAT_ANY, accumulate != 0, a, b, y, d0, d1, d2, d3, as0, as1, as2, as3, bs0, bs1, bs2, bs3);
}

/**
 * Broadcasting binary map over the index space [d0, d1, d2, d3], y contiguous row-major:
 *   y[i] (+)= a[Σ i_k·as_k] op b[Σ i_k·bs_k]
 * with op: 0 add, 1 sub (a − b), 2 mul, 3 div (a / b, IEEE: x/0 = ±Inf, 0/0 = NaN),
 * 4 max (NaN in either gives NaN), 5 max's gradient weight for a (1 where a > b, ½ where
 * a = b, 0 otherwise, 0 where either is NaN). Strides are in elements, 0 on the axes an
 * operand is broadcast along. y must not overlap a or b unless it is the same array with
 * the same (contiguous) layout. Any other op code writes nothing.
 */
export function binary_nd(
  op: i32, a: usize, b: usize, y: usize, d0: i32, d1: i32, d2: i32, d3: i32,
  as0: i32, as1: i32, as2: i32, as3: i32, bs0: i32, bs1: i32, bs2: i32, bs3: i32, accumulate: i32,
): void {
  if (d0 <= 0 || d1 <= 0 || d2 <= 0 || d3 <= 0 || op < OP_ADD || op > OP_MAXW) return;
  let done = false;
  if (op == OP_ADD) done = binary_add(a, b, y, d0, d1, d2, d3, as0, as1, as2, as3, bs0, bs1, bs2, bs3, accumulate);
  else if (op == OP_SUB) done = binary_sub(a, b, y, d0, d1, d2, d3, as0, as1, as2, as3, bs0, bs1, bs2, bs3, accumulate);
  else if (op == OP_MUL) done = binary_mul(a, b, y, d0, d1, d2, d3, as0, as1, as2, as3, bs0, bs1, bs2, bs3, accumulate);
  else if (op == OP_DIV) done = binary_div(a, b, y, d0, d1, d2, d3, as0, as1, as2, as3, bs0, bs1, bs2, bs3, accumulate);
  else if (op == OP_MAX) done = binary_max(a, b, y, d0, d1, d2, d3, as0, as1, as2, as3, bs0, bs1, bs2, bs3, accumulate);
  else done = binary_maxw(a, b, y, d0, d1, d2, d3, as0, as1, as2, as3, bs0, bs1, bs2, bs3, accumulate);
  if (!done) bin_nd_any(op, a, b, y, d0, d1, d2, d3, as0, as1, as2, as3, bs0, bs1, bs2, bs3, accumulate);
}
