import { describe, expect, it } from "vitest";
import { SIZES, U32, expectWithin, gbuf } from "./elementwise-util.js";
import { kernels, randomArray, runtime } from "./helpers.js";

// square_f32 and square_backward against float64 over the size sweep, with NaN guard bands.
// y = x² is one rounding: |got − x²| ≤ u·x². The gradient 2x·dy: 2x is exact, so one rounding,
// and one more when accumulating into dx.
describe("square kernels", () => {
  it("square_f32 and square_backward (overwrite and accumulate) over the size sweep", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    for (const n of SIZES) {
      const x = randomArray(n, n + 1, -3, 3);
      const dy = randomArray(n, n + 2, -2, 2);
      const d0 = randomArray(n, n + 3, -1, 1);
      const gx = gbuf(sg, x);
      const gy = gbuf(sg, new Float32Array(n));
      k.square_f32(gx.ptr, gy.ptr, n);
      const want = Array.from(x, (v) => v * v);
      expectWithin(gy.view(), want, want.map((w) => U32 * Math.abs(w)), `square_f32 n=${n}`);
      const gdy = gbuf(sg, dy);
      for (const acc of [0, 1]) {
        const gdx = gbuf(sg, d0);
        k.square_backward(gx.ptr, gdy.ptr, gdx.ptr, n, acc);
        const g = Array.from(x, (v, i) => 2 * v * dy[i]! + (acc ? d0[i]! : 0));
        const bound = Array.from(x, (v, i) => 2 * U32 * (Math.abs(2 * v * dy[i]!) + (acc ? Math.abs(d0[i]!) : 0)));
        expectWithin(gdx.view(), g, bound, `square_backward n=${n} accumulate=${acc}`);
        gdx.check();
        gdx.free();
      }
      for (const b of [gx, gy, gdy]) {
        b.check();
        b.free();
      }
    }
  });

  it("in place (y = x) and with dx = dy", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    const x = randomArray(13, 7, -2, 2);
    const g = gbuf(sg, x);
    k.square_f32(g.ptr, g.ptr, 13);
    expect(Array.from(g.view())).toEqual(Array.from(x, (v) => Math.fround(v * v)));
    g.set(x);
    const d = gbuf(sg, Array.from(x, () => 1));
    k.square_backward(g.ptr, d.ptr, d.ptr, 13, 0);
    expect(Array.from(d.view())).toEqual(Array.from(x, (v) => Math.fround(2 * v)));
    g.check();
    d.check();
    g.free();
    d.free();
  });
});
