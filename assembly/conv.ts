// Convolutions: 2-D convolution, channels last, as GEMMs on the packed GEMM micro-kernel.
//
// Layouts (row-major f32, TensorFlow.js's): input x [N, H, W, C], filter [KH, KW, C, F],
// output y [N, HO, WO, F]. The filter is already a K × F matrix with K = KH·KW·C, rows in
// (ky, kx, c) order. The patch matrix P (im2col) has one row per output pixel (n, oy, ox),
// M = N·HO·WO rows, and K columns in the same (ky, kx, c) order:
//
//   P[(n, oy, ox)][(ky, kx, c)] = x[n, oy·SH − PT + ky·DH, ox·SW − PL + kx·DW, c]
//                                 (0 where that position falls in the padding)
//
// so that   forward          y  = P·filter                (M × K)·(K × F)
//           filter gradient  df = Pᵀ·dy                   (K × M)·(M × F)
//           input gradient   dx = col2im(dy·filterᵀ)      (M × F)·(F × K), then each row of
//                            the product is added back at the input positions its patch came from.
//
// P is never stored. Its MR-row micro-panels are packed straight from x, block by block, into
// the same panels assembly/gemm.ts packs from a matrix (channels last makes each (ky, kx)
// piece of a patch row C contiguous floats), then multiplied by gemm_panel_rows, GEMM's own
// loops over a packed block. With few filters (F ≤ 192, C ≥ 8) the forward and the filter gradient
// run transposed instead, as gemm.ts runs products with few columns (gemm_run_t): the small
// operand (filter, dy) is packed pre-broadcast and P goes into B panels (pack_patches_b,
// pack_patches_cols), 8 pixels or 8 patch columns a micro-panel; same sums either way. The
// input gradient forms the rows of dy·filterᵀ a few at a time in a buffer and scatters each
// into dx at once (nothing the size of P exists either): 4 pixels × up to 1024 patch columns,
// or, for a patch of at most 40 columns, or 192 with F ≥ 96 (see dx_swap), transposed the
// same way: the filter packed pre-broadcast, dy in B panels of 8 pixels, tiles of 4 patch
// columns × 8 pixels stored transposed into a panel of 128 or 256 pixel rows; same sums.
// With stride 1 (and C ≥ 8 or F < 8, a padding no larger than the window, a filter of at most
// 384 KiB, every value of it finite: see dx_rot, rotate_filter) the input gradient is itself a
// forward convolution instead,
//
//           input gradient   dx = conv(dy, rot)      dy as an image [N, HO, WO, F],
//                            rot[ky, kx, j, c] = filter[KH − 1 − ky, KW − 1 − kx, c, j], padding
//                            (KH − 1)·DH − PT on top and (KW − 1)·DW − PL on the left,
//
// run by the forward's own loops (transposed, packed or direct): a depth of KH·KW·F instead
// of F, each dx element written once, no scatter.
//
// A first layer (C < 8: K = 9 for 3 × 3 over one channel) has patch rows too short for
// packing to pay: a packed tile would run 9 depth steps per ending. Its forward and filter
// gradient run direct instead (conv2d_forward_direct, conv2d_backward_filter_direct): outputs
// summed in registers from broadcast x (or gathered Pᵀ) values and filter (or dy) rows, with
// the packed loops' sums. Against the packed paths (bench/gemm-ab.mjs --conv, paired, Zen 4):
// 1→16 forward 1.44×, filter gradient 1.42×; 3→16 1.46× and 1.68×; 3→64 1.14× and 1.24×
// (SIMD128), 1.2–1.9× in the relaxed build. (When F is not a multiple of 16 the forward takes
// four pixels at a time, so its last 8 or 4 filters keep 8 or 4 multiply-add chains: 5→24
// had read 0.95× of the packed path in the relaxed build with pairs only, 1.2× with quads.)
//
// The forward can finish its outputs as a layer does (conv2d_forward_bias_act): the bias
// added, Z stored and the activation applied where each tile (or, direct, each pixel's
// vectors) is still in registers, in the last depth slice, with the operations of a
// separate bias add and activation pass (so the bits are theirs). A CNN's conv, add, ReLU
// then reads and writes its output once instead of three times forward, and its backward
// forms dz = dy ⊙ f′ in one pass (src/ops/conv.ts).
//
// Geometry arrives as pairs packed into one i32 (low 16 bits: the vertical value, high 16
// bits: the horizontal one; assembly/window.ts unpacks them): ksize = KH | KW << 16, stride = SH | SW << 16,
// dilation = DH | DW << 16, pad = PT | PL << 16 (top and left padding; the bottom and right
// padding follow from HO and WO). Every packed value is below 65536; HO, WO ≥ 1 when M > 0.
// Positions outside the input read as 0 (forward, filter gradient) and receive nothing
// (input gradient).
//
// Scratch: 16-byte aligned, at least conv2d_scratch_bytes(M, K, F) bytes, not overlapping
// any operand. Kernels allocate nothing and keep no state.

import { MR, NR, KC, MC, NC, TILE_FLOATS } from "../src/ops/gemm-blocking";
import { DIRECT_BAND_FLOATS, DIRECT_PAD_MAX_F, DIRECT_PAD_ROWS, DX_PANEL, DX_PANEL_WHOLE, DX_ROT_FULL_FILTER_BYTES, DX_ROT_MAX_FILTER_BYTES, DX_ROT_ROWS, DX_SWAP_MAX_K, DX_WHOLE_MAX_BYTES } from "../src/ops/conv-blocking";
import { A_GROUP_BYTES, a_block_bytes, act_deferred, act_rows, gemm_panel_rows, gemm_rows_4x8_t, gemm_rows_4x8_t_from, gemm_rows_5x8_t, gemm_scratch_bytes, MC5, pack_a, pack_b, rows5_t, store_a_group, transpose_store_4x4 } from "./gemm";
import { ACT_IDENTITY, ACT_RELU, act_v } from "./vmath";
import { act_forward } from "./linear";
import { fmadd } from "./simd";
import { add_into, hi16, lo16 } from "./window";
import { ZERO_BLOCK_AT, ZERO_BLOCK_BYTES } from "../src/runtime/static-layout";

// @ts-ignore: decorator
@inline function round_up(x: i32, r: i32): i32 {
  return (x + r - 1) / r * r;
}

/**
 * The direct forward's own activation code (never an op's: those are ≥ 0): v ← max(v, p),
 * f32x4.pmax as ReLU's own (p = 0), or no change (p = −∞). See direct_run.
 */
const ACT_FLOOR: i32 = -1;

/** A row offset that puts every window position of a padding row outside the input. */
const OUTSIDE: i32 = -0x40000000;

/**
 * Bytes of scratch the three convolution kernels need for a patch matrix of m rows and
 * k columns and f filters (m = N·HO·WO, k = KH·KW·C): the GEMM packing space of the largest
 * of the three products, plus MR rows of k floats for the input gradient's product rows
 * (and the direct forward's tables, band and padded filter, about 100 KiB at most). Never
 * more than about 0.6 MiB whatever the sizes.
 */
export function conv2d_scratch_bytes(m: i32, k: i32, f: i32): i32 {
  const fwd = gemm_scratch_bytes(m, f, k);
  const dfilter = gemm_scratch_bytes(k, f, m);
  let dinput = gemm_scratch_bytes(m, k, f) + ((MR * min<i32>(round_up(max<i32>(k, 1), NR), NC)) << 2);
  if (k > 0 && k <= DX_SWAP_MAX_K && m > 0 && f > 0) dinput = max<i32>(dinput, dx_swap_bytes(m, k, f));
  if (k > 0 && m > 0 && f > 0 && <i64>k * <i64>f <= <i64>(DX_ROT_MAX_FILTER_BYTES >> 2)) {
    // The input gradient as a forward convolution (dx_rot): the rotated filter, then the
    // forward's packing space for DX_ROT_ROWS pixels over at most DX_ROT_ROWS channels and
    // depth slices of at most min(K·F, KC) (its depth KH·KW·F is at most K·F).
    const r = dx_rot_rows(k * f);
    dinput = max<i32>(dinput, round_up((k * f) << 2, 16) + gemm_scratch_bytes(r, r, min<i32>(k * f, KC)));
  }
  // The direct forward (C < 8, K ≤ KC): four tables of K values and the band; for F not a
  // multiple of 4 (at most DIRECT_PAD_MAX_F) also the padded filter, bias and row buffer.
  const f4 = (f + 3) & ~3;
  const padded = f > 0 && (f & 3) != 0 && f <= DIRECT_PAD_MAX_F ? k * f4 + f4 + DIRECT_PAD_ROWS * f4 : 0;
  const direct = k > 0 && k <= KC ? ((4 * k + DIRECT_BAND_FLOATS + padded) << 2) : 0;
  return max<i32>(max<i32>(fwd, direct), max<i32>(dfilter, dinput));
}

/**
 * Scratch of the transposed input gradient (k ≤ DX_SWAP_MAX_K): the packed filter (a slice
 * of it whole, or one block), the B panel of dy, the tile buffer and the panel's rows of k
 * product floats.
 */
function dx_swap_bytes(m: i32, k: i32, f: i32): i32 {
  const kc = min<i32>(f, KC);
  const whole = dx_whole(k, kc);
  const nc = min<i32>(round_up(m, NR), whole ? DX_PANEL_WHOLE : DX_PANEL);
  const ab = whole ? a_block_bytes(round_up(k, MR), kc) : a_block_bytes(min<i32>(round_up(k, MR), MC), kc);
  return <i32>ab + ((kc * nc + TILE_FLOATS + nc * k) << 2);
}

/**
 * Whether the input gradient runs transposed: a patch of K ≤ DX_SWAP_MAX_K columns, at least
 * twice as many output pixels (m) as that, and a patch of at most 40 columns or at least 96
 * filters. Narrow patches fill whole tiles better transposed (K = 9: 9 of the 16 columns
 * of two tiles, against 9 of the 12 rows of three micro-panels); many filters make deep tiles,
 * where the transposed store (16 shuffles a tile) costs least and pre-broadcasting dy (four
 * times its bytes) most. In between the two ways are level or the transposed loses.
 * Measured with bench/gemm-ab.mjs --conv --kernels=dinput: every K ≤ 288 transposed against
 * the same build with the transposed path off (paired bursts, 3×3 "same" (or 1×1), 16
 * images of 20×20 (8 for F = 256), median ratio of 15 pairs, SIMD128 / relaxed) on a 2-core
 * Zen 4 VM (32 KiB L1d, 1 MiB L2) shared with a fuzzing process (run to run about ±4%);
 * * marks what runs transposed:
 *
 *   K \ F   8             16              32              64              128
 *     9    1.08 / 1.09 * 1.09 / 1.11 *                   1.18 / 1.22 *
 *    18                  1.06 / 1.01 *
 *    27                  1.03 / 1.03 *   1.07 / 1.07 *
 *    36    1.08 / 1.09 * 1.10 / 1.12 *   1.05 / 1.09 *   1.14 / 1.16 *   1.28 / 1.16 *
 *    45                  0.98 / 0.95
 *    54                  0.84 / 0.95     0.98 / 1.04
 *    63                  0.87 / 0.94
 *    72                  0.91 / 0.94     0.96 / 0.97     1.00 / 1.00     1.16 / 1.12 *
 *    81                                  0.96 / 0.95
 *   108                  0.92 / 0.90     0.97 / 0.97     1.01 / 1.03     1.08 / 1.12 *
 *   126                                                  1.00 / 1.00
 *   144                                                  0.98 / 0.98     1.02 / 1.03 *
 *   189                                                  0.99 / 0.98     1.05 / 1.02 *
 *   216                                                                  1.01 / 1.01
 *
 * Also: 1×1 with K = 40, F = 16: 1.09 / 1.03 *; K = 64, F = 32: 0.95 / 0.98; K = 64, F = 96:
 * 1.00 / 1.03 *; K = 144, F = 96: 1.11 / 1.00 *; F = 256, K = 144: 1.08 / 1.04 *, K = 189:
 * 1.05 / 1.01 *. Past K = 192 nothing is gained at any F measured, and the panel of product
 * rows would outgrow the scratch bound. Neither smaller panels of pixels (32 or 64: the
 * product rows kept in L1) nor packing the filter once per slice changed the losses in
 * between beyond the noise (the latter is kept: +1% median against a block per panel).
 */
// @ts-ignore: decorator
@inline function dx_swap(m: i32, k: i32, f: i32): bool {
  return k <= DX_SWAP_MAX_K && m >= 2 * k && (k <= 40 || f >= 96);
}

/**
 * Whether the input gradient runs as a forward convolution (see conv2d_backward_input):
 * stride 1, a padding no larger than the window (so that the rotated filter's padding
 * (KH − 1)·DH − PT, (KW − 1)·DW − PL is not negative), at most DX_ROT_ROWS channels (half as
 * many past DX_ROT_FULL_FILTER_BYTES) and a filter of at most DX_ROT_MAX_FILTER_BYTES (the
 * scratch rule's bounds), and C ≥ 8 or F < 8 (and, checked as the filter is rotated, every
 * filter value finite: rotate_filter). Depends on no batch size, so images split over
 * threads take the same path.
 * Measured with bench/gemm-ab.mjs --conv --kernels=dinput --accumulate (as a backward pass
 * calls it) against the scatter loops (main before this path), 3×3 "same" (or as marked),
 * median ratio of 15 pairs (25 where two values), SIMD128 / relaxed, on the 2-core Zen 4 VM
 * shared with other builds and benchmarks (run to run about ±5%):
 *
 *   N×H×W×C→F            SIMD128        relaxed
 *   32×14×14×16→32       1.00           0.96, 0.97     the digits CNN's second layer
 *   16×32×32×64→64       1.06           0.99, 1.03
 *   16×16×16×64→128      1.02           0.92, 0.99     a 288 KiB filter: panels of 128
 *   8×32×32×32→32        1.07           1.03
 *   32×14×14×64→64 1×1   1.08           1.13
 *   16×16×16×32→32 5×5   1.09           1.00, 0.98
 *   32×14×14×8→16        1.07           1.05
 *   32×14×14×16→4        1.94           1.89           F < 8: a depth of F (the scatter
 *   32×14×14×32→8        1.39           1.43           loops' products) against 9·F
 *   32×14×14×4→4         1.21           1.23
 *   32×14×14×6→4         1.29                          (SIMD128 only)
 *   32×14×14×8→1         2.65
 *   32×14×14×1→1         1.36
 *   32×14×14×4→16        1.00, 0.98                    C < 8 with F ≥ 8: few output
 *   32×14×14×6→16        0.88                          channels (F' = C) fill few rows
 *   32×14×14×3→16        0.83                          of a tile: the scatter loops
 *   32×28×28×1→16        0.57
 *   32×14×14×4→32        0.78
 *
 * Without --accumulate (dx overwritten, F < 8 run direct) SIMD128 read 1.02 for 16→32, 1.07
 * for 64→64, 1.12 for 32→32, 1.24 for 1×1, 1.14 for 5×5, 2.12 for 16→4, 1.61 for 4→4. The
 * forward here has F' = C output channels and a depth of KH·KW·F: the 16→32 layer's input
 * gradient is a 32→16 forward, which packs twice the patch values per multiply-add of the
 * 16→32 forward (8 pixels of patches per 4 channels of dx, reused by C/4 = 4 tile rows), so
 * it runs at that forward's speed, not at the 16→32 forward's. Run on the packed forward
 * loops instead of the transposed ones it read 0.85 of this (16→32), 0.92 (64→64).
 */
// @ts-ignore: decorator
@inline function dx_rot(c: i32, f: i32, kh: i32, kw: i32, stride: i32, dilation: i32, pad: i32): bool {
  if (stride != (1 | (1 << 16)) || (c < 8 && f >= 8)) return false;
  if (<i64>(kh * kw * c) * <i64>f > <i64>(DX_ROT_MAX_FILTER_BYTES >> 2)) return false;
  if (c > dx_rot_rows(kh * kw * c * f)) return false;
  const pt = <i64>(kh - 1) * <i64>lo16(dilation) - <i64>lo16(pad);
  const pl = <i64>(kw - 1) * <i64>hi16(dilation) - <i64>hi16(pad);
  return pt >= 0 && pt < 0x10000 && pl >= 0 && pl < 0x10000;
}

/**
 * Pixels of dx per forward call of dx_rot for a filter of kf floats (at most
 * DX_ROT_MAX_FILTER_BYTES), also the most channels it takes: DX_ROT_ROWS, or half as many
 * for a filter past DX_ROT_FULL_FILTER_BYTES, so that filter and packing space stay within
 * the scratch bound. Panels of 128 pixels read 2% slower than 256 (gemm-ab --conv, 64→64,
 * 32→32 3×3 and 5×5, 64→64 1×1: 0.96–0.99×).
 */
// @ts-ignore: decorator
@inline function dx_rot_rows(kf: i32): i32 {
  return kf <= (DX_ROT_FULL_FILTER_BYTES >> 2) ? DX_ROT_ROWS : DX_ROT_ROWS >> 1;
}

/** Whether the transposed input gradient packs a whole slice of kc filters at once. */
// @ts-ignore: decorator
@inline function dx_whole(k: i32, kc: i32): bool {
  return a_block_bytes(round_up(k, MR), kc) <= <usize>DX_WHOLE_MAX_BYTES;
}

/**
 * Forward convolution of output rows [row0, row0 + rows):
 *   y[r][j] = Σ_{q<K} P[r][q]·filter[q][j]     for r in the range, j < F
 * (y is M × F, rows r = (n·HO + oy)·WO + ox). Overwrites those rows of y and writes nothing
 * else; reads only x and filter. Products are summed in f32 in slices of at most 256 terms,
 * exactly as gemm sums them (fused multiply-adds in the relaxed build), so a row's value does
 * not depend on which range it was computed in.
 * Preconditions: geometry as in the file comment, 0 ≤ row0, row0 + rows ≤ N·HO·WO; y does not
 * overlap x or filter; scratch ≥ conv2d_scratch_bytes(rows, K, F).
 */
export function conv2d_forward(
  x: usize, filter: usize, y: usize,
  n: i32, h: i32, w: i32, c: i32, f: i32, ho: i32, wo: i32,
  ksize: i32, stride: i32, dilation: i32, pad: i32,
  row0: i32, rows: i32, scratch: usize,
): void {
  forward_rows(x, filter, y, h, w, c, f, ho, wo, ksize, stride, dilation, pad, row0, rows, 0, 0, ACT_IDENTITY, 0, 0, true, true, scratch);
}

/**
 * conv2d_forward with 4 × 8 tiles only (in the relaxed-SIMD build, none of the blocks of
 * 5 × 8 tiles rows5_t allows: see gemm_4x8); the same results bit for bit. The runtime takes
 * the _4x8 convolutions with gemm_4x8 (src/runtime/gemm-tile.ts).
 */
export function conv2d_forward_4x8(
  x: usize, filter: usize, y: usize,
  n: i32, h: i32, w: i32, c: i32, f: i32, ho: i32, wo: i32,
  ksize: i32, stride: i32, dilation: i32, pad: i32,
  row0: i32, rows: i32, scratch: usize,
): void {
  forward_rows(x, filter, y, h, w, c, f, ho, wo, ksize, stride, dilation, pad, row0, rows, 0, 0, ACT_IDENTITY, 0, 0, true, false, scratch);
}

/**
 * The convolution layer in one pass: Z = conv2d(x, filter) + bias, y ← act(Z), for output
 * rows [row0, row0 + rows), with the bias added and the activation applied while each
 * output tile is still in registers (in the last depth slice only: the sums are
 * conv2d_forward's, and each output is finished as (Σ + bias) then act, the operations of a
 * separate bias add and activation pass, so the bits are those of the three passes).
 *
 * `bias` points at F floats (0: no bias); `act` is an activation code of assembly/vmath.ts
 * (ACT_*) with its parameter `p` (step threshold, leaky-ReLU slope); if `z` ≠ 0 the
 * pre-activation Z is also stored there, laid out like y (M × F; only the range's rows are
 * written). K = 0 gives y = act(0 + bias). Z must not overlap x, filter, bias or y.
 * Otherwise as conv2d_forward (which is this with no bias, the identity and no Z).
 */
export function conv2d_forward_bias_act(
  x: usize, filter: usize, y: usize,
  n: i32, h: i32, w: i32, c: i32, f: i32, ho: i32, wo: i32,
  ksize: i32, stride: i32, dilation: i32, pad: i32,
  row0: i32, rows: i32, bias: usize, act: i32, p: f32, z: usize, scratch: usize,
): void {
  forward_rows(x, filter, y, h, w, c, f, ho, wo, ksize, stride, dilation, pad, row0, rows, 0, bias, act, p, z, true, true, scratch);
}

/** conv2d_forward_bias_act with 4 × 8 tiles only, as conv2d_forward_4x8: the same results bit for bit. */
export function conv2d_forward_bias_act_4x8(
  x: usize, filter: usize, y: usize,
  n: i32, h: i32, w: i32, c: i32, f: i32, ho: i32, wo: i32,
  ksize: i32, stride: i32, dilation: i32, pad: i32,
  row0: i32, rows: i32, bias: usize, act: i32, p: f32, z: usize, scratch: usize,
): void {
  forward_rows(x, filter, y, h, w, c, f, ho, wo, ksize, stride, dilation, pad, row0, rows, 0, bias, act, p, z, true, false, scratch);
}

/**
 * conv2d_forward's loops, with the β of the first depth slice: beta0 = 0 overwrites the rows
 * (conv2d_forward), beta0 = 1 adds the sums to what the rows hold (the input gradient as a
 * forward convolution, accumulating; see conv2d_backward_input); and the ending of
 * conv2d_forward_bias_act (bias, act, p, z; only with beta0 = 0). room: scratch holds the
 * direct forward's band and padded filter (conv2d_scratch_bytes' own term: the forward
 * entries); the input gradient's forward, whose scratch is laid out for its own panels, goes
 * without them (windows over the padding gathered alone, F not a multiple of 4 packed).
 */
function forward_rows(
  x: usize, filter: usize, y: usize,
  h: i32, w: i32, c: i32, f: i32, ho: i32, wo: i32,
  ksize: i32, stride: i32, dilation: i32, pad: i32,
  row0: i32, rows: i32, beta0: f32, bias: usize, act: i32, p: f32, z: usize, room: bool, five: bool, scratch: usize,
): void {
  if (rows <= 0 || f <= 0) return;
  const kh = lo16(ksize), kw = hi16(ksize);
  const k = kh * kw * c;
  const ldy = <usize>f << 2;
  if (k <= 0) {
    // An empty sum: the outputs are act(0 + bias), 0 + bias in Z (0 with beta0 = 0 and
    // no ending; nothing changes with beta0 = 1).
    if (beta0 == 0) memory.fill(y + <usize>row0 * ldy, 0, <usize>rows * ldy);
    if (bias == 0 && act == ACT_IDENTITY && z == 0) return;
    for (let r = row0; r < row0 + rows; r++) {
      const yr = y + <usize>r * ldy;
      if (bias != 0) {
        for (let j = 0; j < f; j++) store<f32>(yr + (<usize>j << 2), <f32>0 + load<f32>(bias + (<usize>j << 2)));
      }
      if (z != 0) memory.copy(z + <usize>r * ldy, yr, ldy);
      if (act != ACT_IDENTITY) act_forward(act, yr, yr, f, p);
    }
    return;
  }
  // A transcendental activation (σ, tanh, swish, the GeLUs) runs over rows once they are
  // whole, by its kernel's own loop (act_rows, as gemm_run does for the linear layer; same
  // bits), not per vector in the tile ending; the tiles store Z and the pre-activation.
  const late = act_deferred(act) ? act : ACT_IDENTITY;
  if (late != ACT_IDENTITY) act = ACT_IDENTITY;
  if (c < 8 && k <= KC && (f & 3) == 0 && beta0 == 0) {
    // Few input channels (a first layer): a direct convolution, no packing (see
    // conv2d_forward_direct). Same sums.
    conv2d_forward_direct(x, filter, y + <usize>row0 * ldy, h, w, c, f, ho, wo, kh, kw, stride, dilation, pad, row0, rows, bias, act, p, z != 0 ? z + <usize>row0 * ldy : 0, late, room, scratch);
    return;
  }
  if (room && c < 8 && k <= KC && f <= DIRECT_PAD_MAX_F && beta0 == 0) {
    // The same with F not a multiple of 4 (LeNet's 1 → 6), through a copy of the filter
    // padded with zero columns (see direct_padded).
    direct_padded(x, filter, y, h, w, c, f, ho, wo, kh, kw, stride, dilation, pad, row0, rows, bias, act, p, z, late, scratch);
    return;
  }
  const kcMax = min<i32>(k, KC);
  if (f <= SWAP_MAX_F && rows >= 2 * f && c >= 8) {
    // Few filters, many pixels: yᵀ = filterᵀ·Pᵀ, as gemm_run_t runs such products (gemm.ts):
    // the filter is the operand packed pre-broadcast, the patches are packed 8 pixels a
    // micro-panel (pack_patches_b), tiles of yᵀ are stored transposed. Same sums.
    const mcT = min<i32>(round_up(f, MR), MC);
    const ncT = min<i32>(round_up(rows, NR), NC);
    const apT = scratch;
    const bpT = apT + a_block_bytes(mcT, kcMax);
    const tileT = bpT + (<usize>(kcMax * ncT) << 2);
    const rows5x8 = rows5_t(f, act, z, five);
    const blockRows = rows5x8 ? MC5 : MC;
    for (let jc = 0; jc < rows; jc += NC) {              // loop 5: panels of output pixels
      const nc = min<i32>(NC, rows - jc);
      const yRows = y + <usize>(row0 + jc) * ldy;
      for (let pc = 0; pc < k; pc += KC) {               // loop 4: depth slices of the patch
        const kc = min<i32>(KC, k - pc);
        const beta: f32 = pc == 0 ? beta0 : 1;
        // The last slice finishes the outputs: bias (one per row of yᵀ), Z, activation.
        const last = pc + kc >= k;
        const sliceAct = last ? act : ACT_IDENTITY;
        const zRows: usize = last && z != 0 ? z + <usize>(row0 + jc) * ldy : 0;
        pack_patches_b(x, h, w, c, kh, kw, stride, dilation, pad, ho, wo, row0 + jc, nc, pc, kc, bpT, tileT);
        for (let ic = 0; ic < f; ic += blockRows) {      // loop 3: blocks of filters
          const mc = min<i32>(blockRows, f - ic);
          const col = <usize>ic << 2;
          if (mc == MC5 && rows5x8) {
            // 5 × 8 tiles over the block packed compact (the relaxed build: see rows5_t).
            gemm_rows_5x8_t(
              kc, filter + col + <usize>pc * (<usize>f << 2), 4, <usize>f << 2, apT, bpT, <usize>kc * 32, nc, yRows + col, f, 1, beta,
              last && bias != 0 ? bias + col : 0, sliceAct, p, tileT,
            );
            continue;
          }
          gemm_rows_4x8_t_from(                          // loops 2 and 1, packing the filter
            kc, filter + col + <usize>pc * (<usize>f << 2), 4, <usize>f << 2, apT, mc, bpT, <usize>kc * 32, nc, yRows + col, f, 1, beta,
            last && bias != 0 ? bias + col : 0, sliceAct, p, zRows != 0 ? zRows + col : 0, tileT,
          );
        }
      }
      act_rows(late, p, yRows, f, nc, f, 0); // the panel's rows are whole
    }
    return;
  }
  const mcMax = min<i32>(round_up(rows, MR), MC);
  const ncMax = min<i32>(round_up(f, NR), NC);
  const apack = scratch;
  const bpack = apack + a_block_bytes(mcMax, kcMax);
  const tile = bpack + (<usize>(kcMax * ncMax) << 2);
  for (let jc = 0; jc < f; jc += NC) {                   // loop 5: filter columns
    const nc = min<i32>(NC, f - jc);
    for (let pc = 0; pc < k; pc += KC) {                 // loop 4: depth slices of the patch
      const kc = min<i32>(KC, k - pc);
      const beta: f32 = pc == 0 ? beta0 : 1;
      // The last slice finishes the outputs: bias, Z, activation.
      const last = pc + kc >= k;
      const sliceBias: usize = last && bias != 0 ? bias + (<usize>jc << 2) : 0;
      const sliceAct = last ? act : ACT_IDENTITY;
      const sliceZ: usize = last ? z : 0;
      pack_b(0, filter, f, pc, jc, kc, nc, bpack);
      for (let ic = 0; ic < rows; ic += MC) {            // loop 3: blocks of output pixels
        const mc = min<i32>(MC, rows - ic);
        pack_patches(x, h, w, c, kh, kw, stride, dilation, pad, ho, wo, row0 + ic, mc, pc, kc, k, apack);
        const off = <usize>(row0 + ic) * ldy + (<usize>jc << 2);
        gemm_panel_rows(                                 // loops 2 and 1
          kc, apack, mc, bpack, 32, <usize>kc * 32, nc, y + off, f, 1, beta,
          sliceBias, sliceAct, p, sliceZ != 0 ? sliceZ + off : 0, tile,
        );
        if (last) act_rows(late, p, y + off, f, mc, nc, 0);
      }
    }
  }
}

/**
 * conv2d_forward for few input channels (C < 8), a patch of K = KH·KW·C ≤ KC values and F a
 * multiple of 4: a first layer, whose patch rows are too short for packing to pay (K = 9 for
 * 3 × 3 over one channel: a packed 4 × 8 tile would run 9 depth steps per ending). Each
 * output pixel's F values are formed in registers straight from x and the filter: per patch
 * value one broadcast load from x and F/4 filter vectors (filter row q is F contiguous
 * floats), two pixels at a time, 16, 8, then 4 filters at a time (so that 8, 4 or 2
 * multiply-add chains run side by side). A pixel whose window lies
 * inside the image reads x through a table of the K taps' byte offsets (kept at the start of
 * scratch). A row of output pixels some of whose windows reach into the padding is read from
 * a band instead: its KH input rows copied, with 0s for the padding (multiplied like any other
 * value), a chunk of pixels at a time, so that those pixels too go in pairs and quads (one at
 * a time, each window gathered first, "same" padding's edge pixels had cost the 1→16 layer a
 * quarter of its time: bench/gemm-ab.mjs --conv, 1.25–1.34× with the band; 3→32 1.11×).
 * Only a window too wide for the band (a huge dilation) is still gathered alone. Pixels are
 * walked a row of output at a time, so nothing is divided per pixel. The sums are the packed
 * loops': over q in order, one multiply-add per step from 0, in one slice (K ≤ KC); α = 1
 * and β = 0 leave them as they are. y (and z) point at the outputs of pixel row0, the first
 * of the rows this call forms.
 */
function conv2d_forward_direct(
  x: usize, filter: usize, y: usize, h: i32, w: i32, c: i32, f: i32, ho: i32, wo: i32,
  kh: i32, kw: i32, stride: i32, dilation: i32, pad: i32, row0: i32, rows: i32,
  bias: usize, act: i32, p: f32, z: usize, late: i32, room: bool, scratch: usize,
): void {
  // How the outputs end (see out_v): `on` false stores the sums as they are; zd is Z's
  // distance in bytes from y (0: no Z).
  const on = bias != 0 || act != ACT_IDENTITY || z != 0;
  const zd: usize = z != 0 ? z - y : 0;
  const sh = lo16(stride), sw = hi16(stride);
  const dh = lo16(dilation), dw = hi16(dilation);
  const pt = lo16(pad), pl = hi16(pad);
  const k = kh * kw * c;
  // Scratch: the taps' byte offsets in x from a window's origin, the offsets 0, 4, 8, … of a
  // gathered window, that window (K floats each), the taps' offsets in the band and the band
  // (DIRECT_BAND_FLOATS): KH rows of wb pixels, the windows of seg neighbouring output pixels
  // copied from x with the padding's 0s (seg 0: not even one window fits, or no room for
  // the band: they are gathered).
  const offs = scratch;
  const ident = offs + (<usize>k << 2);
  const win = ident + (<usize>k << 2);
  const boffs = win + (<usize>k << 2);
  const band = boffs + (<usize>k << 2);
  const xSpan = (kw - 1) * dw + 1;                // pixels a window's row spans
  const perRow = DIRECT_BAND_FLOATS / (kh * c);   // band pixels a row of it may hold
  const seg = room && perRow >= xSpan ? min<i32>((perRow - xSpan) / sw + 1, wo) : 0;
  const wb = seg > 0 ? (seg - 1) * sw + xSpan : 0;
  let t = 0;
  for (let ky = 0; ky < kh; ky++) {
    for (let kx = 0; kx < kw; kx++) {
      for (let ch = 0; ch < c; ch++) {
        store<i32>(offs + (<usize>t << 2), (((ky * dh * w) + kx * dw) * c + ch) << 2);
        store<i32>(ident + (<usize>t << 2), t << 2);
        store<i32>(boffs + (<usize>t << 2), (((ky * wb) + kx * dw) * c + ch) << 2);
        t++;
      }
    }
  }
  const img = <usize>h * <usize>w * (<usize>c << 2);
  const ldy = <usize>f << 2;
  const hwo = ho * wo;
  const yLast = (kh - 1) * dh;
  const xLast = (kw - 1) * dw;
  const pix = <usize>(sw * c) << 2;               // bytes between neighbouring windows
  // Output columns whose windows lie inside the image's columns: [oxa, oxb).
  const oxa = min<i32>(ceil_div(pl, sw), wo);
  const oxb = max<i32>(oxa, min<i32>(wo, w - xLast + pl > 0 ? ceil_div(w - xLast + pl, sw) : 0));
  const end = row0 + rows;
  let r = row0;
  while (r < end) {
    // The rest of pixel r's output row, in three runs: columns before oxa, [oxa, oxb), after.
    const ni = r / hwo;
    const rr = r - ni * hwo;
    const oy = rr / wo;
    let ox = rr - oy * wo;
    const rowEnd = ox + min<i32>(end - r, wo - ox);
    const iy0 = oy * sh - pt;
    const base = x + <usize>ni * img;
    let yr = y + <usize>(r - row0) * ldy;
    const run = rowEnd - ox;
    r += run;
    const inside = iy0 >= 0 && iy0 + yLast < h;
    if (seg > 0 && !(inside && ox >= oxa && rowEnd <= oxb)) {
      // Some of these windows reach into the padding: the run's windows copied into the
      // band a chunk of at most seg pixels at a time, with its 0s, and all of them multiplied
      // from there (pairs and quads as inside the image; a window alone, gathered, is slower).
      while (ox < rowEnd) {
        const cn = min<i32>(seg, rowEnd - ox);
        band_fill(base, h, w, c, kh, dh, iy0, ox * sw - pl, (cn - 1) * sw + xSpan, wb, band);
        direct_run(band, pix, boffs, k, filter, f, yr, ldy, cn, on, bias, act, p, zd);
        yr += <usize>cn * ldy;
        ox += cn;
      }
    } else if (inside) {
      for (; ox < rowEnd && ox < oxa; ox++) {
        direct_gather(base, h, w, c, kh, kw, dh, dw, iy0, ox * sw - pl, win);
        direct_one(win, ident, k, filter, f, yr, on, bias, act, p, zd);
        yr += ldy;
      }
      const mid = min<i32>(rowEnd, oxb);
      if (ox < mid) {
        direct_run(base + ((<usize>(iy0 * w + ox * sw - pl) * <usize>c) << 2), pix, offs, k, filter, f, yr, ldy, mid - ox, on, bias, act, p, zd);
        yr += <usize>(mid - ox) * ldy;
        ox = mid;
      }
    }
    for (; ox < rowEnd; ox++) {
      direct_gather(base, h, w, c, kh, kw, dh, dw, iy0, ox * sw - pl, win);
      direct_one(win, ident, k, filter, f, yr, on, bias, act, p, zd);
      yr += ldy;
    }
    // A transcendental activation over the run of pixels just stored (see forward_rows).
    if (late != ACT_IDENTITY) act_forward(late, yr - <usize>run * ldy, yr - <usize>run * ldy, run * f, p);
  }
}

/**
 * conv2d_forward_direct for F not a multiple of 4 (F ≤ DIRECT_PAD_MAX_F): the filter (and
 * bias) copied into scratch with zero columns up to F4 = ⌈F⌉₄, DIRECT_PAD_ROWS output pixels
 * at a time formed by the direct loops into a buffer of F4-float rows (sums plus the bias,
 * the same operations), their first F values copied to y (and to Z), then the activation
 * applied over them by its own kernel (the separate pass's bits, as the fused ending's).
 * Without it such a layer ran packed tiles of 9 depth steps (1 → 6: 2.7 GFLOPS against 20.7
 * for 1 → 8; bench/gemm-ab.mjs --conv): with it 1 → 6 2.5×, 3 → 6 2.2×, 3 → 30 1.34×. The
 * rows go out through an inline copy: memory.copy, a call in V8, halved that.
 */
function direct_padded(
  x: usize, filter: usize, y: usize, h: i32, w: i32, c: i32, f: i32, ho: i32, wo: i32,
  kh: i32, kw: i32, stride: i32, dilation: i32, pad: i32, row0: i32, rows: i32,
  bias: usize, act: i32, p: f32, z: usize, late: i32, scratch: usize,
): void {
  const k = kh * kw * c;
  const f4 = (f + 3) & ~3;
  // Scratch: conv2d_forward_direct's own (tables and band), then the padded filter (K × F4),
  // the padded bias (F4) and the buffer (DIRECT_PAD_ROWS × F4).
  const fpad = scratch + (<usize>(4 * k + DIRECT_BAND_FLOATS) << 2);
  const bpad = fpad + (<usize>(k * f4) << 2);
  const buf = bpad + (<usize>f4 << 2);
  const ldf = <usize>f << 2, ldt = <usize>f4 << 2;
  for (let q = 0; q < k; q++) {
    const d = fpad + <usize>q * ldt;
    memory.copy(d, filter + <usize>q * ldf, ldf);
    memory.fill(d + ldf, 0, ldt - ldf);
  }
  if (bias != 0) {
    memory.copy(bpad, bias, ldf);
    memory.fill(bpad + ldf, 0, ldt - ldf);
  }
  const end = row0 + rows;
  for (let r = row0; r < end; r += DIRECT_PAD_ROWS) {
    const n = min<i32>(DIRECT_PAD_ROWS, end - r);
    conv2d_forward_direct(x, fpad, buf, h, w, c, f4, ho, wo, kh, kw, stride, dilation, pad, r, n, bias != 0 ? bpad : 0, ACT_IDENTITY, 0, 0, ACT_IDENTITY, true, scratch);
    const yr = y + <usize>r * ldf;
    for (let i = 0; i < n; i++) copy_bytes(yr + <usize>i * ldf, buf + <usize>i * ldt, ldf); // (memory.copy is a call in V8)
    if (z != 0) memory.copy(z + <usize>r * ldf, yr, <usize>n * ldf);
    if (act != ACT_IDENTITY) act_forward(act, yr, yr, n * f, p);
    if (late != ACT_IDENTITY) act_forward(late, yr, yr, n * f, p);
  }
}

/**
 * n neighbouring pixels' F outputs (windows pix bytes apart from s0, taps at offs, outputs
 * ldy apart from yr): four at a time where F is not a multiple of 16 (see direct_quad), then
 * pairs, then one.
 */
function direct_run(s0: usize, pix: usize, offs: usize, k: i32, filter: usize, f: i32, yr: usize, ldy: usize, n: i32, on: bool, bias: usize, act: i32, p: f32, zd: usize): void {
  // The endings of a layer's common cases (a bias, ReLU or none) in a copy of the loops of
  // their own, where the activation is max(v, p) with p = 0 or −∞ (the same bits as ReLU's
  // and as none) and nothing can call out: in the loops for any activation V8 kept a pair's
  // eight sums on the stack across the ending, as the call of act_v's out-of-line case
  // (never taken here) is in their code (bench/gemm-ab.mjs --conv --act=5: 1→16 forward
  // 1.23–1.24×, 3→32 1.10×, relaxed 1.32× and 1.14×; --act=0, a bias alone, 1.02–1.14×;
  // without an ending level).
  if (on && (act == ACT_RELU || act == ACT_IDENTITY)) direct_run_as(s0, pix, offs, k, filter, f, yr, ldy, n, true, bias, ACT_FLOOR, act == ACT_RELU ? 0 : -Infinity, zd);
  else direct_run_as(s0, pix, offs, k, filter, f, yr, ldy, n, on, bias, act, p, zd);
}

/** direct_run's loops (see there). */
// @ts-ignore: decorator
@inline function direct_run_as(s0: usize, pix: usize, offs: usize, k: i32, filter: usize, f: i32, yr: usize, ldy: usize, n: i32, on: bool, bias: usize, act: i32, p: f32, zd: usize): void {
  let i = 0;
  if ((f & 15) != 0) {
    // Filters past the last 16 go four pixels at a time (8 or 4 multiply-add chains).
    for (; i + 4 <= n; i += 4) {
      direct_quad(s0, pix, offs, k, filter, f, yr, ldy, on, bias, act, p, zd);
      s0 += pix << 2;
      yr += ldy << 2;
    }
  }
  for (; i + 2 <= n; i += 2) {
    direct_pair(s0, s0 + pix, offs, k, filter, f, yr, ldy, on, bias, act, p, zd);
    s0 += pix << 1;
    yr += ldy << 1;
  }
  if (i < n) direct_one(s0, offs, k, filter, f, yr, on, bias, act, p, zd);
}

/**
 * The band (see conv2d_forward_direct): for each of the KH window rows ky, input row
 * iy0 + ky·DH from column ix0 on, wn pixels of C floats (0 outside the image), at
 * band + ky·wb·C floats.
 */
function band_fill(base: usize, h: i32, w: i32, c: i32, kh: i32, dh: i32, iy0: i32, ix0: i32, wn: i32, wb: i32, band: usize): void {
  // Columns [a, b) of the wn lie inside the image (a = b: none).
  const a = min<i32>(max<i32>(-ix0, 0), wn);
  const b = max<i32>(a, min<i32>(wn, w - ix0));
  const cb = <usize>c << 2;
  for (let ky = 0; ky < kh; ky++) {
    const iy = iy0 + ky * dh;
    const dst = band + <usize>(ky * wb) * cb;
    if (<u32>iy >= <u32>h) {
      zero_bytes(dst, <usize>wn * cb);
      continue;
    }
    zero_bytes(dst, <usize>a * cb);
    copy_bytes(dst + <usize>a * cb, base + (<usize>(iy * w + ix0 + a) * cb), <usize>(b - a) * cb);
    zero_bytes(dst + <usize>b * cb, <usize>(wn - b) * cb);
  }
}

/** n bytes (a multiple of 4) of 0s at dst. */
// @ts-ignore: decorator
@inline function zero_bytes(dst: usize, n: usize): void {
  const end = dst + n;
  const zero = f32x4.splat(0);
  for (; dst + 16 <= end; dst += 16) v128.store(dst, zero);
  for (; dst < end; dst += 4) store<f32>(dst, 0);
}

/** n bytes (a multiple of 4) from src to dst (not overlapping). */
// @ts-ignore: decorator
@inline function copy_bytes(dst: usize, src: usize, n: usize): void {
  const end = dst + n;
  for (; dst + 16 <= end; dst += 16, src += 16) v128.store(dst, v128.load(src));
  for (; dst < end; dst += 4, src += 4) store<f32>(dst, load<f32>(src));
}

/** The K values of the window at (iy0, ix0) of the image at base, 0 in the padding, at win. */
function direct_gather(
  base: usize, h: i32, w: i32, c: i32, kh: i32, kw: i32, dh: i32, dw: i32, iy0: i32, ix0: i32, win: usize,
): void {
  for (let ky = 0; ky < kh; ky++) {
    const iy = iy0 + ky * dh;
    for (let kx = 0; kx < kw; kx++) {
      const ix = ix0 + kx * dw;
      const inside = <u32>iy < <u32>h && <u32>ix < <u32>w;
      const s = base + ((<usize>(iy * w + ix) * <usize>c) << 2);
      for (let ch = 0; ch < c; ch++) {
        store<f32>(win, inside ? load<f32>(s + (<usize>ch << 2)) : 0);
        win += 4;
      }
    }
  }
}

/** The 16-filter groups of two pixels' outputs (see direct_pair); returns where they end. */
// @ts-ignore: decorator
@inline function pair16(s0: usize, s1: usize, offs: usize, k: i32, filter: usize, f: i32, yr: usize, ldy: usize, on: bool, bias: usize, act: i32, p: f32, zd: usize): i32 {
  const ldf = <usize>f << 2;
  const offEnd = offs + (<usize>k << 2);
  let j = 0;
  for (; j + 16 <= f; j += 16) {
    let a0 = f32x4.splat(0);
    let a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    let wp = filter + (<usize>j << 2);
    for (let o = offs; o < offEnd; o += 4) {
      const d = <usize>load<i32>(o);
      const v0 = v128.load32_splat(s0 + d);
      const v1 = v128.load32_splat(s1 + d);
      const w0 = v128.load(wp), w1 = v128.load(wp, 16), w2 = v128.load(wp, 32), w3 = v128.load(wp, 48);
      a0 = fmadd(v0, w0, a0);
      a1 = fmadd(v0, w1, a1);
      a2 = fmadd(v0, w2, a2);
      a3 = fmadd(v0, w3, a3);
      b0 = fmadd(v1, w0, b0);
      b1 = fmadd(v1, w1, b1);
      b2 = fmadd(v1, w2, b2);
      b3 = fmadd(v1, w3, b3);
      wp += ldf;
    }
    const q = yr + (<usize>j << 2);
    if (on) {
      const bj: usize = bias != 0 ? bias + (<usize>j << 2) : 0;
      out_v16(q, a0, a1, a2, a3, bj, act, p, zd);
      out_v16(q + ldy, b0, b1, b2, b3, bj, act, p, zd);
      continue;
    }
    v128.store(q, a0);
    v128.store(q, a1, 16);
    v128.store(q, a2, 32);
    v128.store(q, a3, 48);
    v128.store(q + ldy, b0);
    v128.store(q + ldy, b1, 16);
    v128.store(q + ldy, b2, 32);
    v128.store(q + ldy, b3, 48);
  }
  return j;
}

/**
 * Four neighbouring pixels' F outputs (windows pix bytes apart from s0, outputs ldy apart
 * from yr): the 16-filter groups two pixels at a time, then the last 8 and 4 filters of all
 * four at once, so that 8 (or 4) multiply-add chains run side by side, not 4 (or 2).
 */
// @ts-ignore: decorator
@inline function direct_quad(s0: usize, pix: usize, offs: usize, k: i32, filter: usize, f: i32, yr: usize, ldy: usize, on: bool, bias: usize, act: i32, p: f32, zd: usize): void {
  const ldf = <usize>f << 2;
  const offEnd = offs + (<usize>k << 2);
  const s1 = s0 + pix, s2 = s1 + pix, s3 = s2 + pix;
  pair16(s0, s1, offs, k, filter, f, yr, ldy, on, bias, act, p, zd);
  let j = pair16(s2, s3, offs, k, filter, f, yr + 2 * ldy, ldy, on, bias, act, p, zd);
  if (j + 8 <= f) {
    let a0 = f32x4.splat(0);
    let a1 = a0, b0 = a0, b1 = a0, c0 = a0, c1 = a0, d0 = a0, d1 = a0;
    let wp = filter + (<usize>j << 2);
    for (let o = offs; o < offEnd; o += 4) {
      const d = <usize>load<i32>(o);
      const w0 = v128.load(wp), w1 = v128.load(wp, 16);
      const v0 = v128.load32_splat(s0 + d);
      a0 = fmadd(v0, w0, a0);
      a1 = fmadd(v0, w1, a1);
      const v1 = v128.load32_splat(s1 + d);
      b0 = fmadd(v1, w0, b0);
      b1 = fmadd(v1, w1, b1);
      const v2 = v128.load32_splat(s2 + d);
      c0 = fmadd(v2, w0, c0);
      c1 = fmadd(v2, w1, c1);
      const v3 = v128.load32_splat(s3 + d);
      d0 = fmadd(v3, w0, d0);
      d1 = fmadd(v3, w1, d1);
      wp += ldf;
    }
    const q = yr + (<usize>j << 2);
    if (on) {
      const bj: usize = bias != 0 ? bias + (<usize>j << 2) : 0;
      out_v8(q, a0, a1, bj, act, p, zd);
      out_v8(q + ldy, b0, b1, bj, act, p, zd);
      out_v8(q + 2 * ldy, c0, c1, bj, act, p, zd);
      out_v8(q + 3 * ldy, d0, d1, bj, act, p, zd);
    } else {
      v128.store(q, a0);
      v128.store(q, a1, 16);
      v128.store(q + ldy, b0);
      v128.store(q + ldy, b1, 16);
      v128.store(q + 2 * ldy, c0);
      v128.store(q + 2 * ldy, c1, 16);
      v128.store(q + 3 * ldy, d0);
      v128.store(q + 3 * ldy, d1, 16);
    }
    j += 8;
  }
  if (j < f) {
    let a0 = f32x4.splat(0);
    let b0 = a0, c0 = a0, d0 = a0;
    let wp = filter + (<usize>j << 2);
    for (let o = offs; o < offEnd; o += 4) {
      const d = <usize>load<i32>(o);
      const w0 = v128.load(wp);
      a0 = fmadd(v128.load32_splat(s0 + d), w0, a0);
      b0 = fmadd(v128.load32_splat(s1 + d), w0, b0);
      c0 = fmadd(v128.load32_splat(s2 + d), w0, c0);
      d0 = fmadd(v128.load32_splat(s3 + d), w0, d0);
      wp += ldf;
    }
    const q = yr + (<usize>j << 2);
    if (on) {
      const bj: usize = bias != 0 ? bias + (<usize>j << 2) : 0;
      out_v(q, a0, bj, 0, act, p, zd);
      out_v(q + ldy, b0, bj, 0, act, p, zd);
      out_v(q + 2 * ldy, c0, bj, 0, act, p, zd);
      out_v(q + 3 * ldy, d0, bj, 0, act, p, zd);
    } else {
      v128.store(q, a0);
      v128.store(q + ldy, b0);
      v128.store(q + 2 * ldy, c0);
      v128.store(q + 3 * ldy, d0);
    }
  }
}

/** Two pixels' F outputs (at yr and yr + ldy) from windows at s0 and s1, taps at offs. */
// @ts-ignore: decorator
@inline function direct_pair(s0: usize, s1: usize, offs: usize, k: i32, filter: usize, f: i32, yr: usize, ldy: usize, on: bool, bias: usize, act: i32, p: f32, zd: usize): void {
  const ldf = <usize>f << 2;
  const offEnd = offs + (<usize>k << 2);
  let j = pair16(s0, s1, offs, k, filter, f, yr, ldy, on, bias, act, p, zd);
  if (j + 8 <= f) {
    let a0 = f32x4.splat(0);
    let a1 = a0, b0 = a0, b1 = a0;
    let wp = filter + (<usize>j << 2);
    for (let o = offs; o < offEnd; o += 4) {
      const d = <usize>load<i32>(o);
      const v0 = v128.load32_splat(s0 + d);
      const v1 = v128.load32_splat(s1 + d);
      const w0 = v128.load(wp), w1 = v128.load(wp, 16);
      a0 = fmadd(v0, w0, a0);
      a1 = fmadd(v0, w1, a1);
      b0 = fmadd(v1, w0, b0);
      b1 = fmadd(v1, w1, b1);
      wp += ldf;
    }
    const q = yr + (<usize>j << 2);
    if (on) {
      const bj: usize = bias != 0 ? bias + (<usize>j << 2) : 0;
      out_v8(q, a0, a1, bj, act, p, zd);
      out_v8(q + ldy, b0, b1, bj, act, p, zd);
    } else {
      v128.store(q, a0);
      v128.store(q, a1, 16);
      v128.store(q + ldy, b0);
      v128.store(q + ldy, b1, 16);
    }
    j += 8;
  }
  if (j < f) {
    let a0 = f32x4.splat(0);
    let b0 = a0;
    let wp = filter + (<usize>j << 2);
    for (let o = offs; o < offEnd; o += 4) {
      const d = <usize>load<i32>(o);
      const w0 = v128.load(wp);
      a0 = fmadd(v128.load32_splat(s0 + d), w0, a0);
      b0 = fmadd(v128.load32_splat(s1 + d), w0, b0);
      wp += ldf;
    }
    const q = yr + (<usize>j << 2);
    if (on) {
      const bj: usize = bias != 0 ? bias + (<usize>j << 2) : 0;
      out_v(q, a0, bj, 0, act, p, zd);
      out_v(q + ldy, b0, bj, 0, act, p, zd);
    } else {
      v128.store(q, a0);
      v128.store(q + ldy, b0);
    }
  }
}

/** One pixel's F outputs (at yr) from a window at s inside the image, taps at offs. */
function direct_one(s: usize, offs: usize, k: i32, filter: usize, f: i32, yr: usize, on: bool, bias: usize, act: i32, p: f32, zd: usize): void {
  const ldf = <usize>f << 2;
  const offEnd = offs + (<usize>k << 2);
  let j = 0;
  for (; j + 16 <= f; j += 16) {
    let a0 = f32x4.splat(0);
    let a1 = a0, a2 = a0, a3 = a0;
    let wp = filter + (<usize>j << 2);
    for (let o = offs; o < offEnd; o += 4) {
      const v = v128.load32_splat(s + <usize>load<i32>(o));
      a0 = fmadd(v, v128.load(wp), a0);
      a1 = fmadd(v, v128.load(wp, 16), a1);
      a2 = fmadd(v, v128.load(wp, 32), a2);
      a3 = fmadd(v, v128.load(wp, 48), a3);
      wp += ldf;
    }
    const q = yr + (<usize>j << 2);
    if (on) {
      const bj: usize = bias != 0 ? bias + (<usize>j << 2) : 0;
      out_v16(q, a0, a1, a2, a3, bj, act, p, zd);
      continue;
    }
    v128.store(q, a0);
    v128.store(q, a1, 16);
    v128.store(q, a2, 32);
    v128.store(q, a3, 48);
  }
  for (; j < f; j += 4) {
    let a0 = f32x4.splat(0);
    let wp = filter + (<usize>j << 2);
    for (let o = offs; o < offEnd; o += 4) {
      a0 = fmadd(v128.load32_splat(s + <usize>load<i32>(o)), v128.load(wp), a0);
      wp += ldf;
    }
    const q = yr + (<usize>j << 2);
    if (on) out_v(q, a0, bias != 0 ? bias + (<usize>j << 2) : 0, 0, act, p, zd);
    else v128.store(q, a0);
  }
}

/**
 * The ending of four outputs of the direct forward, held in v, to be stored at q: v + the
 * four bias values at b + o (b = 0: no bias), stored to Z at q + zd (zd = 0: no Z), then
 * act applied (act_v, as every GEMM tile ending and the separate activation pass apply it;
 * ACT_FLOOR: max(v, p), see direct_run).
 */
// @ts-ignore: decorator
@inline function out_v(q: usize, v: v128, b: usize, o: usize, act: i32, p: f32, zd: usize): void {
  if (b != 0) v = f32x4.add(v, v128.load(b + o));
  if (zd != 0) v128.store(q + zd, v);
  if (act == ACT_FLOOR) v = f32x4.pmax(v, f32x4.splat(p));
  else if (act != ACT_IDENTITY) v = act_v(act, v, p);
  v128.store(q, v);
}

/** out_v for eight outputs held in v0, v1 (bias at b, b + 16). */
// @ts-ignore: decorator
@inline function out_v8(q: usize, v0: v128, v1: v128, b: usize, act: i32, p: f32, zd: usize): void {
  out_v(q, v0, b, 0, act, p, zd);
  out_v(q + 16, v1, b, 16, act, p, zd);
}

/** out_v for sixteen outputs held in v0 … v3 (bias at b … b + 48). */
// @ts-ignore: decorator
@inline function out_v16(q: usize, v0: v128, v1: v128, v2: v128, v3: v128, b: usize, act: i32, p: f32, zd: usize): void {
  out_v8(q, v0, v1, b, act, p, zd);
  out_v8(q + 32, v2, v3, b + (b != 0 ? 32 : 0), act, p, zd);
}

/**
 * Filter gradient, block [q0, q0 + qn) × [f0, f0 + fn) of the K × F result:
 *   df[q][j] ← Σ_{r<M} P[r][q]·dy[r][j]   (+ df[q][j] if accumulate ≠ 0)
 * over every output pixel r of the N images (dy is M × F). Writes only that block of df
 * (row stride F); with accumulate = 0 it is not read. Sums in f32 in slices of at most 256
 * pixels, each added to df in order, the same whatever block an element is computed in.
 * Preconditions: geometry as in the file comment, 0 ≤ q0, q0 + qn ≤ K, 0 ≤ f0, f0 + fn ≤ F;
 * df does not overlap x or dy; scratch ≥ conv2d_scratch_bytes(M, K, F).
 */
export function conv2d_backward_filter(
  x: usize, dy: usize, df: usize,
  n: i32, h: i32, w: i32, c: i32, f: i32, ho: i32, wo: i32,
  ksize: i32, stride: i32, dilation: i32, pad: i32,
  q0: i32, qn: i32, f0: i32, fn: i32, accumulate: i32, scratch: usize,
): void {
  backward_filter(x, dy, df, n, h, w, c, f, ho, wo, ksize, stride, dilation, pad, q0, qn, f0, fn, accumulate, true, scratch);
}

/** conv2d_backward_filter with 4 × 8 tiles only, as conv2d_forward_4x8: the same results bit for bit. */
export function conv2d_backward_filter_4x8(
  x: usize, dy: usize, df: usize,
  n: i32, h: i32, w: i32, c: i32, f: i32, ho: i32, wo: i32,
  ksize: i32, stride: i32, dilation: i32, pad: i32,
  q0: i32, qn: i32, f0: i32, fn: i32, accumulate: i32, scratch: usize,
): void {
  backward_filter(x, dy, df, n, h, w, c, f, ho, wo, ksize, stride, dilation, pad, q0, qn, f0, fn, accumulate, false, scratch);
}

/** conv2d_backward_filter, with the blocks of 5 × 8 tiles where rows5_t allows if `five`. */
function backward_filter(
  x: usize, dy: usize, df: usize,
  n: i32, h: i32, w: i32, c: i32, f: i32, ho: i32, wo: i32,
  ksize: i32, stride: i32, dilation: i32, pad: i32,
  q0: i32, qn: i32, f0: i32, fn: i32, accumulate: i32, five: bool, scratch: usize,
): void {
  if (qn <= 0 || fn <= 0) return;
  const kw = hi16(ksize);
  const m = n * ho * wo;
  const ldf = <usize>f << 2;
  if (m <= 0) {
    if (!accumulate) for (let q = 0; q < qn; q++) memory.fill(df + <usize>(q0 + q) * ldf + (<usize>f0 << 2), 0, <usize>fn << 2);
    return;
  }
  if (c < 8 && lo16(ksize) * kw * c <= DIRECT_DF_MAX_K && (fn & 3) == 0) {
    // Few input channels (a first layer): P's rows gathered a slice at a time, df formed
    // from them and dy without packing (see conv2d_backward_filter_direct). Same sums.
    conv2d_backward_filter_direct(x, dy, df, h, w, c, f, ho, wo, lo16(ksize), kw, stride, dilation, pad, m, q0, qn, f0, fn, accumulate, scratch);
    return;
  }
  const kcMax = min<i32>(m, KC);
  if (fn <= SWAP_MAX_F && qn >= 2 * fn && c >= 8) {
    // Few filters, many patch columns: dfᵀ = dyᵀ·P, as gemm_run_t runs such products: dy is
    // the operand packed pre-broadcast, P's columns are packed 8 a micro-panel straight from
    // x (pack_patches_cols), tiles of dfᵀ are stored transposed. Same sums.
    const mcT = min<i32>(round_up(fn, MR), MC);
    const ncT = min<i32>(round_up(qn, NR), NC);
    const apT = scratch;
    const bpT = apT + a_block_bytes(mcT, kcMax);
    const tileT = bpT + (<usize>(kcMax * ncT) << 2);
    const rows5x8 = rows5_t(fn, ACT_IDENTITY, 0, five);
    const blockRows = rows5x8 ? MC5 : MC;
    for (let jc = 0; jc < qn; jc += NC) {                // loop 5: panels of patch columns
      const nc = min<i32>(NC, qn - jc);
      const dfRows = df + <usize>(q0 + jc) * ldf;
      for (let pc = 0; pc < m; pc += KC) {               // loop 4: slices of output pixels
        const kc = min<i32>(KC, m - pc);
        const beta: f32 = pc == 0 && !accumulate ? 0 : 1;
        pack_patches_cols(x, h, w, c, kw, stride, dilation, pad, ho, wo, q0 + jc, nc, pc, kc, bpT);
        for (let ic = 0; ic < fn; ic += blockRows) {     // loop 3: blocks of filters
          const mc = min<i32>(blockRows, fn - ic);
          if (mc == MC5 && rows5x8) {
            // 5 × 8 tiles over the block of dyᵀ packed compact (the relaxed build: rows5_t).
            gemm_rows_5x8_t(
              kc, dy + (<usize>(f0 + ic) << 2) + <usize>pc * (<usize>f << 2), 4, <usize>f << 2, apT,
              bpT, <usize>kc * 32, nc, dfRows + (<usize>(f0 + ic) << 2), f, 1, beta, 0, ACT_IDENTITY, 0, tileT,
            );
            continue;
          }
          // Loops 2 and 1, packing dyᵀ as they first read it.
          gemm_rows_4x8_t_from(
            kc, dy + (<usize>(f0 + ic) << 2) + <usize>pc * (<usize>f << 2), 4, <usize>f << 2, apT, mc,
            bpT, <usize>kc * 32, nc, dfRows + (<usize>(f0 + ic) << 2), f, 1, beta, 0, ACT_IDENTITY, 0, 0, tileT,
          );
        }
      }
    }
    return;
  }
  const mcMax = min<i32>(round_up(qn, MR), MC);
  const ncMax = min<i32>(round_up(fn, NR), NC);
  const apack = scratch;
  const bpack = apack + a_block_bytes(mcMax, kcMax);
  const tile = bpack + (<usize>(kcMax * ncMax) << 2);
  for (let jc = 0; jc < fn; jc += NC) {                  // loop 5: filter columns
    const nc = min<i32>(NC, fn - jc);
    for (let pc = 0; pc < m; pc += KC) {                 // loop 4: slices of output pixels
      const kc = min<i32>(KC, m - pc);
      const beta: f32 = pc == 0 && !accumulate ? 0 : 1;
      pack_b(0, dy, f, pc, f0 + jc, kc, nc, bpack);
      for (let ic = 0; ic < qn; ic += MC) {              // loop 3: blocks of filter rows
        const mc = min<i32>(MC, qn - ic);
        pack_patches_t(x, h, w, c, kw, stride, dilation, pad, ho, wo, q0 + ic, mc, pc, kc, apack);
        const cRows = df + <usize>(q0 + ic) * ldf + (<usize>(f0 + jc) << 2);
        gemm_panel_rows(kc, apack, mc, bpack, 32, <usize>kc * 32, nc, cRows, f, 1, beta, 0, ACT_IDENTITY, 0, 0, tile); // loops 2 and 1
      }
    }
  }
}

/**
 * Widest patch the direct filter gradient takes: a slice of Pᵀ (K·min(M, KC) floats) must
 * fit the scratch the packed loops would use (their A block holds min(⌈K⌉₄, 16)·4·min(M, KC)
 * floats).
 */
const DIRECT_DF_MAX_K: i32 = 64;

/**
 * conv2d_backward_filter for few input channels (C < 8, K ≤ 64, a block of fn filters with
 * fn a multiple of 4): per slice of KC output pixels, the slice's part of Pᵀ is gathered
 * into scratch (a row of KC floats per patch column, 0 in the padding), then each pair of
 * patch columns q, q + 1 × 16 filters (four columns × the last 8 or 4 filters) is summed
 * over the slice in registers: a broadcast Pᵀ value per column and the pixel's dy row, 8
 * (or 4) multiply-add chains. The packed loops' sums: each slice from 0 over its
 * pixels in order, then added to df (or stored, for the first slice without accumulate).
 */
function conv2d_backward_filter_direct(
  x: usize, dy: usize, df: usize, h: i32, w: i32, c: i32, f: i32, ho: i32, wo: i32,
  kh: i32, kw: i32, stride: i32, dilation: i32, pad: i32, m: i32,
  q0: i32, qn: i32, f0: i32, fn: i32, accumulate: i32, scratch: usize,
): void {
  const sh = lo16(stride), sw = hi16(stride);
  const dh = lo16(dilation), dw = hi16(dilation);
  const pt = lo16(pad), pl = hi16(pad);
  const pbuf = scratch;
  const img = <usize>h * <usize>w * (<usize>c << 2);
  const hwo = ho * wo;
  // Rows of Pᵀ min(M, KC) floats apart: K·min(M, KC) floats, within the 16·min(M, KC)
  // broadcast floats (K ≥ 16) or ⌈K⌉₄·4·min(M, KC) of the packed loops' A block.
  const ldp = <usize>min<i32>(m, KC) << 2;
  const ldf = <usize>f << 2;
  const step = <usize>(sw * c) << 2;
  for (let pc = 0; pc < m; pc += KC) {
    const kc = min<i32>(KC, m - pc);
    // Pᵀ's rows (patch columns) over the slice's pixels at pbuf, ldp bytes apart, filled an
    // output row's run of pixels at a time: per patch column one run of x, SW·C floats
    // apart (16 bytes at a time when C = 1 and SW = 1), 0 where it falls in the padding.
    let r = pc;
    while (r < pc + kc) {
      const ni = r / hwo;
      const rr = r - ni * hwo;
      const oy = rr / wo;
      const ox = rr - oy * wo;
      const len = min<i32>(pc + kc - r, wo - ox);
      const iy0 = oy * sh - pt;
      const ix0 = ox * sw - pl;
      const base = x + <usize>ni * img;
      let d = pbuf + (<usize>(r - pc) << 2);
      for (let ky = 0; ky < kh; ky++) {
        const iy = iy0 + ky * dh;
        for (let kx = 0; kx < kw; kx++) {
          const ixs = ix0 + kx * dw;
          for (let ch = 0; ch < c; ch++) {
            if (<u32>iy >= <u32>h) fill_zero(d, 0, len);
            else {
              // Pixels ja … jb − 1 of the run read inside the image, the others 0.
              const ja = ixs >= 0 ? 0 : min<i32>(len, ceil_div(-ixs, sw));
              const jb = ixs >= w ? 0 : min<i32>(len, ceil_div(w - ixs, sw));
              fill_zero(d, 0, ja);
              if (ja < jb) {
                const src = base + ((<usize>(iy * w + ixs + ja * sw) * <usize>c + <usize>ch) << 2);
                if (c == 1 && sw == 1) copy_run(d + (<usize>ja << 2), src, jb - ja);
                else {
                  for (let j = ja; j < jb; j++) store<f32>(d + (<usize>j << 2), load<f32>(src + <usize>(j - ja) * step));
                }
              }
              fill_zero(d, max<i32>(ja, jb), len);
            }
            d += ldp;
          }
        }
      }
      r += len;
    }
    const first = pc == 0 && !accumulate;
    const dys = dy + <usize>pc * ldf;
    const span = <usize>kc << 2;
    const qEnd = q0 + qn;
    let j = f0;
    for (; j + 16 <= f0 + fn; j += 16) {
      // 16 filters × patch columns q, q + 1 (q again when q is the last: stored once).
      const e = <usize>j << 2;
      for (let q = q0; q < qEnd; q += 2) {
        const two = q + 1 < qEnd;
        const pq = pbuf + <usize>q * ldp;
        const pq1 = two ? pq + ldp : pq;
        let a0 = f32x4.splat(0);
        let a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        let g = dys + e;
        // Both rows walked by pointers: with offsets from pq and pq1, V8 (11.3) recomputed
        // pq1 at every step, its select included (bench/gemm-ab.mjs --conv --kernels=dfilter:
        // 1→16 1.09–1.13×, 3→32 1.05×; the four-row loops below gained nothing so).
        let u0 = pq, u1 = pq1;
        const uEnd = pq + span;
        for (; u0 < uEnd; u0 += 4, u1 += 4) {
          const v0 = v128.load32_splat(u0);
          const v1 = v128.load32_splat(u1);
          const g0 = v128.load(g), g1 = v128.load(g, 16), g2 = v128.load(g, 32), g3 = v128.load(g, 48);
          a0 = fmadd(v0, g0, a0);
          a1 = fmadd(v0, g1, a1);
          a2 = fmadd(v0, g2, a2);
          a3 = fmadd(v0, g3, a3);
          b0 = fmadd(v1, g0, b0);
          b1 = fmadd(v1, g1, b1);
          b2 = fmadd(v1, g2, b2);
          b3 = fmadd(v1, g3, b3);
          g += ldf;
        }
        const d0 = df + <usize>q * ldf + e;
        if (two) {
          df_store(d0 + ldf, b0, first);
          df_store(d0 + ldf + 16, b1, first);
          df_store(d0 + ldf + 32, b2, first);
          df_store(d0 + ldf + 48, b3, first);
        }
        df_store(d0, a0, first);
        df_store(d0 + 16, a1, first);
        df_store(d0 + 32, a2, first);
        df_store(d0 + 48, a3, first);
      }
    }
    for (; j < f0 + fn; j += 8) {
      // 8 (or the last 4) filters × patch columns q … q + 3 (the last repeated past qEnd).
      const e = <usize>j << 2;
      const eight = j + 8 <= f0 + fn;
      for (let q = q0; q < qEnd; q += 4) {
        const n1 = q + 1 < qEnd, n2 = q + 2 < qEnd, n3 = q + 3 < qEnd;
        const pq = pbuf + <usize>q * ldp;
        const pq1 = n1 ? pq + ldp : pq;
        const pq2 = n2 ? pq + 2 * ldp : pq;
        const pq3 = n3 ? pq + 3 * ldp : pq;
        let a0 = f32x4.splat(0);
        let a1 = a0, b0 = a0, b1 = a0, c0 = a0, c1 = a0, d0 = a0, d1 = a0;
        let g = dys + e;
        if (eight) {
          for (let o: usize = 0; o < span; o += 4) {
            const g0 = v128.load(g), g1 = v128.load(g, 16);
            const v0 = v128.load32_splat(pq + o);
            a0 = fmadd(v0, g0, a0);
            a1 = fmadd(v0, g1, a1);
            const v1 = v128.load32_splat(pq1 + o);
            b0 = fmadd(v1, g0, b0);
            b1 = fmadd(v1, g1, b1);
            const v2 = v128.load32_splat(pq2 + o);
            c0 = fmadd(v2, g0, c0);
            c1 = fmadd(v2, g1, c1);
            const v3 = v128.load32_splat(pq3 + o);
            d0 = fmadd(v3, g0, d0);
            d1 = fmadd(v3, g1, d1);
            g += ldf;
          }
        } else {
          for (let o: usize = 0; o < span; o += 4) {
            const g0 = v128.load(g);
            a0 = fmadd(v128.load32_splat(pq + o), g0, a0);
            b0 = fmadd(v128.load32_splat(pq1 + o), g0, b0);
            c0 = fmadd(v128.load32_splat(pq2 + o), g0, c0);
            d0 = fmadd(v128.load32_splat(pq3 + o), g0, d0);
            g += ldf;
          }
        }
        const r0 = df + <usize>q * ldf + e;
        if (n3) df_store(r0 + 3 * ldf, d0, first);
        if (n2) df_store(r0 + 2 * ldf, c0, first);
        if (n1) df_store(r0 + ldf, b0, first);
        df_store(r0, a0, first);
        if (eight) {
          if (n3) df_store(r0 + 3 * ldf + 16, d1, first);
          if (n2) df_store(r0 + 2 * ldf + 16, c1, first);
          if (n1) df_store(r0 + ldf + 16, b1, first);
          df_store(r0 + 16, a1, first);
        }
      }
    }
  }
}

/** dst[i] = 0 for a ≤ i < b. */
// @ts-ignore: decorator
@inline function fill_zero(dst: usize, a: i32, b: i32): void {
  for (let i = a; i < b; i++) store<f32>(dst + (<usize>i << 2), 0);
}

/** dst[i] = src[i] for i < n, 4 floats at a time. */
// @ts-ignore: decorator
@inline function copy_run(dst: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(dst + (<usize>i << 2), v128.load(src + (<usize>i << 2)));
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), load<f32>(src + (<usize>i << 2)));
}

/** Four floats of df: the slice's sums v, or v added to what is there (the packed loops' β = 1). */
// @ts-ignore: decorator
@inline function df_store(p: usize, v: v128, first: bool): void {
  v128.store(p, first ? v : f32x4.add(v, v128.load(p)));
}

/**
 * Input gradient of the N images:
 *   dx ← col2im(dy·filterᵀ)   (+ dx if accumulate ≠ 0)
 * i.e. dx[n, iy, ix, c] = Σ over the (pixel, (ky, kx)) pairs whose patch reads (iy, ix) of
 * Σ_j dy[pixel][j]·filter[ky, kx, c, j]. With stride 1 (see dx_rot) as the forward
 * convolution of dy with the rotated filter: each dx element summed over its KH·KW·F terms
 * in slices of at most 256, as the forward sums (the first slice added to dx when
 * accumulating). Otherwise the product is formed in slices of at most 256
 * filters and 1024 patch columns (tiles of 4 pixels × 8 patch columns, or transposed, 4 patch
 * columns × 8 pixels: see dx_swap), each slice added into dx pixel by pixel in row order (a
 * fixed order for every element, whatever else is computed), with accumulate = 0 into a dx
 * first set to 0. Either way an element's value depends neither on the number of images nor
 * on which of them are computed (and neither does the choice of path), so images can be
 * given to different threads with bitwise equal results. Writes only dx.
 * Preconditions: geometry as in the file comment; dx does not overlap dy or filter;
 * scratch ≥ conv2d_scratch_bytes(N·HO·WO, K, F).
 */
export function conv2d_backward_input(
  dy: usize, filter: usize, dx: usize,
  n: i32, h: i32, w: i32, c: i32, f: i32, ho: i32, wo: i32,
  ksize: i32, stride: i32, dilation: i32, pad: i32,
  accumulate: i32, scratch: usize,
): void {
  backward_input(dy, filter, dx, n, h, w, c, f, ho, wo, ksize, stride, dilation, pad, accumulate, true, scratch);
}

/** conv2d_backward_input with 4 × 8 tiles only, as conv2d_forward_4x8: the same results bit for bit. */
export function conv2d_backward_input_4x8(
  dy: usize, filter: usize, dx: usize,
  n: i32, h: i32, w: i32, c: i32, f: i32, ho: i32, wo: i32,
  ksize: i32, stride: i32, dilation: i32, pad: i32,
  accumulate: i32, scratch: usize,
): void {
  backward_input(dy, filter, dx, n, h, w, c, f, ho, wo, ksize, stride, dilation, pad, accumulate, false, scratch);
}

/** conv2d_backward_input, with the forward's blocks of 5 × 8 tiles where rows5_t allows if `five`. */
function backward_input(
  dy: usize, filter: usize, dx: usize,
  n: i32, h: i32, w: i32, c: i32, f: i32, ho: i32, wo: i32,
  ksize: i32, stride: i32, dilation: i32, pad: i32,
  accumulate: i32, five: bool, scratch: usize,
): void {
  const kh = lo16(ksize), kw = hi16(ksize);
  const k = kh * kw * c;
  const m = n * ho * wo;
  if (m > 0 && k > 0 && f > 0 && dx_rot(c, f, kh, kw, stride, dilation, pad) && rotate_filter(filter, c, f, kh, kw, scratch)) {
    // Stride 1: dx is the forward convolution of dy (an image [N, HO, WO, F]) with the filter
    // rotated 180° and its channel axes swapped (rotate_filter), top and left padding
    // (KH − 1)·DH − PT and (KW − 1)·DW − PL, output H × W: tap (ky, kx) of dx's pixel
    // (iy, ix) reads dy at (iy + PT − (KH − 1 − ky)·DH, ix + PL − (KW − 1 − kx)·DW), the pixel
    // whose window put filter[KH − 1 − ky, KW − 1 − kx] on (iy, ix); dy's rows and columns
    // past HO and WO read as padding, like any forward's. A depth of KH·KW·F, each dx element
    // written once.
    const padR = ((kh - 1) * lo16(dilation) - lo16(pad)) | (((kw - 1) * hi16(dilation) - hi16(pad)) << 16);
    const fwdScratch = scratch + <usize>round_up((k * f) << 2, 16);
    const rows = n * h * w;
    const panel = dx_rot_rows(k * f);
    const beta0: f32 = accumulate ? 1 : 0;
    for (let r0 = 0; r0 < rows; r0 += panel) {
      forward_rows(dy, scratch, dx, ho, wo, f, c, h, w, ksize, stride, dilation, padR, r0, min<i32>(panel, rows - r0), beta0, 0, ACT_IDENTITY, 0, 0, false, five, fwdScratch);
    }
    return;
  }
  if (!accumulate && n > 0 && h > 0 && w > 0 && c > 0) memory.fill(dx, 0, <usize>n * <usize>h * <usize>w * (<usize>c << 2));
  if (m <= 0 || k <= 0 || f <= 0) return;
  const sh = lo16(stride), sw = hi16(stride);
  const dh = lo16(dilation), dw = hi16(dilation);
  const pt = lo16(pad), pl = hi16(pad);
  const kcMax = min<i32>(f, KC);
  const hw = h * w;
  const hwo = ho * wo;
  if (dx_swap(m, k, f)) {
    // A narrow patch, many pixels: the rows of the product, transposed, are filter·dyᵀ
    // (K × F)·(F × pixels), run as gemm_run_t runs such products: the small filter is the
    // operand packed pre-broadcast (a slice of it whole when that fits DX_WHOLE_MAX_BYTES,
    // else MC patch columns at a time), dy is packed 8 pixels a micro-panel (pack_b of dyᵀ),
    // tiles are stored transposed into a panel's rows of K floats, each row then scattered as
    // below. Same products, same slices of filters (the outer loop here), each slice added
    // into dx pixel by pixel in row order: the bits of the loops below.
    const whole = dx_whole(k, kcMax);
    const panel = whole ? DX_PANEL_WHOLE : DX_PANEL;
    const mcT = whole ? round_up(k, MR) : min<i32>(round_up(k, MR), MC);
    const ncT = min<i32>(round_up(m, NR), panel);
    const apT = scratch;
    const bpT = apT + a_block_bytes(mcT, kcMax);
    const tileT = bpT + (<usize>(kcMax * ncT) << 2);
    const rowsT = tileT + (<usize>TILE_FLOATS << 2);
    const ldr = <usize>k << 2;
    for (let pc = 0; pc < f; pc += KC) {                 // slices of filters
      const kc = min<i32>(KC, f - pc);
      if (whole) pack_a(0, filter, f, 0, pc, k, kc, apT);
      for (let jc = 0; jc < m; jc += panel) {            // panels of output pixels
        const nc = min<i32>(panel, m - jc);
        pack_b(1, dy, f, pc, jc, kc, nc, bpT);
        for (let ic = 0; ic < k; ic += MC) {             // blocks of patch columns
          const mc = min<i32>(MC, k - ic);
          if (!whole) pack_a(0, filter, f, ic, pc, mc, kc, apT);
          const ap = whole ? apT + a_block_bytes(ic, kc) : apT;
          gemm_rows_4x8_t(kc, ap, mc, bpT, <usize>kc * 32, nc, rowsT + (<usize>ic << 2), k, 1, 0, 0, ACT_IDENTITY, 0, 0, tileT);
        }
        const ni = jc / hwo;
        const rem = jc - ni * hwo;
        let oy = rem / wo;
        let ox = rem - oy * wo;
        let img = dx + <usize>ni * <usize>hw * (<usize>c << 2);
        for (let r = 0; r < nc; r++) {                   // col2im, pixel by pixel
          scatter_row(img, h, w, c, kw, oy * sh - pt, ox * sw - pl, dh, dw, 0, 0, k, rowsT + <usize>r * ldr);
          if (++ox == wo) {
            ox = 0;
            if (++oy == ho) {
              oy = 0;
              img += <usize>hw * (<usize>c << 2);
            }
          }
        }
      }
    }
    return;
  }
  const mcMax = min<i32>(round_up(m, MR), MC);
  const ncMax = min<i32>(round_up(k, NR), NC);
  const apack = scratch;
  const bpack = apack + a_block_bytes(mcMax, kcMax);
  const tile = bpack + (<usize>(kcMax * ncMax) << 2);
  // MR rows of product, right after GEMM's own scratch (gemm_scratch_bytes(m, k, f) bytes).
  const prod = scratch + <usize>gemm_scratch_bytes(m, k, f);
  const ldp = ncMax;
  for (let jc = 0; jc < k; jc += NC) {                   // loop 5: patch columns
    const nc = min<i32>(NC, k - jc);
    // Where column jc sits in the patch: (ky, kx, ch).
    const seg0 = jc / c;
    const ch0 = jc - seg0 * c;
    for (let pc = 0; pc < f; pc += KC) {                 // loop 4: slices of filters
      const kc = min<i32>(KC, f - pc);
      pack_b(1, filter, f, pc, jc, kc, nc, bpack);
      for (let ic = 0; ic < m; ic += MC) {               // loop 3: blocks of output pixels
        const mc = min<i32>(MC, m - ic);
        for (let ir = 0; ir < mc; ir += MR) {            // loops 2 and 1, then col2im
          const mr = min<i32>(MR, mc - ir);
          // dy's rows packed as the tiles first read them (gemm_panel_rows with a source).
          const src = dy + <usize>(ic + ir) * (<usize>f << 2) + (<usize>pc << 2);
          gemm_panel_rows(
            kc, apack + a_block_bytes(ir, kc), mr, bpack, 32, <usize>kc * 32, nc, prod, ldp, 1, 0, 0, ACT_IDENTITY, 0, 0, tile,
            src, <usize>f << 2, 4,
          );
          for (let r = 0; r < mr; r++) {
            const pix = ic + ir + r;
            const ni = pix / hwo;
            const rem = pix - ni * hwo;
            const oy = rem / wo;
            const ox = rem - oy * wo;
            const img = dx + <usize>ni * <usize>hw * (<usize>c << 2);
            scatter_row(img, h, w, c, kw, oy * sh - pt, ox * sw - pl, dh, dw, seg0, ch0, nc, prod + <usize>(r * ldp) * 4);
          }
        }
      }
    }
  }
}

/**
 * The filter rotated 180° with its channel axes swapped, at rot (K·F floats):
 * rot[ky, kx, j, ch] = filter[KH − 1 − ky, KW − 1 − kx, ch, j]. Returns whether every value
 * is finite. One that is not keeps the input gradient to the scatter loops: as a forward
 * convolution it would meet dy's padding, 0·∞ = NaN, where those loops form no product for a
 * position outside the image (a NaN tap leaves the border of dx finite, as the reference
 * does: test/nonfinite.test.ts).
 */
function rotate_filter(filter: usize, c: i32, f: i32, kh: i32, kw: i32, rot: usize): bool {
  const cf = <usize>(c * f) << 2;
  let sum: f32 = 0;                                      // Σ v − v: 0, or NaN after ±∞ or NaN
  for (let ky = 0; ky < kh; ky++) {
    for (let kx = 0; kx < kw; kx++) {
      const src = filter + <usize>((kh - 1 - ky) * kw + kw - 1 - kx) * cf;
      const dst = rot + <usize>(ky * kw + kx) * cf;
      for (let ch = 0; ch < c; ch++) {
        for (let j = 0; j < f; j++) {
          const v = load<f32>(src + (<usize>(ch * f + j) << 2));
          sum += v - v;
          store<f32>(dst + (<usize>(j * c + ch) << 2), v);
        }
      }
    }
  }
  return sum == 0;
}

/**
 * col2im of one product row: adds the nc values at src (patch columns starting at segment
 * seg0 = ky·KW + kx, channel ch0) into the image at img, each (ky, kx) piece at position
 * (iy0 + ky·DH, ix0 + kx·DW) when that lies inside the H × W image. With DW = 1 the pieces
 * of a whole window row lie side by side in the image and go in one add (the part inside
 * it); each value is still added once, so the sums are the same.
 */
function scatter_row(
  img: usize, h: i32, w: i32, c: i32, kw: i32, iy0: i32, ix0: i32, dh: i32, dw: i32,
  seg0: i32, ch0: i32, nc: i32, src: usize,
): void {
  let ky = seg0 / kw;
  let kx = seg0 - ky * kw;
  let ch = ch0;
  let left = nc;
  const row = kw * c;
  while (left > 0) {
    if (dw == 1 && kx == 0 && ch == 0 && left >= row) {
      const iy = iy0 + ky * dh;
      const lo = max<i32>(0, -ix0);
      const hi = min<i32>(kw, w - ix0);
      if (<u32>iy < <u32>h && lo < hi) {
        add_into(img + ((<usize>(iy * w + ix0 + lo) * <usize>c) << 2), src + (<usize>(lo * c) << 2), (hi - lo) * c);
      }
      src += <usize>row << 2;
      left -= row;
      ky++;
      continue;
    }
    const cnt = min<i32>(c - ch, left);
    const iy = iy0 + ky * dh;
    const ix = ix0 + kx * dw;
    if (<u32>iy < <u32>h && <u32>ix < <u32>w) {
      add_into(img + ((<usize>(iy * w + ix) * <usize>c + <usize>ch) << 2), src, cnt);
    }
    src += <usize>cnt << 2;
    left -= cnt;
    ch = 0;
    if (++kx == kw) {
      kx = 0;
      ky++;
    }
  }
}

/**
 * im2col straight into GEMM's A panels: rows [r0, r0 + mc) of P × columns [p0, p0 + kc),
 * as MR-row micro-panels at dst (micro-panel q: kc groups of MR broadcast vectors, one per
 * row; rows past the block are 0), the layout pack_a produces from a stored matrix.
 */
function pack_patches(
  x: usize, h: i32, w: i32, c: i32, kh: i32, kw: i32, stride: i32, dilation: i32, pad: i32,
  ho: i32, wo: i32, r0: i32, mc: i32, p0: i32, kc: i32, k: i32, dst: usize,
): void {
  const sh = lo16(stride), sw = hi16(stride);
  const dh = lo16(dilation), dw = hi16(dilation);
  const pt = lo16(pad), pl = hi16(pad);
  const hwo = ho * wo;
  const img = <usize>h * <usize>w * (<usize>c << 2);
  const seg0 = p0 / c;
  const ch0 = p0 - seg0 * c;
  // Bytes between the patches of two horizontally adjacent output pixels.
  const step = <usize>sw * (<usize>c << 2);
  for (let q = 0; q < mc; q += MR) {
    const rows = min<i32>(MR, mc - q);
    const pix = r0 + q;
    const n0 = pix / hwo;
    const rem = pix - n0 * hwo;
    const oy = rem / wo;
    const ox = rem - oy * wo;
    let ky = seg0 / kw;
    let kx = seg0 - ky * kw;
    let ch = ch0;
    let left = kc;
    if (rows == MR && ox + MR <= wo) {
      // The usual case: four neighbours on one output row. Their window origins are one
      // stride apart, so one address and one bounds check cover all four.
      const b = x + <usize>n0 * img;
      const iy0 = oy * sh - pt;
      const ix0 = ox * sw - pl;
      const span = (MR - 1) * sw;
      if (p0 == 0 && kc == k && iy0 >= 0 && iy0 + (kh - 1) * dh < h && ix0 >= 0 && ix0 + span + (kw - 1) * dw < w) {
        // The whole patch of all four, inside the image: no bounds to check at all.
        let rowp = b + ((<usize>(iy0 * w + ix0) * <usize>c) << 2);
        const down = <usize>dh * <usize>w * (<usize>c << 2);
        const right = <usize>dw * (<usize>c << 2);
        for (let ky = 0; ky < kh; ky++) {
          let p = rowp;
          if (c == 1 && step == 4) {
            for (let kx = 0; kx < kw; kx++) {
              store_a_group(dst, v128.load(p));
              dst += A_GROUP_BYTES;
              p += right;
            }
          } else {
            for (let kx = 0; kx < kw; kx++) {
              dst = copy_group(p, p + step, p + 2 * step, p + 3 * step, c, dst);
              p += right;
            }
          }
          rowp += down;
        }
        continue;
      }
      while (left > 0) {
        const cnt = min<i32>(c - ch, left);
        const iy = iy0 + ky * dh;
        const ix = ix0 + kx * dw;
        if (<u32>iy < <u32>h && ix >= 0 && ix + span < w) {
          const s0 = b + ((<usize>(iy * w + ix) * <usize>c + <usize>ch) << 2);
          if (cnt == 1 && step == 4) {
            // One channel, stride 1: the four values sit side by side.
            store_a_group(dst, v128.load(s0));
            dst += A_GROUP_BYTES;
          } else {
            dst = copy_group(s0, s0 + step, s0 + 2 * step, s0 + 3 * step, cnt, dst);
          }
        } else {
          const ok = <u32>iy < <u32>h;
          const s0 = ok ? src_at(b, iy, ix, h, w, c, ch) : ZEROS;
          const s1 = ok ? src_at(b, iy, ix + sw, h, w, c, ch) : ZEROS;
          const s2 = ok ? src_at(b, iy, ix + 2 * sw, h, w, c, ch) : ZEROS;
          const s3 = ok ? src_at(b, iy, ix + 3 * sw, h, w, c, ch) : ZEROS;
          dst = copy_group(s0, s1, s2, s3, cnt, dst);
        }
        left -= cnt;
        ch = 0;
        if (++kx == kw) {
          kx = 0;
          ky++;
        }
      }
      continue;
    }
    // Pixels on different rows or images, or fewer than four: one origin each.
    let b0: usize = x, b1: usize = x, b2: usize = x, b3: usize = x;
    let y0 = OUTSIDE, y1 = OUTSIDE, y2 = OUTSIDE, y3 = OUTSIDE;
    let x0 = 0, x1 = 0, x2 = 0, x3 = 0;
    for (let r = 0; r < rows; r++) {
      const pr = pix + r;
      const ni = pr / hwo;
      const rr = pr - ni * hwo;
      const py = rr / wo;
      const px = rr - py * wo;
      const bb = x + <usize>ni * img;
      const iy = py * sh - pt;
      const ix = px * sw - pl;
      if (r == 0) { b0 = bb; y0 = iy; x0 = ix; }
      else if (r == 1) { b1 = bb; y1 = iy; x1 = ix; }
      else if (r == 2) { b2 = bb; y2 = iy; x2 = ix; }
      else { b3 = bb; y3 = iy; x3 = ix; }
    }
    while (left > 0) {
      const cnt = min<i32>(c - ch, left);
      const ey = ky * dh;
      const ex = kx * dw;
      dst = copy_group(
        src_at(b0, y0 + ey, x0 + ex, h, w, c, ch), src_at(b1, y1 + ey, x1 + ex, h, w, c, ch),
        src_at(b2, y2 + ey, x2 + ex, h, w, c, ch), src_at(b3, y3 + ey, x3 + ex, h, w, c, ch),
        cnt, dst,
      );
      left -= cnt;
      ch = 0;
      if (++kx == kw) {
        kx = 0;
        ky++;
      }
    }
  }
}

/**
 * Most filters the forward and the filter gradient run transposed (with at least twice as
 * many output pixels, or patch columns, as filters).
 */
const SWAP_MAX_F: i32 = 192;

/**
 * im2col straight into GEMM's B panels: rows [r0, r0 + nc) of P (output pixels) × columns
 * [p0, p0 + kc) of P, as NR-pixel micro-panels at dst (micro-panel q: kc groups of 8 floats,
 * group p holding P[r0 + 8q + i][p0 + p] for i < 8; pixels past the panel are 0): the layout
 * pack_b produces from a stored Pᵀ. `info`: 192 bytes of scratch for the pixels' origins and
 * sources (the caller passes its tile buffer, which nothing else uses while a panel is packed).
 */
function pack_patches_b(
  x: usize, h: i32, w: i32, c: i32, kh: i32, kw: i32, stride: i32, dilation: i32, pad: i32,
  ho: i32, wo: i32, r0: i32, nc: i32, p0: i32, kc: i32, dst: usize, info: usize,
): void {
  const sh = lo16(stride), sw = hi16(stride);
  const dh = lo16(dilation), dw = hi16(dilation);
  const pt = lo16(pad), pl = hi16(pad);
  const hwo = ho * wo;
  const img = <usize>h * <usize>w * (<usize>c << 2);
  const seg0 = p0 / c;
  const ch0 = p0 - seg0 * c;
  // The panel's pixels are walked in order: image ni, output row py, column px of pixel r0
  // found once by division, then stepped (no division per pixel).
  let ni = r0 / hwo;
  let py = (r0 - ni * hwo) / wo;
  let px = r0 - ni * hwo - py * wo;
  const step = <usize>sw * (<usize>c << 2);
  for (let q = 0; q < nc; q += NR) {
    const cols = min<i32>(NR, nc - q);
    // A whole panel whose eight pixels lie on at most two output rows (`runs`; run a: s
    // pixels from (ni, py, px) on, run b: the rest from column 0 of the next row, of this
    // image or the next) takes every piece's sources from two addresses and a step, each
    // pixel's own or the zero block by its window row and column (copy_runs_b). Any other (a
    // panel on three or more rows, WO ≤ 6, or the last one, partly past the pixels) finds
    // each pixel's source on its own, through `info`.
    const s = min<i32>(NR, wo - px);
    const runs = cols == NR && NR - s <= wo;
    let nb = ni, pb = py + 1;
    if (pb == ho) {
      pb = 0;
      nb++;
    }
    const baseA = x + <usize>ni * img, baseB = x + <usize>nb * img;
    const oyA = py * sh - pt, oxA = px * sw - pl;
    const oyB = pb * sh - pt, oxB = -pl;
    if (runs) {
      // On to the pixel after the panel.
      if (s < NR) {
        ni = nb;
        py = pb;
        px = NR - s;
      } else px += NR;
      if (px == wo) {
        px = 0;
        if (++py == ho) {
          py = 0;
          ni++;
        }
      }
    } else {
      // Each pixel's image, window origin row and column (rows OUTSIDE past the panel).
      for (let i = 0; i < NR; i++) {
        const o = info + (<usize>i << 3) * 3;
        if (i < cols) {
          store<usize>(o, x + <usize>ni * img);
          store<i32>(o, py * sh - pt, 8);
          store<i32>(o, px * sw - pl, 16);
          if (++px == wo) {
            px = 0;
            if (++py == ho) {
              py = 0;
              ni++;
            }
          }
        } else {
          store<usize>(o, x);
          store<i32>(o, OUTSIDE, 8);
          store<i32>(o, 0, 16);
        }
      }
    }
    let ky = seg0 / kw;
    let kx = seg0 - ky * kw;
    let ch = ch0;
    let left = kc;
    while (left > 0) {
      const cnt = min<i32>(c - ch, left);
      const ey = ky * dh;
      const ex = kx * dw;
      if (runs) {
        // Run a: pixels [loA, hiA) take their sources, the rest (window row or column in
        // the padding) the zero block; run b likewise, pixels [loB, hiB).
        const iyA = oyA + ey, ixA = oxA + ex;
        let loA = 0, hiA = 0;
        if (<u32>iyA < <u32>h) {
          loA = cols_lo(ixA, sw, s);
          hiA = cols_hi(ixA, sw, w, s);
        }
        const srcA = baseA + ((<usize>(iyA * w + ixA) * <usize>c + <usize>ch) << 2);
        if (loA == 0 && hiA == NR) {
          dst = copy_run_b(srcA, step, cnt, dst);
        } else {
          const iyB = oyB + ey, ixB = oxB + ex;
          let loB = NR, hiB = NR;
          if (s < NR && <u32>iyB < <u32>h) {
            loB = s + cols_lo(ixB, sw, NR - s);
            hiB = s + cols_hi(ixB, sw, w, NR - s);
          }
          // Pixel j ≥ s of run b at srcB + j·step.
          const srcB = baseB + ((<usize>(iyB * w + ixB) * <usize>c + <usize>ch) << 2) - <usize>s * step;
          // Bit j set for the rows that take their own source.
          const valid = ((1 << hiA) - (1 << loA)) | ((1 << hiB) - (1 << loB));
          dst = copy_runs_b(srcA, srcB, step, (1 << s) - 1, valid, cnt, dst);
        }
      } else {
        // The 8 pixels' sources for this (ky, kx) piece, the zero block where it falls in
        // the padding (cnt ≤ kc ≤ KC floats are read from it).
        for (let i = 0; i < NR; i++) {
          const o = info + (<usize>i << 3) * 3;
          store<usize>(o, src_at(load<usize>(o), load<i32>(o, 8) + ey, load<i32>(o, 16) + ex, h, w, c, ch), 4);
        }
        dst = copy_group_b(info, cnt, dst);
      }
      left -= cnt;
      ch = 0;
      if (++kx == kw) {
        kx = 0;
        ky++;
      }
    }
  }
}

/**
 * P's columns [q0, q0 + nc) over its rows (output pixels) [p0, p0 + kc), as GEMM's B panels:
 * micro-panel j (columns q0 + 8j …) is kc groups of 8 floats, group p holding
 * P[p0 + p][q0 + 8j + i] for i < 8, columns past the block 0 (the layout pack_b produces from
 * a stored P). Eight columns that are eight channels of one (ky, kx) piece come from two
 * 16-byte loads per pixel; others one by one.
 */
function pack_patches_cols(
  x: usize, h: i32, w: i32, c: i32, kw: i32, stride: i32, dilation: i32, pad: i32,
  ho: i32, wo: i32, q0: i32, nc: i32, p0: i32, kc: i32, dst: usize,
): void {
  const sh = lo16(stride), sw = hi16(stride);
  const dh = lo16(dilation), dw = hi16(dilation);
  const pt = lo16(pad), pl = hi16(pad);
  const hwo = ho * wo;
  const img = <usize>h * <usize>w * (<usize>c << 2);
  const zero = f32x4.splat(0);
  for (let j = 0; j < nc; j += NR) {
    const cols = min<i32>(NR, nc - j);
    const q = q0 + j;
    const seg = q / c;
    const ch = q - seg * c;
    const ky = seg / kw;
    const kx = seg - ky * kw;
    // The first pixel of the slice: image, output row and column, walked one by one.
    let ni = p0 / hwo;
    const rr = p0 - ni * hwo;
    let oy = rr / wo;
    let ox = rr - oy * wo;
    if (cols == NR && ch + NR <= c) {
      // Eight channels of one (ky, kx) piece: two 16-byte loads a pixel, walked a run of
      // pixels along an output row at a time. Along a row the sources step sw pixels of x,
      // and the pixels whose column falls inside the image are the same in every row,
      // ox in [oxLo, oxHi); the rest of the run (and a row in the padding) packs zeros.
      const ey = ky * dh - pt, ex = kx * dw - pl;
      const chb = <usize>ch << 2;
      const oxLo = cols_lo(ex, sw, wo), oxHi = cols_hi(ex, sw, w, wo);
      const step = <usize>sw * (<usize>c << 2);
      let p = 0;
      while (p < kc) {
        const end = ox + min<i32>(wo - ox, kc - p); // this row's pixels in the slice: [ox, end)
        const iy = oy * sh + ey;
        let lo = end, hi = end;
        if (<u32>iy < <u32>h) {
          lo = min<i32>(max<i32>(oxLo, ox), end);
          hi = min<i32>(max<i32>(oxHi, lo), end);
        }
        for (let t = ox; t < lo; t++) {
          v128.store(dst, zero);
          v128.store(dst, zero, 16);
          dst += NR << 2;
        }
        let s = x + <usize>ni * img + ((<usize>(iy * w + lo * sw + ex) * <usize>c) << 2) + chb;
        for (let t = lo; t < hi; t++) {
          v128.store(dst, v128.load(s));
          v128.store(dst, v128.load(s, 16), 16);
          s += step;
          dst += NR << 2;
        }
        for (let t = hi; t < end; t++) {
          v128.store(dst, zero);
          v128.store(dst, zero, 16);
          dst += NR << 2;
        }
        p += end - ox;
        ox = end;
        if (ox == wo) {
          ox = 0;
          if (++oy == ho) {
            oy = 0;
            ni++;
          }
        }
      }
    } else {
      for (let p = 0; p < kc; p++) {
        const b = x + <usize>ni * img;
        const iy0 = oy * sh - pt;
        const ix0 = ox * sw - pl;
        v128.store(dst, zero);
        v128.store(dst, zero, 16);
        for (let i = 0; i < cols; i++) {
          const qi = q + i;
          const si = qi / c;
          const yi = si / kw;
          // (A position in the padding reads the zero block.)
          store<f32>(dst + (<usize>i << 2), load<f32>(src_at(b, iy0 + yi * dh, ix0 + (si - yi * kw) * dw, h, w, c, qi - si * c)));
        }
        dst += NR << 2;
        if (++ox == wo) {
          ox = 0;
          if (++oy == ho) {
            oy = 0;
            ni++;
          }
        }
      }
    }
  }
}

/**
 * The output columns ox whose window column ox·sw + e lies inside the image's w columns,
 * [cols_lo(e, sw, wo), cols_hi(e, sw, w, wo)) (empty if lo ≥ hi), the same in every row: the
 * runs the patch packers copy between runs of zeros.
 */
// @ts-ignore: decorator
@inline function cols_lo(e: i32, sw: i32, wo: i32): i32 {
  return e >= 0 ? 0 : min<i32>(ceil_div(-e, sw), wo);
}

// @ts-ignore: decorator
@inline function cols_hi(e: i32, sw: i32, w: i32, wo: i32): i32 {
  return w - e <= 0 ? 0 : min<i32>(ceil_div(w - e, sw), wo);
}

/**
 * ⌈a / s⌉ for a ≥ 0 and a stride s ≥ 1, with no division at stride 1 (an integer division
 * is some 10–20 cycles; the direct filter gradient's gather took two per tap and run of
 * pixels, about 7% of the 1 → 16 layer's samples under perf; 1.02–1.04× without).
 */
// @ts-ignore: decorator
@inline function ceil_div(a: i32, s: i32): i32 {
  return s == 1 ? a : (a + s - 1) / s;
}

/**
 * copy_group_b for eight patch rows inside the image whose sources are s, s + step, …,
 * s + 7·step (eight pixels along an output row).
 */
function copy_run_b(s: usize, step: usize, cnt: i32, dst: usize): usize {
  const s1 = s + step, s2 = s1 + step, s3 = s2 + step;
  const s4 = s3 + step, s5 = s4 + step, s6 = s5 + step, s7 = s6 + step;
  return copy_eight_b(s, s1, s2, s3, s4, s5, s6, s7, cnt, dst);
}

/**
 * copy_group_b for eight patch rows on two runs of pixels along output rows: row j's source
 * is a + j·step where bit j of runA is set, b + j·step where it is clear, and the zero
 * block where bit j of `valid` is clear (its window row or column in the padding).
 */
function copy_runs_b(a: usize, b: usize, step: usize, runA: i32, valid: i32, cnt: i32, dst: usize): usize {
  return copy_eight_b(
    run_src(0, a, b, step, runA, valid), run_src(1, a, b, step, runA, valid),
    run_src(2, a, b, step, runA, valid), run_src(3, a, b, step, runA, valid),
    run_src(4, a, b, step, runA, valid), run_src(5, a, b, step, runA, valid),
    run_src(6, a, b, step, runA, valid), run_src(7, a, b, step, runA, valid),
    cnt, dst,
  );
}

/** Row j's source in copy_runs_b. */
// @ts-ignore: decorator
@inline function run_src(j: i32, a: usize, b: usize, step: usize, runA: i32, valid: i32): usize {
  return valid & (1 << j) ? (runA & (1 << j) ? a : b) + <usize>j * step : ZEROS;
}

/** copy_group_b's copy when no source is 0: cnt channels of the rows at s0 … s7. */
// @ts-ignore: decorator
@inline function copy_eight_b(
  s0: usize, s1: usize, s2: usize, s3: usize, s4: usize, s5: usize, s6: usize, s7: usize, cnt: i32, dst: usize,
): usize {
  let j = 0;
  for (; j + 4 <= cnt; j += 4) {
    const o = <usize>j << 2;
    transpose_store_4x4(v128.load(s0 + o), v128.load(s1 + o), v128.load(s2 + o), v128.load(s3 + o), dst);
    transpose_store_4x4(v128.load(s4 + o), v128.load(s5 + o), v128.load(s6 + o), v128.load(s7 + o), dst + 16);
    dst += 4 * (NR << 2);
  }
  for (; j < cnt; j++) {
    const o = <usize>j << 2;
    store<f32>(dst, load<f32>(s0 + o));
    store<f32>(dst, load<f32>(s1 + o), 4);
    store<f32>(dst, load<f32>(s2 + o), 8);
    store<f32>(dst, load<f32>(s3 + o), 12);
    store<f32>(dst, load<f32>(s4 + o), 16);
    store<f32>(dst, load<f32>(s5 + o), 20);
    store<f32>(dst, load<f32>(s6 + o), 24);
    store<f32>(dst, load<f32>(s7 + o), 28);
    dst += NR << 2;
  }
  return dst;
}

/**
 * Packs cnt channels of eight patch rows (their sources at info + 24·i + 4) as cnt groups of
 * 8 floats at dst (group j: channel j of the eight rows); returns the end of what it wrote.
 * A row in the padding reads the zero block (ZEROS), so no source is tested per element.
 */
function copy_group_b(info: usize, cnt: i32, dst: usize): usize {
  return copy_eight_b(
    load<usize>(info, 4), load<usize>(info, 28), load<usize>(info, 52), load<usize>(info, 76),
    load<usize>(info, 100), load<usize>(info, 124), load<usize>(info, 148), load<usize>(info, 172), cnt, dst,
  );
}

/**
 * The zero block (src/runtime/static-layout.ts): at least KC floats of zeros, set when the
 * module starts and never written after, the source of patch rows in the padding.
 */
const ZEROS: usize = ZERO_BLOCK_AT;
// @ts-ignore: compile-time check
if (ZERO_BLOCK_BYTES < (KC << 2)) ERROR("the zero block holds fewer than KC floats");
memory.fill(ZEROS, 0, ZERO_BLOCK_BYTES);

/**
 * Packs cnt channels of four patch rows (at s0 … s3; a row in the padding is the zero block)
 * as cnt packed A groups at dst (MR broadcast vectors, one per row; see pack_a): 4 × 4
 * blocks transposed, then one channel at a time. Returns the end of what it wrote.
 */
// @ts-ignore: decorator
@inline function copy_group(s0: usize, s1: usize, s2: usize, s3: usize, cnt: i32, dst: usize): usize {
  let j = 0;
  for (; j + 4 <= cnt; j += 4) {
    const o = <usize>j << 2;
    splat_store_4x4(v128.load(s0 + o), v128.load(s1 + o), v128.load(s2 + o), v128.load(s3 + o), dst);
    dst += 4 * A_GROUP_BYTES;
  }
  for (; j < cnt; j++) {
    const o = <usize>j << 2;
    v128.store(dst, v128.load32_splat(s0 + o));
    v128.store(dst, v128.load32_splat(s1 + o), 16);
    v128.store(dst, v128.load32_splat(s2 + o), 32);
    v128.store(dst, v128.load32_splat(s3 + o), 48);
    dst += A_GROUP_BYTES;
  }
  return dst;
}

/**
 * Stores four packed A groups from rows v0 … v3 (one row of A per vector, four depth steps):
 * group j (at dst + 64·j) is lane j of v0, v1, v2, v3, each broadcast (see pack_a).
 */
// @ts-ignore: decorator
@inline function splat_store_4x4(v0: v128, v1: v128, v2: v128, v3: v128, dst: usize): void {
  v128.store(dst, i32x4.shuffle(v0, v0, 0, 0, 0, 0));
  v128.store(dst, i32x4.shuffle(v1, v1, 0, 0, 0, 0), 16);
  v128.store(dst, i32x4.shuffle(v2, v2, 0, 0, 0, 0), 32);
  v128.store(dst, i32x4.shuffle(v3, v3, 0, 0, 0, 0), 48);
  v128.store(dst, i32x4.shuffle(v0, v0, 1, 1, 1, 1), 64);
  v128.store(dst, i32x4.shuffle(v1, v1, 1, 1, 1, 1), 80);
  v128.store(dst, i32x4.shuffle(v2, v2, 1, 1, 1, 1), 96);
  v128.store(dst, i32x4.shuffle(v3, v3, 1, 1, 1, 1), 112);
  v128.store(dst, i32x4.shuffle(v0, v0, 2, 2, 2, 2), 128);
  v128.store(dst, i32x4.shuffle(v1, v1, 2, 2, 2, 2), 144);
  v128.store(dst, i32x4.shuffle(v2, v2, 2, 2, 2, 2), 160);
  v128.store(dst, i32x4.shuffle(v3, v3, 2, 2, 2, 2), 176);
  v128.store(dst, i32x4.shuffle(v0, v0, 3, 3, 3, 3), 192);
  v128.store(dst, i32x4.shuffle(v1, v1, 3, 3, 3, 3), 208);
  v128.store(dst, i32x4.shuffle(v2, v2, 3, 3, 3, 3), 224);
  v128.store(dst, i32x4.shuffle(v3, v3, 3, 3, 3, 3), 240);
}

/**
 * x[iy, ix … ix + 3] of a one-channel image at b (positions outside the image read as 0).
 */
// @ts-ignore: decorator
@inline function row4(b: usize, iy: i32, ix: i32, h: i32, w: i32): v128 {
  if (<u32>iy >= <u32>h) return f32x4.splat(0);
  const p = b + (<usize>(iy * w) << 2);
  if (ix >= 0 && ix + 3 < w) return v128.load(p + (<usize>ix << 2));
  let v = f32x4.splat(0);
  if (<u32>ix < <u32>w) v = f32x4.replace_lane(v, 0, load<f32>(p + (<usize>ix << 2)));
  if (<u32>(ix + 1) < <u32>w) v = f32x4.replace_lane(v, 1, load<f32>(p + (<usize>(ix + 1) << 2)));
  if (<u32>(ix + 2) < <u32>w) v = f32x4.replace_lane(v, 2, load<f32>(p + (<usize>(ix + 2) << 2)));
  if (<u32>(ix + 3) < <u32>w) v = f32x4.replace_lane(v, 3, load<f32>(p + (<usize>(ix + 3) << 2)));
  return v;
}

/**
 * Address of x[iy, ix, ch] in the image at b, or of the zero block (ZEROS) when (iy, ix) is
 * outside it: at most KC floats are read from a source in the padding.
 */
// @ts-ignore: decorator
@inline function src_at(b: usize, iy: i32, ix: i32, h: i32, w: i32, c: i32, ch: i32): usize {
  return <u32>iy < <u32>h && <u32>ix < <u32>w ? b + ((<usize>(iy * w + ix) * <usize>c + <usize>ch) << 2) : ZEROS;
}

/**
 * The transposed im2col for the filter gradient: rows [q0, q0 + mc) of Pᵀ (patch columns
 * (ky, kx, c)) × columns [p0, p0 + kc) of Pᵀ (output pixels), as MR-row micro-panels at dst,
 * rows past the block 0. Four patch columns that are four consecutive channels of one
 * (ky, kx) piece come from one 16-byte load per pixel.
 */
function pack_patches_t(
  x: usize, h: i32, w: i32, c: i32, kw: i32, stride: i32, dilation: i32, pad: i32,
  ho: i32, wo: i32, q0: i32, mc: i32, p0: i32, kc: i32, dst: usize,
): void {
  const sh = lo16(stride), sw = hi16(stride);
  const dh = lo16(dilation), dw = hi16(dilation);
  const pt = lo16(pad), pl = hi16(pad);
  const hwo = ho * wo;
  const img = <usize>h * <usize>w * (<usize>c << 2);
  const zero = f32x4.splat(0);
  const n0 = p0 / hwo;
  const rem0 = p0 - n0 * hwo;
  const oy0 = rem0 / wo;
  const ox0 = rem0 - oy0 * wo;
  for (let q = 0; q < mc; q += MR) {
    const rows = min<i32>(MR, mc - q);
    // The four patch columns of this micro-panel: window offset and channel of each.
    let ey0 = OUTSIDE, ey1 = OUTSIDE, ey2 = OUTSIDE, ey3 = OUTSIDE;
    let ex0 = 0, ex1 = 0, ex2 = 0, ex3 = 0;
    let c0 = 0, c1 = 0, c2 = 0, c3 = 0;
    for (let r = 0; r < rows; r++) {
      const d = q0 + q + r;
      const seg = d / c;
      const ch = d - seg * c;
      const ky = seg / kw;
      const kx = seg - ky * kw;
      const ey = ky * dh - pt;
      const ex = kx * dw - pl;
      if (r == 0) { ey0 = ey; ex0 = ex; c0 = ch; }
      else if (r == 1) { ey1 = ey; ex1 = ex; c1 = ch; }
      else if (r == 2) { ey2 = ey; ex2 = ex; c2 = ch; }
      else { ey3 = ey; ex3 = ex; c3 = ch; }
    }
    const together = rows == MR && c0 + 3 < c && c3 == c0 + 3;
    let oy = oy0, ox = ox0;
    let b = x + <usize>n0 * img;
    if (together) {
      // One 16-byte load a pixel, walked a run of pixels along an output row at a time (as
      // pack_patches_cols walks them): the in-image columns found once, sources stepped.
      const oxLo = cols_lo(ex0, sw, wo), oxHi = cols_hi(ex0, sw, w, wo);
      const step = <usize>sw * (<usize>c << 2);
      let j = 0;
      while (j < kc) {
        const end = ox + min<i32>(wo - ox, kc - j); // this row's pixels in the slice: [ox, end)
        const iy = oy * sh + ey0;
        let lo = end, hi = end;
        if (<u32>iy < <u32>h) {
          lo = min<i32>(max<i32>(oxLo, ox), end);
          hi = min<i32>(max<i32>(oxHi, lo), end);
        }
        for (let t = ox; t < lo; t++) {
          store_a_group(dst, zero);
          dst += A_GROUP_BYTES;
        }
        let src = b + ((<usize>(iy * w + lo * sw + ex0) * <usize>c + <usize>c0) << 2);
        for (let t = lo; t < hi; t++) {
          store_a_group(dst, v128.load(src));
          src += step;
          dst += A_GROUP_BYTES;
        }
        for (let t = hi; t < end; t++) {
          store_a_group(dst, zero);
          dst += A_GROUP_BYTES;
        }
        j += end - ox;
        ox = end;
        if (ox == wo) {
          ox = 0;
          if (++oy == ho) {
            oy = 0;
            b += img;
          }
        }
      }
    } else {
      let j = 0;
      while (j < kc) {
        const by = oy * sh;
        if (c == 1 && sw == 1 && j + 4 <= kc && ox + 4 <= wo) {
          // One channel, stride 1: each patch column reads four neighbouring pixels of one
          // input row with one load; a 4 × 4 transpose makes the four pixels' groups.
          const v0 = row4(b, by + ey0, ox + ex0, h, w);
          const v1 = row4(b, by + ey1, ox + ex1, h, w);
          const v2 = row4(b, by + ey2, ox + ex2, h, w);
          const v3 = row4(b, by + ey3, ox + ex3, h, w);
          splat_store_4x4(v0, v1, v2, v3, dst);
          dst += 4 * A_GROUP_BYTES;
          j += 4;
          ox += 4;
        } else {
          const bx = ox * sw;
          let iy = by + ey0, ix = bx + ex0;
          v128.store(dst, <u32>iy < <u32>h && <u32>ix < <u32>w ? v128.load32_splat(b + ((<usize>(iy * w + ix) * <usize>c + <usize>c0) << 2)) : zero);
          iy = by + ey1; ix = bx + ex1;
          v128.store(dst, <u32>iy < <u32>h && <u32>ix < <u32>w ? v128.load32_splat(b + ((<usize>(iy * w + ix) * <usize>c + <usize>c1) << 2)) : zero, 16);
          iy = by + ey2; ix = bx + ex2;
          v128.store(dst, <u32>iy < <u32>h && <u32>ix < <u32>w ? v128.load32_splat(b + ((<usize>(iy * w + ix) * <usize>c + <usize>c2) << 2)) : zero, 32);
          iy = by + ey3; ix = bx + ex3;
          v128.store(dst, <u32>iy < <u32>h && <u32>ix < <u32>w ? v128.load32_splat(b + ((<usize>(iy * w + ix) * <usize>c + <usize>c3) << 2)) : zero, 48);
          dst += A_GROUP_BYTES;
          j++;
          ox++;
        }
        if (ox == wo) {
          ox = 0;
          if (++oy == ho) {
            oy = 0;
            b += img;
          }
        }
      }
    }
  }
}
