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

import { hi16, lo16 } from "./window";
import { load_upto4, store_upto4 } from "./vmath";

/**
 * Max pooling: y[n, oy, ox, c] = max over window(n, oy, ox) of x[n, iy, ix, c]. NaN anywhere
 * in a window gives NaN. Writes only y (N·HO·WO·C floats); y does not overlap x.
 */
export function maxpool2d_forward(
  x: usize, y: usize, n: i32, h: i32, w: i32, c: i32, ho: i32, wo: i32,
  ksize: i32, stride: i32, pad: i32,
): void {
  pool_forward(false, x, y, n, h, w, c, ho, wo, ksize, stride, pad);
}

/**
 * Whether the windows tile the input: stride = window size (no overlap, no gap) and the last
 * window reaching the edge (the first starts at −padding ≤ 0), so every position of x lies in
 * exactly one window. The backward kernels then write each dx element once, with no fill.
 */
// @ts-ignore: decorator
@inline function tiles_input(h: i32, w: i32, ho: i32, wo: i32, kh: i32, kw: i32, sh: i32, sw: i32, pt: i32, pl: i32): bool {
  return sh == kh && sw == kw && (ho - 1) * sh - pt + kh >= h && (wo - 1) * sw - pl + kw >= w;
}

/**
 * Max pooling's gradient: for every output (n, oy, ox, c), dy[n, oy, ox, c] goes to the FIRST
 * position of window(n, oy, ox), in row-major (iy, then ix) order, where x equals y (so of
 * tied maxima only the first gets the gradient; none when y is NaN):
 *   dx ← Σ of those contributions   (+ dx if accumulate ≠ 0; with 0, dx is first set to 0).
 * Reads x, y (the forward output) and dy; writes only dx, which overlaps none of them.
 * Windows that tile the input (tiles_input) with accumulate = 0: each dx element is written
 * once, 0 + dy where the gradient goes and +0 elsewhere, the values the fill and the adds
 * give (the same bits), without the fill and without reading dx.
 */
export function maxpool2d_backward(
  x: usize, y: usize, dy: usize, dx: usize, n: i32, h: i32, w: i32, c: i32, ho: i32, wo: i32,
  ksize: i32, stride: i32, pad: i32, accumulate: i32,
): void {
  if (c <= 0) return;
  const row = <usize>c << 2;
  const img = <usize>h * <usize>w * row;
  const kh = lo16(ksize), kw = hi16(ksize);
  const sh = lo16(stride), sw = hi16(stride);
  const pt = lo16(pad), pl = hi16(pad);
  const once = !accumulate && tiles_input(h, w, ho, wo, kh, kw, sh, sw, pt, pl);
  if (once && kh == 2 && kw == 2 && sh == 2 && sw == 2 && pt == 0 && pl == 0 && 2 * ho == h && 2 * wo == w && (c & 3) == 0) {
    maxpool_backward_2x2(x, y, dy, dx, n, h, w, c, ho, wo);
    return;
  }
  if (!accumulate && !once) memory.fill(dx, 0, <usize>n * img);
  // One copy of the loops per value of `once`, so neither tests it inside them.
  if (once) maxpool_backward_loops(true, x, y, dy, dx, n, h, w, c, ho, wo, kh, kw, sh, sw, pt, pl);
  else maxpool_backward_loops(false, x, y, dy, dx, n, h, w, c, ho, wo, kh, kw, sh, sw, pt, pl);
}

/**
 * maxpool2d_backward for 2 × 2 windows at stride 2 that tile the input exactly (a CNN's
 * pooling over an even-sized image, accumulate = 0) over a multiple of 4 channels: each
 * output's four pixels through two row pointers, 16 channels at a time, with no window loops.
 * The same values as the loops below: dy to the first pixel (top left, top right, bottom
 * left, bottom right) equal to y, as 0 + dy, and +0 to the others. bench/pool-kernels.mjs:
 * 0.45–0.49× the time of those loops over 28 × 28 × 16 and 14 × 14 × 32 at batch 32.
 */
function maxpool_backward_2x2(x: usize, y: usize, dy: usize, dx: usize, n: i32, h: i32, w: i32, c: i32, ho: i32, wo: i32): void {
  const row = <usize>c << 2;
  const down = <usize>w * row;
  let o: usize = 0;
  for (let ni = 0; ni < n; ni++) {
    for (let oy = 0; oy < ho; oy++) {
      let p0 = (<usize>ni * <usize>h + <usize>(2 * oy)) * down;
      for (let ox = 0; ox < wo; ox++) {
        const yo = y + o, go = dy + o;
        const x0 = x + p0, x1 = x0 + down, d0 = dx + p0, d1 = d0 + down;
        let j: usize = 0;
        for (; j + 64 <= row; j += 64) {
          max_grad_2x2(yo + j, go + j, x0 + j, x1 + j, d0 + j, d1 + j, row);
          max_grad_2x2(yo + j + 16, go + j + 16, x0 + j + 16, x1 + j + 16, d0 + j + 16, d1 + j + 16, row);
          max_grad_2x2(yo + j + 32, go + j + 32, x0 + j + 32, x1 + j + 32, d0 + j + 32, d1 + j + 32, row);
          max_grad_2x2(yo + j + 48, go + j + 48, x0 + j + 48, x1 + j + 48, d0 + j + 48, d1 + j + 48, row);
        }
        for (; j < row; j += 16) max_grad_2x2(yo + j, go + j, x0 + j, x1 + j, d0 + j, d1 + j, row);
        o += row;
        p0 += row << 1;
      }
    }
  }
}

/** Four channels of one 2 × 2 window's gradient (see maxpool_backward_2x2); pixels `row` bytes apart. */
// @ts-ignore: decorator
@inline function max_grad_2x2(yp: usize, gp: usize, x0: usize, x1: usize, d0: usize, d1: usize, row: usize): void {
  const ym = v128.load(yp);
  // 0 + dy once (−0 becomes +0, as the fill and the adds give); masked, it is that or +0.
  const g = f32x4.add(f32x4.splat(0), v128.load(gp));
  const h0 = f32x4.eq(v128.load(x0), ym);
  let taken = h0;
  const h1 = v128.andnot(f32x4.eq(v128.load(x0 + row), ym), taken);
  taken = v128.or(taken, h1);
  const h2 = v128.andnot(f32x4.eq(v128.load(x1), ym), taken);
  taken = v128.or(taken, h2);
  const h3 = v128.andnot(f32x4.eq(v128.load(x1 + row), ym), taken);
  v128.store(d0, v128.and(g, h0));
  v128.store(d0 + row, v128.and(g, h1));
  v128.store(d1, v128.and(g, h2));
  v128.store(d1 + row, v128.and(g, h3));
}

/** The loops of maxpool2d_backward, for a constant `once` (see there). */
// @ts-ignore: decorator
@inline function maxpool_backward_loops(
  once: bool, x: usize, y: usize, dy: usize, dx: usize, n: i32, h: i32, w: i32, c: i32, ho: i32, wo: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, pt: i32, pl: i32,
): void {
  const row = <usize>c << 2;
  const img = <usize>h * <usize>w * row;
  const zero = f32x4.splat(0);
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
        if (!once) {
          // 16 channels a pass: a position's address and its test for any maximum taken once
          // for four vectors; each vector still adds only where it has one (as below).
          // bench/pool-kernels.mjs: 3 × 3/1 over 64 channels 0.72× the time of 4 at a time.
          for (; j + 16 <= c; j += 16) {
            const off = <usize>j << 2;
            const ym0 = v128.load(yo + off), ym1 = v128.load(yo + off, 16), ym2 = v128.load(yo + off, 32), ym3 = v128.load(yo + off, 48);
            let open0 = i32x4.splat(-1), open1 = open0, open2 = open0, open3 = open0;
            for (let iy = ya; iy < yb; iy++) {
              let p = xi + <usize>(iy * w + xa) * row + off;
              let d = di + <usize>(iy * w + xa) * row + off;
              for (let ix = xa; ix < xb; ix++) {
                const h0 = v128.and(f32x4.eq(v128.load(p), ym0), open0);
                const h1 = v128.and(f32x4.eq(v128.load(p, 16), ym1), open1);
                const h2 = v128.and(f32x4.eq(v128.load(p, 32), ym2), open2);
                const h3 = v128.and(f32x4.eq(v128.load(p, 48), ym3), open3);
                if (v128.any_true(v128.or(v128.or(h0, h1), v128.or(h2, h3)))) {
                  if (v128.any_true(h0)) {
                    v128.store(d, f32x4.add(v128.load(d), v128.and(v128.load(go + off), h0)));
                    open0 = v128.andnot(open0, h0);
                  }
                  if (v128.any_true(h1)) {
                    v128.store(d, f32x4.add(v128.load(d, 16), v128.and(v128.load(go + off, 16), h1)), 16);
                    open1 = v128.andnot(open1, h1);
                  }
                  if (v128.any_true(h2)) {
                    v128.store(d, f32x4.add(v128.load(d, 32), v128.and(v128.load(go + off, 32), h2)), 32);
                    open2 = v128.andnot(open2, h2);
                  }
                  if (v128.any_true(h3)) {
                    v128.store(d, f32x4.add(v128.load(d, 48), v128.and(v128.load(go + off, 48), h3)), 48);
                    open3 = v128.andnot(open3, h3);
                  }
                }
                p += row;
                d += row;
              }
            }
          }
        }
        for (; j + 4 <= c; j += 4) {
          const off = <usize>j << 2;
          const ym = v128.load(yo + off);
          const g = v128.load(go + off);
          // Lanes still looking for their maximum.
          let open = i32x4.splat(-1);
          if (once) {
            for (let iy = ya; iy < yb; iy++) {
              for (let ix = xa; ix < xb; ix++) {
                const p = <usize>(iy * w + ix) * row + off;
                const hit = v128.and(f32x4.eq(v128.load(xi + p), ym), open);
                v128.store(di + p, f32x4.add(zero, v128.and(g, hit)));
                open = v128.andnot(open, hit);
              }
            }
            continue;
          }
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
          if (once) {
            for (let iy = ya; iy < yb; iy++) {
              for (let ix = xa; ix < xb; ix++) {
                const p = <usize>(iy * w + ix) * row + off;
                const hit = !found && load<f32>(xi + p) == ym;
                store<f32>(di + p, hit ? <f32>0 + g : <f32>0);
                found = found || hit;
              }
            }
            continue;
          }
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
  pool_forward(true, x, y, n, h, w, c, ho, wo, ksize, stride, pad);
}

/**
 * Both forward poolings (avg a constant after inlining): each output's window is reduced in
 * registers, 16 channels at a time (then 4, then the last 1–3), in window order (iy, then
 * ix) from its first position, the mean then multiplied by 1/count; one store per output
 * vector. The same sums, in the same order, as reducing into the output row position by
 * position, without the output's reloads and stores and the copy call per window.
 */
// @ts-ignore: decorator
@inline function pool_forward(
  avg: bool, x: usize, y: usize, n: i32, h: i32, w: i32, c: i32, ho: i32, wo: i32,
  ksize: i32, stride: i32, pad: i32,
): void {
  if (c <= 0) return;
  const kh = lo16(ksize), kw = hi16(ksize);
  const sh = lo16(stride), sw = hi16(stride);
  const pt = lo16(pad), pl = hi16(pad);
  if (kh == 2 && kw == 2 && sh == 2 && sw == 2 && pt == 0 && pl == 0 && 2 * ho <= h && 2 * wo <= w && (c & 3) == 0) {
    pool_forward_2x2(avg, x, y, n, h, w, c, ho, wo);
    return;
  }
  const row = <usize>c << 2;
  const img = <usize>h * <usize>w * row;
  const empty: f32 = avg ? NaN : -Infinity;
  let out = y;
  for (let ni = 0; ni < n; ni++) {
    const xi = x + <usize>ni * img;
    for (let oy = 0; oy < ho; oy++) {
      const ya = max<i32>(oy * sh - pt, 0);
      const yb = min<i32>(oy * sh - pt + kh, h);
      for (let ox = 0; ox < wo; ox++) {
        const xa = max<i32>(ox * sw - pl, 0);
        const xb = min<i32>(ox * sw - pl + kw, w);
        const count = max<i32>(yb - ya, 0) * max<i32>(xb - xa, 0);
        if (count == 0) {
          fill_f32(out, c, empty);
          out += row;
          continue;
        }
        const s = f32x4.splat(<f32>1 / <f32>count);
        const first = xi + <usize>(ya * w + xa) * row;
        let j = 0;
        for (; j + 16 <= c; j += 16) {
          const o = <usize>j << 2;
          let a0 = v128.load(first + o), a1 = v128.load(first + o, 16);
          let a2 = v128.load(first + o, 32), a3 = v128.load(first + o, 48);
          // max: the sums of the window's values, NaN when one is (see max_suspect).
          let t0 = a0, t1 = a1, t2 = a2, t3 = a3;
          let ix0 = xa + 1;
          for (let iy = ya; iy < yb; iy++) {
            let src = xi + <usize>(iy * w + ix0) * row + o;
            for (let ix = ix0; ix < xb; ix++) {
              const v0 = v128.load(src), v1 = v128.load(src, 16), v2 = v128.load(src, 32), v3 = v128.load(src, 48);
              if (avg) {
                a0 = f32x4.add(a0, v0);
                a1 = f32x4.add(a1, v1);
                a2 = f32x4.add(a2, v2);
                a3 = f32x4.add(a3, v3);
              } else {
                a0 = f32x4.pmax(a0, v0);
                a1 = f32x4.pmax(a1, v1);
                a2 = f32x4.pmax(a2, v2);
                a3 = f32x4.pmax(a3, v3);
                t0 = f32x4.add(t0, v0);
                t1 = f32x4.add(t1, v1);
                t2 = f32x4.add(t2, v2);
                t3 = f32x4.add(t3, v3);
              }
              src += row;
            }
            ix0 = xa;
          }
          if (!avg && v128.any_true(v128.or(v128.or(max_suspect(a0, t0), max_suspect(a1, t1)), v128.or(max_suspect(a2, t2), max_suspect(a3, t3))))) {
            a0 = window_max(xi, w, row, ya, yb, xa, xb, o, 4);
            a1 = window_max(xi, w, row, ya, yb, xa, xb, o + 16, 4);
            a2 = window_max(xi, w, row, ya, yb, xa, xb, o + 32, 4);
            a3 = window_max(xi, w, row, ya, yb, xa, xb, o + 48, 4);
          }
          store_window16(avg, out + o, a0, a1, a2, a3, s);
        }
        for (; j < c; j += 4) {
          // 4 channels, or the last 1–3 (lanes past them are never stored)
          const o = <usize>j << 2;
          const left = c - j;
          let a = load_upto4(first + o, left);
          let t = a;
          let ix0 = xa + 1;
          for (let iy = ya; iy < yb; iy++) {
            let src = xi + <usize>(iy * w + ix0) * row + o;
            for (let ix = ix0; ix < xb; ix++) {
              const v = load_upto4(src, left);
              if (avg) a = f32x4.add(a, v);
              else {
                a = f32x4.pmax(a, v);
                t = f32x4.add(t, v);
              }
              src += row;
            }
            ix0 = xa;
          }
          if (avg) a = f32x4.mul(a, s);
          else if (v128.any_true(max_suspect(a, t))) a = window_max(xi, w, row, ya, yb, xa, xb, o, left);
          store_upto4(out + o, a, left);
        }
        out += row;
      }
    }
  }
}

// Max pooling's maximum without f32x4.max in the loop. f32x4.max is IEEE's maximum (NaN if
// either value is, +0 over −0), which x64 has no instruction for: V8 emits about eight for
// it. f32x4.pmax (a < b ? b : a) is one, and gives the same value except where the window
// holds a NaN (which it may drop) or where the maximum is a zero and a −0 came first (it
// keeps the −0 where the maximum of −0 and +0 is +0). So the loops take pmax and also sum
// the window's values (one add each: the sum is NaN when any value is, and also when +∞
// meets −∞); a lane whose sum is NaN or whose maximum is −0 is suspect, and its 4 channels
// are taken again with f32x4.max (window_max). Every result is then f32x4.max's, bit for
// bit. bench/pool-kernels.mjs --baseline (f32x4.max in the loops), Zen 4 VM, both builds: max
// forward 2 × 2/2 over 16 and 32 channels in 0.52–0.62× the time, 3 × 3/1 over 64 channels
// 0.42–0.46×; over 3 channels (the 1–3 channel tail, partial loads) 0.84–1.05×.

/** NEG_ZERO's bits in each lane. */
const NEG_ZERO: i32 = 0x80000000;

/** Lanes where the pmax maximum m may differ from f32x4.max's: the window's sum t is NaN, or m is −0. */
// @ts-ignore: decorator
@inline function max_suspect(m: v128, t: v128): v128 {
  return v128.or(f32x4.ne(t, t), i32x4.eq(m, i32x4.splat(NEG_ZERO)));
}

/** f32x4.max of four vectors, in that order: three pmax, with the exact maxima where max_suspect finds a lane. */
// @ts-ignore: decorator
@inline function max4(a: v128, b: v128, c: v128, d: v128): v128 {
  const m = f32x4.pmax(f32x4.pmax(f32x4.pmax(a, b), c), d);
  const t = f32x4.add(f32x4.add(f32x4.add(a, b), c), d);
  if (v128.any_true(max_suspect(m, t))) return max4_exact(a, b, c, d);
  return m;
}

/**
 * Eight channels' maxima of a 2 × 2 window, stored at out (positions at a, b, c, d; a's two
 * vectors already loaded, a0 and a1): by pmax, one test of both vectors for a lane that needs
 * the exact f32x4.max (max_suspect), that case out of line, from memory. Against max4 on each
 * vector (a test and a branch each), bench/pool-kernels.mjs, 2 × 2 windows at stride 2, 16
 * and 32 channels: Node 24 0.40× and 0.34× the time, Deno 0.46×/0.40×, Bun 0.42×/0.37× (newer
 * V8 had run it 2.3× slower than Node 20 does); Node 20 0.96–0.99×, Node 22 1.03–1.10×.
 */
// @ts-ignore: decorator
@inline function max8(a: usize, b: usize, c: usize, d: usize, out: usize, a0: v128, a1: v128): void {
  const b0 = v128.load(b), b1 = v128.load(b, 16);
  const c0 = v128.load(c), c1 = v128.load(c, 16);
  const d0 = v128.load(d), d1 = v128.load(d, 16);
  const m0 = f32x4.pmax(f32x4.pmax(f32x4.pmax(a0, b0), c0), d0);
  const m1 = f32x4.pmax(f32x4.pmax(f32x4.pmax(a1, b1), c1), d1);
  const t0 = f32x4.add(f32x4.add(f32x4.add(a0, b0), c0), d0);
  const t1 = f32x4.add(f32x4.add(f32x4.add(a1, b1), c1), d1);
  if (v128.any_true(v128.or(max_suspect(m0, t0), max_suspect(m1, t1)))) {
    max8_exact(a, b, c, d, out);
    return;
  }
  v128.store(out, m0);
  v128.store(out, m1, 16);
}

/** max8's rare case: the exact maxima (f32x4.max, in window order) of both vectors, stored at out. */
function max8_exact(a: usize, b: usize, c: usize, d: usize, out: usize): void {
  v128.store(out, max4_exact(v128.load(a), v128.load(b), v128.load(c), v128.load(d)));
  v128.store(out, max4_exact(v128.load(a, 16), v128.load(b, 16), v128.load(c, 16), v128.load(d, 16)), 16);
}

/** max4's rare case, out of line (one copy instead of one per use). */
function max4_exact(a: v128, b: v128, c: v128, d: v128): v128 {
  return f32x4.max(f32x4.max(f32x4.max(a, b), c), d);
}

/**
 * f32x4.max over a window (rows ya … yb − 1, columns xa … xb − 1 of the image at xi, pixels
 * `row` bytes apart, w to a row), in window order, of the 4 channels at byte offset o (the
 * first `left` of them when left < 4): the pooling's exact maximum, for suspect lanes.
 */
function window_max(xi: usize, w: i32, row: usize, ya: i32, yb: i32, xa: i32, xb: i32, o: usize, left: i32): v128 {
  let a = load_upto4(xi + <usize>(ya * w + xa) * row + o, left);
  let ix0 = xa + 1;
  for (let iy = ya; iy < yb; iy++) {
    for (let ix = ix0; ix < xb; ix++) a = f32x4.max(a, load_upto4(xi + <usize>(iy * w + ix) * row + o, left));
    ix0 = xa;
  }
  return a;
}

/** Sixteen channels of forward pooling results, held in a0 … a3, stored at q (avg: times s first). */
// @ts-ignore: decorator
@inline function store_window16(avg: bool, q: usize, a0: v128, a1: v128, a2: v128, a3: v128, s: v128): void {
  if (avg) {
    a0 = f32x4.mul(a0, s);
    a1 = f32x4.mul(a1, s);
    a2 = f32x4.mul(a2, s);
    a3 = f32x4.mul(a3, s);
  }
  v128.store(q, a0);
  v128.store(q, a1, 16);
  v128.store(q, a2, 32);
  v128.store(q, a3, 48);
}

/**
 * pool_forward for 2 × 2 windows at stride 2 inside the image (a CNN's pooling) over a
 * multiple of 4 channels: each output's four pixels read through two row pointers, with no
 * window loops; the same values in the same order (top left, top right, bottom left, bottom
 * right) and the same 1/4 as the general loops.
 */
// @ts-ignore: decorator
@inline function pool_forward_2x2(avg: bool, x: usize, y: usize, n: i32, h: i32, w: i32, c: i32, ho: i32, wo: i32): void {
  const row = <usize>c << 2;
  const img = <usize>h * <usize>w * row;
  const down = <usize>w * row;
  const s = f32x4.splat(0.25);
  let out = y;
  for (let ni = 0; ni < n; ni++) {
    for (let oy = 0; oy < ho; oy++) {
      let p0 = x + <usize>ni * img + <usize>(2 * oy) * down;
      for (let ox = 0; ox < wo; ox++) {
        const p1 = p0 + down;
        let j = 0;
        for (; j + 16 <= c; j += 16) {
          const o = <usize>j << 2;
          let a0 = v128.load(p0 + o), a1 = v128.load(p0 + o, 16), a2 = v128.load(p0 + o, 32), a3 = v128.load(p0 + o, 48);
          const q0 = p0 + row + o, q1 = p1 + o, q2 = p1 + row + o;
          if (avg) {
            a0 = f32x4.add(f32x4.add(f32x4.add(a0, v128.load(q0)), v128.load(q1)), v128.load(q2));
            a1 = f32x4.add(f32x4.add(f32x4.add(a1, v128.load(q0, 16)), v128.load(q1, 16)), v128.load(q2, 16));
            a2 = f32x4.add(f32x4.add(f32x4.add(a2, v128.load(q0, 32)), v128.load(q1, 32)), v128.load(q2, 32));
            a3 = f32x4.add(f32x4.add(f32x4.add(a3, v128.load(q0, 48)), v128.load(q1, 48)), v128.load(q2, 48));
          } else {
            // Eight channels at a time, one test for both vectors (max8), not one per vector.
            max8(p0 + o, q0, q1, q2, out + o, a0, a1);
            max8(p0 + o + 32, q0 + 32, q1 + 32, q2 + 32, out + o + 32, a2, a3);
            continue;
          }
          store_window16(avg, out + o, a0, a1, a2, a3, s);
        }
        for (; j < c; j += 4) {
          const o = <usize>j << 2;
          let a = v128.load(p0 + o);
          if (avg) a = f32x4.mul(f32x4.add(f32x4.add(f32x4.add(a, v128.load(p0 + row + o)), v128.load(p1 + o)), v128.load(p1 + row + o)), s);
          else a = max4(a, v128.load(p0 + row + o), v128.load(p1 + o), v128.load(p1 + row + o));
          v128.store(out + o, a);
        }
        out += row;
        p0 += row << 1;
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
 *
 * Windows that tile the input (tiles_input: a CNN's 2 × 2 pooling) give every dx element
 * exactly one contribution; with accumulate = 0 each is then written once as 0 + s·dy, the
 * sum the general path forms onto the zeroed dx (the same bits, −0 and NaN included),
 * without the fill and without reading dx.
 */
export function avgpool2d_backward(
  dy: usize, dx: usize, n: i32, h: i32, w: i32, c: i32, ho: i32, wo: i32,
  ksize: i32, stride: i32, pad: i32, accumulate: i32,
): void {
  if (c <= 0) return;
  const row = <usize>c << 2;
  const img = <usize>h * <usize>w * row;
  const kh = lo16(ksize), kw = hi16(ksize);
  const sh = lo16(stride), sw = hi16(stride);
  const pt = lo16(pad), pl = hi16(pad);
  const once = !accumulate && tiles_input(h, w, ho, wo, kh, kw, sh, sw, pt, pl);
  if (!accumulate && !once) memory.fill(dx, 0, <usize>n * img);
  // One copy of the loops per value of `once`, so neither tests it inside them.
  if (once) avgpool_backward_loops(true, dy, dx, n, h, w, c, ho, wo, kh, kw, sh, sw, pt, pl);
  else avgpool_backward_loops(false, dy, dx, n, h, w, c, ho, wo, kh, kw, sh, sw, pt, pl);
}

/** The loops of avgpool2d_backward, for a constant `once` (see there). */
// @ts-ignore: decorator
@inline function avgpool_backward_loops(
  once: bool, dy: usize, dx: usize, n: i32, h: i32, w: i32, c: i32, ho: i32, wo: i32,
  kh: i32, kw: i32, sh: i32, sw: i32, pt: i32, pl: i32,
): void {
  const row = <usize>c << 2;
  const img = <usize>h * <usize>w * row;
  const zero = f32x4.splat(0);
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
          // Each channel's contribution s·dy formed once, in registers, then added at every
          // position of the window (the same multiply and add per element as before).
          const s: f32 = <f32>1 / <f32>count;
          const vs = f32x4.splat(s);
          let j = 0;
          for (; j + 16 <= c; j += 16) {
            const o = <usize>j << 2;
            let g0 = f32x4.mul(vs, v128.load(go + o)), g1 = f32x4.mul(vs, v128.load(go + o, 16));
            let g2 = f32x4.mul(vs, v128.load(go + o, 32)), g3 = f32x4.mul(vs, v128.load(go + o, 48));
            if (once) {
              g0 = f32x4.add(zero, g0);
              g1 = f32x4.add(zero, g1);
              g2 = f32x4.add(zero, g2);
              g3 = f32x4.add(zero, g3);
            }
            for (let iy = ya; iy < yb; iy++) {
              let d = di + <usize>(iy * w + xa) * row + o;
              if (once) {
                for (let ix = xa; ix < xb; ix++) {
                  v128.store(d, g0);
                  v128.store(d, g1, 16);
                  v128.store(d, g2, 32);
                  v128.store(d, g3, 48);
                  d += row;
                }
                continue;
              }
              for (let ix = xa; ix < xb; ix++) {
                v128.store(d, f32x4.add(v128.load(d), g0));
                v128.store(d, f32x4.add(v128.load(d, 16), g1), 16);
                v128.store(d, f32x4.add(v128.load(d, 32), g2), 32);
                v128.store(d, f32x4.add(v128.load(d, 48), g3), 48);
                d += row;
              }
            }
          }
          for (; j + 4 <= c; j += 4) {
            const o = <usize>j << 2;
            const g = f32x4.mul(vs, v128.load(go + o));
            const gz = f32x4.add(zero, g);
            for (let iy = ya; iy < yb; iy++) {
              let d = di + <usize>(iy * w + xa) * row + o;
              if (once) {
                for (let ix = xa; ix < xb; ix++) {
                  v128.store(d, gz);
                  d += row;
                }
                continue;
              }
              for (let ix = xa; ix < xb; ix++) {
                v128.store(d, f32x4.add(v128.load(d), g));
                d += row;
              }
            }
          }
          for (; j < c; j++) {
            const o = <usize>j << 2;
            const g = s * load<f32>(go + o);
            const gz: f32 = <f32>0 + g;
            for (let iy = ya; iy < yb; iy++) {
              let d = di + <usize>(iy * w + xa) * row + o;
              if (once) {
                for (let ix = xa; ix < xb; ix++) {
                  store<f32>(d, gz);
                  d += row;
                }
                continue;
              }
              for (let ix = xa; ix < xb; ix++) {
                store<f32>(d, load<f32>(d) + g);
                d += row;
              }
            }
          }
        }
        go += row;
      }
    }
  }
}

/** x[i] = v for i < cnt. */
// @ts-ignore: decorator
@inline function fill_f32(x: usize, cnt: i32, v: f32): void {
  for (let i = 0; i < cnt; i++) store<f32>(x + (<usize>i << 2), v);
}
