/**
 * Float64 references for the convolution and pooling tests: direct loops over the
 * definitions (no im2col, no GEMM), each with the magnitude Σ|terms| of every result for
 * error bounds relative to the size of what was summed.
 */

export interface Geo {
  n: number; h: number; w: number; c: number;
  kh: number; kw: number; f: number;
  ho: number; wo: number;
  sh: number; sw: number; dh: number; dw: number;
  pt: number; pl: number;
}

/** Output size and top/left padding of one axis, as TensorFlow defines them (written out independently of src/). */
export function axis(len: number, k: number, s: number, d: number, pad: "valid" | "same" | number): { out: number; before: number } {
  const eff = (k - 1) * d + 1;
  if (pad === "same") {
    const out = Math.ceil(len / s);
    const total = Math.max(0, (out - 1) * s + eff - len);
    return { out, before: total >> 1 };
  }
  const p = pad === "valid" ? 0 : pad;
  return { out: Math.floor((len + 2 * p - eff) / s) + 1, before: p };
}

export interface ConvOpts {
  stride?: number | [number, number];
  padding?: "valid" | "same" | number;
  dilation?: number | [number, number];
}

const two = (v: number | [number, number] | undefined): [number, number] => (v === undefined ? [1, 1] : typeof v === "number" ? [v, v] : v);

export function geo(x: readonly number[], f: readonly number[], o: ConvOpts): Geo {
  const [n, h, w, c] = x as [number, number, number, number];
  const [kh, kw, , F] = f as [number, number, number, number];
  const [sh, sw] = two(o.stride);
  const [dh, dw] = two(o.dilation);
  const pad = o.padding ?? "valid";
  const ay = axis(h, kh, sh, dh, pad);
  const ax = axis(w, kw, sw, dw, pad);
  return { n, h, w, c, kh, kw, f: F, ho: ay.out, wo: ax.out, sh, sw, dh, dw, pt: ay.before, pl: ax.before };
}

/** Calls fn(iy, ix) for each tap (ky, kx) of output (oy, ox) that lands inside the input. */
function taps(g: Geo, oy: number, ox: number, fn: (ky: number, kx: number, iy: number, ix: number) => void): void {
  for (let ky = 0; ky < g.kh; ky++) {
    const iy = oy * g.sh - g.pt + ky * g.dh;
    if (iy < 0 || iy >= g.h) continue;
    for (let kx = 0; kx < g.kw; kx++) {
      const ix = ox * g.sw - g.pl + kx * g.dw;
      if (ix < 0 || ix >= g.w) continue;
      fn(ky, kx, iy, ix);
    }
  }
}

export interface Ref {
  want: Float64Array;
  mag: Float64Array;
}

/** y[n, oy, ox, j] = Σ x[n, iy, ix, c]·filter[ky, kx, c, j]. */
export function convForward(g: Geo, x: ArrayLike<number>, filt: ArrayLike<number>): Ref {
  const size = g.n * g.ho * g.wo * g.f;
  const want = new Float64Array(size);
  const mag = new Float64Array(size);
  for (let n = 0; n < g.n; n++) for (let oy = 0; oy < g.ho; oy++) for (let ox = 0; ox < g.wo; ox++) {
    const o = ((n * g.ho + oy) * g.wo + ox) * g.f;
    taps(g, oy, ox, (ky, kx, iy, ix) => {
      const xo = ((n * g.h + iy) * g.w + ix) * g.c;
      const fo = (ky * g.kw + kx) * g.c * g.f;
      for (let c = 0; c < g.c; c++) {
        const xv = x[xo + c]!;
        for (let j = 0; j < g.f; j++) {
          const p = xv * filt[fo + c * g.f + j]!;
          want[o + j]! += p;
          mag[o + j]! += Math.abs(p);
        }
      }
    });
  }
  return { want, mag };
}

/** dx[n, iy, ix, c] = Σ over the taps reading (iy, ix) of Σ_j dy[n, oy, ox, j]·filter[ky, kx, c, j]. */
export function convBackwardInput(g: Geo, dy: ArrayLike<number>, filt: ArrayLike<number>): Ref {
  const size = g.n * g.h * g.w * g.c;
  const want = new Float64Array(size);
  const mag = new Float64Array(size);
  for (let n = 0; n < g.n; n++) for (let oy = 0; oy < g.ho; oy++) for (let ox = 0; ox < g.wo; ox++) {
    const o = ((n * g.ho + oy) * g.wo + ox) * g.f;
    taps(g, oy, ox, (ky, kx, iy, ix) => {
      const xo = ((n * g.h + iy) * g.w + ix) * g.c;
      const fo = (ky * g.kw + kx) * g.c * g.f;
      for (let c = 0; c < g.c; c++) {
        for (let j = 0; j < g.f; j++) {
          const p = dy[o + j]! * filt[fo + c * g.f + j]!;
          want[xo + c]! += p;
          mag[xo + c]! += Math.abs(p);
        }
      }
    });
  }
  return { want, mag };
}

/** df[ky, kx, c, j] = Σ over outputs of x[n, iy, ix, c]·dy[n, oy, ox, j]. */
export function convBackwardFilter(g: Geo, x: ArrayLike<number>, dy: ArrayLike<number>): Ref {
  const size = g.kh * g.kw * g.c * g.f;
  const want = new Float64Array(size);
  const mag = new Float64Array(size);
  for (let n = 0; n < g.n; n++) for (let oy = 0; oy < g.ho; oy++) for (let ox = 0; ox < g.wo; ox++) {
    const o = ((n * g.ho + oy) * g.wo + ox) * g.f;
    taps(g, oy, ox, (ky, kx, iy, ix) => {
      const xo = ((n * g.h + iy) * g.w + ix) * g.c;
      const fo = (ky * g.kw + kx) * g.c * g.f;
      for (let c = 0; c < g.c; c++) {
        for (let j = 0; j < g.f; j++) {
          const p = x[xo + c]! * dy[o + j]!;
          want[fo + c * g.f + j]! += p;
          mag[fo + c * g.f + j]! += Math.abs(p);
        }
      }
    });
  }
  return { want, mag };
}

export interface PoolGeo {
  n: number; h: number; w: number; c: number;
  kh: number; kw: number; sh: number; sw: number;
  ho: number; wo: number; pt: number; pl: number;
}

export function poolGeo(x: readonly number[], size: number | [number, number], stride?: number | [number, number], pad: "valid" | "same" | number = "valid"): PoolGeo {
  const [n, h, w, c] = x as [number, number, number, number];
  const [kh, kw] = typeof size === "number" ? [size, size] : size;
  const [sh, sw] = stride === undefined ? [kh, kw] : typeof stride === "number" ? [stride, stride] : stride;
  const ay = axis(h, kh, sh, 1, pad);
  const ax = axis(w, kw, sw, 1, pad);
  return { n, h, w, c, kh, kw, sh, sw, ho: ay.out, wo: ax.out, pt: ay.before, pl: ax.before };
}

/** Window positions (flat indices of x without the channel) of output (n, oy, ox), row-major. */
function window(g: PoolGeo, n: number, oy: number, ox: number): number[] {
  const out: number[] = [];
  for (let ky = 0; ky < g.kh; ky++) {
    const iy = oy * g.sh - g.pt + ky;
    if (iy < 0 || iy >= g.h) continue;
    for (let kx = 0; kx < g.kw; kx++) {
      const ix = ox * g.sw - g.pl + kx;
      if (ix < 0 || ix >= g.w) continue;
      out.push((n * g.h + iy) * g.w + ix);
    }
  }
  return out;
}

/** Max and mean pooling with their gradients (max: dy to the first maximum in row-major window order). */
export function pool(g: PoolGeo, x: ArrayLike<number>, dy: ArrayLike<number> | null) {
  const size = g.n * g.ho * g.wo * g.c;
  const max = new Float64Array(size);
  const avg = new Float64Array(size);
  const dxMax = new Float64Array(g.n * g.h * g.w * g.c);
  const dxAvg = new Float64Array(g.n * g.h * g.w * g.c);
  for (let n = 0; n < g.n; n++) for (let oy = 0; oy < g.ho; oy++) for (let ox = 0; ox < g.wo; ox++) {
    const win = window(g, n, oy, ox);
    for (let c = 0; c < g.c; c++) {
      const o = ((n * g.ho + oy) * g.wo + ox) * g.c + c;
      let best = -Infinity;
      let arg = -1;
      let sum = 0;
      for (const p of win) {
        const v = x[p * g.c + c]!;
        if (arg < 0 || v > best) {
          best = v;
          arg = p;
        }
        sum += v;
      }
      max[o] = best;
      avg[o] = sum / win.length;
      if (dy) {
        dxMax[arg * g.c + c]! += dy[o]!;
        for (const p of win) dxAvg[p * g.c + c]! += dy[o]! / win.length;
      }
    }
  }
  return { max, avg, dxMax, dxAvg };
}
