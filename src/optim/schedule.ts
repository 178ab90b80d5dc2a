/**
 * Learning-rate schedules: plain functions from the step number to a learning rate, set on
 * an optimizer before its step (`opt.lr = lrAt(step)`).
 */

export interface WarmupCosineOptions {
  /** The peak learning rate, reached at the end of the warm-up. */
  lr: number;
  /** Steps of linear warm-up from lr/warmup (step 0) to lr (step warmup − 1). Default 0. */
  warmup?: number;
  /** Steps in all; from warmup to total the rate falls along half a cosine to minLr. */
  total: number;
  /** The rate at step total and after. Default 0. */
  minLr?: number;
}

/**
 * Linear warm-up, then cosine decay: step s (counted from 0) gets
 *   lr·(s + 1)/warmup                                         for s < warmup,
 *   minLr + (lr − minLr)·(1 + cos(π·(s − warmup)/(total − warmup)))/2   for warmup ≤ s < total,
 *   minLr                                                     for s ≥ total.
 * Returns that function; bad settings throw a RangeError naming the setting.
 */
export function warmupCosine(opts: WarmupCosineOptions): (step: number) => number {
  if (opts === null || typeof opts !== "object") throw new TypeError(`warmupCosine: expects options { lr, total, warmup?, minLr? }, got ${String(opts)}`);
  const { lr, total } = opts;
  const warmup = opts.warmup ?? 0;
  const minLr = opts.minLr ?? 0;
  const num = (v: unknown, name: string, lo: number) => {
    if (typeof v !== "number" || !Number.isFinite(v) || v < lo) throw new RangeError(`warmupCosine: ${name} must be a finite number ≥ ${lo}, got ${String(v)}`);
  };
  num(lr, "lr", 0);
  num(minLr, "minLr", 0);
  num(warmup, "warmup", 0);
  num(total, "total", 0);
  if (!Number.isInteger(warmup) || !Number.isInteger(total)) throw new RangeError(`warmupCosine: warmup and total must be integers, got ${warmup} and ${total}`);
  if (warmup > total) throw new RangeError(`warmupCosine: warmup (${warmup}) must not exceed total (${total})`);
  if (minLr > lr) throw new RangeError(`warmupCosine: minLr (${minLr}) must not exceed lr (${lr})`);
  return (step: number) => {
    if (typeof step !== "number" || !Number.isFinite(step) || step < 0) throw new RangeError(`warmupCosine: step must be a number ≥ 0, got ${String(step)}`);
    if (step < warmup) return (lr * (step + 1)) / warmup;
    if (step >= total) return minLr;
    const f = (step - warmup) / (total - warmup);
    return minLr + ((lr - minLr) * (1 + Math.cos(Math.PI * f))) / 2;
  };
}
