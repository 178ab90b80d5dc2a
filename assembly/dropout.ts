// Dropout with a counter-based random source: whether element i is kept on step t of a
// seeded op depends only on (seed, t, i), through a 32-bit integer hash. Nothing is stored:
// the backward pass recomputes the mask, runs give the same masks on every runtime and
// thread count, and there is no generator state to save.
//
//   key  = mix(seed ⊕ mix(t + 0x632BE5AB))
//   h(i) = mix(i·0x9E3779B9 + key)            (mix: the "lowbias32" finaliser,
//                                               xor-shift-multiply, a bijection on u32)
//   keep(i) = h(i) ≥ threshold  (unsigned),    threshold = ⌊p·2³²⌋
// so each element is dropped with probability p (to 2⁻³²). Kept values are scaled by
// 1/(1 − p) (inverted dropout: the expected output equals the input).

// @ts-ignore: decorator
@inline function mix(x: u32): u32 {
  x ^= x >>> 16;
  x *= 0x7feb352d;
  x ^= x >>> 15;
  x *= 0x846ca68b;
  x ^= x >>> 16;
  return x;
}

// @ts-ignore: decorator
@inline function mix_v(x: v128): v128 {
  x = v128.xor(x, i32x4.shr_u(x, 16));
  x = i32x4.mul(x, i32x4.splat(0x7feb352d));
  x = v128.xor(x, i32x4.shr_u(x, 15));
  x = i32x4.mul(x, i32x4.splat(<i32>0x846ca68b));
  x = v128.xor(x, i32x4.shr_u(x, 16));
  return x;
}

/** The per-step key (see the top of the file). */
export function dropout_key(seed: i32, step: i32): i32 {
  return <i32>mix(<u32>seed ^ mix(<u32>step + 0x632be5ab));
}

/** All-ones lanes where element base + lane is kept. */
// @ts-ignore: decorator
@inline function keep_v(base: i32, key: i32, thr: v128): v128 {
  const idx = i32x4.add(i32x4.splat(base), i32x4(0, 1, 2, 3));
  const h = mix_v(i32x4.add(i32x4.mul(idx, i32x4.splat(<i32>0x9e3779b9)), i32x4.splat(key)));
  return i32x4.ge_u(h, thr);
}

// @ts-ignore: decorator
@inline function keep_s(i: i32, key: i32, thr: u32): bool {
  return mix(<u32>i * 0x9e3779b9 + <u32>key) >= thr;
}

/**
 * y[i] = keep(i) ? x[i]·scale : 0 for i < n, with keep as at the top of the file for
 * key = dropout_key(seed, step) and the given threshold (⌊p·2³²⌋ as an i32 bit pattern;
 * 0 keeps everything). scale is 1/(1 − p). y may alias x.
 */
export function dropout_forward(x: usize, y: usize, n: i32, threshold: i32, scale: f32, key: i32): void {
  const thr = i32x4.splat(threshold), sv = f32x4.splat(scale);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, v128.and(f32x4.mul(v128.load(x + o), sv), keep_v(i, key, thr)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, keep_s(i, key, <u32>threshold) ? load<f32>(x + o) * scale : 0);
  }
}

/**
 * The gradient with the same mask: dx[i] (+)= keep(i) ? dy[i]·scale : 0. dx may be
 * exactly dy when accumulate = 0.
 */
export function dropout_backward(dy: usize, dx: usize, n: i32, threshold: i32, scale: f32, key: i32, accumulate: i32): void {
  const thr = i32x4.splat(threshold), sv = f32x4.splat(scale);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    let d = v128.and(f32x4.mul(v128.load(dy + o), sv), keep_v(i, key, thr));
    if (accumulate) d = f32x4.add(d, v128.load(dx + o));
    v128.store(dx + o, d);
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    let d: f32 = keep_s(i, key, <u32>threshold) ? load<f32>(dy + o) * scale : 0;
    if (accumulate) d += load<f32>(dx + o);
    store<f32>(dx + o, d);
  }
}
