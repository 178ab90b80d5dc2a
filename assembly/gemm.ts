// GEMM family: general matrix multiply, the fused linear-layer epilogue, and the outer
// product. Everything is row-major f32; a "leading dimension" is the distance, in
// elements, between the starts of two consecutive rows of a stored matrix.
//
// The multiply is packed and cache-blocked (five loops around a register-blocked
// micro-kernel):
//
//   for jc over n in steps of NC            (loop 5: a column panel of C and op(B))
//     for pc over k in steps of KC          (loop 4: a depth slice)
//       pack op(B)[pc.., jc..] (KC × NC) into NR-column micro-panels   → stays in L2
//       for ic over m in steps of MC        (loop 3: a row block of C and op(A))
//         op(A)[ic.., pc..] (MC × KC) → MR-row micro-panels, pre-broadcast (packed by the
//                                          first tile of each row as it reads it, below)
//         for ir over the block in steps of MR    (loop 2: an A micro-panel, in L1)
//           for jr over the panel in steps of NR  (loop 1: B micro-panels streamed from L2)
//             MR × NR tile of C += A micro-panel · B micro-panel   (in registers)
//
// (A small op(B) that is B itself, in whole 8-column panels, is read in place instead of
// packed: it stays in L1 anyway, and packing it would cost more than it saves. A product with
// many rows whose whole op(B) fits one B panel swaps loops 4 and 3, all slices of a row block
// in turn, so its C block stays in L1 between slices: gemm_run_deep, deep_b.)
//
// Narrow products (n ≤ 16: a classifier's last layer and its weight gradient) take
// gemm-narrow.ts instead: one or two column tiles cannot repay packing the large op(A), so
// only op(B) is packed and op(A) is read in place, with the same sums bit for bit. Shallow
// plain products (k ≤ 16: a classifier's input gradient) run these loops with a tile ending
// of α, β and a store only (gemm_shallow, same file), again with the same bits.
//
// Products with few columns and at least twice as many rows (17 ≤ n ≤ 192: a convolution's
// filters, a narrow layer at a large batch) run transposed, Cᵀ = op(B)ᵀ·op(A)ᵀ (gemm_run_t):
// the pre-broadcast packing of the A operand, written once per row block and reused across
// the row of column tiles, is then spent on the small operand, and the large one is copied
// as the B panel. Same sums, bit for bit.
//
// Small batches (a product of at most 64 rows: a layer's forward x·W or its weights' side at a
// batch of 1–64) spend little enough on the tiles that packing B would be a large share: with
// B's rows at most 2 KiB apart they read B in place (b_in_place), and A·Bᵀ with 8 or 16 rows
// runs transposed (small_batch_nt); a last micro-panel of one or two rows runs 2 × 16 tiles.
//
// Loop 1 walks along rows of C, so consecutive tiles touch consecutive memory (row
// strides of large C would otherwise alias in L1 and defeat the prefetchers).
//
// Matrix-vector products (m = 1 or n = 1) skip all that: they read each element of the
// matrix once, as rows combined with broadcast weights (gemv_rows) or as dot products
// (gemv_dots), whichever walks memory contiguously for the layouts at hand.
//
// Packing absorbs the transposes: both op(A) layouts and both op(B) layouts pack into
// the same contiguous panels, so A·B, Aᵀ·B, A·Bᵀ and Aᵀ·Bᵀ run the same micro-kernel.
// Panels are zero-padded to whole tiles; partial tiles at the right and bottom edges go
// through a small tile buffer so nothing outside C (or Z) is ever read or written. A last
// micro-panel of one or two rows (a batch of 4j + 1 or 4j + 2) runs 2 × 16 tiles instead of
// 4 × 8 ones that would be three quarters or half padding (tile_2x16): paired against the 4 × 8
// tiles there (bench/gemm-ab.mjs, 2026-12-06), 5×784×256 1.11–1.14×, 2×256×256 1.17–1.19×,
// 33×784×256 1.02–1.05× (relaxed 1.20×, 1.33–1.36×, 1.05–1.06×), and by
// bench/engines-ab.mjs 1.22–1.25×, 1.36–1.41× and 1.05–1.07× under Node 24, Deno, Bun and
// Chromium, both builds; 4j + 3 rows keep the 4 × 8 tile (a 3-row tile's six sums in flight
// would not beat it where an add takes 3–4 cycles).
//
// The packing buffers and the tile buffer live in caller-provided scratch whose size
// gemm_scratch_bytes(m, n, k) gives. Kernels allocate nothing and keep no state.
//
// Why this blocking (the measurements behind src/ops/gemm-blocking.ts). WebAssembly cannot
// ask the CPU for its cache sizes, so the sizes are chosen to hold on small caches rather
// than tuned to one machine, and the loop order keeps only two things cache-resident:
//
//   - the A micro-panel being used: kc broadcast groups of MR vectors, 64·KC bytes (16 KiB
//     at KC = 256), plus the B micro-panel streaming past it (32·KC = 8 KiB): 24 KiB, inside
//     any 32 KiB L1d. A is packed per MC-row block just before use (MC = 16: a 64 KiB block,
//     written and read back from L1/L2), so no large A block is ever kept;
//   - the B panel, KC × NC floats: 512 KiB at 256 × 512, half what it was (1 MiB, which
//     overflowed the 1 MiB L2 of Zen 4 and this machine's 512 KiB one when shared with A).
//
// Measured with bench/gemm-blocking.mjs (every variant compiled from this file, timed
// interleaved beside the peak probe in CPU time, median of 5 rounds, 128³–512³ and the
// 784→256 layer shapes, NN/TN/NT) on a 2-core AMD Zen 3 VM (32 KiB L1d, 512 KiB L2 per
// core, 32 MiB L3) shared with a dozen other processes:
//
//   KC×MC×NC      share of the mul+add peak timed in the same rounds
//                 alone (median / worst)   beside a thread sweeping 4 MiB (median / worst)
//   256×16×512    64.1% / 47.4%            57.5% / 41.4%     ← chosen
//   256×16×256    64.7% / 42.4%
//   128×16×512    64.6% / 52.3%
//   128×16×256    65.1% / 54.2%            58.7% / 38.0%
//   384×16×512    64.7% / 54.4%            66.3% / 33.4%
//   256×64×512    64.1% / 46.6%            63.6% / 34.6%
//   256×4×512     65.1% / 44.9%
//   256×16×1024   64.3% / 45.8%            59.0% / 29.1%
//   (these two runs shared the machine with a full test run; alone, the same kernel gave
//   74.9% median at 256×16×512, the earlier kernel 66.0%, the original 57.3%)
//
// On a Zen 4 VM (32 KiB L1d, 1 MiB L2 per core: the cache shape that 1024-column panels
// overflowed), the same script, 5 rounds, 128³–1024³ and the layer shapes, NN/TN/NT, median /
// worst share of the mul+add peak:
//
//   KC×MC×NC      alone              beside a thread sweeping 4 MiB
//   256×16×512    77.7% / 60.5%      72.2% / 56.2%     ← chosen
//   256×16×1024   78.1% / 61.7%      68.7% / 52.1%
//   256×16×256    74.5% / 59.3%
//   128×16×512    77.2% / 53.5%
//   384×16×512    78.5% / 57.9%      68.9% / 50.5%
//   256×64×512    81.7% / 58.5%      64.6% / 41.7%
//   256×4×512     81.2% / 57.3%
//   128×16×256    74.3% / 57.3%      65.2% / 42.9%
//
// On an Intel Xeon VM (model 207, 48 KiB L1d and 2 MiB L2 per core, 2026-12-05), the same
// script and problems (the peak probe reads below this core's GEMM, so shares pass 100%):
//
//   KC×MC×NC      alone              beside a thread sweeping 4 MiB
//   256×16×512    104.1% / 79.9%     105.4% / 97.4%    ← chosen
//   256×16×1024   104.1% / 80.8%     104.5% / 96.6%
//   256×16×256    105.7% / 78.1%
//   128×16×512    104.5% / 79.2%
//   384×16×512    104.6% / 76.4%     104.4% / 98.8%
//   256×64×512    105.3% / 91.8%     105.8% / 98.5%
//   256×4×512     104.8% / 80.4%
//   128×16×256    104.7% / 72.3%     104.0% / 92.3%
//
// (the worst shares alone are one round of 512³ and 1024³ that a neighbour slowed for every
// variant alike; the neighbour thread, on the other vCPU of what may be one core, halved
// every speed, the probe's too).
//
// The surface is flat within the noise on all three machines (±5% between rounds): what moved
// the result was the micro-kernel, not the block sizes. The old kernel (A packed as 4
// floats a depth step, one vbroadcastss with an offset per row, the depth loop counted
// and called once per tile) ran at 57% median; packing A pre-broadcast and running loop 1
// inside one function (so V8 unrolls the depth loop) brought it to 75%. Loops 2 and 1 in one
// function (gemm_panel_rows: the depth loop nested two deep, which V8 11.3 unrolls four
// times where it unrolled one loop deep twice, with one interrupt check per four steps)
// added 4–7% on Node 20 from 128³ and on the layer shapes, 3–6% on the convolutions
// (bench/gemm-ab.mjs, paired, 2026-12-04), 3–6% under Bun; Node 24, Deno and the relaxed
// build level. bench/gemm-tiles.mjs --whole, which times a tile in a plain whole GEMM beside
// this one, is how that showed: its 4 × 8 GEMM ran 1.03–1.05× this file's.
// Packing A no longer takes a pass of its own: the first tile of each row of tiles reads its
// MR rows of op(A) in place, and stores each broadcast value into the micro-panel beside its
// multiply-adds (gemm_rows_packing); the tiles after it read the packed panel. pack_a had
// stored a vector per element of op(A) before any tile ran, 8.5% of a 64³ product's time
// (bench/kernel-profile.mjs). Paired against the separate pass (bench/gemm-ab.mjs,
// 2026-12-05), same bits: Node 20 1.06× at 64³, 1.03–1.04× at 128³, 1.015× at 256³ and
// 1.01–1.02× on the layer shapes; relaxed 1.08×, 1.04×, 1.02×; at 64³ Node 24 1.05×, Bun
// 1.05×, Chromium 1.07×, Deno 1.02× (bench/engines-ab.mjs). In the same function as the
// other tiles' loop, it cost that loop a register (its bound went to the stack: 0.96× at
// 64×784×256), hence a function of its own.
//
// What bounds it: per depth step the 4 × 8 tile issues 16 vector multiplies and adds, 6
// loads and, under V8, about 4 more instructions of loop upkeep (pointer bumps, index
// zero-extension, the interrupt check). Zen 3 dispatches 6 instructions a cycle and has
// 4 vector pipes (2 multiply, 2 add), so the ~26 instructions of a step take ~4.4 cycles
// where the vector work alone needs 4: about 90% at best, before the packing and the edge
// tiles. Unrolling the depth loop by hand does not help: TurboFan hoists every load of the
// unrolled steps to the top of the loop and spills (measured 10–20% slower at 2 and 4
// steps). The relaxed-SIMD build fuses each multiply and add (8 FMAs a step, 2 pipes) and is
// limited by the FMA pipes instead, which is why it sits closer to its peak; there the 4 × 8
// tile's eight accumulators are just the eight chains two FMA pipes of 4-cycle latency need,
// with no slack, which is why that build runs most products as 5 × 8 tiles (rows5, below).
//
// That bound is Node 20's V8 (11.3). The same .wasm under headless Chromium 156, timed by
// bench/engines.mjs in runs alternating with Node on the Zen 4 VM, read 93–97% of that
// engine's probe at 256³ and 1024³ and 68–96% on the layer shapes, where Node read 69–85%
// and 63–83%. JavaScriptCore (Bun) needs the endings kept out of the depth loop's way: see
// sums_at.
//
// Why 4 × 8 and not a larger tile. V8 schedules every load of a depth step ahead of the
// step's arithmetic (seen with --print-wasm-code in the loop copy it unrolls), so a tile
// of MR rows and NR/4 vectors keeps MR·NR/4 accumulators and MR + NR/4 loaded vectors live
// at once, from the 15 vector registers V8 allocates on x64: 4 × 8 needs 8 + 6 = 14;
// 5 × 8 needs 10 + 7 = 17 and spills two accumulators (two stores and three reloads every
// two steps); 3 × 12 needs 9 + 6 = 15; 6 × 8 needs 20. bench/gemm-tiles.mjs times the bare
// tiles (depth loop only, L1-resident panels) beside the peak probe; here, three runs of 11
// rounds each, % of the peak of the same build (SIMD128 | relaxed):
//
//   4 × 8    101  71  83  |  69  90  72      ← kept
//   5 × 8     88  66  73  |  58  60  56
//   3 × 12    74  70  71  |  74  90  74
//   6 × 8     61  57  75  |  58  64  57
//
// so neither 5 × 8 nor 3 × 12 is worth re-shaping the packers for on this engine (on an
// engine or CPU with more vector registers, rerun bench/gemm-tiles.mjs before assuming so).
// What does pay, in the relaxed build only, is 5 × 8 over op(A) packed compact, four rows'
// values one load, broadcast by shuffles that V8 schedules beside their multiply-adds: ten
// accumulators and five live loaded vectors, no spill (the tile "5x8v" of bench/gemm-tiles.mjs:
// 95% of relaxed_madd where 4 × 8 reads 87%). See rows5 and gemm_rows_5x8.
// On a Zen 4 VM (1 MiB L2) the bare relaxed tiles read 3 × 12 at 82% and 4 × 8 at 71% of
// relaxed_madd, so the relaxed build's packed loops were rewritten for 3 × 12 (3-row A and
// 12-column B panels, 3 × 8 and 3 × 4 edge tiles, same sums): in the whole GEMM it ran
// 0.85–0.89× at 64³ and 0.93–1.00× at 128–512 and the layer shapes against 4 × 8
// (bench/gemm-ab.mjs, 11 pairs), where 4 × 8 already reaches 85% of relaxed_madd. Not kept.
// Other engines allocate past that. The same bare tiles on the Zen 4 VM, 2026-12-04, two runs
// of 9 rounds each in every engine (`npx deno run -A bench/gemm-tiles.mjs`, `npx bun …`,
// Node 24 from the npm registry), % of the same engine's peak probe (one Node 24 SIMD128 run
// was slowed by a neighbour throughout; the order held):
//
//             SIMD128 (mul+add)                          relaxed (relaxed_madd)
//             Node 20  Node 24  Deno 2.9  Bun 1.4        Node 20  Node 24  Deno 2.9  Bun 1.4
//             V8 11.3  V8 13.6  V8 15.0   (JSC)          V8 11.3  V8 13.6  V8 15.0   (JSC)
//   4 × 8     89  90   104  71  73  75    96  95         91  91   92  87   69  88    96  96   ← kept
//   5 × 8s    76  77   105  68  71  74    64  64         61  61   95  91   50  70    64  62
//   6 × 8s    76  77    62  59  57  61    62  62         71  70   98  98   48  73    61  65
//   3 × 12    70  70   111  77  79  73   106 107         93  93   93  93   56  81   105 111
//
// (s: A packed compact and read with broadcast loads.) No tile is best everywhere: 3 × 12
// leads SIMD128 under Node 24 and Bun by 7–12% and trails under Node 20 by 20% (Node 20, for
// which 4 × 8 was chosen, reached end of life in April 2026); relaxed, 6 × 8 leads under
// Node 24 only and 3 × 12 under Bun. A tile chosen per engine at init (timed as the peak probe
// is) is what would take those points, each measured in the whole GEMM per engine (the
// whole-GEMM 3 × 12 above ran 0.85–1.00× where its bare loop led by 11 points).
// Measured so (bench/gemm-tiles.mjs --whole: each tile in a plain whole GEMM, A·B, beside
// this file's, paired, 256³ and 64×784×256, 2026-12-04), SIMD128: 3 × 12 ran 0.43–0.49× of
// this GEMM under Node 20, 1.03–1.05× under Node 24 (against this file before loops 2 and 1
// shared a function, gemm_panel_rows), 0.99× under Deno and 1.08–1.09× under Bun, where the
// plain 4 × 8 GEMM read 1.08–1.10× too: under JavaScriptCore and Node 24 the lead is not the
// tile's but that of a GEMM with nothing else in it (the plain 4 × 8 read 1.05× under Node 24,
// 0.90–0.92× under Deno, 0.99× under Node 20). Not found yet what this file spends there: a
// constant bstep and a plain ending measured level under Node 20 and 24, and α, β, p passed as
// integer bits (no f32 held across the loop) 1.01× under Node 24, 0.97× under Bun. A tile per
// engine is not worth building for 3–5% on two engines and a loss on the others.
// Arm is another matter: cores with four FMA pipes of 4-cycle latency (Apple's, Neoverse V)
// need sixteen sums in flight, and arm64 engines allocate from 32 vector registers, where V8
// keeps a 4 × 16 tile's sixteen accumulators, four B vectors and an A vector without a spill
// (its arm64 code read under QEMU, Node 20 and 24). gemm_wide and gemm_bias_act_wide run the
// whole tiles of gemm_panel_rows that way (gemm_rows_4x16_full: two B micro-panels a step,
// each half ended as a 4 × 8 tile, so the same bits); the runtime takes them on arm64 hosts
// (src/runtime/gemm-tile.ts). On x64 V8 spills them: 0.70–0.81× of 4 × 8 on the Xeon VM
// under Node 20 (bench/gemm-ab.mjs, both builds), 0.77–0.96× under Node 24, Deno and
// Chromium (bench/engines-ab.mjs), 2026-12-06.
// The spread of the same tile between runs (71–101%) is the machine's other tenants, not
// the tile. bench/step-profile.mjs shows where a training step's time goes (the layer
// GEMMs are about 85% of it; their speed, not the rest of the step, sets its efficiency).

import { fmadd } from "./simd";
import { act_linear_v, act_v, ACT_GELU, ACT_GELU_TANH, ACT_IDENTITY, ACT_RELU, ACT_SIGMOID, ACT_SLOPE_FLAG, ACT_SWISH, ACT_TANH } from "./vmath";
import { act_forward } from "./linear";
import { gelu_forward_slope } from "./activations";
import { gemm_narrow, gemm_shallow, NARROW_MAX_N, SHALLOW_MAX_K } from "./gemm-narrow";

// The blocking (MR, NR, KC, MC, NC and the edge-tile buffer): defined once, in
// src/ops/gemm-blocking.ts, which the TypeScript side reads too.
import { KC, MC, MR, NC, NR, TILE_FLOATS } from "../src/ops/gemm-blocking";

// @ts-ignore: decorator
@inline function round_up(x: i32, r: i32): i32 {
  return (x + r - 1) / r * r;
}

/**
 * Bytes of 16-byte aligned scratch that gemm and gemm_bias_act need for an m × n result
 * with inner dimension k: one packed block of op(A) (≤ MC × KC floats), one packed panel
 * of op(B) (≤ KC × NC floats) and a tile buffer. Never more than about 0.6 MiB.
 * Returns 0 when m or n is 0 (nothing is touched).
 */
export function gemm_scratch_bytes(m: i32, n: i32, k: i32): i32 {
  if (m <= 0 || n <= 0) return 0;
  const kc = k < 0 ? 0 : min<i32>(k, KC);
  // A block and B panel sized for the larger of m and n: a product with few columns and
  // many rows runs transposed (gemm_run_t), op(A)ᵀ packed as the B panel.
  const mc = min<i32>(round_up(max<i32>(m, n), MR), MC);
  const nc = min<i32>(round_up(max<i32>(m, n), NR), NC);
  // A product whose slices run inside its row blocks (deep_b) packs all of op(B) at once.
  const bFloats = max<i32>(kc * nc, deep_b(0, m, n, k) ? k * round_up(n, NR) : 0);
  return (mc * kc * 4 + bFloats + TILE_FLOATS) << 2;
}

/**
 * Whether gemm_run runs a product's depth slices inside its row blocks (gemm_run_deep): more
 * than one slice; all of op(B) packed (k × n, n rounded up to whole micro-panels) no larger
 * than one B panel of the usual loops (KC × NC floats, the L2-resident budget they already
 * assume); C at least that large; op(A) = A. The usual order passes over all of C once per
 * slice; when C outgrows L2 (4096 × 64 floats is 1 MiB) each pass reloads it from L3:
 * 4096×576×64 ran at 40–41 GFLOPS against 44.5 for 256×576×64 and 44.4 for 4096×256×64 (one
 * slice). The deep order, against the usual (bench/gemm-ab.mjs, 2026-12-05): 4096×576×64,
 * 4096×768×64, 4096×1024×128 1.07–1.11× (A·B, A·Bᵀ), 2048×576×64 1.02–1.04×; with a C under
 * the budget level or below (1024×1024×64 0.95–1.01×), and with op(A) = Aᵀ (read a 16-float
 * column strip down all k rows of A per row block) 0.79–1.00×.
 */
// @ts-ignore: decorator
@inline function deep_b(transA: i32, m: i32, n: i32, k: i32): bool {
  const nc8 = <i64>round_up(n, NR);
  return !transA && k > KC && n <= NC && <i64>k * nc8 <= <i64>(KC * NC) && <i64>m * nc8 >= <i64>(KC * NC);
}

/**
 * C ← α·op(A)·op(B) + β·C, where op(X) is X (trans = 0) or Xᵀ (trans ≠ 0).
 *
 * op(A) is m × k and op(B) is k × n; C is m × n. Stored row-major: A is m × k (lda ≥ k)
 * or, transposed, k × m (lda ≥ m); B is k × n (ldb ≥ n) or, transposed, n × k (ldb ≥ k);
 * C is m × n with ldc ≥ n. Any m, n, k ≥ 0. If β = 0, C is not read (NaN or garbage in C
 * does not leak into the result); if α = 0 or k = 0, A and B are not read and C ← β·C.
 * Products are summed in f32 (fused multiply-adds in the relaxed-SIMD build) in slices of
 * at most 256 terms, each slice scaled by α and added to C (the first to β·C); the
 * error of an element stays within (k + 4)·2⁻²³·(|α|·Σ|a||b| + |β·c|).
 *
 * `scratch`: 16-byte aligned, at least gemm_scratch_bytes(m, n, k) bytes, not overlapping
 * A, B or C. C must not overlap A or B.
 */
export function gemm(
  transA: i32, transB: i32, m: i32, n: i32, k: i32,
  alpha: f32, a: usize, lda: i32, b: usize, ldb: i32,
  beta: f32, c: usize, ldc: i32, scratch: usize,
): void {
  gemm_run(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, 0, ACT_IDENTITY, 0, 0, c, ldc, scratch, false, true);
}

/**
 * gemm with its whole tiles run 4 × 8 everywhere: in the relaxed-SIMD build, without the
 * row blocks of 5 × 8 tiles that gemm runs where rows5 (and, transposed, rows5_t) allow. The
 * same contract and the same results bit for bit, a different speed: SpiderMonkey (Firefox
 * 153) ran the 5 × 8 tiles 0.89–0.99× of 4 × 8 on products and 0.66–0.68× on a 64 → 64
 * convolution where V8 runs them 1.03–1.11× faster. The runtime picks the tile at init
 * (src/runtime/gemm-tile.ts). In the SIMD128 build, gemm itself.
 */
export function gemm_4x8(
  transA: i32, transB: i32, m: i32, n: i32, k: i32,
  alpha: f32, a: usize, lda: i32, b: usize, ldb: i32,
  beta: f32, c: usize, ldc: i32, scratch: usize,
): void {
  gemm_run(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, 0, ACT_IDENTITY, 0, 0, c, ldc, scratch, false, false);
}

/**
 * gemm with its whole tiles run 4 × 16 (gemm_rows_4x16_full) instead of 4 × 8: the same
 * contract and the same results bit for bit, a different speed. Meant for engines that keep
 * sixteen accumulators in registers (arm64) on CPUs with four multiply-add pipes; slower on
 * x64, where V8 spills them (see the header). The runtime picks one of gemm, gemm_4x8 and
 * gemm_wide at init (src/runtime/gemm-tile.ts).
 */
export function gemm_wide(
  transA: i32, transB: i32, m: i32, n: i32, k: i32,
  alpha: f32, a: usize, lda: i32, b: usize, ldb: i32,
  beta: f32, c: usize, ldc: i32, scratch: usize,
): void {
  gemm_run(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, 0, ACT_IDENTITY, 0, 0, c, ldc, scratch, true, false);
}

/**
 * The linear layer in one pass: Z = op(A)·op(B) + bias, C ← act(Z), with the bias added
 * while each output tile is still in registers, and the activation too (the transcendental
 * ones over each block of rows just stored, see act_deferred).
 *
 * Shapes, layouts and `scratch` as for gemm (α = 1, β = 0: C is not read). `bias` points
 * at n floats added to every row (0: no bias). `act` is an activation code of
 * assembly/vmath.ts (ACT_*) with its parameter `p` (step threshold, leaky-ReLU slope;
 * ignored by the others). If `z` ≠ 0, the pre-activation Z is also stored there, laid out
 * like C (same ldc); with act = ACT_GELU | ACT_SLOPE_FLAG, z receives the slope f′(Z)
 * instead, formed with the activation (gelu_forward_slope), so a backward is one multiply
 * (any other code with the flag traps). k = 0 gives C = act(bias) (or act(0)). Z must not
 * overlap A, B or C.
 */
export function gemm_bias_act(
  transA: i32, transB: i32, m: i32, n: i32, k: i32,
  a: usize, lda: i32, b: usize, ldb: i32,
  bias: usize, act: i32, p: f32, z: usize,
  c: usize, ldc: i32, scratch: usize,
): void {
  gemm_run(transA, transB, m, n, k, 1, a, lda, b, ldb, 0, bias, act, p, z, c, ldc, scratch, false, true);
}

/** gemm_bias_act with 4 × 8 whole tiles only, as gemm_4x8 is to gemm: the same results bit for bit. */
export function gemm_bias_act_4x8(
  transA: i32, transB: i32, m: i32, n: i32, k: i32,
  a: usize, lda: i32, b: usize, ldb: i32,
  bias: usize, act: i32, p: f32, z: usize,
  c: usize, ldc: i32, scratch: usize,
): void {
  gemm_run(transA, transB, m, n, k, 1, a, lda, b, ldb, 0, bias, act, p, z, c, ldc, scratch, false, false);
}

/** gemm_bias_act with 4 × 16 whole tiles, as gemm_wide is to gemm: the same results bit for bit. */
export function gemm_bias_act_wide(
  transA: i32, transB: i32, m: i32, n: i32, k: i32,
  a: usize, lda: i32, b: usize, ldb: i32,
  bias: usize, act: i32, p: f32, z: usize,
  c: usize, ldc: i32, scratch: usize,
): void {
  gemm_run(transA, transB, m, n, k, 1, a, lda, b, ldb, 0, bias, act, p, z, c, ldc, scratch, true, false);
}

/**
 * A ← α·u·vᵀ (accumulate = 0) or A ← α·u·vᵀ + A (accumulate ≠ 0): the weight gradient of
 * one example. u has m floats, v has n, A is m × n with leading dimension lda ≥ n.
 * Element (i, j) is (α·u[i])·v[j], then added to A[i][j] (two roundings in both builds).
 * With accumulate = 0, A is not read.
 */
export function outer(m: i32, n: i32, alpha: f32, u: usize, v: usize, a: usize, lda: i32, accumulate: i32): void {
  if (m <= 0 || n <= 0) return;
  const ld = <usize>lda << 2;
  for (let i = 0; i < m; i++) {
    const s = alpha * load<f32>(u + (<usize>i << 2));
    const vs = f32x4.splat(s);
    const row = a + <usize>i * ld;
    let j = 0;
    if (accumulate) {
      for (; j + 8 <= n; j += 8) {
        const o = row + (<usize>j << 2);
        const w = v + (<usize>j << 2);
        v128.store(o, f32x4.add(v128.load(o), f32x4.mul(vs, v128.load(w))));
        v128.store(o, f32x4.add(v128.load(o, 16), f32x4.mul(vs, v128.load(w, 16))), 16);
      }
      for (; j + 4 <= n; j += 4) {
        const o = row + (<usize>j << 2);
        v128.store(o, f32x4.add(v128.load(o), f32x4.mul(vs, v128.load(v + (<usize>j << 2)))));
      }
      for (; j < n; j++) {
        const o = row + (<usize>j << 2);
        store<f32>(o, load<f32>(o) + s * load<f32>(v + (<usize>j << 2)));
      }
    } else {
      for (; j + 8 <= n; j += 8) {
        const o = row + (<usize>j << 2);
        const w = v + (<usize>j << 2);
        v128.store(o, f32x4.mul(vs, v128.load(w)));
        v128.store(o, f32x4.mul(vs, v128.load(w, 16)), 16);
      }
      for (; j + 4 <= n; j += 4) {
        v128.store(row + (<usize>j << 2), f32x4.mul(vs, v128.load(v + (<usize>j << 2))));
      }
      for (; j < n; j++) {
        store<f32>(row + (<usize>j << 2), s * load<f32>(v + (<usize>j << 2)));
      }
    }
  }
}

/**
 * Whether activation `act` is applied after the tiles rather than in their ending: the
 * transcendental ones (σ, tanh, swish, both GeLUs). In the ending, act_v costs an
 * out-of-line call (and the calls inside it) per vector of four values: a 1024×256×64
 * product with exact GeLU ran at 11 GFLOPS, 28% of the peak, two thirds of its time in
 * the activation. Their kernels' own loops (act_forward: several vectors in flight, the
 * math inlined) over the rows just stored, still in L1, give the same values bit for bit
 * (the same operations; test/gemm.test.ts checks it) at a fraction of the cost. The
 * piecewise-linear ones are a compare and a select and stay in the ending.
 */
// @ts-ignore: decorator
@inline export function act_deferred(act: i32): bool {
  return act == ACT_SIGMOID || act == ACT_TANH || act == ACT_SWISH || act == ACT_GELU || act == ACT_GELU_TANH;
}

/**
 * C ← act(C) over `rows` rows of `cols` values (row stride ldc floats); nothing for IDENTITY.
 * With d ≠ 0 (GELU only: ACT_SLOPE_FLAG), D ← the slope f′ at C's values, laid out like C.
 */
export function act_rows(act: i32, p: f32, c: usize, ldc: i32, rows: i32, cols: i32, d: usize): void {
  if (act == ACT_IDENTITY) return;
  const ld = <usize>ldc << 2;
  const n = ldc == cols ? rows * cols : cols;
  const runs = ldc == cols ? 1 : rows;
  for (let r = 0; r < runs; r++) {
    const o = <usize>r * ld;
    if (d != 0) gelu_forward_slope(c + o, c + o, d + o, n);
    else act_forward(act, c + o, c + o, n, p);
  }
}

/**
 * Whether a one-row A·B runs gemv_rows_seq (B's rows read in order) rather than gemv_rows
 * (32 columns at a time, their sums in registers): from 64 columns, 16 rows and 2^19 floats
 * of B (2 MiB, this machine's L2), where B comes from memory and gemv_rows's walk down
 * 128-byte strips of its rows (a new page a row from 1024 floats a row) costs most. Paired,
 * SIMD128 (`node bench/engines-ab.mjs --kernels="gemm 1×512×1024,…" --n=1048576`, m×n×k;
 * Node 20 / Node 24 / Deno / Chromium): 1×512×1024 1.25 / 1.11 / 1.28 / 1.13×, 1×2048×512
 * 1.25 / 1.13 / 1.38 / 1.11×, 1×1024×1024 1.22 / 1.08 / 1.31 / 1.10× (Bun 1.10×); relaxed
 * under Node 20 (`bench/gemm-ab.mjs --build=relaxed`) 1.20–1.42× at 1×1024×1024 and
 * 1×4096×512 (m×k×n). With B in L2 Node 20 gains too (1×512×512 1.28×, 1×784×256 1.31×) but
 * Node 24 and Chromium lose (0.93×, 0.97×; 1×256×784 0.89×), so smaller B keeps gemv_rows.
 */
// @ts-ignore: decorator
@inline function gemv_seq(n: i32, k: i32): bool {
  return n >= 64 && k >= 16 && <i64>n * <i64>k >= BIG_B_FLOATS;
}

/** Floats of op(B) (k × n) from which B is taken to come from memory, not cache: 2 MiB. */
const BIG_B_FLOATS: i64 = 1 << 19;

/** The most rows gemm_rows_seq takes (four at a time; see there). */
const SEQ_MAX_M: i32 = 12;

/**
 * Whether gemm_run takes a product's slices through gemm_rows_seq (see there): op(B) = B,
 * at least 64 columns and 16 steps, and 2–4 rows where B is packed (not read in place: its
 * rows far apart) or comes from memory (BIG_B_FLOATS), or 5–12 rows where B is packed.
 * Measured in gemm_rows_seq's comment.
 */
// @ts-ignore: decorator
@inline function rows_seq(transB: i32, m: i32, n: i32, k: i32, direct: bool): bool {
  return !transB && m >= 2 && n >= 64 && k >= 16 && (
    (m <= MR && (!direct || <i64>n * <i64>k >= BIG_B_FLOATS)) || (m <= SEQ_MAX_M && !direct)
  );
}

/**
 * One depth slice (kc steps) of a product of 2–12 rows over nc columns whose op(B) = B is
 * packed or comes from memory (rows_seq), four rows at a time: B's rows are read front to
 * back, two at a time (four for a last two rows), while the rows' sums wait in `sums`
 * (scratch, 4 rows of ⌈nc⌉₈ floats); then every 8 columns end as a tile ends them
 * (epilogue_row_8, with β, bias, Z, activation as given for the slice). Each sum takes the
 * tile's fmadd steps in the tile's order from zero, so the results are the bits the tiles
 * give (a thread's part of a larger product included). Row r of op(A), step q, at
 * a + r·ars + q·aps; row q of B at b + q·ldb (bytes).
 * The tiles read such a B a panel of 8–32 columns at a time down all kc rows, a new page a
 * row where rows are 4 KiB apart, and, with 2–4 rows, use each B vector only 2–4 times: they
 * spent most of their time packing. Here B streams in order and each vector serves every
 * row; the sums (at most 4 × 512 floats) stay in L1. Paired against the tiles
 * (bench/gemm-ab.mjs, m×k×n, 2026-12-06), SIMD128: 2×1024×1024 1.92–2.20×, 3×1024×1024
 * 1.56×, 4×1024×1024 1.58×, 4×768×768 1.26×, 2×784×4096 2.16×, 4×256×1024 1.42×,
 * 4×32×1024 1.38× (B packed, rows 4 KiB apart, in cache); relaxed 2.0–2.07×, 1.64–1.67×,
 * 1.46–1.64×, 4×256×1024 1.62–1.69×, 3×768×768 1.14–1.18×; Node 24, Deno, Bun, Chromium
 * (bench/engines-ab.mjs, m×n×k) 1.85–1.99× at 2×1024×1024, 1.44–1.55× at 4×1024×1024,
 * 1.30–1.42× at 4×1024×256. Not taken where the tiles read B in place and it is under 2 MiB
 * (rows_seq): 4 rows there 0.83–0.92× (4×512×512, 4×784×256), 3×256×784 0.94×, two rows
 * 1.23–1.47× under Node 20 but 0.95× under Node 24 and Chromium (2×512×512).
 * Five to twelve rows, four at a time (B's slice read again per group, from L2), where B is
 * packed: 5×1024×1024 1.45× (relaxed 1.49×), 8×1024×1024 1.20–1.23× (1.34×), 10×1000×1000
 * 1.17× (1.24×), 12×1024×1024 1.11–1.12× (1.21×), 8×256×1024 1.14× (1.29×), 12×784×784
 * 1.04×, 8×600×600 1.03×; 13 rows level (0.99×) and 16 rows level (1.00×), so not taken
 * there; with B read in place (relaxed, up to 16 rows 800 floats apart) 12×784×784 read
 * 0.92×, so not taken there either.
 */
function gemm_rows_seq(
  kc: i32, m: i32, a: usize, ars: usize, aps: usize, b: usize, ldb: usize, nc: i32, c: usize, ldc: i32,
  alpha: f32, beta: f32, bias: usize, act: i32, p: f32, z: usize, tile: usize, sums: usize,
): void {
  const row = <usize>round_up(nc, NR) << 2;
  const ldcb = <usize>ldc << 2;
  for (let i = 0; i < m; i += MR) {
    const mr = min<i32>(MR, m - i);
    const ai = a + <usize>i * ars;
    const ci = c + <usize>i * ldcb;
    const zi = z != 0 ? z + <usize>i * ldcb : 0;
    memory.fill(sums, 0, row * 4);
    if (mr <= 2) seq_rows2(kc, ai, mr == 2 ? ars : 0, aps, b, ldb, nc, sums, row);
    else seq_rows4(kc, ai, ars, mr == 4 ? 3 * ars : 2 * ars, aps, b, ldb, nc, sums, row);
    for (let g = 0; g < nc; g += NR) {
      const o = <usize>g << 2;
      seq_finish(sums + o, row, mr, min<i32>(NR, nc - g), ci + o, ldc, alpha, beta, bias != 0 ? bias + o : 0, act, p, zi != 0 ? zi + o : 0, tile);
    }
  }
}

/**
 * gemm_rows_seq's ending of 8 columns, or of the last 1–7 (nr), for mr rows (sums of row r
 * at s + r·row): each row as a tile ends it (epilogue_row_8, whose rounding every tile
 * ending shares); a part group staged in `tile` (C, Z and bias), ended there, copied out.
 */
function seq_finish(
  s: usize, row: usize, mr: i32, nr: i32, c: usize, ldc: i32,
  alpha: f32, beta: f32, bias: usize, act: i32, p: f32, z: usize, tile: usize,
): void {
  const ld = <usize>ldc << 2;
  if (nr == NR) {
    for (let r = 0; r < mr; r++) {
      const o = <usize>r * ld;
      const so = s + <usize>r * row;
      epilogue_row_8(c + o, z != 0 ? z + o : 0, v128.load(so), v128.load(so, 16), alpha, beta, bias, act, p);
    }
    return;
  }
  const tc = tile;
  const tz = tile + 32;
  const tb = tile + 64;
  let tbias: usize = 0;
  if (bias != 0) {
    v128.store(tb, f32x4.splat(0));
    v128.store(tb, f32x4.splat(0), 16);
    for (let j = 0; j < nr; j++) store<f32>(tb + (<usize>j << 2), load<f32>(bias + (<usize>j << 2)));
    tbias = tb;
  }
  for (let r = 0; r < mr; r++) {
    const o = <usize>r * ld;
    const so = s + <usize>r * row;
    if (beta != 0) for (let j = 0; j < nr; j++) store<f32>(tc + (<usize>j << 2), load<f32>(c + o + (<usize>j << 2)));
    epilogue_row_8(tc, z != 0 ? tz : 0, v128.load(so), v128.load(so, 16), alpha, beta, tbias, act, p);
    for (let j = 0; j < nr; j++) {
      store<f32>(c + o + (<usize>j << 2), load<f32>(tc + (<usize>j << 2)));
      if (z != 0) store<f32>(z + o + (<usize>j << 2), load<f32>(tz + (<usize>j << 2)));
    }
  }
}

/**
 * B's last nc & 3 columns of the row at r as a vector, the lanes past them zero (the row may
 * end at the end of memory, so nothing past it is read).
 */
// @ts-ignore: decorator
@inline function seq_tail(r: usize, left: i32): v128 {
  let v = f32x4.splat(0);
  v = f32x4.replace_lane(v, 0, load<f32>(r));
  if (left > 1) v = f32x4.replace_lane(v, 1, load<f32>(r, 4));
  if (left > 2) v = f32x4.replace_lane(v, 2, load<f32>(r, 8));
  return v;
}

/** s ← fmadd(x, b, s) at byte o of a row of gemm_rows_seq's sums: one step. */
// @ts-ignore: decorator
@inline function seq_add(s: usize, o: usize, x: v128, b: v128): void {
  v128.store(s + o, fmadd(x, b, v128.load(s + o)));
}

/** seq_add for two steps in order. */
// @ts-ignore: decorator
@inline function seq_add2(s: usize, o: usize, x0: v128, b0: v128, x1: v128, b1: v128): void {
  v128.store(s + o, fmadd(x1, b1, fmadd(x0, b0, v128.load(s + o))));
}

/** seq_add for four steps in order. */
// @ts-ignore: decorator
@inline function seq_add4(s: usize, o: usize, x0: v128, b0: v128, x1: v128, b1: v128, x2: v128, b2: v128, x3: v128, b3: v128): void {
  v128.store(s + o, fmadd(x3, b3, fmadd(x2, b2, fmadd(x1, b1, fmadd(x0, b0, v128.load(s + o))))));
}

/** gemm_rows_seq's sums of four rows (row 3 at a + a3 bytes): two B rows a pass. */
function seq_rows4(kc: i32, a: usize, ars: usize, a3: usize, aps: usize, b: usize, ldb: usize, nc: i32, sums: usize, row: usize): void {
  const wb = <usize>(nc & ~3) << 2;
  const left = nc & 3;
  const s1 = sums + row, s2 = s1 + row, s3 = s2 + row;
  let q = 0;
  for (; q + 2 <= kc; q += 2) {
    const ap = a + <usize>q * aps;
    const x00 = v128.load32_splat(ap), x01 = v128.load32_splat(ap + aps);
    const x10 = v128.load32_splat(ap + ars), x11 = v128.load32_splat(ap + ars + aps);
    const x20 = v128.load32_splat(ap + 2 * ars), x21 = v128.load32_splat(ap + 2 * ars + aps);
    const x30 = v128.load32_splat(ap + a3), x31 = v128.load32_splat(ap + a3 + aps);
    const r0 = b + <usize>q * ldb;
    const r1 = r0 + ldb;
    for (let o: usize = 0; o < wb; o += 16) {
      const b0 = v128.load(r0 + o);
      const b1 = v128.load(r1 + o);
      seq_add2(sums, o, x00, b0, x01, b1);
      seq_add2(s1, o, x10, b0, x11, b1);
      seq_add2(s2, o, x20, b0, x21, b1);
      seq_add2(s3, o, x30, b0, x31, b1);
    }
    if (left != 0) {
      const b0 = seq_tail(r0 + wb, left);
      const b1 = seq_tail(r1 + wb, left);
      seq_add2(sums, wb, x00, b0, x01, b1);
      seq_add2(s1, wb, x10, b0, x11, b1);
      seq_add2(s2, wb, x20, b0, x21, b1);
      seq_add2(s3, wb, x30, b0, x31, b1);
    }
  }
  if (q < kc) {
    const ap = a + <usize>q * aps;
    const x0 = v128.load32_splat(ap), x1 = v128.load32_splat(ap + ars);
    const x2 = v128.load32_splat(ap + 2 * ars), x3 = v128.load32_splat(ap + a3);
    const r0 = b + <usize>q * ldb;
    for (let o: usize = 0; o < wb; o += 16) {
      const b0 = v128.load(r0 + o);
      seq_add(sums, o, x0, b0);
      seq_add(s1, o, x1, b0);
      seq_add(s2, o, x2, b0);
      seq_add(s3, o, x3, b0);
    }
    if (left != 0) {
      const b0 = seq_tail(r0 + wb, left);
      seq_add(sums, wb, x0, b0);
      seq_add(s1, wb, x1, b0);
      seq_add(s2, wb, x2, b0);
      seq_add(s3, wb, x3, b0);
    }
  }
}

/** gemm_rows_seq's sums of two rows: four B rows a pass. */
function seq_rows2(kc: i32, a: usize, ars: usize, aps: usize, b: usize, ldb: usize, nc: i32, sums: usize, row: usize): void {
  const wb = <usize>(nc & ~3) << 2;
  const left = nc & 3;
  const s1 = sums + row;
  let q = 0;
  for (; q + 4 <= kc; q += 4) {
    const ap = a + <usize>q * aps;
    const x00 = v128.load32_splat(ap), x01 = v128.load32_splat(ap + aps);
    const x02 = v128.load32_splat(ap + 2 * aps), x03 = v128.load32_splat(ap + 3 * aps);
    const x10 = v128.load32_splat(ap + ars), x11 = v128.load32_splat(ap + ars + aps);
    const x12 = v128.load32_splat(ap + ars + 2 * aps), x13 = v128.load32_splat(ap + ars + 3 * aps);
    const r0 = b + <usize>q * ldb;
    const r1 = r0 + ldb, r2 = r1 + ldb, r3 = r2 + ldb;
    for (let o: usize = 0; o < wb; o += 16) {
      const b0 = v128.load(r0 + o), b1 = v128.load(r1 + o), b2 = v128.load(r2 + o), b3 = v128.load(r3 + o);
      seq_add4(sums, o, x00, b0, x01, b1, x02, b2, x03, b3);
      seq_add4(s1, o, x10, b0, x11, b1, x12, b2, x13, b3);
    }
    if (left != 0) {
      const b0 = seq_tail(r0 + wb, left), b1 = seq_tail(r1 + wb, left), b2 = seq_tail(r2 + wb, left), b3 = seq_tail(r3 + wb, left);
      seq_add4(sums, wb, x00, b0, x01, b1, x02, b2, x03, b3);
      seq_add4(s1, wb, x10, b0, x11, b1, x12, b2, x13, b3);
    }
  }
  for (; q < kc; q++) {
    const ap = a + <usize>q * aps;
    const x0 = v128.load32_splat(ap), x1 = v128.load32_splat(ap + ars);
    const r0 = b + <usize>q * ldb;
    for (let o: usize = 0; o < wb; o += 16) {
      const b0 = v128.load(r0 + o);
      seq_add(sums, o, x0, b0);
      seq_add(s1, o, x1, b0);
    }
    if (left != 0) {
      const b0 = seq_tail(r0 + wb, left);
      seq_add(sums, wb, x0, b0);
      seq_add(s1, wb, x1, b0);
    }
  }
}

/**
 * The driver behind gemm and gemm_bias_act:
 * C ← act(α·op(A)·op(B) + β·C + bias), Z ← the value before act (if z ≠ 0).
 * Matrix-vector shapes go to gemv_rows / gemv_dots; everything else through the packed
 * loops, where the first depth slice applies β (β = 0: C not read), later slices add into
 * C, and the last slice adds the bias, stores Z and applies the activation.
 */
function gemm_run(
  transA: i32, transB: i32, m: i32, n: i32, k: i32,
  alpha: f32, a: usize, lda: i32, b: usize, ldb: i32,
  beta: f32, bias: usize, act: i32, p: f32, z: usize,
  c: usize, ldc: i32, scratch: usize, wide: bool, five: bool,
): void {
  if (m <= 0 || n <= 0) return;
  if (k < 0 || alpha == 0) k = 0;
  // A transcendental activation is applied after the tiles, by its own kernel's loop over
  // rows just stored (act_rows), not per vector in the tile ending (see act_deferred). With
  // ACT_SLOPE_FLAG (GELU only) that pass also stores the slope into Z (zs), and the tiles
  // store no pre-activation.
  let zs: usize = 0;
  if (act & ACT_SLOPE_FLAG) {
    act &= ~ACT_SLOPE_FLAG;
    if (act != ACT_GELU) unreachable();
    zs = z;
    z = 0;
  }
  const late = act_deferred(act) ? act : ACT_IDENTITY;
  if (late != ACT_IDENTITY) act = ACT_IDENTITY;
  if (k > 0 && (m == 1 || n == 1)) {
    // Matrix-vector products: no packing, no padding to whole tiles (the tile buffer is
    // the only scratch used).
    const tile = scratch;
    const ldcb = <usize>ldc << 2;
    if (n == 1 && !transA && (transB || ldb == 1)) {
      // C[i][0] = α·(row i of A)·(column 0 of op(B), contiguous)
      gemv_dots(m, k, alpha, a, <usize>lda << 2, b, beta, c, ldcb, bias, 0, act, p, z, tile);
      act_rows(late, p, c, ldc, m, 1, zs);
      return;
    }
    if (m == 1 && !transB) {
      // C[0][j] = α·Σ_p op(A)[0][p]·B[p][j]
      // gemv_rows_seq's sums go past the tile buffer: gemm_scratch_bytes counts kc·nc ≥ 16·nc
      // floats there (k ≥ 16), nc ≥ one pass's columns rounded up to 8.
      if (gemv_seq(n, k)) gemv_rows_seq(n, k, alpha, a, transA ? <usize>lda << 2 : 4, b, <usize>ldb << 2, beta, c, bias, act, p, z, tile, tile + (TILE_FLOATS << 2));
      else gemv_rows(n, k, alpha, a, transA ? <usize>lda << 2 : 4, b, <usize>ldb << 2, beta, c, 4, bias, 4, act, p, z, tile);
      act_rows(late, p, c, ldc, 1, n, zs);
      return;
    }
    if (m == 1 && (!transA || lda == 1)) {
      // C[0][j] = α·(row j of B)·(row 0 of op(A), contiguous)
      gemv_dots(n, k, alpha, b, <usize>ldb << 2, a, beta, c, 4, bias, 4, act, p, z, tile);
      act_rows(late, p, c, ldc, 1, n, zs);
      return;
    }
    if (n == 1 && transA) {
      // C[i][0] = α·Σ_p A[p][i]·op(B)[p][0]
      gemv_rows(m, k, alpha, b, transB ? 4 : <usize>ldb << 2, a, <usize>lda << 2, beta, c, ldcb, bias, 0, act, p, z, tile);
      act_rows(late, p, c, ldc, m, 1, zs);
      return;
    }
  }
  if (n <= NARROW_MAX_N) {
    // One or two column tiles: op(B) packed, op(A) read in place (same sums, see gemm-narrow.ts).
    gemm_narrow(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, bias, act, p, z, c, ldc, scratch);
    act_rows(late, p, c, ldc, m, n, zs);
    return;
  }
  if (k <= SHALLOW_MAX_K && k > 0 && bias == 0 && act == ACT_IDENTITY && z == 0) {
    // A few depth steps per tile: the same loops with a plain tile ending (gemm-narrow.ts).
    gemm_shallow(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, scratch);
    act_rows(late, p, c, ldc, m, n, zs);
    return;
  }
  if ((n <= SWAP_MAX_N && m >= 2 * n && (n & (NR - 1)) != 0 && !transA) || small_batch_nt(transA, transB, m, n)) {
    // Few columns ending in a part tile, many rows: Cᵀ = op(B)ᵀ·op(A)ᵀ, whose tiles are
    // whole along m (see SWAP_MAX_N); or a small batch times Bᵀ (see small_batch_nt).
    gemm_run_t(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, bias, act, p, z, late, zs, c, ldc, scratch, five);
    return;
  }
  if (deep_b(transA, m, n, k)) {
    gemm_run_deep(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, bias, act, p, z, late, zs, c, ldc, scratch, wide, five);
    return;
  }
  // Scratch layout, as counted by gemm_scratch_bytes: [A block][B panel][tile].
  const kcMax = min<i32>(k, KC);
  const mcMax = min<i32>(round_up(m, MR), MC);
  const ncMax = min<i32>(round_up(n, NR), NC);
  const apack = scratch;
  const bpack = apack + a_block_bytes(mcMax, kcMax);
  const tile = bpack + (<usize>(kcMax * ncMax) << 2);
  const ldcb = <usize>ldc << 2;
  // Bytes between two rows (ars) and two depth steps (aps) of op(A).
  const ars: usize = transA ? 4 : <usize>lda << 2;
  const aps: usize = transA ? <usize>lda << 2 : 4;
  // Row blocks of MC5 rows of 5 × 8 tiles where rows5 allows (the relaxed-SIMD build), a
  // last part block by the 4 × 8 tiles; else of MC rows.
  const rows5x8 = rows5(n, act, z, wide, five);
  const blockRows = rows5x8 ? MC5 : MC;
  const grouped = rows5x8 && transA && aps >= A_LINES_MIN_STRIDE && (n & (NR - 1)) == 0;

  for (let jc = 0; jc < n; jc += NC) {                    // loop 5: column panels
    const nc = min<i32>(NC, n - jc);
    let pc = 0;
    do {                                                  // loop 4: depth slices (once if k = 0)
      const kc = min<i32>(KC, k - pc);
      const first = pc == 0;
      const last = pc + kc >= k;
      const sliceBeta: f32 = first ? beta : 1;
      const sliceBias: usize = last && bias != 0 ? bias + (<usize>jc << 2) : 0;
      const sliceAct = last ? act : ACT_IDENTITY;
      const sliceZ: usize = last ? z : 0;
      // op(B) read in place or packed (b_in_place). Micro-panel q starts at bbase + q·bpanel,
      // its depth steps bstep bytes apart. In place, only the whole 8-column panels are read
      // there (the first `inPlace` columns); a last part panel is packed at bpack and run as a
      // panel of its own.
      const direct = b_in_place(transB, nc, kc, ldb, m);
      const inPlace = direct ? nc & ~(NR - 1) : 0;
      // One micro-panel of rows (m ≤ 4) reads each packed panel of B once: packing the whole
      // slice first left it in L2 for the tiles to stream back (24–25 GFLOPS at 4×512×512
      // A·Bᵀ against A·B's 43 in place; skipping the packing altogether gained nothing, the
      // reads were the cost). So B is packed a panel at a time (two where the last micro-panel
      // has one or two rows, for its 2 × 16 tiles, and for 4 × 16 tiles), just before its
      // tiles read it from L1. Paired against the whole slice first (bench/gemm-ab.mjs,
      // 2026-12-06): A·Bᵀ 4×512×512 1.27× (relaxed 1.37×), 4×256×784 1.25×, 3×256×784 1.26×
      // (1.31×), 2×512×512 1.34× (1.35×), 4×1000×1000 1.16× (1.18×), 2×1024×1024 1.29×; A·B
      // with B packed (rows over 800 floats apart) 1.05–1.08×; Node 24, Deno, Bun, Chromium
      // (bench/engines-ab.mjs) 1.09–1.22× at 4×512×512 (Bun 1.04×), 1.12–1.29× at 2×512×512
      // (Bun 1.05×). One panel a pass at 3–4 rows ran 1.03–1.12× over two; four 0.85–0.96×.
      // Up to MC = 16 rows too (one row block, whose few micro-panels then share each panel
      // from L1; A·Bᵀ at 8 and 16 rows runs transposed, see small_batch_nt): A·Bᵀ at 5–15
      // rows ×256×784 and ×512×512 1.07–1.20× (relaxed 1.11–1.24×), beside a cache thrasher
      // 1.11–1.25×; Node 24, Deno, Bun, Chromium 1.14×, 1.05×, 0.99×, 1.14× at 6×784×256
      // and 1.08×, 1.03×, 0.99×, 1.08× at 12×784×256 (m×n×k). A·B and Aᵀ·B where B is
      // packed (5–16 rows 600–1000 floats apart) 1.00–1.10× (relaxed 1.00–1.05×), in the four
      // engines 1.01–1.08×. One panel a pass lost at 6 rows (0.83–0.91×, A·B 0.88×): the
      // 2 × 16 tiles of its last micro-panel need two.
      // Where B comes from memory rather than cache (B = op(B) of at least 2^19 floats, 2 MiB,
      // this machine's L2), four panels a pass (since measured so, 2–12 rows of A·B take
      // gemm_rows_seq above instead, 1.1–2.2× these; 13–16 rows and A·Bᵀ still come here): each row's 128 bytes (two lines) at once, not
      // a 32- or 64-byte piece of every row a pass, a new page a row at such widths. Paired
      // (bench/gemm-ab.mjs, m×k×n, A·B): 3×1024×1024 1.20×, 4×1024×1024 1.21×, 4×512×2048
      // 1.18×, 8×1024×1024 1.06×, 16×1024×1024 1.09×, 2×1024×1024 0.99× (Node 24, Deno, Bun,
      // Chromium by bench/engines-ab.mjs: 1.19–1.24× at 3–4 rows, 1.08–1.09× at 16, 32 rows
      // and 4×768×768 (not this path) level; relaxed 1.11–1.24×); eight panels a pass
      // 0.92–0.99× against four; the whole slice packed first with B's rows read in order,
      // its tiles then reading it from L2, 0.65× at 2 rows, 0.88–0.99× at 4–256.
      if (rows_seq(transB, m, n, k, direct)) {
        // 2–12 rows through a packed or large B: B's rows read in order (gemm_rows_seq).
        const off = <usize>jc << 2;
        gemm_rows_seq(
          kc, m, a + <usize>pc * aps, ars, aps, b + <usize>pc * (<usize>ldb << 2) + off, <usize>ldb << 2, nc, c + off, ldc,
          alpha, sliceBeta, sliceBias, sliceAct, p, sliceZ != 0 ? sliceZ + off : 0, tile, bpack,
        );
        if (last) act_rows(late, p, c + off, ldc, m, nc, zs != 0 ? zs + off : 0);
        pc += kc;
        continue;
      }
      const perPanel = !direct && m <= MC;
      if (perPanel) {
        const off = <usize>jc << 2;
        const step = !transB && <i64>n * <i64>k >= BIG_B_FLOATS ? 4 * NR : (m & 3) == 1 || (m & 3) == 2 || wide ? 2 * NR : NR;
        for (let q = 0; q < nc; q += step) {
          const cols = min<i32>(step, nc - q);
          pack_b(transB, b, ldb, pc, jc + q, kc, cols, bpack);
          const col = off + (<usize>q << 2);
          gemm_panel_rows(
            kc, apack, m, bpack, 32, <usize>kc * 32, cols, c + col, ldc,
            alpha, sliceBeta, sliceBias != 0 ? sliceBias + (<usize>q << 2) : 0, sliceAct, p, sliceZ != 0 ? sliceZ + col : 0, tile,
            q == 0 ? a + <usize>pc * aps : 0, ars, aps, wide,
          );
        }
        if (last) act_rows(late, p, c + off, ldc, m, nc, zs != 0 ? zs + off : 0);
        pc += kc;
        continue;
      }
      if (inPlace < nc) pack_b(transB, b, ldb, pc, jc + inPlace, kc, nc - inPlace, bpack);
      const bbase: usize = direct ? b + <usize>pc * (<usize>ldb << 2) + (<usize>jc << 2) : bpack;
      const bstep: usize = direct ? <usize>ldb << 2 : 32;
      const bpanel: usize = direct ? 32 : <usize>kc * 32;
      for (let ic = 0; ic < m; ic += blockRows) {         // loop 3: row blocks
        const mc = min<i32>(blockRows, m - ic);
        const off = <usize>ic * ldcb + (<usize>jc << 2);
        let asrc = a + <usize>ic * ars + <usize>pc * aps;
        if (mc == MC5 && rows5x8) {
          // 5 × 8 tiles over op(A) packed compact (see rows5) on the whole micro-panels of B.
          // With op(A) = Aᵀ and its depth steps far apart, three blocks are packed at once
          // (pack_a_rows5_x3), the first of them packing for all three.
          let at = rows5_at(apack);
          const j = grouped ? (ic / MC5) % 3 : 0;
          if (grouped && m - (ic - j * MC5) >= 3 * MC5) {
            if (j == 0) pack_a_rows5_x3(asrc, aps, kc, at);
            at += <usize>j * (<usize>kc << 6);
          } else {
            pack_a_rows5(asrc, ars, aps, kc, at);
          }
          const wholeCols = nc & ~(NR - 1);
          gemm_rows_5x8(kc, at, bbase, bstep, bpanel, wholeCols, c + off, ldc, alpha, sliceBeta, sliceBias, sliceAct, p);
          if (wholeCols < nc) {
            // A last part panel of B (packed at bpack where the others are read in place): the
            // 4 × 8 loops, op(A) packed for them over the compact copy (never grouped here).
            const col = <usize>wholeCols << 2;
            gemm_panel_rows(
              kc, apack, mc, direct ? bpack : bbase + <usize>(wholeCols >> 3) * bpanel, 32, <usize>kc * 32, nc - wholeCols, c + off + col, ldc,
              alpha, sliceBeta, sliceBias != 0 ? sliceBias + col : 0, sliceAct, p, 0, tile, asrc, ars, aps,
            );
          }
          if (last) act_rows(late, p, c + off, ldc, mc, nc, zs != 0 ? zs + off : 0);
          continue;
        }
        let asteps = aps;
        if (transA && mc == MC && aps >= A_LINES_MIN_STRIDE) {
          // op(A) = Aᵀ, its depth steps far apart: the block's lines of A (16 floats a step)
          // copied first, read once (see A_LINES_MIN_STRIDE), into the block's last
          // micro-panel. That one is packed last (gemm_rows_packing, pack_a_from, in order),
          // and its packing loads step p's four values before it stores step p's four
          // broadcast vectors over the same 64 bytes, storing nothing past them: every step
          // is read before it is overwritten.
          const lines = apack + a_block_bytes(MC - MR, kc);
          copy_steps(asrc, aps, kc, 64, lines);
          asrc = lines;
          asteps = 64;
        }
        // op(A)'s block is packed by loops 2 and 1 as they first read it (see gemm_panel_rows).
        gemm_panel_rows(                                  // loops 2 and 1
          kc, apack, mc, bbase, bstep, bpanel, direct ? inPlace : nc, c + off, ldc,
          alpha, sliceBeta, sliceBias, sliceAct, p, sliceZ != 0 ? sliceZ + off : 0, tile,
          asrc, ars, asteps, wide,
        );
        if (direct && inPlace < nc) {
          // The packed part panel, with the A block the call above packed.
          const col = <usize>inPlace << 2;
          gemm_panel_rows(
            kc, apack, mc, bpack, 32, <usize>kc * 32, nc - inPlace, c + off + col, ldc,
            alpha, sliceBeta, sliceBias != 0 ? sliceBias + col : 0, sliceAct, p, sliceZ != 0 ? sliceZ + off + col : 0, tile,
          );
        }
        if (last) act_rows(late, p, c + off, ldc, mc, nc, zs != 0 ? zs + off : 0);
      }
      pc += kc;
    } while (pc < k);
  }
}

/**
 * Whether a depth slice of op(B) (kc rows × nc columns) is read in place rather than packed,
 * for a product of m rows (its whole 8-column panels; a last part panel is packed): op(B) = B,
 * and either
 *   - whole panels only, small enough to stay in L1, half of a 32 KiB L1d (4096 floats of
 *     B's rows). At 8192 (all of it), B's rows, 1 KiB apart at n = 256 and read 32 bytes a
 *     step, fell into a quarter of the cache's sets alongside A and C: 256×k×256 with k from
 *     20 to 32 ran 1.13–1.20× slower than packed (bench/gemm-ab.mjs); below 4096 the copy
 *     costs more than it saves (1024: 0.98–1.00×); or
 *   - few rows (m ≤ SMALL_M_IN_PLACE: at most 16 micro-panels reread the slice, so the copy is
 *     repaid by few reads) and rows at most 2 KiB apart (ldb ≤ 512), a stride the cores' stride
 *     prefetchers follow. A small batch through a layer: paired against packing
 *     (bench/gemm-ab.mjs, 2026-12-06), 2×256×256 1.89×, 4×784×256 1.67×, 5×784×256 1.37×,
 *     8×32×256 1.28×, 16×784×256 1.16×, 32×784×256 1.08×, 64×784×256 1.03×, 64×32×256 1.03×,
 *     128×784×256 only 1.015×; with rows 4000 or 4096 bytes apart it lost even at m = 4
 *     (4×1000×1000 0.81×, 16×1000×1000 0.86×, 32×1024×1024 0.93×): each row a new page, no
 *     prefetch, B read from L3 a line at a time; or
 *   - few rows (SMALL_M_IN_PLACE_WIDE: 4 in the SIMD128 build, one micro-panel, which reads
 *     each slice once, so a copy is never repaid) and rows at most 3200 bytes apart
 *     (ldb ≤ 800: a transformer's 768, a 784-pixel image). Against packing
 *     (bench/gemm-ab.mjs, 2026-12-06): 4×768×768 1.28× (relaxed 1.49×), 4×784×784 1.14×
 *     (1.37×), 3×800×800 1.30×, 2×800×800 (relaxed) 1.91×, 4×640×640 1.60×; beside a thread
 *     streaming over 4 MiB 1.13–1.49×; Node 24, Deno, Bun and Chromium (bench/engines-ab.mjs)
 *     1.30–1.37× at 4×768×768 (Bun 1.11×), 1.15–1.17× at 4×784×784 (Bun 1.02×), 1.31–1.76×
 *     at 3×640×640. At 8 and 16 rows of 784 Bun lost (0.94–0.95×), and 4 rows 1000 or 1024
 *     floats apart lost everywhere (0.78×, 0.97×). The relaxed-SIMD build, which of the
 *     engines measured only V8's load (Bun 1.4's JavaScriptCore does not validate relaxed
 *     SIMD and runs SIMD128), takes up to 16 rows (remeasure if JavaScriptCore gains relaxed
 *     SIMD): against packing, two panels a pass where that applies, 8×784×784 1.17×,
 *     16×784×784 1.08×, 16×768×768 1.15×, 12×700×700 1.11×, 6×800×800 1.37×, 16×256×784
 *     1.15× under Node 20; Node 24, Deno, Chromium 1.16–1.18×, 1.08–1.09×, 1.13–1.16× on the
 *     first three; beside a cache thrasher 1.05–1.18×.
 */
// @ts-ignore: decorator
@inline function b_in_place(transB: i32, nc: i32, kc: i32, ldb: i32, m: i32): bool {
  return !transB && (
    ((nc & 7) == 0 && <i64>kc * <i64>ldb <= 4096) ||
    (((m <= SMALL_M_IN_PLACE && ldb <= 512) || (m <= SMALL_M_IN_PLACE_WIDE && ldb <= 800)) && nc >= NR)
  );
}

/** The most rows for which b_in_place reads a larger B in place (see there). */
const SMALL_M_IN_PLACE: i32 = 64;

/** The most rows for which b_in_place reads B in place with rows up to 800 floats apart (see there). */
const SMALL_M_IN_PLACE_WIDE: i32 = ASC_FEATURE_RELAXED_SIMD ? 16 : 4;

/**
 * gemm_run's packed loops with loop 4 (depth slices) inside loop 3 (row blocks), for products
 * that deep_b picks (n ≤ NC: one column panel): all of op(B) is packed first, slice after
 * slice (or read in place where gemm_run would), then each block of MC rows of C takes every
 * slice in turn while it stays in L1. The same slices in the same order for every element,
 * finished by the same endings: the same bits as gemm_run's order. Scratch: [A block]
 * [op(B), k × round_up(n, NR) floats][tile], as gemm_scratch_bytes counts.
 */
function gemm_run_deep(
  transA: i32, transB: i32, m: i32, n: i32, k: i32,
  alpha: f32, a: usize, lda: i32, b: usize, ldb: i32,
  beta: f32, bias: usize, act: i32, p: f32, z: usize, late: i32, zs: usize,
  c: usize, ldc: i32, scratch: usize, wide: bool, five: bool,
): void {
  const nc8 = round_up(n, NR);
  const apack = scratch;
  const bpack = apack + a_block_bytes(min<i32>(round_up(m, MR), MC), KC);
  const tile = bpack + (<usize>k * <usize>nc8 << 2);
  const ldcb = <usize>ldc << 2;
  const ars: usize = transA ? 4 : <usize>lda << 2;
  const aps: usize = transA ? <usize>lda << 2 : 4;
  // op(B)'s slices, each packed at bpack + pc·nc8 floats unless read in place (see gemm_run).
  for (let pc = 0; pc < k; pc += KC) {
    const kc = min<i32>(KC, k - pc);
    if (!((n & 7) == 0 && b_in_place(transB, n, kc, ldb, m))) {
      pack_b(transB, b, ldb, pc, 0, kc, n, bpack + (<usize>pc * <usize>nc8 << 2));
    }
  }
  const rows5x8 = rows5(n, act, z, wide, five);         // (see gemm_run)
  const blockRows = rows5x8 ? MC5 : MC;
  for (let ic = 0; ic < m; ic += blockRows) {            // loop 3: row blocks
    const mc = min<i32>(blockRows, m - ic);
    const off = <usize>ic * ldcb;
    for (let pc = 0; pc < k; pc += KC) {                 // loop 4: depth slices
      const kc = min<i32>(KC, k - pc);
      const last = pc + kc >= k;
      const direct = (n & 7) == 0 && b_in_place(transB, n, kc, ldb, m); // (whole panels: m is large here)
      const bslice = direct ? b + <usize>pc * (<usize>ldb << 2) : bpack + (<usize>pc * <usize>nc8 << 2);
      if (mc == MC5 && rows5x8) {
        const asrc = a + <usize>ic * ars + <usize>pc * aps;
        const wholeCols = n & ~(NR - 1);
        pack_a_rows5(asrc, ars, aps, kc, rows5_at(apack));
        gemm_rows_5x8(
          kc, rows5_at(apack), bslice, direct ? <usize>ldb << 2 : 32, direct ? 32 : <usize>kc * 32, wholeCols, c + off, ldc,
          alpha, pc == 0 ? beta : 1, last ? bias : 0, last ? act : ACT_IDENTITY, p,
        );
        if (wholeCols < n) {
          // A last part panel (B packed: n is not whole panels): as in gemm_run.
          const col = <usize>wholeCols << 2;
          gemm_panel_rows(
            kc, apack, mc, bslice + <usize>(wholeCols >> 3) * (<usize>kc * 32), 32, <usize>kc * 32, n - wholeCols, c + off + col, ldc,
            alpha, pc == 0 ? beta : 1, last && bias != 0 ? bias + col : 0, last ? act : ACT_IDENTITY, p, 0, tile, asrc, ars, aps,
          );
        }
        continue;
      }
      gemm_panel_rows(                                  // loops 2 and 1
        kc, apack, mc, bslice, direct ? <usize>ldb << 2 : 32, direct ? 32 : <usize>kc * 32, n, c + off, ldc,
        alpha, pc == 0 ? beta : 1, last ? bias : 0, last ? act : ACT_IDENTITY, p,
        last && z != 0 ? z + off : 0, tile,
        a + <usize>ic * ars + <usize>pc * aps, ars, aps, wide,
      );
    }
    act_rows(late, p, c + off, ldc, mc, n, zs != 0 ? zs + off : 0);
  }
}

/**
 * Widest output that runs transposed (with at least twice as many rows, op(A) = A, and n not a
 * multiple of NR): see gemm_run_t. The transposed loops were first there to spare the large
 * operand the pre-broadcast packing of A (a vector stored per element, in a pass before the
 * tiles); since the first tile of a row packs it beside its arithmetic (gemm_rows_packing),
 * the loops run as they are wherever n is whole tiles: against gemm_run_t, 4096×576×64
 * 1.02–1.04×, 4096×64×192 1.09×, 1024×64×32 1.04×, 2048×256×48 1.01–1.02×, Aᵀ·B 1.04–1.16×
 * (bench/gemm-ab.mjs, 2026-12-05). With a part tile at the end of each row (n = 17, 20, 28)
 * the transposed loops still won, 1.05–1.07× (A·B, A·Bᵀ); with op(A) = Aᵀ they lost there
 * too (0.95–0.98×).
 */
const SWAP_MAX_N: i32 = 192;

/**
 * Whether A·Bᵀ with 8 or 16 rows (a small batch, as a layer's input gradient dy·Wᵀ has) runs
 * transposed too (gemm_run_t). The usual loops pack Bᵀ, a transposing copy of all of B that
 * so few micro-panels cannot repay (B cannot be read in place as A·B's is: its columns are
 * strided); transposed, B is the operand whose rows the tiles read in place, A is the one
 * copied, and m is a whole number of the transposed tiles' 8 columns. Paired against the
 * usual loops (bench/gemm-ab.mjs, 2026-12-06, A·Bᵀ, m×k×n), Node 20: 8×784×256 1.25× (relaxed
 * 1.35×), 8×100×1000 1.24×, 16×784×256 1.10× (1.17×), 16×512×512 1.12×; 24 and 32 rows
 * 1.04–1.06× (1.08–1.11×), 64 and 128 rows level. In other engines (bench/engines-ab.mjs, the
 * 784→256 layer's dy·Wᵀ, m×n×k 8×784×256 and 16×784×256): Node 24 1.17× and 1.09×, Chromium
 * 1.14× and 1.08× (relaxed 1.35×), Bun 1.01–1.03×, but Deno (V8 15.0) 0.91× and 0.94× (relaxed
 * 0.91×); at 32 rows Deno's 0.92–0.97× outweighed the others' 1.03–1.05×, hence 16 rows at
 * most. Since then the tiles at 8 and 16 rows read B's rows themselves instead of storing
 * and rereading a packed panel (gemm_rows_t_reading): at 8 rows 1.10–1.26× more in every
 * engine, at 16 rows 1.05–1.10× more except Bun (0.97–0.98×), so Deno gains at both. With m
 * not a multiple of 8 the transposed tiles end in a part tile and lost: 2×784×256 0.67×,
 * 12×784×256 0.85×.
 */
// @ts-ignore: decorator
@inline function small_batch_nt(transA: i32, transB: i32, m: i32, n: i32): bool {
  return transB != 0 && !transA && (m & (NR - 1)) == 0 && m <= 16 && n >= 2 * m;
}

/**
 * gemm_run's packed loops for a product with few columns and more rows (n ≤ SWAP_MAX_N,
 * m ≥ 2n: a convolution's filters, a narrow layer at a large batch), run as
 * Cᵀ = op(B)ᵀ·op(A)ᵀ. The loops pre-broadcast their A operand (four times its bytes, written
 * once per row block) and reuse it across the row of column tiles: with n = 64 columns that is
 * eight tiles, and the packing is a tenth of the work (4096×576×64: 30 GFLOPS against 38 for
 * the same sizes with 4096 columns). Transposed, the small op(B) is the pre-broadcast
 * operand, packed once for up to 512 columns of Cᵀ, and op(A) is packed as the B panel
 * (a copy, not a broadcast). Tiles of Cᵀ are stored transposed (finish_tile_4x8_t).
 * Same sums bit for bit (each a·b is b·a; the depth order, the slices and the finishing
 * operations are gemm_run's), same contract and scratch.
 */
function gemm_run_t(
  transA: i32, transB: i32, m: i32, n: i32, k: i32,
  alpha: f32, a: usize, lda: i32, b: usize, ldb: i32,
  beta: f32, bias: usize, act: i32, p: f32, z: usize, late: i32, zs: usize,
  c: usize, ldc: i32, scratch: usize, five: bool,
): void {
  // The transposed problem: m' = n rows, n' = m columns; op(A') = op(B)ᵀ, op(B') = op(A)ᵀ.
  const kcMax = min<i32>(k, KC);
  const mcMax = min<i32>(round_up(n, MR), MC);
  const ncMax = min<i32>(round_up(m, NR), NC);
  const apack = scratch;
  const bpack = apack + a_block_bytes(mcMax, kcMax);
  const tile = bpack + (<usize>(kcMax * ncMax) << 2);
  const ldcb = <usize>ldc << 2;
  const tB = transA ? 0 : 1;
  // Bytes between two rows (brs) and two depth steps (bps) of op(A') = op(B)ᵀ.
  const brs: usize = transB ? <usize>ldb << 2 : 4;
  const bps: usize = transB ? 4 : <usize>ldb << 2;
  // Blocks of MC5 columns of C as 5 × 8 tiles (the relaxed build; see rows5_t), with C's rows
  // many enough for the copy to pay (not a small batch's few: small_batch_nt). Against 4 × 8
  // (bench/gemm-ab.mjs, relaxed, NN and NT, m×k×n): 512×512×100 1.04×, 1024×256×60 1.08×,
  // 400×400×150 1.09–1.10×, 4096×300×45 1.15×; 1024×256×20, 2048×128×36 not taken (level).
  const rows5x8 = rows5_t(n, act, z, five) && m >= 64;
  const blockRows = rows5x8 ? MC5 : MC;
  for (let jc = 0; jc < m; jc += NC) {                    // loop 5: panels of C's rows
    const nc = min<i32>(NC, m - jc);
    let pc = 0;
    do {                                                  // loop 4: depth slices (once if k = 0)
      const kc = min<i32>(KC, k - pc);
      const first = pc == 0;
      const last = pc + kc >= k;
      const sliceBeta: f32 = first ? beta : 1;
      const sliceBias: usize = last ? bias : 0;
      const sliceAct = last ? act : ACT_IDENTITY;
      const sliceZ: usize = last ? z : 0;
      pack_b(tB, a, lda, pc, jc, kc, nc, bpack);
      for (let ic = 0; ic < n; ic += blockRows) {         // loop 3: blocks of C's columns
        const mc = min<i32>(blockRows, n - ic);
        const col = <usize>ic << 2;
        const rowOff = <usize>jc * ldcb;
        if (mc == MC5 && rows5x8) {
          gemm_rows_5x8_t(
            kc, b + <usize>ic * brs + <usize>pc * bps, brs, bps, apack, bpack, <usize>kc * 32, nc, c + rowOff + col, ldc,
            alpha, sliceBeta, sliceBias != 0 ? sliceBias + col : 0, sliceAct, p, tile,
          );
          continue;
        }
        gemm_rows_4x8_t_from(                             // loops 2 and 1, packing op(B)ᵀ
          kc, b + <usize>ic * brs + <usize>pc * bps, brs, bps, apack, mc, bpack, <usize>kc * 32, nc, c + rowOff + col, ldc,
          alpha, sliceBeta, sliceBias != 0 ? sliceBias + col : 0, sliceAct, p,
          sliceZ != 0 ? sliceZ + rowOff + col : 0, tile,
        );
      }
      // The panel's rows are whole once its last slice is in: a transcendental activation
      // runs over them now, n contiguous values a row (see gemm_run).
      if (last) act_rows(late, p, c + <usize>jc * ldcb, ldc, nc, n, zs != 0 ? zs + <usize>jc * ldcb : 0);
      pc += kc;
    } while (pc < k);
  }
}

/**
 * Loops 2 and 1 of gemm_run_t (and of the convolution's transposed forward and filter
 * gradient, assembly/conv.ts): for each packed A micro-panel of a block of mc rows of Cᵀ (mc
 * columns of C, starting at c; bias and Z as C), a row of 4 × 8 tiles of Cᵀ (nc rows of C, 8 a
 * tile) from the packed B panel (micro-panel q at bp + q·bpanel, 32 bytes a depth step).
 * Both loops sit in this one function so that the depth loop is nested two deep: V8 (11.3)
 * unrolls it four times there, twice when only loop 1 encloses it (see gemm_rows_4x8_full).
 */
export function gemm_rows_4x8_t(
  kc: i32, apack: usize, mc: i32, bp: usize, bpanel: usize, nc: i32, c: usize, ldc: i32,
  alpha: f32, beta: f32, bias: usize, act: i32, p: f32, z: usize, tile: usize,
): void {
  const ld8 = <usize>ldc << 5;
  const apanel = <usize>kc << 6;
  for (let ir = 0; ir < mc; ir += MR) {
    const mr = min<i32>(MR, mc - ir);
    const ap = apack + <usize>(ir >> 2) * apanel;
    for (let jr = 0; jr < nc; jr += NR) {
      const nr = min<i32>(NR, nc - jr);
      const off = <usize>(jr >> 3) * ld8;
      let c0_0123 = f32x4.splat(0);
      let c0_4567 = c0_0123, c1_0123 = c0_0123, c1_4567 = c0_0123;
      let c2_0123 = c0_0123, c2_4567 = c0_0123, c3_0123 = c0_0123, c3_4567 = c0_0123;
      let b_0123: v128, b_4567: v128, a: v128;
      let aq = ap;
      let bq = bp + <usize>(jr >> 3) * bpanel;
      const end = ap + (<usize>kc << 6);
      while (aq < end) {
        b_0123 = v128.load(bq);
        b_4567 = v128.load(bq, 16);
        a = v128.load(aq);
        c0_0123 = fmadd(a, b_0123, c0_0123);
        c0_4567 = fmadd(a, b_4567, c0_4567);
        a = v128.load(aq, 16);
        c1_0123 = fmadd(a, b_0123, c1_0123);
        c1_4567 = fmadd(a, b_4567, c1_4567);
        a = v128.load(aq, 32);
        c2_0123 = fmadd(a, b_0123, c2_0123);
        c2_4567 = fmadd(a, b_4567, c2_4567);
        a = v128.load(aq, 48);
        c3_0123 = fmadd(a, b_0123, c3_0123);
        c3_4567 = fmadd(a, b_4567, c3_4567);
        bq += 32;
        aq += 64;
      }
      finish_tile_4x8_t(
        c0_0123, c0_4567, c1_0123, c1_4567, c2_0123, c2_4567, c3_0123, c3_4567,
        mr, nr, c + off, ldc, alpha, beta, bias, act, p, z != 0 ? z + off : 0, tile,
      );
    }
    c += 16;
    if (bias != 0) bias += 16;
    if (z != 0) z += 16;
  }
}

/**
 * gemm_rows_4x8_t with its A block not packed yet: op(A') read in place (row r, depth step s
 * at asrc + r·ars + s·aps), each whole micro-panel packed at apack by the first tile of its
 * row as that tile reads it (the row's other tiles then read it packed, see gemm_rows_packing),
 * the rows of a part micro-panel by pack_a's loop first. The same tiles, sums and endings.
 */
export function gemm_rows_4x8_t_from(
  kc: i32, asrc: usize, ars: usize, aps: usize, apack: usize, mc: i32, bp: usize, bpanel: usize, nc: i32, c: usize, ldc: i32,
  alpha: f32, beta: f32, bias: usize, act: i32, p: f32, z: usize, tile: usize,
): void {
  const panels = nc > 0 ? mc >> 2 : 0;
  if (panels > 0) {
    if (nc <= 2 * NR) {
      gemm_rows_t_reading(kc, asrc, ars, aps, panels, bp, min<i32>(nc, NR), c, ldc, alpha, beta, bias, act, p, z, tile);
      if (nc > NR) {
        const down = <usize>NR * (<usize>ldc << 2);
        gemm_rows_t_reading(kc, asrc, ars, aps, panels, bp + bpanel, nc - NR, c + down, ldc, alpha, beta, bias, act, p, z != 0 ? z + down : 0, tile);
      }
    } else gemm_rows_t_packing(kc, asrc, ars, aps, apack, panels, bp, nc, c, ldc, alpha, beta, bias, act, p, z, tile);
    if (nc > 2 * NR) {
      const down = <usize>NR * (<usize>ldc << 2);
      gemm_rows_4x8_t(kc, apack, panels << 2, bp + bpanel, bpanel, nc - NR, c + down, ldc, alpha, beta, bias, act, p, z != 0 ? z + down : 0, tile);
    }
  }
  const done = panels << 2;
  if (done < mc) {
    const col = <usize>done << 2;
    const ap = apack + a_block_bytes(done, kc);
    pack_a_from(asrc + <usize>done * ars, ars, aps, mc - done, kc, ap);
    gemm_rows_4x8_t(kc, ap, mc - done, bp, bpanel, nc, c + col, ldc, alpha, beta, bias != 0 ? bias + col : 0, act, p, z != 0 ? z + col : 0, tile);
  }
}

/**
 * The first tile (C's first min(8, nc) rows) of each of `panels` whole micro-panels of
 * gemm_rows_4x8_t_from, packing the micro-panel as it reads it (tile_4x8_packing, ended by
 * finish_tile_4x8_t). A function of its own for the registers of gemm_rows_4x8_t's depth loop.
 */
function gemm_rows_t_packing(
  kc: i32, asrc: usize, ars: usize, aps: usize, ap: usize, panels: i32, bp: usize, nc: i32, c: usize, ldc: i32,
  alpha: f32, beta: f32, bias: usize, act: i32, p: f32, z: usize, tile: usize,
): void {
  const nr = min<i32>(NR, nc);
  const apanel = <usize>kc << 6;
  const arows = ars << 2;
  for (let q = 0; q < panels; q++) {
    tile_4x8_packing(kc, asrc, ars, aps, ap, bp, 32, c, ldc, alpha, beta, bias, act, p, true, nr, z, tile);
    asrc += arows;
    ap += apanel;
    c += 16;
    if (bias != 0) bias += 16;
    if (z != 0) z += 16;
  }
}

/**
 * gemm_rows_t_packing without the packing, for one column of tiles (nc ≤ NR rows of C): op(A)'s
 * values go straight into the multiply-adds and are not stored: the same sums. Where a row of
 * tiles is one or two tiles long (nc ≤ 2·NR: a small batch's A·Bᵀ at 8 or 16 rows,
 * small_batch_nt), gemm_rows_4x8_t_from calls it once a column instead of storing the panel for
 * the second tile. Paired against storing (bench/gemm-ab.mjs, 2026-12-06): 8 rows (8×784×256,
 * 8×256×784, 8×100×1000) 1.085–1.088×, by bench/engines-ab.mjs Node 24 1.14×, Deno 1.25×, Bun
 * 1.12×, Chromium 1.17×; 16 rows 1.05–1.06×, Node 24 1.08×, Deno 1.07× (relaxed 1.13×),
 * Chromium 1.10× (relaxed 1.00×), Bun 0.97–0.98×. A function of its own: in the same function
 * as the storing loop, Bun ran that loop 0.95×; with both columns' tiles in one loop here, Bun
 * read 0.90× at 16 rows.
 */
function gemm_rows_t_reading(
  kc: i32, asrc: usize, ars: usize, aps: usize, panels: i32, bp: usize, nc: i32, c: usize, ldc: i32,
  alpha: f32, beta: f32, bias: usize, act: i32, p: f32, z: usize, tile: usize,
): void {
  const arows = ars << 2;
  for (let q = 0; q < panels; q++) {
    // (ap only counts the depth steps here: nothing is stored.)
    tile_4x8_packing(kc, asrc, ars, aps, 0, bp, 32, c, ldc, alpha, beta, bias, act, p, true, nc, z, tile, false);
    asrc += arows;
    c += 16;
    if (bias != 0) bias += 16;
    if (z != 0) z += 16;
  }
}

/**
 * The end of a tile of Cᵀ: row r of the tile (c{r}_0123, c{r}_4567) is column r of C over
 * 8 rows. Transposed in 4 × 4 blocks, each row of C's 4 values is finished by finish_4
 * (v = α·acc + β·C + bias, Z ← v, C ← act(v): the operations of every other tile ending),
 * the first mr ≤ 4 columns of the first nr ≤ 8 rows only.
 */
// @ts-ignore: decorator
@inline function finish_tile_4x8_t(
  c0_0123: v128, c0_4567: v128, c1_0123: v128, c1_4567: v128,
  c2_0123: v128, c2_4567: v128, c3_0123: v128, c3_4567: v128,
  mr: i32, nr: i32, c: usize, ldc: i32,
  alpha: f32, beta: f32, bias: usize, act: i32, p: f32, z: usize, tile: usize,
): void {
  const ld = <usize>ldc << 2;
  if (mr == MR && nr == NR && ending_inline(act, z)) {
    // The common full tile without Z, and without activation or with ReLU: transposed and
    // finished inline, with the operations of finish_tile_4x8's own inline path (α·acc,
    // + β·C, + bias, ReLU), one half of the sums after the other (not in a loop over both,
    // whose selects kept all eight live through the whole ending: see sums_at).
    const va = f32x4.splat(alpha);
    const vb = f32x4.splat(beta);
    const bv = bias != 0 ? v128.load(bias) : f32x4.splat(0);
    finish_half_4x4_t(c0_0123, c1_0123, c2_0123, c3_0123, c, ld, va, beta, vb, bias, bv, act, p);
    finish_half_4x4_t(c0_4567, c1_4567, c2_4567, c3_4567, c + 4 * ld, ld, va, beta, vb, bias, bv, act, p);
    return;
  }
  // The other endings call finish_4: the sums wait in memory (see sums_at).
  stash_4x8(tile, c0_0123, c0_4567, c1_0123, c1_4567, c2_0123, c2_4567, c3_0123, c3_4567);
  const sums = sums_at(tile);
  for (let h = 0; h < 2; h++) {
    const sh = sums + (<usize>h << 4);
    const x0 = v128.load(sh);
    const x1 = v128.load(sh, 32);
    const x2 = v128.load(sh, 64);
    const x3 = v128.load(sh, 96);
    const lo = i32x4.shuffle(x0, x1, 0, 4, 1, 5);
    const hi = i32x4.shuffle(x0, x1, 2, 6, 3, 7);
    const lo2 = i32x4.shuffle(x2, x3, 0, 4, 1, 5);
    const hi2 = i32x4.shuffle(x2, x3, 2, 6, 3, 7);
    const rows = min<i32>(nr - 4 * h, 4);
    for (let l = 0; l < rows; l++) {
      const t = l == 0 ? i32x4.shuffle(lo, lo2, 0, 1, 4, 5)
        : l == 1 ? i32x4.shuffle(lo, lo2, 2, 3, 6, 7)
        : l == 2 ? i32x4.shuffle(hi, hi2, 0, 1, 4, 5)
        : i32x4.shuffle(hi, hi2, 2, 3, 6, 7);
      const o = <usize>(4 * h + l) * ld;
      finish_4(t, mr, c + o, 4, z != 0 ? z + o : 0, bias, 4, alpha, beta, act, p, tile);
    }
  }
}

/**
 * Four rows of C (c, c + ld, …) from four 4-sum rows of Cᵀ (x0..x3: column r of C in x_r),
 * transposed and finished inline as in finish_tile_4x8_t's whole-tile path.
 */
// @ts-ignore: decorator
@inline function finish_half_4x4_t(
  x0: v128, x1: v128, x2: v128, x3: v128, c: usize, ld: usize,
  va: v128, beta: f32, vb: v128, bias: usize, bv: v128, act: i32, p: f32,
): void {
  const lo = i32x4.shuffle(x0, x1, 0, 4, 1, 5);
  const hi = i32x4.shuffle(x0, x1, 2, 6, 3, 7);
  const lo2 = i32x4.shuffle(x2, x3, 0, 4, 1, 5);
  const hi2 = i32x4.shuffle(x2, x3, 2, 6, 3, 7);
  const r1 = c + ld;
  const r2 = r1 + ld;
  const r3 = r2 + ld;
  let t0 = f32x4.mul(i32x4.shuffle(lo, lo2, 0, 1, 4, 5), va);
  let t1 = f32x4.mul(i32x4.shuffle(lo, lo2, 2, 3, 6, 7), va);
  let t2 = f32x4.mul(i32x4.shuffle(hi, hi2, 0, 1, 4, 5), va);
  let t3 = f32x4.mul(i32x4.shuffle(hi, hi2, 2, 3, 6, 7), va);
  if (beta != 0) {
    t0 = f32x4.add(t0, f32x4.mul(vb, v128.load(c)));
    t1 = f32x4.add(t1, f32x4.mul(vb, v128.load(r1)));
    t2 = f32x4.add(t2, f32x4.mul(vb, v128.load(r2)));
    t3 = f32x4.add(t3, f32x4.mul(vb, v128.load(r3)));
  }
  if (bias != 0) {
    t0 = f32x4.add(t0, bv);
    t1 = f32x4.add(t1, bv);
    t2 = f32x4.add(t2, bv);
    t3 = f32x4.add(t3, bv);
  }
  if (act == ACT_RELU) {
    t0 = act_linear_v(ACT_RELU, t0, p);
    t1 = act_linear_v(ACT_RELU, t1, p);
    t2 = act_linear_v(ACT_RELU, t2, p);
    t3 = act_linear_v(ACT_RELU, t3, p);
  }
  v128.store(c, t0);
  v128.store(r1, t1);
  v128.store(r2, t2);
  v128.store(r3, t3);
}

/**
 * Loops 2 and 1 for a packed block of mc rows of op(A) (micro-panel q of kc groups of MR
 * broadcast vectors at apack + q·kc·64, see pack_a): the MR × NR tiles C[0..mc][0..nc] of
 * α·(A block)·(B panel) + β·C (+ bias, Z, activation as in tile_4x8). B micro-panel q starts
 * at bbase + q·bpanel, its depth steps bstep bytes apart. Shared with the convolutions
 * (assembly/conv.ts), which pack their own panels. With asrc ≠ 0 the block at apack is not
 * packed yet: it is packed here from op(A) in place (row r, depth step s at
 * asrc + r·ars + s·aps), each micro-panel by the first tile of its row where that tile is a
 * whole one with an inline ending (gemm_rows_packing), else by pack_a's loop before its row.
 */
export function gemm_panel_rows(
  kc: i32, apack: usize, mc: i32, bbase: usize, bstep: usize, bpanel: usize, nc: i32, c: usize, ldc: i32,
  alpha: f32, beta: f32, bias: usize, act: i32, p: f32, z: usize, tile: usize,
  asrc: usize = 0, ars: usize = 0, aps: usize = 0, wide: bool = false,
): void {
  // Both loops run inside one function, so that the depth loop sits two loops deep: V8
  // (TurboFan) unrolls a loop by more the deeper it is nested. With loop 1 alone around it
  // (one call per micro-panel), Node 20's V8 unrolled it twice, and the whole GEMM ran at
  // 0.94–0.96× of the same loops nested two deep, which it unrolls four times
  // (bench/gemm-ab.mjs, paired; Bun 0.95–0.97×; Node 24 and Deno level). Deeper still (loop 1
  // split in two) unrolled no further. Before that, loop 1 moved inside one call for the
  // row of tiles instead of a call per tile: 66% -> 75% of the peak.
  // Whole tiles with an ending that makes no calls run in a function of their own: see
  // gemm_rows_4x8_full.
  const panels = ending_inline(act, z) ? mc >> 2 : 0;
  const whole = panels > 0 ? nc & ~(NR - 1) : 0;
  let ir = 0;
  if (whole > 0) {
    // With op(A) not packed yet (asrc ≠ 0), the first column of tiles packs it (gemm_rows_packing).
    const first = asrc != 0 ? NR : 0;
    if (first > 0) gemm_rows_packing(kc, asrc, ars, aps, apack, panels, bbase, bstep, c, ldc, alpha, beta, bias, act, p);
    if (whole > first) {
      const col = <usize>first << 2;
      if (wide) {
        gemm_rows_4x16_full(
          kc, apack, panels, bbase + <usize>(first >> 3) * bpanel, bstep, bpanel, whole - first, c + col, ldc,
          alpha, beta, bias != 0 ? bias + col : 0, act, p,
        );
      } else {
        gemm_rows_4x8_full(
          kc, apack, panels, bbase + <usize>(first >> 3) * bpanel, bstep, bpanel, whole - first, c + col, ldc,
          alpha, beta, bias != 0 ? bias + col : 0, act, p,
        );
      }
    }
    if (whole < nc) {
      const col = <usize>whole << 2;
      gemm_rows_4x8(
        kc, apack, panels << 2, bbase + <usize>(whole >> 3) * bpanel, bstep, bpanel, nc - whole, c + col, ldc,
        alpha, beta, bias != 0 ? bias + col : 0, act, p, 0, tile,
      );
    }
    ir = panels << 2;
  }
  if (ir < mc) {
    const off = <usize>ir * (<usize>ldc << 2);
    if (asrc != 0) pack_a_from(asrc + <usize>ir * ars, ars, aps, mc - ir, kc, apack + a_block_bytes(ir, kc));
    gemm_rows_4x8(
      kc, apack + a_block_bytes(ir, kc), mc - ir, bbase, bstep, bpanel, nc, c + off, ldc,
      alpha, beta, bias, act, p, z != 0 ? z + off : 0, tile,
    );
  }
}

/**
 * gemm_rows_4x8 for whole MR × NR tiles (`panels` whole micro-panels, nc a multiple of NR)
 * without Z and with no activation or ReLU: the same sums and endings (finish_full_4x8), and
 * no call anywhere in the function. A register allocator that does not split live ranges
 * (JavaScriptCore's) keeps every value that lives across a call in memory for its whole
 * life: with the calls of the other endings in the same function, the depth loop read its
 * step and bound from the stack each step (and, before sums_at, two accumulators too).
 */
function gemm_rows_4x8_full(
  kc: i32, ap: usize, panels: i32, bp: usize, bstep: usize, bpanel: usize, nc: i32, c: usize, ldc: i32,
  alpha: f32, beta: f32, bias: usize, act: i32, p: f32,
): void {
  const apanel = <usize>kc << 6;
  const crows = <usize>ldc << 4;
  for (let q = 0; q < panels; q++) {
    for (let jr = 0; jr < nc; jr += NR) {
      const col = <usize>jr << 2;
      tile_4x8(
        kc, ap, bp + <usize>(jr >> 3) * bpanel, bstep, MR, NR, c + col, ldc,
        alpha, beta, bias != 0 ? bias + col : 0, act, p, 0, 0, true,
      );
    }
    ap += apanel;
    c += crows;
  }
}

/**
 * gemm_rows_4x8_full with 4 × 16 tiles (two B micro-panels, bpanel bytes apart, a tile), the
 * last 8 columns of an odd count of micro-panels by tile_4x8: the same sums and endings.
 */
function gemm_rows_4x16_full(
  kc: i32, ap: usize, panels: i32, bp: usize, bstep: usize, bpanel: usize, nc: i32, c: usize, ldc: i32,
  alpha: f32, beta: f32, bias: usize, act: i32, p: f32,
): void {
  const apanel = <usize>kc << 6;
  const crows = <usize>ldc << 4;
  const pairs = nc & ~(2 * NR - 1);
  for (let q = 0; q < panels; q++) {
    for (let jr = 0; jr < pairs; jr += 2 * NR) {
      const col = <usize>jr << 2;
      tile_4x16(
        kc, ap, bp + <usize>(jr >> 3) * bpanel, bpanel, bstep, c + col, ldc,
        alpha, beta, bias != 0 ? bias + col : 0, act, p,
      );
    }
    if (pairs < nc) {
      const col = <usize>pairs << 2;
      tile_4x8(
        kc, ap, bp + <usize>(pairs >> 3) * bpanel, bstep, MR, NR, c + col, ldc,
        alpha, beta, bias != 0 ? bias + col : 0, act, p, 0, 0, true,
      );
    }
    ap += apanel;
    c += crows;
  }
}

/**
 * Two whole 4 × 8 tiles side by side in one depth loop (columns 0–7 from the B micro-panel at
 * bp, 8–15 from the one bpanel bytes on), each ended by finish_full_4x8: tile_4x8 with `full`
 * twice over, in one pass over the A micro-panel.
 */
// @ts-ignore: decorator
@inline function tile_4x16(
  kc: i32, ap: usize, bp: usize, bpanel: usize, bstep: usize, c: usize, ldc: i32,
  alpha: f32, beta: f32, bias: usize, act: i32, p: f32,
): void {
  let c0_0 = f32x4.splat(0);
  let c0_1 = c0_0, c0_2 = c0_0, c0_3 = c0_0, c1_0 = c0_0, c1_1 = c0_0, c1_2 = c0_0, c1_3 = c0_0;
  let c2_0 = c0_0, c2_1 = c0_0, c2_2 = c0_0, c2_3 = c0_0, c3_0 = c0_0, c3_1 = c0_0, c3_2 = c0_0, c3_3 = c0_0;
  let bq = bp + bpanel;
  const end = ap + (<usize>kc << 6);
  while (ap < end) {
    const b0 = v128.load(bp);
    const b1 = v128.load(bp, 16);
    const b2 = v128.load(bq);
    const b3 = v128.load(bq, 16);
    let a = v128.load(ap);
    c0_0 = fmadd(a, b0, c0_0);
    c0_1 = fmadd(a, b1, c0_1);
    c0_2 = fmadd(a, b2, c0_2);
    c0_3 = fmadd(a, b3, c0_3);
    a = v128.load(ap, 16);
    c1_0 = fmadd(a, b0, c1_0);
    c1_1 = fmadd(a, b1, c1_1);
    c1_2 = fmadd(a, b2, c1_2);
    c1_3 = fmadd(a, b3, c1_3);
    a = v128.load(ap, 32);
    c2_0 = fmadd(a, b0, c2_0);
    c2_1 = fmadd(a, b1, c2_1);
    c2_2 = fmadd(a, b2, c2_2);
    c2_3 = fmadd(a, b3, c2_3);
    a = v128.load(ap, 48);
    c3_0 = fmadd(a, b0, c3_0);
    c3_1 = fmadd(a, b1, c3_1);
    c3_2 = fmadd(a, b2, c3_2);
    c3_3 = fmadd(a, b3, c3_3);
    bp += bstep;
    bq += bstep;
    ap += 64;
  }
  finish_full_4x8(c0_0, c0_1, c1_0, c1_1, c2_0, c2_1, c3_0, c3_1, c, ldc, alpha, beta, bias, act, p);
  finish_full_4x8(c0_2, c0_3, c1_2, c1_3, c2_2, c2_3, c3_2, c3_3, c + 32, ldc, alpha, beta, bias != 0 ? bias + 32 : 0, act, p);
}

/**
 * Rows of op(A) in a row block of the relaxed-SIMD build's 5 × 8 tiles (rows5): three tiles
 * of five rows.
 */
export const MC5: i32 = 15;

/**
 * Whether gemm_run (and gemm_run_deep) run the product's row blocks as MC5 rows of 5 × 8
 * tiles (gemm_rows_5x8) rather than MC rows of 4 × 8 ones: the relaxed-SIMD build only, an
 * ending without calls (ending_inline), not the wide tiles, and n a multiple of NR or at least
 * 200. A last part panel of columns runs 4 × 8 tiles, over op(A) packed again for them: below
 * 200 columns that cost what the 5 × 8 tiles gained (bench/gemm-ab.mjs, relaxed, NN/TN/NT,
 * m×k×n: 100³ 0.97–0.98×, 64×784×100 0.98×, 4096×300×20 Aᵀ·B 0.75×), from there it pays
 * (256×256×201 1.04×, 256×256×300 1.06–1.07×, 64×784×500 1.05–1.07×, 1024×512×1001 1.08×).
 * The 4 × 8 tile's eight fused multiply-adds a step are eight dependency chains, which two FMA
 * pipes of 4 cycles' latency need all of: any stall is lost. Ten chains leave room,
 * and V8 keeps them in registers on x64 when op(A) is packed compact (the block's values of a
 * depth step in one line, four rows read with one load and broadcast by shuffles, which V8
 * schedules beside their multiply-adds) rather than pre-broadcast (five loaded vectors
 * hoisted ahead of the step's arithmetic, 17 live vectors of the 15 it allocates: spills).
 * The bare tiles (bench/gemm-tiles.mjs, relaxed, this Xeon, 2026-12-06): 4 × 8 87%, 5 × 8
 * compact 95% of relaxed_madd, 5 × 8 pre-broadcast 81%, 6 × 8 compact 93% (spills in a whole
 * GEMM: 0.77×), 4 × 12 compact 93%; in a plain whole GEMM (--whole) 5 × 8 compact ran
 * 1.02–1.08× this file's. The SIMD128 build keeps 4 × 8 (a multiply and an add a step per
 * accumulator: 5 × 8 compact read 88% of the mul+add peak against 4 × 8's 109%).
 * In this file's loops, against 4 × 8 (bench/gemm-ab.mjs, relaxed, Node 20, 2026-12-06, 9 pairs,
 * m×k×n, the three cases NN, TN, NT): 64³ 1.03–1.06×, 128³ 1.07–1.08×, 256³ and 512³
 * 1.08–1.10×, 1024³ 1.09×, 64×784×256 1.07–1.08×, 784×64×256 1.06–1.07×, 33×784×256
 * 1.05–1.07×, 4096×576×64 1.06–1.10×; 100³ (n not whole tiles) level; the same bits. Node 24
 * 1.02–1.08×, Deno 1.20–1.27×, Chromium 1.04–1.11× on 64³, 256³, 64×256×256 Aᵀ·B,
 * 4096×64×576 Aᵀ·B and 33×256×784 (bench/engines-ab.mjs; Bun runs the SIMD128 build). In
 * `npm run bench` (quick, relaxed, three runs): 76–86% of relaxed_madd before, 84–94% after
 * (the worst Aᵀ·B 4096×576×64; 64³ 83–87%, A·Bᵀ lowest: its B is packed transposed for few
 * rows).
 * On caches other than this one: a block packed compact is 64·kc bytes (16 KiB at KC = 256,
 * with its 8 KiB B micro-panel inside any 32 KiB L1d), a quarter of the 4 × 8 loops' 64 KiB
 * pre-broadcast block of MC rows. Beside a thread streaming over 4 MiB (bench/gemm-ab.mjs
 * --thrash=4096, relaxed, 7 pairs, against the build before these tiles, 2026-12-06): 256³
 * 1.04–1.11×, 1024³ 1.07–1.13×, 64×784×256 1.06–1.12×, 784×64×256 1.08–1.13×, 4096×576×64
 * 1.06–1.17× (NN, TN, NT), as alone.
 * Not kept: the tiles' row blocks in the deep order for op(A) = Aᵀ (gemm_run_deep), 0.97–1.00×;
 * again with three blocks' lines copied at once (pack_a_rows5_x3) in that order, level
 * (4096×576×64, 4096×768×64, 2048×576×64, 4096×1024×128, 8192×300×32: 0.98–1.01×).
 */
// @ts-ignore: decorator
@inline function rows5(n: i32, act: i32, z: usize, wide: bool, five: bool): bool {
  return ASC_FEATURE_RELAXED_SIMD && five && !wide && ((n & (NR - 1)) == 0 || n >= ROWS5_PART_MIN_N) && ending_inline(act, z);
}

/** The fewest columns with which rows5 takes a product whose last column panel is a part one. */
const ROWS5_PART_MIN_N: i32 = 200;

/**
 * Where a row block of MC5 rows is packed for gemm_rows_5x8: the first 64-byte boundary in the
 * A block's space (at least a_block_bytes(MC, kc) bytes there wherever rows5 applies, for
 * 64·kc bytes), so that no step's line, nor any load of a tile, spans two cache lines.
 */
// @ts-ignore: decorator
@inline function rows5_at(apack: usize): usize {
  return (apack + 63) & ~(<usize>63);
}

/**
 * MC5 = 15 rows × kc depth steps of op(A) (first value at src, rows rs bytes apart, depth
 * steps ps bytes apart; one of them 4) packed compact for gemm_rows_5x8: depth step s is the
 * 64 bytes at dst + 64·s, row r's value at byte 4r (the 16th float is not read). Each value
 * of A is read once: with op(A) = Aᵀ a step's 15 rows are adjacent (one line where aligned,
 * read once however far apart the steps lie; see A_LINES_MIN_STRIDE), with op(A) = A four
 * steps of each row are read at once and transposed.
 */
function pack_a_rows5(src: usize, rs: usize, ps: usize, kc: i32, dst: usize): void {
  const end = dst + (<usize>kc << 6);
  if (rs == 4) {
    while (dst < end) {
      copy_step_rows5(src, dst);
      src += ps;
      dst += 64;
    }
    return;
  }
  const end4 = dst + (<usize>(kc & ~3) << 6);
  const r4 = rs << 2;
  while (dst < end4) {
    let s = src;
    for (let o: usize = 0; o < 48; o += 16) {
      transpose_steps_4(v128.load(s), v128.load(s + rs), v128.load(s + 2 * rs), v128.load(s + 3 * rs), dst + o);
      s += r4;
    }
    const r14 = v128.load(s + 2 * rs);
    transpose_steps_4(v128.load(s), v128.load(s + rs), r14, r14, dst + 48);
    src += 16;
    dst += 256;
  }
  while (dst < end) {
    let s = src;
    for (let r: usize = 0; r < 60; r += 4) {
      store<f32>(dst + r, load<f32>(s));
      s += rs;
    }
    src += 4;
    dst += 64;
  }
}

/**
 * pack_a_rows5 of three row blocks at once, op(A) = Aᵀ (45 adjacent rows a depth step, steps ps
 * bytes apart): block b (rows 15b …) at dst + b·64·kc. Each step's lines are read together
 * (pack_a_rows5 one block after the other read a line shared by two blocks twice, from memory
 * where the steps lie 1 KiB or more apart: see A_LINES_MIN_STRIDE).
 */
function pack_a_rows5_x3(src: usize, ps: usize, kc: i32, dst: usize): void {
  const block = <usize>kc << 6;
  const end = dst + block;
  while (dst < end) {
    for (let b: usize = 0; b < 3; b++) copy_step_rows5(src + b * 60, dst + b * block);
    src += ps;
    dst += 64;
  }
}

/** One depth step of 15 adjacent rows (op(A) = Aᵀ) from src to its 64-byte line at dst. */
// @ts-ignore: decorator
@inline function copy_step_rows5(src: usize, dst: usize): void {
  v128.store(dst, v128.load(src));
  v128.store(dst, v128.load(src, 16), 16);
  v128.store(dst, v128.load(src, 32), 32);
  v128.store(dst, v128.load(src, 44), 44);                // rows 11–14 (11 twice)
}

/** Four rows' values at four depth steps (r0 … r3, a row each) stored as four steps of
 *  pack_a_rows5's layout: step j's four values at dst + 64·j. */
// @ts-ignore: decorator
@inline function transpose_steps_4(r0: v128, r1: v128, r2: v128, r3: v128, dst: usize): void {
  const lo = i32x4.shuffle(r0, r1, 0, 4, 1, 5);
  const hi = i32x4.shuffle(r0, r1, 2, 6, 3, 7);
  const lo2 = i32x4.shuffle(r2, r3, 0, 4, 1, 5);
  const hi2 = i32x4.shuffle(r2, r3, 2, 6, 3, 7);
  v128.store(dst, i32x4.shuffle(lo, lo2, 0, 1, 4, 5));
  v128.store(dst, i32x4.shuffle(lo, lo2, 2, 3, 6, 7), 64);
  v128.store(dst, i32x4.shuffle(hi, hi2, 0, 1, 4, 5), 128);
  v128.store(dst, i32x4.shuffle(hi, hi2, 2, 3, 6, 7), 192);
}

/**
 * A row block of MC5 = 15 rows (packed by pack_a_rows5 at ap) times whole B micro-panels
 * (nc columns, a multiple of NR; micro-panel q at bp + q·bpanel, its depth steps bstep bytes
 * apart), as three rows of 5 × 8 tiles, each ended inline as gemm_rows_4x8_full's are
 * (finish_full_4x8 and its one-row part): the same sums, in the same order, and the same
 * endings, so the same bits as the 4 × 8 tiles. See rows5.
 */
function gemm_rows_5x8(
  kc: i32, ap: usize, bp: usize, bstep: usize, bpanel: usize, nc: i32, c: usize, ldc: i32,
  alpha: f32, beta: f32, bias: usize, act: i32, p: f32,
): void {
  const crows = <usize>ldc * 20;
  for (let r: usize = 0; r < 60; r += 20) {
    for (let jr = 0; jr < nc; jr += NR) {
      const col = <usize>jr << 2;
      tile_5x8(kc, ap + r, bp + <usize>(jr >> 3) * bpanel, bstep, c + col, ldc, alpha, beta, bias != 0 ? bias + col : 0, act, p);
    }
    c += crows;
  }
}

/** One 5 × 8 tile of gemm_rows_5x8: the block's rows from the one at ap (compact, 64 bytes a
 *  step: four rows in one load, broadcast by shuffles, the fifth by a broadcast load). */
// @ts-ignore: decorator
@inline function tile_5x8(
  kc: i32, ap: usize, bp: usize, bstep: usize, c: usize, ldc: i32,
  alpha: f32, beta: f32, bias: usize, act: i32, p: f32, transposed: bool = false, tile: usize = 0,
): void {
  // transposed (a constant): a tile of Cᵀ, five columns of C's first eight rows, ended as
  // gemm_rows_4x8_t's tiles are (gemm_rows_5x8_t).
  let c0_0123 = f32x4.splat(0);
  let c0_4567 = c0_0123, c1_0123 = c0_0123, c1_4567 = c0_0123, c2_0123 = c0_0123;
  let c2_4567 = c0_0123, c3_0123 = c0_0123, c3_4567 = c0_0123, c4_0123 = c0_0123, c4_4567 = c0_0123;
  const end = ap + (<usize>kc << 6);
  while (ap < end) {
    const b_0123 = v128.load(bp);
    const b_4567 = v128.load(bp, 16);
    const a4 = v128.load(ap);
    let a = i32x4.shuffle(a4, a4, 0, 0, 0, 0);
    c0_0123 = fmadd(a, b_0123, c0_0123);
    c0_4567 = fmadd(a, b_4567, c0_4567);
    a = i32x4.shuffle(a4, a4, 1, 1, 1, 1);
    c1_0123 = fmadd(a, b_0123, c1_0123);
    c1_4567 = fmadd(a, b_4567, c1_4567);
    a = i32x4.shuffle(a4, a4, 2, 2, 2, 2);
    c2_0123 = fmadd(a, b_0123, c2_0123);
    c2_4567 = fmadd(a, b_4567, c2_4567);
    a = i32x4.shuffle(a4, a4, 3, 3, 3, 3);
    c3_0123 = fmadd(a, b_0123, c3_0123);
    c3_4567 = fmadd(a, b_4567, c3_4567);
    a = v128.load32_splat(ap, 16);
    c4_0123 = fmadd(a, b_0123, c4_0123);
    c4_4567 = fmadd(a, b_4567, c4_4567);
    bp += bstep;
    ap += 64;
  }
  if (transposed) {
    finish_tile_4x8_t(c0_0123, c0_4567, c1_0123, c1_4567, c2_0123, c2_4567, c3_0123, c3_4567, MR, NR, c, ldc, alpha, beta, bias, act, p, 0, tile);
    finish_column_8_t(c4_0123, c4_4567, c + 16, <usize>ldc << 2, alpha, beta, bias != 0 ? bias + 16 : 0, act, p);
  } else {
    finish_full_4x8(c0_0123, c0_4567, c1_0123, c1_4567, c2_0123, c2_4567, c3_0123, c3_4567, c, ldc, alpha, beta, bias, act, p);
    finish_full_row_8(c4_0123, c4_4567, c + (<usize>ldc << 4), alpha, beta, bias, act, p);
  }
}

/**
 * The fifth row of a transposed 5 × 8 tile: one column of C, its 8 rows ld bytes apart from
 * c, ended with the operations of finish_tile_4x8_t's inline path (α·acc, + β·C, + bias[0],
 * ReLU), so the same bits.
 */
// @ts-ignore: decorator
@inline function finish_column_8_t(
  acc_0123: v128, acc_4567: v128, c: usize, ld: usize, alpha: f32, beta: f32, bias: usize, act: i32, p: f32,
): void {
  const va = f32x4.splat(alpha);
  const vb = f32x4.splat(beta);
  const bv = bias != 0 ? v128.load32_splat(bias) : f32x4.splat(0);
  for (let h = 0; h < 2; h++) {
    const r = c + <usize>(4 * h) * ld;
    let t = f32x4.mul(h == 0 ? acc_0123 : acc_4567, va);
    if (beta != 0) {
      let g = f32x4.splat(load<f32>(r));
      g = f32x4.replace_lane(g, 1, load<f32>(r + ld));
      g = f32x4.replace_lane(g, 2, load<f32>(r + 2 * ld));
      g = f32x4.replace_lane(g, 3, load<f32>(r + 3 * ld));
      t = f32x4.add(t, f32x4.mul(vb, g));
    }
    if (bias != 0) t = f32x4.add(t, bv);
    if (act == ACT_RELU) t = act_linear_v(ACT_RELU, t, p);
    store<f32>(r, f32x4.extract_lane(t, 0));
    store<f32>(r + ld, f32x4.extract_lane(t, 1));
    store<f32>(r + 2 * ld, f32x4.extract_lane(t, 2));
    store<f32>(r + 3 * ld, f32x4.extract_lane(t, 3));
  }
}

/**
 * gemm_rows_4x8_t_from for a block of MC5 = 15 rows of op(A) (the small operand: rows ars,
 * depth steps aps bytes apart, one of them 4, from asrc), in the relaxed build: the block packed
 * compact (pack_a_rows5, in apack's space) and run as 5 × 8 tiles of Cᵀ over the whole
 * 8-column micro-panels of bp (bpanel bytes apart), each stored transposed (tile_5x8); a last
 * part micro-panel by gemm_rows_4x8_t_from. Endings without Z and without activation or with
 * ReLU only (ending_inline), the same sums and endings as gemm_rows_4x8_t_from's: the same bits.
 * For the transposed loops (gemm_run_t; the convolutions' in conv.ts), where rows5_t says.
 */
export function gemm_rows_5x8_t(
  kc: i32, asrc: usize, ars: usize, aps: usize, apack: usize, bp: usize, bpanel: usize, nc: i32, c: usize, ldc: i32,
  alpha: f32, beta: f32, bias: usize, act: i32, p: f32, tile: usize,
): void {
  const cp = rows5_at(apack);
  pack_a_rows5(asrc, ars, aps, kc, cp);
  const whole = nc & ~(NR - 1);
  const ld = <usize>ldc << 2;
  for (let r: usize = 0; r < 60; r += 20) {
    for (let jr = 0; jr < whole; jr += NR) {
      tile_5x8(kc, cp + r, bp + <usize>(jr >> 3) * bpanel, 32, c + r + <usize>jr * ld, ldc, alpha, beta, bias != 0 ? bias + r : 0, act, p, true, tile);
    }
  }
  if (whole < nc) {
    gemm_rows_4x8_t_from(kc, asrc, ars, aps, apack, MC5, bp + <usize>(whole >> 3) * bpanel, bpanel, nc - whole, c + <usize>whole * ld, ldc, alpha, beta, bias, act, p, 0, tile);
  }
}

/**
 * Whether the convolutions' transposed loops (the forward, and with it the input gradient run
 * as a forward; the filter gradient) run their f rows of Cᵀ (filters) in blocks of MC5 by
 * gemm_rows_5x8_t: as rows5 (the relaxed build, an ending without calls), where the rows left
 * to a last part block (f mod 15, in 4 × 8 tiles of 4 rows, the last maybe part-empty) do not
 * cost what the 5 × 8 tiles gain: f = 16 would leave one row to a tile of four, 32 two, 20 five
 * (a tile and a tile of one: 0.91× at 1024×256×20, the transposed GEMM); 45, 48, 64, 100, 128
 * and 150 are taken.
 * Against 4 × 8 (bench/gemm-ab.mjs --conv, relaxed, Node 20, 2026-12-06, 9 pairs, 3 × 3
 * "same", N×H×W×C→F): 16×32×32×64→64 forward 1.07×, input gradient 1.07×, filter gradient
 * 1.075×; 16×16×16×64→128 1.08×, 1.07×, 1.075×; 16×16×16×128→128 forward 1.07×; 8×32×32×32→48
 * (a last block of 3) 1.015×, 1.00×, 1.025×; 32×14×14×16→32 (not taken) level. Under Node 24,
 * Deno and Chromium (bench/engines-ab.mjs, 4×32×32×64→64) forward 1.09×, 1.21×, 1.10× and
 * input gradient 1.08×, 1.21×, 1.10×; the same bits.
 */
// @ts-ignore: decorator
@inline export function rows5_t(f: i32, act: i32, z: usize, five: bool): bool {
  // (One expression led by the build flag, so that the SIMD128 build compiles none of it.)
  return ASC_FEATURE_RELAXED_SIMD && five && ending_inline(act, z) && f >= MC5 && rows5_pays(f);
}

/**
 * rows5_t's count, in units of a 4 × 8 micro-panel's row of tiles: blocks of MC5 rows at 1/1.08
 * of that a row, the t rows left over in ceil(t / 4) micro-panels; against ceil(f / 4)
 * micro-panels of 4 × 8 tiles. True where that saves 4% or more (×27 to stay in integers).
 */
// @ts-ignore: decorator
@inline function rows5_pays(f: i32): bool {
  const t = f % MC5;
  return 25 * (f - t) + 108 * ((t + 3) >> 2) <= 104 * ((f + 3) >> 2);
}

/**
 * The first column of whole tiles of gemm_rows_4x8_full (`panels` micro-panels, C's first 8
 * columns), each tile packing its A micro-panel as it reads it (tile_4x8_packing): op(A)'s
 * rows 4q … 4q + 3 from asrc + 4q·ars into the micro-panel at ap + q·kc·64. A function of its
 * own, so that the depth loop of gemm_rows_4x8_full keeps its registers (with this tile in the
 * same function, V8 kept that loop's bound on the stack: 0.96× at 64×784×256).
 */
function gemm_rows_packing(
  kc: i32, asrc: usize, ars: usize, aps: usize, ap: usize, panels: i32, bp: usize, bstep: usize, c: usize, ldc: i32,
  alpha: f32, beta: f32, bias: usize, act: i32, p: f32,
): void {
  const apanel = <usize>kc << 6;
  const crows = <usize>ldc << 4;
  const arows = ars << 2;
  for (let q = 0; q < panels; q++) {
    tile_4x8_packing(kc, asrc, ars, aps, ap, bp, bstep, c, ldc, alpha, beta, bias, act, p);
    asrc += arows;
    ap += apanel;
    c += crows;
  }
}

/**
 * Matrix-vector product as a combination of rows: for j < cnt,
 *   out[j] = α·Σ_{q<k} s[q]·X[q][j]   (then finished by finish_4: β, bias, Z, activation),
 * where s[q] is at s + q·ss (bytes) and row q of X starts at x + q·ldx (bytes). Output j is
 * at y + j·ys (and z + j·ys), its bias at bias + j·bs (bs = 0: one bias for every output).
 * Columns go 32 at a time (eight independent f32x4 accumulators), then 4, then one by one.
 */
function gemv_rows(
  cnt: i32, k: i32, alpha: f32, s: usize, ss: usize, x: usize, ldx: usize,
  beta: f32, y: usize, ys: usize, bias: usize, bs: usize, act: i32, p: f32, z: usize, tile: usize,
): void {
  let j = 0;
  for (; j + 32 <= cnt; j += 32) {
    let acc_0 = f32x4.splat(0);
    let acc_1 = acc_0, acc_2 = acc_0, acc_3 = acc_0, acc_4 = acc_0, acc_5 = acc_0, acc_6 = acc_0, acc_7 = acc_0;
    let xp = x + (<usize>j << 2);
    let sp = s;
    for (let q = 0; q < k; q++) {
      const sv = v128.load32_splat(sp);
      acc_0 = fmadd(sv, v128.load(xp), acc_0);
      acc_1 = fmadd(sv, v128.load(xp, 16), acc_1);
      acc_2 = fmadd(sv, v128.load(xp, 32), acc_2);
      acc_3 = fmadd(sv, v128.load(xp, 48), acc_3);
      acc_4 = fmadd(sv, v128.load(xp, 64), acc_4);
      acc_5 = fmadd(sv, v128.load(xp, 80), acc_5);
      acc_6 = fmadd(sv, v128.load(xp, 96), acc_6);
      acc_7 = fmadd(sv, v128.load(xp, 112), acc_7);
      xp += ldx;
      sp += ss;
    }
    const o = <usize>j * ys;
    const ob = <usize>j * bs;
    const y4 = ys << 2;
    const b4 = bs << 2;
    finish_4(acc_0, 4, y + o, ys, z != 0 ? z + o : 0, bias != 0 ? bias + ob : 0, bs, alpha, beta, act, p, tile);
    finish_4(acc_1, 4, y + o + y4, ys, z != 0 ? z + o + y4 : 0, bias != 0 ? bias + ob + b4 : 0, bs, alpha, beta, act, p, tile);
    finish_4(acc_2, 4, y + o + 2 * y4, ys, z != 0 ? z + o + 2 * y4 : 0, bias != 0 ? bias + ob + 2 * b4 : 0, bs, alpha, beta, act, p, tile);
    finish_4(acc_3, 4, y + o + 3 * y4, ys, z != 0 ? z + o + 3 * y4 : 0, bias != 0 ? bias + ob + 3 * b4 : 0, bs, alpha, beta, act, p, tile);
    finish_4(acc_4, 4, y + o + 4 * y4, ys, z != 0 ? z + o + 4 * y4 : 0, bias != 0 ? bias + ob + 4 * b4 : 0, bs, alpha, beta, act, p, tile);
    finish_4(acc_5, 4, y + o + 5 * y4, ys, z != 0 ? z + o + 5 * y4 : 0, bias != 0 ? bias + ob + 5 * b4 : 0, bs, alpha, beta, act, p, tile);
    finish_4(acc_6, 4, y + o + 6 * y4, ys, z != 0 ? z + o + 6 * y4 : 0, bias != 0 ? bias + ob + 6 * b4 : 0, bs, alpha, beta, act, p, tile);
    finish_4(acc_7, 4, y + o + 7 * y4, ys, z != 0 ? z + o + 7 * y4 : 0, bias != 0 ? bias + ob + 7 * b4 : 0, bs, alpha, beta, act, p, tile);
  }
  for (; j + 4 <= cnt; j += 4) {
    let acc = f32x4.splat(0);
    let xp = x + (<usize>j << 2);
    let sp = s;
    for (let q = 0; q < k; q++) {
      acc = fmadd(v128.load32_splat(sp), v128.load(xp), acc);
      xp += ldx;
      sp += ss;
    }
    const o = <usize>j * ys;
    finish_4(acc, 4, y + o, ys, z != 0 ? z + o : 0, bias != 0 ? bias + <usize>j * bs : 0, bs, alpha, beta, act, p, tile);
  }
  if (j < cnt) {
    // The last 1–3 columns, one scalar sum each, finished together.
    const left = cnt - j;
    for (let l = 0; l < left; l++) {
      let sum: f32 = 0;
      let xp = x + (<usize>(j + l) << 2);
      let sp = s;
      for (let q = 0; q < k; q++) {
        sum += load<f32>(sp) * load<f32>(xp);
        xp += ldx;
        sp += ss;
      }
      store<f32>(tile + (<usize>l << 2), sum);
    }
    const o = <usize>j * ys;
    finish_4(v128.load(tile), left, y + o, ys, z != 0 ? z + o : 0, bias != 0 ? bias + <usize>j * bs : 0, bs, alpha, beta, act, p, tile);
  }
}

/** Columns of one pass of gemv_rows_seq (its sums in scratch: at most NC floats). */
const SEQ_CHUNK: i32 = NC;

/**
 * gemv_rows's product for contiguous outputs (ys = bs = 4), walking X's rows in order: the
 * sums of up to SEQ_CHUNK columns wait in `acc` (scratch) while four rows at a time go by,
 * each read front to back. gemv_rows keeps 32 sums in registers instead and so reads X a
 * 128-byte strip of every row at a time, a new page each row when rows are 4 KiB or more
 * apart. Each column's sum takes the same fmadd steps in the same order as gemv_rows's
 * (its last 1–3 columns the same scalar steps), so the results are the same bits.
 */
function gemv_rows_seq(
  cnt: i32, k: i32, alpha: f32, s: usize, ss: usize, x: usize, ldx: usize,
  beta: f32, y: usize, bias: usize, act: i32, p: f32, z: usize, tile: usize, acc: usize,
): void {
  for (let j0 = 0; j0 < cnt; j0 += SEQ_CHUNK) {
    const w = min(SEQ_CHUNK, cnt - j0);
    const wv = w & ~3;
    const wb = <usize>wv << 2;
    const x0 = x + (<usize>j0 << 2);
    memory.fill(acc, 0, <usize>w << 2);
    let q = 0;
    for (; q + 4 <= k; q += 4) {
      const sp = s + <usize>q * ss;
      const s0 = v128.load32_splat(sp), s1 = v128.load32_splat(sp + ss);
      const s2 = v128.load32_splat(sp + 2 * ss), s3 = v128.load32_splat(sp + 3 * ss);
      const r0 = x0 + <usize>q * ldx, r1 = r0 + ldx, r2 = r1 + ldx, r3 = r2 + ldx;
      for (let o: usize = 0; o < wb; o += 16) {
        let v = v128.load(acc + o);
        v = fmadd(s0, v128.load(r0 + o), v);
        v = fmadd(s1, v128.load(r1 + o), v);
        v = fmadd(s2, v128.load(r2 + o), v);
        v = fmadd(s3, v128.load(r3 + o), v);
        v128.store(acc + o, v);
      }
      for (let o = wb; o < (<usize>w << 2); o += 4) {
        let t = load<f32>(acc + o);
        t += load<f32>(s + <usize>q * ss) * load<f32>(r0 + o);
        t += load<f32>(s + <usize>(q + 1) * ss) * load<f32>(r1 + o);
        t += load<f32>(s + <usize>(q + 2) * ss) * load<f32>(r2 + o);
        t += load<f32>(s + <usize>(q + 3) * ss) * load<f32>(r3 + o);
        store<f32>(acc + o, t);
      }
    }
    for (; q < k; q++) {
      const sv = v128.load32_splat(s + <usize>q * ss);
      const r0 = x0 + <usize>q * ldx;
      for (let o: usize = 0; o < wb; o += 16) v128.store(acc + o, fmadd(sv, v128.load(r0 + o), v128.load(acc + o)));
      for (let o = wb; o < (<usize>w << 2); o += 4) store<f32>(acc + o, load<f32>(acc + o) + load<f32>(s + <usize>q * ss) * load<f32>(r0 + o));
    }
    const yo = y + (<usize>j0 << 2);
    const zo = z != 0 ? z + (<usize>j0 << 2) : 0;
    const bo = bias != 0 ? bias + (<usize>j0 << 2) : 0;
    for (let o: usize = 0; o < wb; o += 16) {
      finish_4(v128.load(acc + o), 4, yo + o, 4, zo != 0 ? zo + o : 0, bo != 0 ? bo + o : 0, 4, alpha, beta, act, p, tile);
    }
    if (wv < w) finish_4(v128.load(acc + wb), w - wv, yo + wb, 4, zo != 0 ? zo + wb : 0, bo != 0 ? bo + wb : 0, 4, alpha, beta, act, p, tile);
  }
}

/**
 * Matrix-vector product as dot products: for i < rows,
 *   out[i] = α·Σ_{q<k} X[i][q]·s[q]   (then finished by finish_4),
 * with row i of X at x + i·ldx (bytes) and s contiguous. Outputs, Z and bias as for
 * gemv_rows. Four rows at a time, each with two f32x4 partial sums.
 */
function gemv_dots(
  rows: i32, k: i32, alpha: f32, x: usize, ldx: usize, s: usize,
  beta: f32, y: usize, ys: usize, bias: usize, bs: usize, act: i32, p: f32, z: usize, tile: usize,
): void {
  let i = 0;
  for (; i + 4 <= rows; i += 4) {
    const x0 = x + <usize>i * ldx;
    const x1 = x0 + ldx;
    const x2 = x1 + ldx;
    const x3 = x2 + ldx;
    let r0_lo = f32x4.splat(0);
    let r0_hi = r0_lo, r1_lo = r0_lo, r1_hi = r0_lo, r2_lo = r0_lo, r2_hi = r0_lo, r3_lo = r0_lo, r3_hi = r0_lo;
    let q = 0;
    let off: usize = 0;
    for (; q + 8 <= k; q += 8) {
      const s_lo = v128.load(s + off);
      const s_hi = v128.load(s + off, 16);
      r0_lo = fmadd(v128.load(x0 + off), s_lo, r0_lo);
      r0_hi = fmadd(v128.load(x0 + off, 16), s_hi, r0_hi);
      r1_lo = fmadd(v128.load(x1 + off), s_lo, r1_lo);
      r1_hi = fmadd(v128.load(x1 + off, 16), s_hi, r1_hi);
      r2_lo = fmadd(v128.load(x2 + off), s_lo, r2_lo);
      r2_hi = fmadd(v128.load(x2 + off, 16), s_hi, r2_hi);
      r3_lo = fmadd(v128.load(x3 + off), s_lo, r3_lo);
      r3_hi = fmadd(v128.load(x3 + off, 16), s_hi, r3_hi);
      off += 32;
    }
    if (q + 4 <= k) {
      const s_lo = v128.load(s + off);
      r0_lo = fmadd(v128.load(x0 + off), s_lo, r0_lo);
      r1_lo = fmadd(v128.load(x1 + off), s_lo, r1_lo);
      r2_lo = fmadd(v128.load(x2 + off), s_lo, r2_lo);
      r3_lo = fmadd(v128.load(x3 + off), s_lo, r3_lo);
      q += 4;
      off += 16;
    }
    let sums = hsum_4(f32x4.add(r0_lo, r0_hi), f32x4.add(r1_lo, r1_hi), f32x4.add(r2_lo, r2_hi), f32x4.add(r3_lo, r3_hi));
    if (q < k) {
      // Scalar tail of 1–3 depth steps, lane r for row r.
      let t = f32x4.splat(0);
      for (; q < k; q++) {
        let xs = f32x4.splat(load<f32>(x0 + off));
        xs = f32x4.replace_lane(xs, 1, load<f32>(x1 + off));
        xs = f32x4.replace_lane(xs, 2, load<f32>(x2 + off));
        xs = f32x4.replace_lane(xs, 3, load<f32>(x3 + off));
        t = f32x4.add(t, f32x4.mul(xs, v128.load32_splat(s + off)));
        off += 4;
      }
      sums = f32x4.add(sums, t);
    }
    const o = <usize>i * ys;
    finish_4(sums, 4, y + o, ys, z != 0 ? z + o : 0, bias != 0 ? bias + <usize>i * bs : 0, bs, alpha, beta, act, p, tile);
  }
  for (; i < rows; i++) {
    const xr = x + <usize>i * ldx;
    let lo = f32x4.splat(0);
    let hi = lo;
    let q = 0;
    let off: usize = 0;
    for (; q + 8 <= k; q += 8) {
      lo = fmadd(v128.load(xr + off), v128.load(s + off), lo);
      hi = fmadd(v128.load(xr + off, 16), v128.load(s + off, 16), hi);
      off += 32;
    }
    if (q + 4 <= k) {
      lo = fmadd(v128.load(xr + off), v128.load(s + off), lo);
      q += 4;
      off += 16;
    }
    const v = f32x4.add(lo, hi);
    let sum = f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
    for (; q < k; q++) {
      sum += load<f32>(xr + off) * load<f32>(s + off);
      off += 4;
    }
    const o = <usize>i * ys;
    finish_4(f32x4.splat(sum), 1, y + o, ys, z != 0 ? z + o : 0, bias != 0 ? bias + <usize>i * bs : 0, bs, alpha, beta, act, p, tile);
  }
}

/** [Σ a, Σ b, Σ c, Σ d]: the lane sums of four vectors in one vector. */
// @ts-ignore: decorator
@inline function hsum_4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = f32x4.add(i32x4.shuffle(a, b, 0, 4, 1, 5), i32x4.shuffle(a, b, 2, 6, 3, 7)); // a0+a2 b0+b2 a1+a3 b1+b3
  const cd = f32x4.add(i32x4.shuffle(c, d, 0, 4, 1, 5), i32x4.shuffle(c, d, 2, 6, 3, 7));
  return f32x4.add(i32x4.shuffle(ab, cd, 0, 1, 4, 5), i32x4.shuffle(ab, cd, 2, 3, 6, 7));
}

/**
 * Finishes `count` (1–4) outputs held in the lanes of acc: v = α·acc + β·y (y read only if
 * β ≠ 0) + bias; z ← v if z ≠ 0; y ← act(v). Lane l is the output at y + l·ys (and
 * z + l·ys), with bias at bias + l·bs (bs = 0: the same bias for every lane). Outputs that
 * are not four contiguous floats go through `tile` (16 bytes of scratch).
 */
function finish_4(
  acc: v128, count: i32, y: usize, ys: usize, z: usize, bias: usize, bs: usize,
  alpha: f32, beta: f32, act: i32, p: f32, tile: usize,
): void {
  const dense = count == 4 && ys == 4;
  let v = f32x4.mul(acc, f32x4.splat(alpha));
  if (beta != 0) {
    let old: v128;
    if (dense) {
      old = v128.load(y);
    } else {
      for (let l = 0; l < count; l++) store<f32>(tile + (<usize>l << 2), load<f32>(y + <usize>l * ys));
      old = v128.load(tile);
    }
    v = f32x4.add(v, f32x4.mul(f32x4.splat(beta), old));
  }
  if (bias != 0) {
    let bv: v128;
    if (bs == 0) {
      bv = v128.load32_splat(bias);
    } else if (count == 4) {
      bv = v128.load(bias);
    } else {
      for (let l = 0; l < count; l++) store<f32>(tile + (<usize>l << 2), load<f32>(bias + (<usize>l << 2)));
      bv = v128.load(tile);
    }
    v = f32x4.add(v, bv);
  }
  if (z != 0) {
    if (dense) {
      v128.store(z, v);
    } else {
      v128.store(tile, v);
      for (let l = 0; l < count; l++) store<f32>(z + <usize>l * ys, load<f32>(tile + (<usize>l << 2)));
    }
  }
  if (act != ACT_IDENTITY) v = act_v(act, v, p);
  if (dense) {
    v128.store(y, v);
  } else {
    v128.store(tile, v);
    for (let l = 0; l < count; l++) store<f32>(y + <usize>l * ys, load<f32>(tile + (<usize>l << 2)));
  }
}

/**
 * Rows of tiles: for each A micro-panel of a block of mc rows (at ap + q·kc·64), loop 1 over
 * the nc columns of a B panel (micro-panel q at bp + q·bpanel), each tile as in tile_4x8 (C,
 * Z, bias advance 8 columns a tile); the last 1–4 columns as in tile_4x4.
 */
function gemm_rows_4x8(
  kc: i32, ap: usize, mc: i32, bp: usize, bstep: usize, bpanel: usize, nc: i32, c: usize, ldc: i32,
  alpha: f32, beta: f32, bias: usize, act: i32, p: f32, z: usize, tile: usize,
): void {
  const apanel = <usize>kc << 6;
  const crows = <usize>ldc << 4;
  for (let ir = 0; ir < mc; ir += MR) {
    const mr = min<i32>(MR, mc - ir);
    let jr = 0;
    if (mr <= 2) {
      // A last micro-panel of one or two rows (a batch of 4n + 1 or 4n + 2): 2 × 16 tiles
      // over pairs of whole B micro-panels, the same sums (see tile_2x16).
      for (; jr + 2 * NR <= nc; jr += 2 * NR) {
        const col = <usize>jr << 2;
        tile_2x16(
          kc, ap, bp + <usize>(jr >> 3) * bpanel, bstep, bpanel, mr, c + col, ldc,
          alpha, beta, bias != 0 ? bias + col : 0, act, p, z != 0 ? z + col : 0, tile,
        );
      }
    }
    for (; jr < nc; jr += NR) {
      const col = <usize>jr << 2;
      const nr = min<i32>(NR, nc - jr);
      if (nr <= 4) {
        tile_4x4(
          kc, ap, bp + <usize>(jr >> 3) * bpanel, bstep, mr, nr, c + col, ldc,
          alpha, beta, bias != 0 ? bias + col : 0, act, p, z != 0 ? z + col : 0, tile,
        );
      } else {
        tile_4x8(
          kc, ap, bp + <usize>(jr >> 3) * bpanel, bstep, mr, nr, c + col, ldc,
          alpha, beta, bias != 0 ? bias + col : 0, act, p, z != 0 ? z + col : 0, tile,
        );
      }
    }
    ap += apanel;
    c += crows;
    if (z != 0) z += crows;
  }
}

/**
 * The edge micro-kernel for a last micro-panel of mr ≤ 2 rows: a 2 × 16 tile over two
 * consecutive B micro-panels (the second bpanel bytes after the first), reading the first two
 * of the A micro-panel's four broadcast vectors (the second is the panel's zero padding when
 * mr = 1). The 4 × 8 tile there would spend three quarters or half of its multiply-adds on
 * padding; this one keeps eight sums in flight for the rows that exist. Each sum is the 4 × 8
 * tile's, term by term in the same order, and each row is finished by epilogue_row_8 as the
 * 4 × 8 tile's rows are: the same results bit for bit, for any split of the rows. The sums
 * wait in memory while the endings run (see sums_at).
 */
function tile_2x16(
  kc: i32, ap: usize, bp: usize, bstep: usize, bpanel: usize, mr: i32, c: usize, ldc: i32,
  alpha: f32, beta: f32, bias: usize, act: i32, p: f32, z: usize, tile: usize,
): void {
  let c0_0123 = f32x4.splat(0);
  let c0_4567 = c0_0123, c0_89ab = c0_0123, c0_cdef = c0_0123;
  let c1_0123 = c0_0123, c1_4567 = c0_0123, c1_89ab = c0_0123, c1_cdef = c0_0123;
  let b_0123: v128, b_4567: v128, b_89ab: v128, b_cdef: v128, a: v128;
  const bq = bp + bpanel;
  let d: usize = 0;
  const end = ap + (<usize>kc << 6);
  while (ap < end) {
    b_0123 = v128.load(bp + d);
    b_4567 = v128.load(bp + d, 16);
    b_89ab = v128.load(bq + d);
    b_cdef = v128.load(bq + d, 16);
    a = v128.load(ap);
    c0_0123 = fmadd(a, b_0123, c0_0123);
    c0_4567 = fmadd(a, b_4567, c0_4567);
    c0_89ab = fmadd(a, b_89ab, c0_89ab);
    c0_cdef = fmadd(a, b_cdef, c0_cdef);
    a = v128.load(ap, 16);
    c1_0123 = fmadd(a, b_0123, c1_0123);
    c1_4567 = fmadd(a, b_4567, c1_4567);
    c1_89ab = fmadd(a, b_89ab, c1_89ab);
    c1_cdef = fmadd(a, b_cdef, c1_cdef);
    d += bstep;
    ap += 64;
  }
  // Row r's left eight sums at r·64 bytes, its right eight at r·64 + 32.
  stash_4x8(tile, c0_0123, c0_4567, c0_89ab, c0_cdef, c1_0123, c1_4567, c1_89ab, c1_cdef);
  const s = sums_at(tile);
  const ld = <usize>ldc << 2;
  for (let r = 0; r < mr; r++) {
    const o = <usize>r * ld;
    const so = <usize>r << 6;
    const zr: usize = z != 0 ? z + o : 0;
    epilogue_row_8(c + o, zr, v128.load(s + so), v128.load(s + so, 16), alpha, beta, bias, act, p);
    epilogue_row_8(c + o + 32, zr != 0 ? zr + 32 : 0, v128.load(s + so, 32), v128.load(s + so, 48), alpha, beta, bias != 0 ? bias + 32 : 0, act, p);
  }
}

/**
 * The edge micro-kernel for the last 1–4 columns: one MR × 4 tile, read from the first four
 * columns of an 8-column B micro-panel (same packing, same `bstep`; the other four are not
 * read). acc = Σ_p ap[p]·bp[p][0..4]ᵀ, then as tile_4x8: v = α·acc + β·C (+ bias);
 * Z ← v if z ≠ 0; C ← act(v). Only the top-left mr × nr (nr ≤ 4) part of C, Z and bias is
 * touched; partial tiles go through `tile`.
 */
// @ts-ignore: decorator
@inline function tile_4x4(
  kc: i32, ap: usize, bp: usize, bstep: usize, mr: i32, nr: i32, c: usize, ldc: i32,
  alpha: f32, beta: f32, bias: usize, act: i32, p: f32, z: usize, tile: usize,
): void {
  let c0_0123 = f32x4.splat(0);
  let c1_0123 = c0_0123, c2_0123 = c0_0123, c3_0123 = c0_0123;
  let b_0123: v128;
  const end = ap + (<usize>kc << 6);
  while (ap < end) {
    b_0123 = v128.load(bp);
    c0_0123 = fmadd(v128.load(ap), b_0123, c0_0123);
    c1_0123 = fmadd(v128.load(ap, 16), b_0123, c1_0123);
    c2_0123 = fmadd(v128.load(ap, 32), b_0123, c2_0123);
    c3_0123 = fmadd(v128.load(ap, 48), b_0123, c3_0123);
    bp += bstep;
    ap += 64;
  }
  finish_tile_4x4(c0_0123, c1_0123, c2_0123, c3_0123, mr, nr, c, ldc, alpha, beta, bias, act, p, z, tile);
}

/**
 * Whether a whole tile's ending is all inline, no calls (finish_full_4x8 and the transposed
 * one): no Z, and no activation or ReLU.
 */
// @ts-ignore: decorator
@inline function ending_inline(act: i32, z: usize): bool {
  return z == 0 && (act == ACT_IDENTITY || act == ACT_RELU);
}

/**
 * Where a tile ending that calls out (epilogue_row_8, finish_4) keeps the tile's sums: the
 * MR × NR floats after the edge-tile staging in `tile` (TILE_FLOATS counts them). Those
 * endings store the accumulators here first and load each row back just before its call, so
 * no vector is live across a call. A register allocator without live-range splitting
 * (JavaScriptCore's) otherwise keeps an accumulator that crosses a call on the stack for its
 * whole life, the depth loop included: with two of the 4 × 8 tile's eight spilled, a load and
 * a store each every step, the GEMM ran at 37–43% of the peak probe under Bun. With the sums
 * kept here and whole tiles in a function without calls (gemm_rows_4x8_full) it runs at
 * 56–69% (`node bench/engines.mjs --engines=bun`, 256³–1024³ and the layer shapes); V8 splits
 * live ranges and was unaffected either way (bench/gemm-ab.mjs, both builds and --conv:
 * 1.003–1.010×).
 *
 * The transposed loops (gemm_rows_4x8_t, the convolutions' path) read about 35% of the
 * probe under Bun while their endings transposed the tile in a loop over its two halves:
 * the loop's selects kept all eight sums live through the ending, and the partial tiles'
 * calls did too, so JavaScriptCore spilled two accumulators for the whole depth loop. Now a
 * whole tile's ending runs the halves one after the other (finish_half_4x4_t) and the
 * other endings take the sums from here: 1.57–1.80× under Bun on the transposed GEMM and
 * the convolutions' forward and filter gradient, V8 level (Node 20, Deno, Chromium
 * 0.97–1.03×, `node bench/engines-ab.mjs --n=294912 --kernels="gemm 2048×32×144,conv …"`;
 * Node's `bench/gemm-ab.mjs --conv` median 1.020× over 15 layer kernels).
 */
// @ts-ignore: decorator
@inline function sums_at(tile: usize): usize {
  return tile + ((2 * MR * NR + NR) << 2);
}

/** The 4 × 8 tile's sums to sums_at(tile), row r at r·32 bytes. */
// @ts-ignore: decorator
@inline function stash_4x8(
  tile: usize, c0_0123: v128, c0_4567: v128, c1_0123: v128, c1_4567: v128,
  c2_0123: v128, c2_4567: v128, c3_0123: v128, c3_4567: v128,
): void {
  const t = sums_at(tile);
  v128.store(t, c0_0123);
  v128.store(t, c0_4567, 16);
  v128.store(t, c1_0123, 32);
  v128.store(t, c1_4567, 48);
  v128.store(t, c2_0123, 64);
  v128.store(t, c2_4567, 80);
  v128.store(t, c3_0123, 96);
  v128.store(t, c3_4567, 112);
}

/**
 * The end of an MR × 4 tile (tile_4x4 and the narrow tiles of gemm-narrow.ts): row r's four
 * sums in c{r}_0123; v = α·acc + β·C (+ bias); Z ← v if z ≠ 0; C ← act(v), for the top-left
 * mr × nr (nr ≤ 4) part only (partial tiles through `tile`).
 */
// @ts-ignore: decorator
@inline export function finish_tile_4x4(
  c0_0123: v128, c1_0123: v128, c2_0123: v128, c3_0123: v128, mr: i32, nr: i32, c: usize, ldc: i32,
  alpha: f32, beta: f32, bias: usize, act: i32, p: f32, z: usize, tile: usize,
): void {
  const ld = <usize>ldc << 2;
  // finish_4 handles 1–4 columns of one row (a partial one through the tile buffer). The
  // sums wait in memory between the calls (see sums_at).
  const t = sums_at(tile);
  v128.store(t, c0_0123);
  v128.store(t, c1_0123, 16);
  v128.store(t, c2_0123, 32);
  v128.store(t, c3_0123, 48);
  finish_4(v128.load(t), nr, c, 4, z, bias, 4, alpha, beta, act, p, tile);
  if (mr > 1) finish_4(v128.load(t, 16), nr, c + ld, 4, z != 0 ? z + ld : 0, bias, 4, alpha, beta, act, p, tile);
  if (mr > 2) finish_4(v128.load(t, 32), nr, c + 2 * ld, 4, z != 0 ? z + 2 * ld : 0, bias, 4, alpha, beta, act, p, tile);
  if (mr > 3) finish_4(v128.load(t, 48), nr, c + 3 * ld, 4, z != 0 ? z + 3 * ld : 0, bias, 4, alpha, beta, act, p, tile);
}

/**
 * The micro-kernel: one MR × NR (4 × 8) tile. acc = Σ_p ap[p]·bp[p]ᵀ over kc depth steps,
 * then v = α·acc + β·C (+ bias[0..8]); Z ← v if z ≠ 0; C ← act(v).
 * `ap`: kc packed groups of 4 broadcast vectors (one per row, see pack_a); `bp`: kc groups
 * of 8 floats (one per column), `bstep` bytes apart (32 when packed, B's row stride when read in place).
 * Only the top-left mr × nr part of C (and Z, and bias) is read or written; a partial tile
 * goes through `tile` (TILE_FLOATS floats of scratch). `full` (a constant): the caller
 * guarantees a whole tile without Z, with no activation or ReLU, and the ending is
 * finish_full_4x8 alone (no calls; see gemm_rows_4x8_full).
 */
// @ts-ignore: decorator
@inline function tile_4x8(
  kc: i32, ap: usize, bp: usize, bstep: usize, mr: i32, nr: i32, c: usize, ldc: i32,
  alpha: f32, beta: f32, bias: usize, act: i32, p: f32, z: usize, tile: usize, full: bool = false,
): void {
  let c0_0123 = f32x4.splat(0);
  let c0_4567 = c0_0123, c1_0123 = c0_0123, c1_4567 = c0_0123;
  let c2_0123 = c0_0123, c2_4567 = c0_0123, c3_0123 = c0_0123, c3_4567 = c0_0123;
  // One depth step per iteration: 6 loads (A's four already broadcast) and 16 vector
  // operations. Unrolled by hand, V8 (TurboFan) moves all the loads of the unrolled steps to
  // the top of the loop, which needs more than the 15 vector registers it allocates and
  // spills: measured 10–20% slower at 2 and 4 steps per iteration.
  let b_0123: v128, b_4567: v128, a: v128;
  const end = ap + (<usize>kc << 6);
  while (ap < end) {
    b_0123 = v128.load(bp);
    b_4567 = v128.load(bp, 16);
    a = v128.load(ap);
    c0_0123 = fmadd(a, b_0123, c0_0123);
    c0_4567 = fmadd(a, b_4567, c0_4567);
    a = v128.load(ap, 16);
    c1_0123 = fmadd(a, b_0123, c1_0123);
    c1_4567 = fmadd(a, b_4567, c1_4567);
    a = v128.load(ap, 32);
    c2_0123 = fmadd(a, b_0123, c2_0123);
    c2_4567 = fmadd(a, b_4567, c2_4567);
    a = v128.load(ap, 48);
    c3_0123 = fmadd(a, b_0123, c3_0123);
    c3_4567 = fmadd(a, b_4567, c3_4567);
    bp += bstep;
    ap += 64;
  }
  if (full) {
    finish_full_4x8(c0_0123, c0_4567, c1_0123, c1_4567, c2_0123, c2_4567, c3_0123, c3_4567, c, ldc, alpha, beta, bias, act, p);
  } else {
    finish_tile_4x8(
      c0_0123, c0_4567, c1_0123, c1_4567, c2_0123, c2_4567, c3_0123, c3_4567,
      mr, nr, c, ldc, alpha, beta, bias, act, p, z, tile,
    );
  }
}

/**
 * The first whole tile of a row of tiles, which packs the row's A micro-panel as it reads it:
 * op(A)'s MR rows are read in place (row r, depth step s at asrc + r·ars + s·aps), each value
 * broadcast, stored to the micro-panel at ap (as pack_a would) and multiplied in; then as
 * tile_4x8 with `full`. The tiles after it read the packed micro-panel. The stores go out
 * beside the tile's arithmetic instead of in a pass of their own before it (pack_a: a vector
 * store per element of op(A), 8.5% of a 64³ product's time). `transposed` (a constant): a
 * tile of Cᵀ, the first nr ≤ 8 rows of C, ended by finish_tile_4x8_t (gemm_rows_t_packing).
 */
// @ts-ignore: decorator
@inline function tile_4x8_packing(
  kc: i32, asrc: usize, ars: usize, aps: usize, ap: usize, bp: usize, bstep: usize, c: usize, ldc: i32,
  alpha: f32, beta: f32, bias: usize, act: i32, p: f32,
  transposed: bool = false, nr: i32 = NR, z: usize = 0, tile: usize = 0, store: bool = true,
): void {
  // store (a constant): false where no later tile reads the micro-panel (gemm_rows_t_reading).
  let c0_0123 = f32x4.splat(0);
  let c0_4567 = c0_0123, c1_0123 = c0_0123, c1_4567 = c0_0123;
  let c2_0123 = c0_0123, c2_4567 = c0_0123, c3_0123 = c0_0123, c3_4567 = c0_0123;
  let b_0123: v128, b_4567: v128, a: v128;
  const r2 = ars << 1;
  const r3 = r2 + ars;
  const end = ap + (<usize>kc << 6);
  while (ap < end) {
    b_0123 = v128.load(bp);
    b_4567 = v128.load(bp, 16);
    a = v128.load32_splat(asrc);
    if (store) v128.store(ap, a);
    c0_0123 = fmadd(a, b_0123, c0_0123);
    c0_4567 = fmadd(a, b_4567, c0_4567);
    a = v128.load32_splat(asrc + ars);
    if (store) v128.store(ap, a, 16);
    c1_0123 = fmadd(a, b_0123, c1_0123);
    c1_4567 = fmadd(a, b_4567, c1_4567);
    a = v128.load32_splat(asrc + r2);
    if (store) v128.store(ap, a, 32);
    c2_0123 = fmadd(a, b_0123, c2_0123);
    c2_4567 = fmadd(a, b_4567, c2_4567);
    a = v128.load32_splat(asrc + r3);
    if (store) v128.store(ap, a, 48);
    c3_0123 = fmadd(a, b_0123, c3_0123);
    c3_4567 = fmadd(a, b_4567, c3_4567);
    asrc += aps;
    bp += bstep;
    ap += 64;
  }
  if (transposed) {
    finish_tile_4x8_t(
      c0_0123, c0_4567, c1_0123, c1_4567, c2_0123, c2_4567, c3_0123, c3_4567,
      MR, nr, c, ldc, alpha, beta, bias, act, p, z, tile,
    );
  } else {
    finish_full_4x8(c0_0123, c0_4567, c1_0123, c1_4567, c2_0123, c2_4567, c3_0123, c3_4567, c, ldc, alpha, beta, bias, act, p);
  }
}

/**
 * The ending of a whole MR × NR tile without Z and with no activation or ReLU (`act`), all
 * inline: v = α·acc + β·C (C read only if β ≠ 0) (+ bias[0..8]), C ← act(v). A multiply by
 * 1 is exact, so α = 1 and β = 1 (a layer's product, an accumulating gradient) skip it: the
 * same bits. Also the ending of gemm-narrow.ts's shallow tiles.
 */
// @ts-ignore: decorator
@inline export function finish_full_4x8(
  c0_0123: v128, c0_4567: v128, c1_0123: v128, c1_4567: v128,
  c2_0123: v128, c2_4567: v128, c3_0123: v128, c3_4567: v128,
  c: usize, ldc: i32, alpha: f32, beta: f32, bias: usize, act: i32, p: f32,
): void {
  const ld = <usize>ldc << 2;
  const c1 = c + ld;
  const c2 = c1 + ld;
  const c3 = c2 + ld;
  if (alpha != 1) {
    const va = f32x4.splat(alpha);
    c0_0123 = f32x4.mul(c0_0123, va);
    c0_4567 = f32x4.mul(c0_4567, va);
    c1_0123 = f32x4.mul(c1_0123, va);
    c1_4567 = f32x4.mul(c1_4567, va);
    c2_0123 = f32x4.mul(c2_0123, va);
    c2_4567 = f32x4.mul(c2_4567, va);
    c3_0123 = f32x4.mul(c3_0123, va);
    c3_4567 = f32x4.mul(c3_4567, va);
  }
  if (beta == 1) {
    c0_0123 = f32x4.add(c0_0123, v128.load(c));
    c0_4567 = f32x4.add(c0_4567, v128.load(c, 16));
    c1_0123 = f32x4.add(c1_0123, v128.load(c1));
    c1_4567 = f32x4.add(c1_4567, v128.load(c1, 16));
    c2_0123 = f32x4.add(c2_0123, v128.load(c2));
    c2_4567 = f32x4.add(c2_4567, v128.load(c2, 16));
    c3_0123 = f32x4.add(c3_0123, v128.load(c3));
    c3_4567 = f32x4.add(c3_4567, v128.load(c3, 16));
  } else if (beta != 0) {
    const vb = f32x4.splat(beta);
    c0_0123 = f32x4.add(c0_0123, f32x4.mul(vb, v128.load(c)));
    c0_4567 = f32x4.add(c0_4567, f32x4.mul(vb, v128.load(c, 16)));
    c1_0123 = f32x4.add(c1_0123, f32x4.mul(vb, v128.load(c1)));
    c1_4567 = f32x4.add(c1_4567, f32x4.mul(vb, v128.load(c1, 16)));
    c2_0123 = f32x4.add(c2_0123, f32x4.mul(vb, v128.load(c2)));
    c2_4567 = f32x4.add(c2_4567, f32x4.mul(vb, v128.load(c2, 16)));
    c3_0123 = f32x4.add(c3_0123, f32x4.mul(vb, v128.load(c3)));
    c3_4567 = f32x4.add(c3_4567, f32x4.mul(vb, v128.load(c3, 16)));
  }
  if (bias != 0) {
    const bias_0123 = v128.load(bias);
    const bias_4567 = v128.load(bias, 16);
    c0_0123 = f32x4.add(c0_0123, bias_0123);
    c0_4567 = f32x4.add(c0_4567, bias_4567);
    c1_0123 = f32x4.add(c1_0123, bias_0123);
    c1_4567 = f32x4.add(c1_4567, bias_4567);
    c2_0123 = f32x4.add(c2_0123, bias_0123);
    c2_4567 = f32x4.add(c2_4567, bias_4567);
    c3_0123 = f32x4.add(c3_0123, bias_0123);
    c3_4567 = f32x4.add(c3_4567, bias_4567);
  }
  if (act == ACT_RELU) {
    c0_0123 = act_linear_v(ACT_RELU, c0_0123, p);
    c0_4567 = act_linear_v(ACT_RELU, c0_4567, p);
    c1_0123 = act_linear_v(ACT_RELU, c1_0123, p);
    c1_4567 = act_linear_v(ACT_RELU, c1_4567, p);
    c2_0123 = act_linear_v(ACT_RELU, c2_0123, p);
    c2_4567 = act_linear_v(ACT_RELU, c2_4567, p);
    c3_0123 = act_linear_v(ACT_RELU, c3_0123, p);
    c3_4567 = act_linear_v(ACT_RELU, c3_4567, p);
  }
  v128.store(c, c0_0123);
  v128.store(c, c0_4567, 16);
  v128.store(c1, c1_0123);
  v128.store(c1, c1_4567, 16);
  v128.store(c2, c2_0123);
  v128.store(c2, c2_4567, 16);
  v128.store(c3, c3_0123);
  v128.store(c3, c3_4567, 16);
}

/**
 * finish_full_4x8 for one row of 8 sums (acc_0123, acc_4567) stored at c: the same operations,
 * so the same bits. finish_full_4x8 keeps its own copy, phase by phase over its four rows:
 * written as four calls of this (row by row) the SIMD128 GEMM ran 0.97–0.98× at 64³ and
 * 784×64×256 (bench/gemm-ab.mjs).
 */
// @ts-ignore: decorator
@inline function finish_full_row_8(
  acc_0123: v128, acc_4567: v128, c: usize, alpha: f32, beta: f32, bias: usize, act: i32, p: f32,
): void {
  if (alpha != 1) {
    const va = f32x4.splat(alpha);
    acc_0123 = f32x4.mul(acc_0123, va);
    acc_4567 = f32x4.mul(acc_4567, va);
  }
  if (beta == 1) {
    acc_0123 = f32x4.add(acc_0123, v128.load(c));
    acc_4567 = f32x4.add(acc_4567, v128.load(c, 16));
  } else if (beta != 0) {
    const vb = f32x4.splat(beta);
    acc_0123 = f32x4.add(acc_0123, f32x4.mul(vb, v128.load(c)));
    acc_4567 = f32x4.add(acc_4567, f32x4.mul(vb, v128.load(c, 16)));
  }
  if (bias != 0) {
    acc_0123 = f32x4.add(acc_0123, v128.load(bias));
    acc_4567 = f32x4.add(acc_4567, v128.load(bias, 16));
  }
  if (act == ACT_RELU) {
    acc_0123 = act_linear_v(ACT_RELU, acc_0123, p);
    acc_4567 = act_linear_v(ACT_RELU, acc_4567, p);
  }
  v128.store(c, acc_0123);
  v128.store(c, acc_4567, 16);
}

/**
 * The end of an MR × NR tile (tile_4x8 and the narrow tiles of gemm-narrow.ts): row r's sums
 * in c{r}_0123 and c{r}_4567; v = α·acc + β·C (C read only if β ≠ 0) (+ bias[0..8]);
 * Z ← v if z ≠ 0; C ← act(v), for the top-left mr × nr part only (partial tiles staged in
 * `tile`). Every path that ends a tile here rounds the same way, so a sum computed by either
 * loop gives the same bits.
 */
// @ts-ignore: decorator
@inline export function finish_tile_4x8(
  c0_0123: v128, c0_4567: v128, c1_0123: v128, c1_4567: v128,
  c2_0123: v128, c2_4567: v128, c3_0123: v128, c3_4567: v128,
  mr: i32, nr: i32, c: usize, ldc: i32,
  alpha: f32, beta: f32, bias: usize, act: i32, p: f32, z: usize, tile: usize,
): void {
  if (mr == MR && nr == NR && ending_inline(act, z)) {
    // The common full tile without Z, and without activation or with ReLU: finished
    // inline, no calls.
    finish_full_4x8(c0_0123, c0_4567, c1_0123, c1_4567, c2_0123, c2_4567, c3_0123, c3_4567, c, ldc, alpha, beta, bias, act, p);
    return;
  }
  // The other endings call out: the sums wait in memory between the calls (see sums_at).
  stash_4x8(tile, c0_0123, c0_4567, c1_0123, c1_4567, c2_0123, c2_4567, c3_0123, c3_4567);
  const s = sums_at(tile);
  if (mr == MR && nr == NR) {
    const ld = <usize>ldc << 2;
    epilogue_row_8(c, z, v128.load(s), v128.load(s, 16), alpha, beta, bias, act, p);
    epilogue_row_8(c + ld, z != 0 ? z + ld : 0, v128.load(s, 32), v128.load(s, 48), alpha, beta, bias, act, p);
    epilogue_row_8(c + 2 * ld, z != 0 ? z + 2 * ld : 0, v128.load(s, 64), v128.load(s, 80), alpha, beta, bias, act, p);
    epilogue_row_8(c + 3 * ld, z != 0 ? z + 3 * ld : 0, v128.load(s, 96), v128.load(s, 112), alpha, beta, bias, act, p);
    return;
  }

  // Edge tile: stage the valid part of C and bias in the tile buffer, finish there, copy out.
  const tc = tile;                 // MR × NR values of C
  const tz = tile + MR * NR * 4;   // MR × NR values of Z
  const tb = tile + 2 * MR * NR * 4; // NR bias values
  const ld = <usize>ldc << 2;
  if (beta != 0) {
    for (let r = 0; r < mr; r++) {
      for (let j = 0; j < nr; j++) {
        store<f32>(tc + <usize>(r * NR + j) * 4, load<f32>(c + <usize>r * ld + (<usize>j << 2)));
      }
    }
  }
  let tbias: usize = 0;
  if (bias != 0) {
    v128.store(tb, f32x4.splat(0));
    v128.store(tb, f32x4.splat(0), 16);
    for (let j = 0; j < nr; j++) store<f32>(tb + (<usize>j << 2), load<f32>(bias + (<usize>j << 2)));
    tbias = tb;
  }
  const tzr: usize = z != 0 ? tz : 0;
  const row: usize = NR * 4;
  epilogue_row_8(tc, tzr, v128.load(s), v128.load(s, 16), alpha, beta, tbias, act, p);
  if (mr > 1) epilogue_row_8(tc + row, z != 0 ? tz + row : 0, v128.load(s, 32), v128.load(s, 48), alpha, beta, tbias, act, p);
  if (mr > 2) epilogue_row_8(tc + 2 * row, z != 0 ? tz + 2 * row : 0, v128.load(s, 64), v128.load(s, 80), alpha, beta, tbias, act, p);
  if (mr > 3) epilogue_row_8(tc + 3 * row, z != 0 ? tz + 3 * row : 0, v128.load(s, 96), v128.load(s, 112), alpha, beta, tbias, act, p);
  for (let r = 0; r < mr; r++) {
    for (let j = 0; j < nr; j++) {
      const t = <usize>(r * NR + j) * 4;
      const o = <usize>r * ld + (<usize>j << 2);
      store<f32>(c + o, load<f32>(tc + t));
      if (z != 0) store<f32>(z + o, load<f32>(tz + t));
    }
  }
}

/**
 * Finishes one row of eight outputs: v = α·acc + β·C (C read only if β ≠ 0), plus
 * bias[0..8] if bias ≠ 0; stores v to z if z ≠ 0; stores act(v) to c.
 */
function epilogue_row_8(
  c: usize, z: usize, acc_0123: v128, acc_4567: v128,
  alpha: f32, beta: f32, bias: usize, act: i32, p: f32,
): void {
  const va = f32x4.splat(alpha);
  let v_0123 = f32x4.mul(acc_0123, va);
  let v_4567 = f32x4.mul(acc_4567, va);
  if (beta != 0) {
    const vb = f32x4.splat(beta);
    v_0123 = f32x4.add(v_0123, f32x4.mul(vb, v128.load(c)));
    v_4567 = f32x4.add(v_4567, f32x4.mul(vb, v128.load(c, 16)));
  }
  if (bias != 0) {
    v_0123 = f32x4.add(v_0123, v128.load(bias));
    v_4567 = f32x4.add(v_4567, v128.load(bias, 16));
  }
  if (z != 0) {
    v128.store(z, v_0123);
    v128.store(z, v_4567, 16);
  }
  if (act != ACT_IDENTITY) {
    v_0123 = act_v(act, v_0123, p);
    v_4567 = act_v(act, v_4567, p);
  }
  v128.store(c, v_0123);
  v128.store(c, v_4567, 16);
}

/**
 * Packs rows [i0, i0 + mc) × depth [p0, p0 + kc) of op(A) into MR-row micro-panels at
 * dst, each value broadcast to a whole f32x4: micro-panel q (rows i0 + 4q …) is kc groups
 * of MR vectors (64 bytes), group p holding splat(op(A)[i0 + 4q + r][p0 + p]) for r < MR;
 * rows past the block are zero. op(A)[i][p] is A[i·lda + p], or A[p·lda + i] if trans.
 * (The micro-kernel then reads A with plain 16-byte loads at fixed offsets, which V8 folds
 * into the load instruction; a broadcast load with an offset costs it an extra address
 * computation per load.)
 */
export function pack_a(trans: i32, a: usize, lda: i32, i0: i32, p0: i32, mc: i32, kc: i32, dst: usize): void {
  const ld = <usize>lda << 2;
  // Bytes between rows (rs) and between depth steps (ps) of op(A).
  const rs: usize = trans ? 4 : ld;
  const ps: usize = trans ? ld : 4;
  pack_a_from(a + <usize>i0 * rs + <usize>p0 * ps, rs, ps, mc, kc, dst);
}

/**
 * The least distance between two depth steps of op(A) = Aᵀ (bytes: lda · 4) at which gemm_run
 * copies a row block's lines of A before packing it (copy_steps). With op(A) = Aᵀ, a block
 * of MC = 16 rows is one 64-byte line of A per depth step, the kc lines lda floats apart, and
 * each of the block's four micro-panels packs its quarter of every line in turn (its first
 * tile, gemm_rows_packing). Between those four passes the kc = 256 lines must stay in cache;
 * at a stride of a power of two they fall into few sets (one set of L1; of an L2 of L bytes,
 * room for L / stride of them where A's pages lie in order in physical memory, as huge pages
 * and freshly allocated memory often do), and each micro-panel read them from L3 again, a new
 * page a line. Copied first, each line is read once, whatever the cache's shape and the
 * pages' placement.
 * Measured (2026-12-06, Aᵀ·B, m×k×n): in `npm run bench`'s GEMM suite, where 4096×576×64 met
 * such placement run after run (86–90% of the mul+add peak), 97–99%. Paired against reading A
 * four times (bench/gemm-ab.mjs), in a run that met it: 4096×576×64 1.14×, 4096×256×64 1.21×,
 * 2048×512×64 1.11×, 4096×576×256 1.05×, 2048×2048×128 1.04×, 1000×512×64 1.05×, 1024×512×64
 * 1.04×; in runs that did not, 2048×512×64 still 1.03–1.05×, 4096×576×64 0.97–1.00×,
 * 576×1024×64 (2304-byte steps) 0.99–1.02×, 512³, 1024³ and 784×64×256 level. The relaxed-SIMD
 * build: in the suite 70–79% of the relaxed_madd peak before, 77% after; paired 0.97–1.02×.
 * Node 24, Deno, Bun and Chromium (bench/engines-ab.mjs): 4096×576×64 1.00–1.03×, 2048×512×64
 * 1.01–1.03×, 256³ 0.97–1.01×. Below 1 KiB a step (lda < 256) a 512 KiB L2 holds the lines at
 * any stride and the copy only costs (64×64×64 0.99×).
 * The relaxed build's 5 × 8 tiles (rows5) pack op(A) compact, a step's 15 rows one read of
 * adjacent values; at these strides three blocks are packed at once (pack_a_rows5_x3), so
 * that a line two blocks share is read once: 1.01–1.04× on 1000–4096-row Aᵀ·B (784×64×256
 * 0.99×).
 * Not kept: the copy made inside the first micro-panel's packing tile, with no pass of its own
 * (98% in the suite, 0.98–1.00× against this paired); the deep order (gemm_run_deep) for Aᵀ·B
 * with the copy, 0.96–1.00× against this.
 */
const A_LINES_MIN_STRIDE: usize = 1024;

/**
 * kc depth steps of `bytes` adjacent bytes (a multiple of 64: whole lines where src is
 * aligned), one step ps bytes after the other from src, copied to dst, contiguous. For op(A) =
 * Aᵀ read through copies: a row block's lines here (A_LINES_MIN_STRIDE), gemm-narrow.ts's
 * strips (strips_pay).
 */
export function copy_steps(src: usize, ps: usize, kc: i32, bytes: usize, dst: usize): void {
  const end = dst + <usize>kc * bytes;
  while (dst < end) {
    for (let j: usize = 0; j < bytes; j += 64) {
      v128.store(dst + j, v128.load(src + j));
      v128.store(dst + j, v128.load(src + j, 16), 16);
      v128.store(dst + j, v128.load(src + j, 32), 32);
      v128.store(dst + j, v128.load(src + j, 48), 48);
    }
    src += ps;
    dst += bytes;
  }
}

/**
 * pack_a for mc rows × kc depth steps of op(A) given by where its first value is (src) and
 * the bytes between two rows (rs) and two depth steps (ps).
 */
function pack_a_from(src: usize, rs: usize, ps: usize, mc: i32, kc: i32, dst: usize): void {
  const zero = f32x4.splat(0);
  for (let q = 0; q < mc; q += MR) {
    const rows = min<i32>(MR, mc - q);
    let s0 = src + <usize>q * rs;
    const end = dst + (<usize>kc << 6);
    if (rows == MR) {
      const s1 = rs, s2 = rs << 1, s3 = rs * 3;
      while (dst < end) {
        v128.store(dst, v128.load32_splat(s0));
        v128.store(dst, v128.load32_splat(s0 + s1), 16);
        v128.store(dst, v128.load32_splat(s0 + s2), 32);
        v128.store(dst, v128.load32_splat(s0 + s3), 48);
        s0 += ps;
        dst += 64;
      }
    } else {
      while (dst < end) {
        v128.store(dst, v128.load32_splat(s0));
        v128.store(dst, rows > 1 ? v128.load32_splat(s0 + rs) : zero, 16);
        v128.store(dst, rows > 2 ? v128.load32_splat(s0 + (rs << 1)) : zero, 32);
        v128.store(dst, zero, 48);
        s0 += ps;
        dst += 64;
      }
    }
  }
}

/**
 * Stores one packed group of op(A) (see pack_a): the MR = 4 values in the lanes of v, each
 * broadcast to a vector, at dst … dst + 63. For packers of A panels other than pack_a.
 */
// @ts-ignore: decorator
@inline export function store_a_group(dst: usize, v: v128): void {
  v128.store(dst, i32x4.shuffle(v, v, 0, 0, 0, 0));
  v128.store(dst, i32x4.shuffle(v, v, 1, 1, 1, 1), 16);
  v128.store(dst, i32x4.shuffle(v, v, 2, 2, 2, 2), 32);
  v128.store(dst, i32x4.shuffle(v, v, 3, 3, 3, 3), 48);
}

/** Bytes of one packed depth step of an A micro-panel (MR broadcast vectors). */
export const A_GROUP_BYTES: i32 = MR * 16;

/** Bytes of a packed block of mc rows × kc depth steps of op(A) (whole micro-panels). */
// @ts-ignore: decorator
@inline export function a_block_bytes(mc: i32, kc: i32): usize {
  return <usize>round_up(mc, MR) * <usize>kc * 16;
}

/** The 4 × 4 transpose of rows r0 … r3, its rows stored 32 bytes apart from dst (half a
 *  B micro-panel group each: pack_b, and the convolution's patch packer). */
// @ts-ignore: decorator
@inline export function transpose_store_4x4(r0: v128, r1: v128, r2: v128, r3: v128, dst: usize): void {
  const lo = i32x4.shuffle(r0, r1, 0, 4, 1, 5);
  const hi = i32x4.shuffle(r0, r1, 2, 6, 3, 7);
  const lo2 = i32x4.shuffle(r2, r3, 0, 4, 1, 5);
  const hi2 = i32x4.shuffle(r2, r3, 2, 6, 3, 7);
  v128.store(dst, i32x4.shuffle(lo, lo2, 0, 1, 4, 5));
  v128.store(dst, i32x4.shuffle(lo, lo2, 2, 3, 6, 7), 32);
  v128.store(dst, i32x4.shuffle(hi, hi2, 0, 1, 4, 5), 64);
  v128.store(dst, i32x4.shuffle(hi, hi2, 2, 3, 6, 7), 96);
}

/**
 * Packs depth [p0, p0 + kc) × columns [j0, j0 + nc) of op(B) into NR-column micro-panels
 * at dst: micro-panel q (columns j0 + 8q …) is kc groups of 8 consecutive floats, one per
 * column, columns past the panel zero. op(B)[p][j] is B[p·ldb + j], or B[j·ldb + p] if trans.
 *
 * With op(B) = B and rows a multiple of 256 bytes apart (ldb a multiple of 64: 256, 512, 768,
 * 1024 …), two micro-panels are packed in one pass over the rows, each row's 16 floats (64
 * bytes: a whole cache line when aligned) read at once. One panel a pass reads half a line
 * per row and the next pass the other half; at such strides the kc rows' lines fall into at
 * most 16 of an L1's 64 sets (4 at 768 floats, one at 1024), too few ways to hold them
 * between the two passes, so every line came in twice. Paired against one panel a pass
 * (bench/gemm-ab.mjs, 2026-12-06, m×k×n): 4×768×768 1.12× (relaxed 1.16×), 32×1024×1024
 * 1.06× (1.06×), 64×768×768 1.02×, 16×256×n at n = 576, 640, 832, 896, 960, 1536, 2048
 * 1.02, 1.015, 1.03, 1.03, 1.04, 1.035, 1.05×; 256³ level; Node 24, Deno, Bun and Chromium
 * (bench/engines-ab.mjs) 1.09–1.16× at 4×768×768 and 1.04–1.05× at 32×1024×1024. At other
 * strides the rows' lines spread over the sets, the second pass finds them in L1, and two
 * store streams cost more than they save: 16×256×n at n = 600, 700, 784, 1000 0.97–0.98×.
 */
export function pack_b(trans: i32, b: usize, ldb: i32, p0: i32, j0: i32, kc: i32, nc: i32, dst: usize): void {
  const ld = <usize>ldb << 2;
  const pairs = (ldb & 63) == 0;
  const zero = f32x4.splat(0);
  for (let q = 0; q < nc; q += NR) {
    const cols = min<i32>(NR, nc - q);
    if (!trans) {
      // Row p of B holds op(B)[p][j..j+8] side by side.
      let src = b + <usize>p0 * ld + (<usize>(j0 + q) << 2);
      if (pairs && cols == NR && q + 2 * NR <= nc) {
        // Two micro-panels a pass: each row's whole 64-byte line at once (see above).
        const dst2 = dst + (<usize>kc << 5);
        let off: usize = 0;
        for (let p = 0; p < kc; p++) {
          v128.store(dst + off, v128.load(src));
          v128.store(dst + off, v128.load(src, 16), 16);
          v128.store(dst2 + off, v128.load(src, 32));
          v128.store(dst2 + off, v128.load(src, 48), 16);
          src += ld;
          off += 32;
        }
        dst = dst2 + off;
        q += NR;
      } else if (cols == NR) {
        for (let p = 0; p < kc; p++) {
          v128.store(dst, v128.load(src));
          v128.store(dst, v128.load(src, 16), 16);
          src += ld;
          dst += 32;
        }
      } else {
        for (let p = 0; p < kc; p++) {
          v128.store(dst, zero);
          v128.store(dst, zero, 16);
          for (let j = 0; j < cols; j++) store<f32>(dst + (<usize>j << 2), load<f32>(src + (<usize>j << 2)));
          src += ld;
          dst += 32;
        }
      }
    } else {
      // Columns of op(B) are rows of B: transpose 4 × 4 blocks from eight rows.
      const s0 = b + <usize>(j0 + q) * ld + (<usize>p0 << 2);
      if (cols == NR) {
        const s1 = s0 + ld, s2 = s1 + ld, s3 = s2 + ld;
        const s4 = s3 + ld, s5 = s4 + ld, s6 = s5 + ld, s7 = s6 + ld;
        let p = 0;
        let off: usize = 0;
        for (; p + 4 <= kc; p += 4) {
          transpose_store_4x4(v128.load(s0 + off), v128.load(s1 + off), v128.load(s2 + off), v128.load(s3 + off), dst);
          transpose_store_4x4(v128.load(s4 + off), v128.load(s5 + off), v128.load(s6 + off), v128.load(s7 + off), dst + 16);
          off += 16;
          dst += 128;
        }
        for (; p < kc; p++) {
          let x = f32x4.splat(load<f32>(s0 + off));
          x = f32x4.replace_lane(x, 1, load<f32>(s1 + off));
          x = f32x4.replace_lane(x, 2, load<f32>(s2 + off));
          x = f32x4.replace_lane(x, 3, load<f32>(s3 + off));
          let y = f32x4.splat(load<f32>(s4 + off));
          y = f32x4.replace_lane(y, 1, load<f32>(s5 + off));
          y = f32x4.replace_lane(y, 2, load<f32>(s6 + off));
          y = f32x4.replace_lane(y, 3, load<f32>(s7 + off));
          v128.store(dst, x);
          v128.store(dst, y, 16);
          off += 4;
          dst += 32;
        }
      } else {
        for (let p = 0; p < kc; p++) {
          v128.store(dst, zero);
          v128.store(dst, zero, 16);
          const col = s0 + (<usize>p << 2);
          for (let j = 0; j < cols; j++) store<f32>(dst + (<usize>j << 2), load<f32>(col + <usize>j * ld));
          dst += 32;
        }
      }
    }
  }
}
