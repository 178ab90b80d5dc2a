/**
 * Kernels that spread big calls over the pool, with the same signatures as the raw ones,
 * so ops and graphs use threads without knowing it.
 *
 * - GEMM (plain and fused bias + activation): the output is cut into blocks of whole
 *   micro-tiles along its longer side (rows of op(A) and C, or columns of op(B) and C); each
 *   thread runs the single-thread kernel on its block with its own packing scratch. Every
 *   element is computed exactly as on one thread, so results are bitwise identical.
 * - Elementwise kernels (activations forward and backward, the fused layer's act_backward):
 *   cut by range, in multiples of 4 elements so every part stays 16-byte aligned.
 * - Item-wise kernels (pooling, softmax, layer norm's forward): cut into runs of whole
 *   images or rows, the same size threshold as the elementwise ones.
 * Calls below a size threshold stay on the calling thread, where a dispatch would cost more
 * than it saves.
 */
import type { Kernels } from "../runtime/kernels.js";
import type { Pool } from "./pool.js";
import { kernelSplits } from "../ops/registry.js";
import { MR, NR } from "../ops/gemm-blocking.js";
import { splitAttention } from "./split-attention.js";
import type {} from "../ops/matmul.js";
import type {} from "../ops/conv.js";

// Thresholds, from bench/threads/thresholds.mjs on a 2-core machine (2026-12-02, after the
// calling thread began running tasks its worker has not started): GEMM 0.83× at 32³, 0.94× at
// 48³, 1.00× at 64³, 1.22× at 96³, 1.5–1.9× from 128³ up; tanh forward 0.98× and GeLU
// backward 1.57× at 16384 elements, 1.6–1.9× from 32768 up. (Earlier limits, 40³ and 8192,
// assumed a worker polling for work, which a busy machine does not give: a worker that has
// to be woken up is late for anything smaller.) The limits sit at break-even, so a call that
// does not gain stays on its thread.
/** GEMMs with fewer multiply-adds than this stay on one thread (64³). */
export const GEMM_MIN_MACS = 1 << 18;
/**
 * Thin products (one operand a vector, or an inner dimension under 4: a single example's
 * layer, a rank-1 weight gradient) are bound by memory, not arithmetic, and measured slower
 * when split inside a batch-1 training step: they stay on one thread below this many MACs.
 */
export const THIN_MIN_MACS = 1 << 22;
/**
 * Elementwise calls with fewer elements than this stay on one thread; item-wise ones (rule
 * "batch") too, counting their largest operand's elements. Those measured on 2 threads (the
 * same script, --only=batch, Zen 4 VM at load ~1, 2026-12-02): 2 × 2 pooling by images
 * 1.26–1.60× at 25,088 elements, 1.58–1.84× at 50,176, 1.9–1.96× from 200,704 up;
 * softmax, its gradient and layer norm by rows of 256: 1.05–1.69× at 8,192, 1.38–1.84× at
 * 16,384, 1.6–1.99× from 32,768 up.
 */
export const ELEMENTWISE_MIN = 1 << 14;

/**
 * Elementwise kernels that split by range: the indices of their pointer arguments and of n.
 * Read from the op definitions (each op's `threads`, src/ops/op.ts), not listed here.
 */
export const ELEMENTWISE: Readonly<Record<string, { ptrs: readonly number[]; n: number }>> = (() => {
  const out: Record<string, { ptrs: readonly number[]; n: number }> = {};
  for (const [name, rule] of Object.entries(kernelSplits())) {
    if (rule?.kind === "elementwise") out[name] = { ptrs: rule.ptrs, n: rule.n };
  }
  return out;
})();

/**
 * Kernels that split into runs of whole items (rule "batch": images of a pooling, rows of a
 * softmax or layer norm): the index of the item count and, per pointer to advance, the
 * arguments whose product is an item's floats. Read from the op definitions.
 */
export const BATCH: Readonly<Record<string, { n: number; ptrs: readonly (readonly [number, readonly number[]])[] }>> = (() => {
  const out: Record<string, { n: number; ptrs: readonly (readonly [number, readonly number[]])[] }> = {};
  for (const [name, rule] of Object.entries(kernelSplits())) {
    if (rule?.kind === "batch") out[name] = { n: rule.n, ptrs: rule.ptrs };
  }
  return out;
})();

/** Convolution kernels (rule "conv" in their op's `threads`), split as splitConv below says. */
export const CONV_KERNELS: readonly string[] = Object.entries(kernelSplits()).filter(([, rule]) => rule?.kind === "conv").map(([name]) => name);

/** Attention kernels (rule "attention"), split by batch·head slices (split-attention.ts). */
export const ATTENTION_KERNELS: readonly string[] = Object.entries(kernelSplits()).filter(([, rule]) => rule?.kind === "attention").map(([name]) => name);

/** The kernels workers can run, in task-table order. */
export const TASK_KERNELS: readonly string[] = ["gemm", "gemm_bias_act", ...Object.keys(ELEMENTWISE), ...Object.keys(BATCH), ...CONV_KERNELS, ...ATTENTION_KERNELS];

/**
 * Bytes of each worker's scratch to start with: enough for GEMM and convolution packing at
 * any size (their blocking bounds it). Attention's grows with T·dh: the runtime enlarges
 * every worker's scratch when a graph or an eager call needs more (Runtime.reserveWorkerScratch);
 * a call needing more than the workers hold stays on the calling thread.
 */
export function workerScratchBytes(raw: Kernels): number {
  const big = 1 << 16;
  // (The dense kernel set has no convolutions.)
  const conv = typeof raw.conv2d_scratch_bytes === "function" ? raw.conv2d_scratch_bytes(big, big, big) : 0;
  return Math.max(raw.gemm_scratch_bytes(big, big, big), conv);
}

type Fn = (...a: number[]) => void;

const isThin = (m: number, n: number, k: number) => m < 4 || n < 4 || k < 4;


/** Kernels whose big calls run on the pool; `scratch[w]` is worker w's GEMM packing area. */
export function threadedKernels(
  raw: Kernels,
  pool: Pool,
  scratch: readonly number[],
  limits: { gemmMinMacs?: number; elementwiseMin?: number; workerBytes?: () => number } = {},
): Kernels {
  const gemmMin = limits.gemmMinMacs ?? GEMM_MIN_MACS;
  const ewMin = limits.elementwiseMin ?? ELEMENTWISE_MIN;
  // A plain copy: the exports object of an instance is frozen, so its entries cannot be replaced.
  const k = { ...raw } as Kernels & Record<string, Fn>;
  const r = raw as unknown as Record<string, Fn>;
  const T = pool.threads;
  const gemmIdx = pool.kernel("gemm");
  const fusedIdx = pool.kernel("gemm_bias_act");

  /**
   * Splits an m × n output into ≤ T blocks of `chunk` rows (or columns) each, the last one
   * taking what is left; returns [parts, byRows, chunk]. A last block one row or column wide
   * joins the one before it: a 1-wide GEMM takes the matrix-vector path, which sums in another
   * order, and results must stay bitwise equal to one thread's.
   */
  const plan = (m: number, n: number): [number, boolean, number] => {
    const byRows = m / MR >= n / NR;
    const len = byRows ? m : n;
    const tile = byRows ? MR : NR;
    const chunk = Math.ceil(Math.ceil(len / T) / tile) * tile;
    let parts = Math.ceil(len / chunk);
    if (parts > 1 && len - (parts - 1) * chunk === 1) parts--;
    return [parts, byRows, chunk];
  };
  /** Length of block w of `parts` blocks over `len`. */
  const blockLen = (w: number, parts: number, chunk: number, len: number) => (w === parts - 1 ? len - w * chunk : chunk);

  k.gemm = (tA, tB, m, n, kk, alpha, a, lda, b, ldb, beta, c, ldc, scr) => {
    if (m * n * kk < gemmMin || (isThin(m, n, kk) && m * n * kk < THIN_MIN_MACS)) return r.gemm!(tA, tB, m, n, kk, alpha, a, lda, b, ldb, beta, c, ldc, scr);
    const [parts, byRows, chunk] = plan(m, n);
    for (let w = 1; w < parts; w++) {
      const s = w * chunk;
      const len = blockLen(w, parts, chunk, byRows ? m : n);
      const x = pool.args(w, gemmIdx);
      x[0] = tA; x[1] = tB;
      x[2] = byRows ? len : m; x[3] = byRows ? n : len; x[4] = kk; x[5] = alpha;
      x[6] = byRows ? (tA ? a + s * 4 : a + s * lda * 4) : a; x[7] = lda;
      x[8] = byRows ? b : tB ? b + s * ldb * 4 : b + s * 4; x[9] = ldb;
      x[10] = beta; x[11] = byRows ? c + s * ldc * 4 : c + s * 4; x[12] = ldc;
      x[13] = scratch[w]!;
    }
    pool.go(parts - 1, () => {
      const len = blockLen(0, parts, chunk, byRows ? m : n);
      if (byRows) r.gemm!(tA, tB, len, n, kk, alpha, a, lda, b, ldb, beta, c, ldc, scr);
      else r.gemm!(tA, tB, m, len, kk, alpha, a, lda, b, ldb, beta, c, ldc, scr);
    });
  };

  k.gemm_bias_act = (tA, tB, m, n, kk, a, lda, b, ldb, bias, act, p, z, c, ldc, scr) => {
    if (m * n * kk < gemmMin || (isThin(m, n, kk) && m * n * kk < THIN_MIN_MACS)) return r.gemm_bias_act!(tA, tB, m, n, kk, a, lda, b, ldb, bias, act, p, z, c, ldc, scr);
    const [parts, byRows, chunk] = plan(m, n);
    for (let w = 1; w < parts; w++) {
      const s = w * chunk;
      const len = blockLen(w, parts, chunk, byRows ? m : n);
      const x = pool.args(w, fusedIdx);
      x[0] = tA; x[1] = tB;
      x[2] = byRows ? len : m; x[3] = byRows ? n : len; x[4] = kk;
      x[5] = byRows ? (tA ? a + s * 4 : a + s * lda * 4) : a; x[6] = lda;
      x[7] = byRows ? b : tB ? b + s * ldb * 4 : b + s * 4; x[8] = ldb;
      x[9] = byRows || bias === 0 ? bias : bias + s * 4; x[10] = act; x[11] = p;
      x[12] = z === 0 ? 0 : byRows ? z + s * ldc * 4 : z + s * 4;
      x[13] = byRows ? c + s * ldc * 4 : c + s * 4; x[14] = ldc;
      x[15] = scratch[w]!;
    }
    pool.go(parts - 1, () => {
      const len = blockLen(0, parts, chunk, byRows ? m : n);
      if (byRows) r.gemm_bias_act!(tA, tB, len, n, kk, a, lda, b, ldb, bias, act, p, z, c, ldc, scr);
      else r.gemm_bias_act!(tA, tB, m, len, kk, a, lda, b, ldb, bias, act, p, z, c, ldc, scr);
    });
  };

  splitConv(k, r, pool, scratch, gemmMin);
  const fixedBytes = workerScratchBytes(raw);
  splitAttention(k, r, pool, scratch, limits.workerBytes ?? (() => fixedBytes), gemmMin);

  for (const [name, d] of Object.entries(ELEMENTWISE)) {
    const f = r[name];
    if (typeof f !== "function") continue;
    const idx = pool.kernel(name);
    k[name] = (...args: number[]) => {
      const n = args[d.n]!;
      if (n < ewMin) return f(...args);
      const chunk = Math.ceil(Math.ceil(n / T) / 4) * 4;
      const parts = Math.ceil(n / chunk);
      for (let w = 1; w < parts; w++) {
        const s = w * chunk;
        const x = pool.args(w, idx);
        for (let i = 0; i < args.length; i++) x[i] = args[i]!;
        for (const pi of d.ptrs) if (args[pi] !== 0) x[pi] = args[pi]! + s * 4;
        x[d.n] = Math.min(chunk, n - s);
      }
      pool.go(parts - 1, () => {
        const own = args.slice();
        own[d.n] = Math.min(chunk, n);
        f(...own);
      });
    };
  }
  for (const [name, d] of Object.entries(BATCH)) {
    const f = r[name];
    if (typeof f !== "function") continue;
    const idx = pool.kernel(name);
    // Floats each pointer moves per item (filled per call, kept per kernel).
    const steps = new Float64Array(d.ptrs.length);
    k[name] = (...args: number[]) => {
      const n = args[d.n]!;
      // The call's size is its largest operand's.
      let most = 0;
      for (let j = 0; j < d.ptrs.length; j++) {
        let floats = 1;
        for (const i of d.ptrs[j]![1]) floats *= args[i]!;
        steps[j] = floats;
        most = Math.max(most, floats);
      }
      if (n < 2 || n * most < ewMin) return f(...args);
      const chunk = Math.ceil(n / T);
      const parts = Math.ceil(n / chunk);
      for (let w = 1; w < parts; w++) {
        const s = w * chunk;
        const x = pool.args(w, idx);
        for (let i = 0; i < args.length; i++) x[i] = args[i]!;
        for (let j = 0; j < d.ptrs.length; j++) {
          const pi = d.ptrs[j]![0];
          if (args[pi] !== 0) x[pi] = args[pi]! + s * steps[j]! * 4;
        }
        x[d.n] = Math.min(chunk, n - s);
      }
      pool.go(parts - 1, () => {
        const own = args.slice();
        own[d.n] = Math.min(chunk, n);
        f(...own);
      });
    };
  }
  return k;
}

/**
 * The convolutions, split like GEMM so that every element is computed exactly as on one
 * thread (bitwise equal results):
 * - forward (plain or fused): output rows (pixels) in blocks of whole micro-tile rows;
 * - filter gradient: the K × F result in blocks of rows (MR) or columns (NR), whichever
 *   side is longer in tiles, each thread summing over every pixel in the same slices;
 * - input gradient: by images (each thread scatters into its own images only, in the same
 *   order as one thread would); a single image stays on one thread.
 */
function splitConv(k: Record<string, Fn>, r: Record<string, Fn>, pool: Pool, scratch: readonly number[], gemmMin: number): void {
  const T = pool.threads;
  if (typeof r.conv2d_forward !== "function") return;
  const dfIdx = pool.kernel("conv2d_backward_filter");
  const dxIdx = pool.kernel("conv2d_backward_input");
  const patch = (c: number, ks: number) => (ks & 0xffff) * (ks >>> 16) * c;

  // The forward (plain, and with the fused bias, activation and Z): output rows split; the
  // bias, activation and Z arguments go to every part as they are (Z is laid out like y).
  const forward = (name: "conv2d_forward" | "conv2d_forward_bias_act") => {
    const idx = pool.kernel(name);
    const raw = r[name]!;
    return (...a: number[]) => {
      const [, , , , , , c, f, , , ks] = a as [number, number, number, number, number, number, number, number, number, number, number];
      const row0 = a[14]!;
      const rows = a[15]!;
      const last = a.length - 1;
      const kk = patch(c, ks);
      if (rows * kk * f < gemmMin || rows < 2 * MR) return raw(...a);
      const chunk = Math.ceil(Math.ceil(rows / T) / MR) * MR;
      const parts = Math.ceil(rows / chunk);
      for (let wk = 1; wk < parts; wk++) {
        const args = pool.args(wk, idx);
        for (let i = 0; i < a.length; i++) args[i] = a[i]!;
        args[14] = row0 + wk * chunk; args[15] = Math.min(chunk, rows - wk * chunk); args[last] = scratch[wk]!;
      }
      a[15] = Math.min(chunk, rows); // the calling thread's part (a is this call's own array)
      pool.go(parts - 1, () => raw(...a));
    };
  };
  k.conv2d_forward = forward("conv2d_forward");
  if (typeof r.conv2d_forward_bias_act === "function") k.conv2d_forward_bias_act = forward("conv2d_forward_bias_act");

  k.conv2d_backward_filter = (x, dy, df, n, h, w, c, f, ho, wo, ks, st, dl, pd, q0, qn, f0, fn, acc, scr) => {
    const m = n * ho * wo;
    const byRows = qn / MR >= fn / NR;
    const len = byRows ? qn : fn;
    const tile = byRows ? MR : NR;
    if (m * qn * fn < gemmMin || len < 2 * tile) return r.conv2d_backward_filter!(x, dy, df, n, h, w, c, f, ho, wo, ks, st, dl, pd, q0, qn, f0, fn, acc, scr);
    const chunk = Math.ceil(Math.ceil(len / T) / tile) * tile;
    const parts = Math.ceil(len / chunk);
    for (let wk = 1; wk < parts; wk++) {
      const s0 = wk * chunk;
      const l = Math.min(chunk, len - s0);
      const a = pool.args(wk, dfIdx);
      a[0] = x; a[1] = dy; a[2] = df; a[3] = n; a[4] = h; a[5] = w; a[6] = c; a[7] = f; a[8] = ho; a[9] = wo;
      a[10] = ks; a[11] = st; a[12] = dl; a[13] = pd;
      a[14] = byRows ? q0 + s0 : q0; a[15] = byRows ? l : qn;
      a[16] = byRows ? f0 : f0 + s0; a[17] = byRows ? fn : l;
      a[18] = acc; a[19] = scratch[wk]!;
    }
    pool.go(parts - 1, () => {
      const l = Math.min(chunk, len);
      r.conv2d_backward_filter!(x, dy, df, n, h, w, c, f, ho, wo, ks, st, dl, pd, q0, byRows ? l : qn, f0, byRows ? fn : l, acc, scr);
    });
  };

  k.conv2d_backward_input = (dy, fl, dx, n, h, w, c, f, ho, wo, ks, st, dl, pd, acc, scr) => {
    const kk = patch(c, ks);
    if (n < 2 || n * ho * wo * kk * f < gemmMin) return r.conv2d_backward_input!(dy, fl, dx, n, h, w, c, f, ho, wo, ks, st, dl, pd, acc, scr);
    const chunk = Math.ceil(n / T);
    const parts = Math.ceil(n / chunk);
    const dyImg = ho * wo * f * 4;
    const dxImg = h * w * c * 4;
    for (let wk = 1; wk < parts; wk++) {
      const s0 = wk * chunk;
      const a = pool.args(wk, dxIdx);
      a[0] = dy + s0 * dyImg; a[1] = fl; a[2] = dx + s0 * dxImg; a[3] = Math.min(chunk, n - s0);
      a[4] = h; a[5] = w; a[6] = c; a[7] = f; a[8] = ho; a[9] = wo;
      a[10] = ks; a[11] = st; a[12] = dl; a[13] = pd; a[14] = acc; a[15] = scratch[wk]!;
    }
    pool.go(parts - 1, () => r.conv2d_backward_input!(dy, fl, dx, Math.min(chunk, n), h, w, c, f, ho, wo, ks, st, dl, pd, acc, scr));
  };
}
