/**
 * The attention kernels on the pool: whole batch·head slices per thread. Every slice is
 * computed by the single-thread kernel exactly as it would be on one thread (slices share
 * nothing: each has its own rows of q, k, v, o, the saved logsumexp and the three
 * gradients), so results are bitwise identical whatever the split. Each thread packs its
 * blocks in its own scratch.
 */
import type { Pool } from "./pool.js";
import type {} from "../ops/attention.js";

type Fn = (...a: number[]) => void;

/**
 * Replaces attention_forward and attention_backward in `k` by versions that cut the slices
 * into ≤ pool.threads runs of ⌈nbh / threads⌉ (the last run takes what is left). A call stays
 * on the calling thread when it has one slice, less than `minMacs` multiply-adds in its
 * score product (nbh·t²·dh), or needs more scratch than a worker has (`workerBytes()`, read
 * at each call: the runtime may enlarge the workers' scratch, in place in `scratch`).
 */
export function splitAttention(
  k: Record<string, Fn>, r: Record<string, Fn>, pool: Pool, scratch: readonly number[], workerBytes: () => number, minMacs: number,
): void {
  if (typeof r.attention_forward !== "function" || typeof r.attention_backward !== "function") return;
  const T = pool.threads;
  const fwdIdx = pool.kernel("attention_forward");
  const bwdIdx = pool.kernel("attention_backward");
  const bytesOf = r.attention_scratch_bytes as unknown as (t: number, dh: number) => number;
  /** Slices per thread for nbh slices (the parts are ⌈nbh / chunk⌉), or 0 to stay on one thread. A number, not a pair: this runs every step. */
  const chunkOf = (nbh: number, t: number, dh: number): number => {
    if (nbh < 2 || nbh * t * t * Math.max(dh, 1) < minMacs || bytesOf(t, dh) > workerBytes()) return 0;
    return Math.ceil(nbh / T);
  };

  // Each thread takes its run of slices by the kernels' first-slice argument (s0): the
  // pointers stay the tensors' starts, whatever the heads layout.
  k.attention_forward = (nbh, t, dh, heads, ld, s0, q, kk, v, o, lse, scale, causal, scr) => {
    const chunk = chunkOf(nbh, t, dh);
    if (chunk === 0) return r.attention_forward!(nbh, t, dh, heads, ld, s0, q, kk, v, o, lse, scale, causal, scr);
    const parts = Math.ceil(nbh / chunk);
    for (let w = 1; w < parts; w++) {
      const s = w * chunk;
      const a = pool.args(w, fwdIdx);
      a[0] = Math.min(chunk, nbh - s); a[1] = t; a[2] = dh; a[3] = heads; a[4] = ld; a[5] = s0 + s;
      a[6] = q; a[7] = kk; a[8] = v; a[9] = o; a[10] = lse; a[11] = scale; a[12] = causal; a[13] = scratch[w]!;
    }
    pool.go(parts - 1, () => r.attention_forward!(chunk, t, dh, heads, ld, s0, q, kk, v, o, lse, scale, causal, scr));
  };

  k.attention_backward = (nbh, t, dh, heads, ld, s0, q, kk, v, o, lse, dout, dq, dk, dv, scale, causal, scr, fresh) => {
    const chunk = chunkOf(nbh, t, dh);
    if (chunk === 0) return r.attention_backward!(nbh, t, dh, heads, ld, s0, q, kk, v, o, lse, dout, dq, dk, dv, scale, causal, scr, fresh);
    const parts = Math.ceil(nbh / chunk);
    for (let w = 1; w < parts; w++) {
      const s = w * chunk;
      const a = pool.args(w, bwdIdx);
      a[0] = Math.min(chunk, nbh - s); a[1] = t; a[2] = dh; a[3] = heads; a[4] = ld; a[5] = s0 + s;
      a[6] = q; a[7] = kk; a[8] = v; a[9] = o; a[10] = lse; a[11] = dout;
      a[12] = dq; a[13] = dk; a[14] = dv; a[15] = scale; a[16] = causal; a[17] = scratch[w]!; a[18] = fresh;
    }
    pool.go(parts - 1, () => r.attention_backward!(chunk, t, dh, heads, ld, s0, q, kk, v, o, lse, dout, dq, dk, dv, scale, causal, scr, fresh));
  };
}
