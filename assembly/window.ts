// Helpers shared by the sliding-window kernels (assembly/conv.ts, assembly/pool.ts): the
// packed geometry pairs and a channel-run add. Inline only: no kernel of its own.
//
// A geometry pair is two values below 65536 packed into one i32: the vertical one in the low
// 16 bits, the horizontal one in the high 16 bits (ksize = KH | KW << 16, stride = SH | SW << 16,
// dilation = DH | DW << 16, pad = PT | PL << 16).

/** The vertical value of a packed pair (low 16 bits). */
// @ts-ignore: decorator
@inline export function lo16(v: i32): i32 {
  return v & 0xffff;
}

/** The horizontal value of a packed pair (high 16 bits). */
// @ts-ignore: decorator
@inline export function hi16(v: i32): i32 {
  return (v >>> 16) & 0xffff;
}

/** dst[i] += src[i] for i < cnt (8 and 4 lanes at a time, then a scalar tail). */
// @ts-ignore: decorator
@inline export function add_into(dst: usize, src: usize, cnt: i32): void {
  let i = 0;
  for (; i + 8 <= cnt; i += 8) {
    const o = <usize>i << 2;
    v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
    v128.store(dst + o, f32x4.add(v128.load(dst + o, 16), v128.load(src + o, 16)), 16);
  }
  for (; i + 4 <= cnt; i += 4) {
    const o = <usize>i << 2;
    v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
  }
  for (; i < cnt; i++) {
    const o = <usize>i << 2;
    store<f32>(dst + o, load<f32>(dst + o) + load<f32>(src + o));
  }
}
