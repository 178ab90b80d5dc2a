/**
 * The demo's seeded randomness, shared by its data sets (digits, locations, iris) in Node
 * and in the browser pages: a xorshift32 generator and a Fisher–Yates shuffle.
 */

/** A seeded generator of uniform numbers in [0, 1) (xorshift32). */
export function xorshift(seed) {
  let s = seed >>> 0 || 0x2545f491;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

/** Fisher–Yates shuffle of `a` in place, drawing from `rng`; returns `a`. */
export function shuffle(a, rng) {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
  return a;
}
