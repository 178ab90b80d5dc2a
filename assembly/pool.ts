// Pooling, channels last: x [N, H, W, C] → y [N, HO, WO, C], each output the max or the
// mean of a KH × KW window of one channel:
//
//   window(n, oy, ox) = { (iy, ix) : iy = oy·SH − PT + ky, ix = ox·SW − PL + kx,
//                         0 ≤ ky < KH, 0 ≤ kx < KW, 0 ≤ iy < H, 0 ≤ ix < W }
//
// Padding positions are left out of the window (they are neither maxima nor counted in the
// mean: TensorFlow's rule). Geometry arrives packed as in assembly/conv.ts (assembly/window.ts): ksize = KH | KW << 16,
// stride = SH | SW << 16, pad = PT | PL << 16. Precondition: every window holds at least one
// position of x (the ops make sure of it); an empty window gives −∞ (max) or NaN (mean).
//
// A window position contributes C contiguous floats, so every loop runs along channels:
// 8 and 4 lanes at a time, then a scalar tail. Kernels allocate nothing and keep no state.

import { add_into, hi16, lo16 } from "./window";

/**
 * Max pooling: y[n, oy, ox, c] = max over window(n, oy, ox) of x[n, iy, ix, c]. NaN anywhere
 * in a window gives NaN. Writes only y (N·HO·WO·C floats); y does not overlap x.
 */
export function maxpool2d_forward(
  x: usize, y: usize, n: i32, h: i32, w: i32, c: i32, ho: i32, wo: i32,
  ksize: i32, stride: i32, pad: i32,
): void {
  if (c <= 0) return;
  const kh = lo16(ksize), kw = hi16(ksize);
  const sh = lo16(stride), sw = hi16(stride);
  const pt = lo16(pad), pl = hi16(pad);
  const row = <usize>c << 2;
  const img = <usize>h * <usize>w * row;
  let out = y;
  for (let ni = 0; ni < n; ni++) {
    const xi = x + <usize>ni * img;
    for (let oy = 0; oy < ho; oy++) {
      const ya = max<i32>(oy * sh - pt, 0);
      const yb = min<i32>(oy * sh - pt + kh, h);
      for (let ox = 0; ox < wo; ox++) {
        const xa = max<i32>(ox * sw - pl, 0);
        const xb = min<i32>(ox * sw - pl + kw, w);
        let first = true;
        for (let iy = ya; iy < yb; iy++) {
          for (let ix = xa; ix < xb; ix++) {
            const src = xi + <usize>(iy * w + ix) * row;
            if (first) {
              memory.copy(out, src, row);
              first = false;
            } else {
              max_into(out, src, c);
            }
          }
        }
        if (first) fill_f32(out, c, -Infinity);
        out += row;
      }
    }
  }
}

/**
 * Max pooling's gradient: for every output (n, oy, ox, c), dy[n, oy, ox, c] goes to the FIRST
 * position of window(n, oy, ox), in row-major (iy, then ix) order, where x equals y (so of
 * tied maxima only the first gets the gradient; none when y is NaN):
 *   dx ← Σ of those contributions   (+ dx if accumulate ≠ 0; with 0, dx is first set to 0).
 * Reads x, y (the forward output) and dy; writes only dx, which overlaps none of them.
 */
export function maxpool2d_backward(
  x: usize, y: usize, dy: usize, dx: usize, n: i32, h: i32, w: i32, c: i32, ho: i32, wo: i32,
  ksize: i32, stride: i32, pad: i32, accumulate: i32,
): void {
  if (c <= 0) return;
  const row = <usize>c << 2;
  const img = <usize>h * <usize>w * row;
  if (!accumulate) memory.fill(dx, 0, <usize>n * img);
  const kh = lo16(ksize), kw = hi16(ksize);
  const sh = lo16(stride), sw = hi16(stride);
  const pt = lo16(pad), pl = hi16(pad);
  let o: usize = 0;
  for (let ni = 0; ni < n; ni++) {
    const xi = x + <usize>ni * img;
    const di = dx + <usize>ni * img;
    for (let oy = 0; oy < ho; oy++) {
      const ya = max<i32>(oy * sh - pt, 0);
      const yb = min<i32>(oy * sh - pt + kh, h);
      for (let ox = 0; ox < wo; ox++) {
        const xa = max<i32>(ox * sw - pl, 0);
        const xb = min<i32>(ox * sw - pl + kw, w);
        const yo = y + o;
        const go = dy + o;
        let j = 0;
        for (; j + 4 <= c; j += 4) {
          const off = <usize>j << 2;
          const ym = v128.load(yo + off);
          const g = v128.load(go + off);
          // Lanes still looking for their maximum.
          let open = i32x4.splat(-1);
          for (let iy = ya; iy < yb; iy++) {
            for (let ix = xa; ix < xb; ix++) {
              const p = <usize>(iy * w + ix) * row + off;
              const hit = v128.and(f32x4.eq(v128.load(xi + p), ym), open);
              if (v128.any_true(hit)) {
                v128.store(di + p, f32x4.add(v128.load(di + p), v128.and(g, hit)));
                open = v128.andnot(open, hit);
              }
            }
          }
        }
        for (; j < c; j++) {
          const off = <usize>j << 2;
          const ym = load<f32>(yo + off);
          const g = load<f32>(go + off);
          let found = false;
          for (let iy = ya; iy < yb && !found; iy++) {
            for (let ix = xa; ix < xb; ix++) {
              const p = <usize>(iy * w + ix) * row + off;
              if (load<f32>(xi + p) == ym) {
                store<f32>(di + p, load<f32>(di + p) + g);
                found = true;
                break;
              }
            }
          }
        }
        o += row;
      }
    }
  }
}

/**
 * Average pooling: y[n, oy, ox, c] = (Σ over window(n, oy, ox) of x[n, iy, ix, c]) / count,
 * count = the number of window positions inside x (padding is not counted). The sum runs in
 * window order in f32, then is multiplied by 1/count. Writes only y; y does not overlap x.
 */
export function avgpool2d_forward(
  x: usize, y: usize, n: i32, h: i32, w: i32, c: i32, ho: i32, wo: i32,
  ksize: i32, stride: i32, pad: i32,
): void {
  if (c <= 0) return;
  const kh = lo16(ksize), kw = hi16(ksize);
  const sh = lo16(stride), sw = hi16(stride);
  const pt = lo16(pad), pl = hi16(pad);
  const row = <usize>c << 2;
  const img = <usize>h * <usize>w * row;
  let out = y;
  for (let ni = 0; ni < n; ni++) {
    const xi = x + <usize>ni * img;
    for (let oy = 0; oy < ho; oy++) {
      const ya = max<i32>(oy * sh - pt, 0);
      const yb = min<i32>(oy * sh - pt + kh, h);
      for (let ox = 0; ox < wo; ox++) {
        const xa = max<i32>(ox * sw - pl, 0);
        const xb = min<i32>(ox * sw - pl + kw, w);
        const count = (yb - ya) * (xb - xa);
        let first = true;
        for (let iy = ya; iy < yb; iy++) {
          for (let ix = xa; ix < xb; ix++) {
            const src = xi + <usize>(iy * w + ix) * row;
            if (first) {
              memory.copy(out, src, row);
              first = false;
            } else {
              add_into(out, src, c);
            }
          }
        }
        if (count > 0) scale_in_place(out, c, <f32>1 / <f32>count);
        else fill_f32(out, c, NaN);
        out += row;
      }
    }
  }
}

/**
 * Average pooling's gradient: every position of window(n, oy, ox) receives
 * dy[n, oy, ox, c]·(1/count) (count as in the forward pass):
 *   dx ← Σ of those contributions   (+ dx if accumulate ≠ 0; with 0, dx is first set to 0).
 * Contributions are added output by output in row-major order. Writes only dx, which does
 * not overlap dy.
 */
export function avgpool2d_backward(
  dy: usize, dx: usize, n: i32, h: i32, w: i32, c: i32, ho: i32, wo: i32,
  ksize: i32, stride: i32, pad: i32, accumulate: i32,
): void {
  if (c <= 0) return;
  const row = <usize>c << 2;
  const img = <usize>h * <usize>w * row;
  if (!accumulate) memory.fill(dx, 0, <usize>n * img);
  const kh = lo16(ksize), kw = hi16(ksize);
  const sh = lo16(stride), sw = hi16(stride);
  const pt = lo16(pad), pl = hi16(pad);
  let go = dy;
  for (let ni = 0; ni < n; ni++) {
    const di = dx + <usize>ni * img;
    for (let oy = 0; oy < ho; oy++) {
      const ya = max<i32>(oy * sh - pt, 0);
      const yb = min<i32>(oy * sh - pt + kh, h);
      for (let ox = 0; ox < wo; ox++) {
        const xa = max<i32>(ox * sw - pl, 0);
        const xb = min<i32>(ox * sw - pl + kw, w);
        const count = (yb - ya) * (xb - xa);
        if (count > 0) {
          const s: f32 = <f32>1 / <f32>count;
          for (let iy = ya; iy < yb; iy++) {
            for (let ix = xa; ix < xb; ix++) {
              axpy_into(di + <usize>(iy * w + ix) * row, go, c, s);
            }
          }
        }
        go += row;
      }
    }
  }
}

/** dst[i] = max(dst[i], src[i]) for i < cnt (NaN in either gives NaN). */
// @ts-ignore: decorator
@inline function max_into(dst: usize, src: usize, cnt: i32): void {
  let i = 0;
  for (; i + 8 <= cnt; i += 8) {
    const o = <usize>i << 2;
    v128.store(dst + o, f32x4.max(v128.load(dst + o), v128.load(src + o)));
    v128.store(dst + o, f32x4.max(v128.load(dst + o, 16), v128.load(src + o, 16)), 16);
  }
  for (; i + 4 <= cnt; i += 4) {
    const o = <usize>i << 2;
    v128.store(dst + o, f32x4.max(v128.load(dst + o), v128.load(src + o)));
  }
  for (; i < cnt; i++) {
    const o = <usize>i << 2;
    store<f32>(dst + o, max<f32>(load<f32>(dst + o), load<f32>(src + o)));
  }
}

/** dst[i] += s·src[i] for i < cnt (a multiply then an add, in both builds). */
// @ts-ignore: decorator
@inline function axpy_into(dst: usize, src: usize, cnt: i32, s: f32): void {
  const vs = f32x4.splat(s);
  let i = 0;
  for (; i + 4 <= cnt; i += 4) {
    const o = <usize>i << 2;
    v128.store(dst + o, f32x4.add(v128.load(dst + o), f32x4.mul(vs, v128.load(src + o))));
  }
  for (; i < cnt; i++) {
    const o = <usize>i << 2;
    store<f32>(dst + o, load<f32>(dst + o) + s * load<f32>(src + o));
  }
}

/** x[i] *= s for i < cnt. */
// @ts-ignore: decorator
@inline function scale_in_place(x: usize, cnt: i32, s: f32): void {
  const vs = f32x4.splat(s);
  let i = 0;
  for (; i + 4 <= cnt; i += 4) {
    const o = <usize>i << 2;
    v128.store(x + o, f32x4.mul(v128.load(x + o), vs));
  }
  for (; i < cnt; i++) {
    const o = <usize>i << 2;
    store<f32>(x + o, load<f32>(x + o) * s);
  }
}

/** x[i] = v for i < cnt. */
// @ts-ignore: decorator
@inline function fill_f32(x: usize, cnt: i32, v: f32): void {
  for (let i = 0; i < cnt; i++) store<f32>(x + (<usize>i << 2), v);
}
