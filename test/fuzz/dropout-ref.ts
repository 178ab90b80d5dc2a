/**
 * Dropout's mask as the op documents it (src/ops/dropout.ts, assembly/dropout.ts), written
 * again here from that description: whether element i is kept on training run `step` of an
 * op seeded `seed` is
 *
 *   key     = mix(seed ⊕ mix(step + 0x632BE5AB))
 *   keep(i) = mix(i·0x9E3779B9 + key) ≥ ⌊p·2³²⌋      (unsigned 32-bit arithmetic)
 *
 * with mix the "lowbias32" finaliser. Kept values are scaled by 1/(1 − p) in float32.
 */

function mix(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/** keep[i] for n elements (1 kept, 0 dropped). */
export function dropoutMask(n: number, p: number, seed: number, step: number): Uint8Array {
  const keep = new Uint8Array(n);
  const thr = Math.min(Math.floor(p * 4294967296), 4294967295);
  const key = mix(((seed | 0) ^ mix((step + 0x632be5ab) >>> 0)) >>> 0);
  for (let i = 0; i < n; i++) keep[i] = mix((Math.imul(i, 0x9e3779b9) + key) >>> 0) >= thr ? 1 : 0;
  return keep;
}

/** The float32 factor kept values are multiplied by. */
export function dropoutScale(p: number): number {
  return Math.fround(1 / (1 - p));
}
