import { describe, expect, it } from "vitest";
import { mseOp, sigmoidCrossEntropyOp, softmaxCrossEntropyOp } from "../src/ops/losses.js";
import { guarded, kernels, randomArray, runtime } from "./helpers.js";
import { SIZES, U32, checkGrad, expectError, expectWithin, gbuf } from "./elementwise-util.js";

/** Float64 softmax cross-entropy: probabilities and the mean row loss. */
function softmaxXentRef(z: ArrayLike<number>, t: ArrayLike<number>, rows: number, cols: number) {
  const p = new Float64Array(rows * cols);
  let loss = 0;
  let scale = 0; // Σ_r Σ_c |t|·(|m − z| + log s): the size of what is summed
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let c = 0; c < cols; c++) m = Math.max(m, z[r * cols + c]!);
    let s = 0;
    for (let c = 0; c < cols; c++) s += Math.exp(z[r * cols + c]! - m);
    const ls = Math.log(s);
    for (let c = 0; c < cols; c++) {
      const j = r * cols + c;
      p[j] = Math.exp(z[j]! - m) / s;
      loss += t[j]! * (m - z[j]! + ls);
      scale += Math.abs(t[j]!) * (m - z[j]! + ls);
    }
  }
  return { p, loss: loss / rows, scale: scale / rows };
}

/** Random targets: one-hot rows (oneHot) or probability rows. */
function targets(rows: number, cols: number, oneHot: boolean, seed: number): Float32Array {
  const t = new Float32Array(rows * cols);
  const u = randomArray(rows * cols, seed, 0, 1);
  for (let r = 0; r < rows; r++) {
    if (oneHot) t[r * cols + Math.floor(u[r * cols]! * cols)] = 1;
    else {
      let s = 0;
      for (let c = 0; c < cols; c++) s += u[r * cols + c]!;
      for (let c = 0; c < cols; c++) t[r * cols + c] = u[r * cols + c]! / s;
    }
  }
  return t;
}

const sigmoidRef = (x: number) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));
const bceTerm = (x: number, t: number) => Math.max(x, 0) - x * t + Math.log1p(Math.exp(-Math.abs(x)));

describe("loss kernels vs float64 references", () => {
  it("softmax_xent_forward/backward over rows × classes, one-hot and probability targets", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    const shapes: [number, number][] = [];
    for (const r of [1, 2, 3, 7]) for (const c of [1, 2, 3, 4, 5, 7, 8, 9, 10, 15, 16, 17, 33, 100]) shapes.push([r, c]);
    shapes.push([64, 10], [129, 1000], [3, 4099]);
    for (const [rows, cols] of shapes) {
      for (const oneHot of [true, false]) {
        const zv = randomArray(rows * cols, rows * 31 + cols, -8, 8);
        const tv = targets(rows, cols, oneHot, rows + cols);
        const ref = softmaxXentRef(zv, tv, rows, cols);
        const z = gbuf(sg, zv), t = gbuf(sg, tv);
        const p = gbuf(sg, new Float32Array(rows * cols).fill(NaN)), loss = gbuf(sg, [NaN]);
        k.softmax_xent_forward(z.ptr, t.ptr, p.ptr, loss.ptr, rows, cols);
        const what = `softmax xent ${rows}x${cols} ${oneHot ? "one-hot" : "soft"}`;
        // p: the rounding of z − m (relative error |z − m|·u after exp), exp (1 ulp), the
        // sum, 1/s and the product: (8 + 2|z − m|)·u relative.
        // The sum s runs in f32 lanes over up to 256 values: (64 + 3)·u more.
        const zmax = new Float64Array(rows).fill(-Infinity);
        for (let j = 0; j < rows * cols; j++) zmax[Math.floor(j / cols)] = Math.max(zmax[Math.floor(j / cols)]!, zv[j]!);
        const sumErr = Math.min(cols, 256) / 4 + 3;
        expectWithin(p.view(), ref.p, Array.from(ref.p, (v, j) => (8 + sumErr + 2 * (zmax[Math.floor(j / cols)]! - zv[j]!)) * U32 * v + 1e-45), `${what}: p`);
        // loss: each term (m − z) + log s within 4 ulp, summed in f32 lanes over runs of 256.
        expectWithin(loss.view(), [ref.loss], (Math.min(cols, 256) / 4 + 8) * U32 * ref.scale + 1e-30, `${what}: loss`);
        // backward, accumulate and overwrite, non-unit upstream gradient.
        for (const acc of [0, 1]) {
          const dz0 = acc ? randomArray(rows * cols, 4) : new Float32Array(rows * cols).fill(NaN);
          const dl = gbuf(sg, [-2.5]), dz = gbuf(sg, dz0);
          k.softmax_xent_backward(p.ptr, t.ptr, dl.ptr, dz.ptr, rows, cols, acc);
          const g = -2.5 / rows;
          // The backward kernel's contract is in terms of the saved p it reads.
          const pk = p.view().slice();
          // dz = (p·S − t)·g with S the row's target sum (1 up to rounding here), summed by the
          // kernel in f32 lanes over up to 256 values: (64 + 3)·u relative more on the p·S term.
          const S = new Float64Array(rows);
          for (let j = 0; j < rows * cols; j++) S[Math.floor(j / cols)]! += tv[j]!;
          const want = Array.from(pk, (pv, j) => (acc ? dz0[j]! : 0) + (pv * S[Math.floor(j / cols)]! - tv[j]!) * g);
          const tol = Array.from(pk, (pv, j) => (4 + sumErr) * U32 * Math.abs(g) * (pv + Math.abs(tv[j]!)) + 2 * U32 * (acc ? Math.abs(dz0[j]!) : 0) + 1e-30);
          expectWithin(dz.view(), want, tol, `${what}: dz acc=${acc}`);
          dl.check(), dz.check(), dl.free(), dz.free();
        }
        for (const b of [z, t, p, loss]) b.check(), b.free();
      }
    }
  });

  it("sigmoid_xent_forward/backward over the size sweep, including |x| up to 1e4", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    for (const n of SIZES) {
      const xv = randomArray(n, n + 51, -12, 12);
      for (let i = 5; i < n; i += 7) xv[i] = (i % 2 ? 1 : -1) * 10 ** (1 + (i % 4)); // ±10 … ±1e4
      const tv = randomArray(n, n + 52, 0, 1);
      for (let i = 0; i < n; i += 3) tv[i] = i % 2; // hard 0/1 targets too
      let s = 0, sa = 0;
      for (let i = 0; i < n; i++) {
        s += bceTerm(xv[i]!, tv[i]!);
        sa += Math.abs(Math.max(xv[i]!, 0)) + Math.abs(xv[i]! * tv[i]!) + Math.log1p(Math.exp(-Math.abs(xv[i]!)));
      }
      const x = gbuf(sg, xv), t = gbuf(sg, tv), loss = gbuf(sg, [NaN]);
      k.sigmoid_xent_forward(x.ptr, t.ptr, loss.ptr, n);
      if (n === 0) expect(Number.isNaN(loss.view()[0])).toBe(true);
      else expectWithin(loss.view(), [s / n], ((Math.min(n, 1024) / 8 + 8) * U32 * sa) / n, `sigmoid xent n=${n}`);
      for (const acc of [0, 1]) {
        const d0 = acc ? randomArray(n, 8) : new Float32Array(n).fill(NaN);
        const dl = gbuf(sg, [1.75]), dx = gbuf(sg, d0), dt = gbuf(sg, d0);
        k.sigmoid_xent_backward(x.ptr, t.ptr, dl.ptr, dx.ptr, dt.ptr, n, acc);
        const g = 1.75 / n;
        const wantX = Array.from(xv, (v, i) => (acc ? d0[i]! : 0) + (sigmoidRef(v) - tv[i]!) * g);
        const tolX = Array.from(xv, (v, i) => 6 * U32 * g * (sigmoidRef(v) + tv[i]!) + 2 * U32 * (acc ? Math.abs(d0[i]!) : 0) + 1e-30);
        expectWithin(dx.view(), wantX, tolX, `sigmoid xent dx n=${n} acc=${acc}`);
        const wantT = Array.from(xv, (v, i) => (acc ? d0[i]! : 0) - v * g);
        const tolT = Array.from(xv, (v, i) => 3 * U32 * (Math.abs(v * g) + (acc ? Math.abs(d0[i]!) : 0)) + 1e-30);
        expectWithin(dt.view(), wantT, tolT, `sigmoid xent dt n=${n} acc=${acc}`);
        // dt not wanted (pointer 0): dx the same, dt untouched.
        const dtBefore = dt.view().slice();
        dx.set(d0);
        k.sigmoid_xent_backward(x.ptr, t.ptr, dl.ptr, dx.ptr, 0, n, acc);
        expectWithin(dx.view(), wantX, tolX, `sigmoid xent dx alone n=${n}`);
        expect(Array.from(dt.view())).toEqual(Array.from(dtBefore));
        for (const b of [dl, dx, dt]) b.check(), b.free();
      }
      for (const b of [x, t, loss]) b.check(), b.free();
    }
  });

  it("sigmoid_xent_backward keeps a confident prediction's digits: σ(x) − t within a few ulps of itself for 0/1 targets", async () => {
    // σ(x) − 1 in float32 is 0 once x passes 17, where the exact gradient is −σ(−x) ≈ −e^−x;
    // formed from σ(−|x|), each hard target's gradient is relatively accurate down to σ(−87),
    // then on the denormals' grid, and still nonzero at x = 103.
    const sg = await runtime();
    const k = kernels(sg);
    const xs: number[] = [];
    for (let v = -103; v <= 103; v += 0.37) xs.push(v);
    xs.push(-1e4, -104, -87, -17.5, -17, -1e-3, -0, 0, 1e-3, 17, 17.5, 30, 87, 104, 1e4);
    const xv = Float32Array.from(xs.flatMap((v) => [v, v]));
    const tv = Float32Array.from(xs.flatMap(() => [0, 1]));
    const n = xv.length;
    const x = gbuf(sg, xv), t = gbuf(sg, tv), dl = gbuf(sg, [n]), dx = gbuf(sg, new Float32Array(n).fill(NaN));
    k.sigmoid_xent_backward(x.ptr, t.ptr, dl.ptr, dx.ptr, 0, n, 0);
    const got = dx.view();
    for (let i = 0; i < n; i++) {
      // g = dloss/n = 1; σ(x) − 1 as −σ(−x): in float64 too, 1 − σ(x) would keep few digits.
      const v = xv[i]!, want = tv[i] === 1 ? -sigmoidRef(-v) : sigmoidRef(v);
      const tol = Math.abs(want) >= 2 ** -126 ? 4 * U32 * Math.abs(want) : 2 ** -149;
      expect(Math.abs(got[i]! - want), `x = ${v}, t = ${tv[i]}: ${got[i]} against ${want}`).toBeLessThanOrEqual(tol);
      if (Math.abs(v) <= 103) expect(got[i], `x = ${v}, t = ${tv[i]}`).not.toBe(0);
    }
    for (const b of [x, t, dl, dx]) b.check(), b.free();
  });

  it("mse_forward/backward over the size sweep", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    for (const n of SIZES) {
      const pv = randomArray(n, n + 61, -3, 3), tv = randomArray(n, n + 62, -3, 3);
      let s = 0;
      for (let i = 0; i < n; i++) s += (pv[i]! - tv[i]!) ** 2;
      const p = gbuf(sg, pv), t = gbuf(sg, tv), loss = gbuf(sg, [NaN]);
      k.mse_forward(p.ptr, t.ptr, loss.ptr, n);
      if (n === 0) expect(Number.isNaN(loss.view()[0])).toBe(true);
      else expectWithin(loss.view(), [s / n], ((Math.min(n, 1024) / 8 + 8) * U32 * s) / n, `mse n=${n}`);
      for (const acc of [0, 1]) {
        const d0 = acc ? randomArray(n, 8) : new Float32Array(n).fill(NaN);
        const dl = gbuf(sg, [-0.5]), dp = gbuf(sg, d0), dt = gbuf(sg, d0);
        k.mse_backward(p.ptr, t.ptr, dl.ptr, dp.ptr, dt.ptr, n, acc);
        const g = (2 * -0.5) / n;
        const r = Array.from(pv, (v, i) => (v - tv[i]!) * g);
        const tol = r.map((v, i) => 3 * U32 * (Math.abs(v) + (acc ? Math.abs(d0[i]!) : 0)) + 1e-30);
        expectWithin(dp.view(), r.map((v, i) => (acc ? d0[i]! : 0) + v), tol, `mse dp n=${n} acc=${acc}`);
        expectWithin(dt.view(), r.map((v, i) => (acc ? d0[i]! : 0) - v), tol, `mse dt n=${n} acc=${acc}`);
        // Only dt wanted.
        const dpBefore = dp.view().slice();
        dt.set(d0);
        k.mse_backward(p.ptr, t.ptr, dl.ptr, 0, dt.ptr, n, acc);
        expectWithin(dt.view(), r.map((v, i) => (acc ? d0[i]! : 0) - v), tol, `mse dt alone n=${n}`);
        expect(Array.from(dp.view())).toEqual(Array.from(dpBefore));
        for (const b of [dl, dp, dt]) b.check(), b.free();
      }
      for (const b of [p, t, loss]) b.check(), b.free();
    }
  });
});

describe("loss ops: gradients, stability, errors", () => {
  const grad = { h: 1e-2, rtol: 5e-3, atol: 2e-4 };

  for (const shape of [[4, 5], [1, 3], [7], [3, 16], [2, 1]]) {
    for (const oneHot of [true, false]) {
      it(`softmaxCrossEntropy ${JSON.stringify(shape)} ${oneHot ? "one-hot" : "soft"}: gradient of the logits`, async () => {
        const sg = await runtime();
        const [rows, cols] = shape.length === 1 ? [1, shape[0]!] : [shape[0]!, shape[1]!];
        const z = randomArray(rows * cols, cols, -2, 2);
        const t = targets(rows, cols, oneHot, rows * 7 + cols);
        checkGrad(sg, { op: softmaxCrossEntropyOp, attrs: undefined, inputs: [{ shape, values: z }, { shape, values: t }], wrt: [0], ...grad }, "softmax xent");
        // Eager forward against the reference.
        const tz = sg.tensor(shape, z), tt = sg.tensor(shape, t);
        const y = sg.apply(softmaxCrossEntropyOp, [tz, tt], undefined);
        expect(y.shape).toEqual([]);
        const ref = softmaxXentRef(z, t, rows, cols);
        expectWithin(y.toArray(), [ref.loss], (cols + 8) * U32 * ref.scale, "softmax xent eager");
        for (const x of [tz, tt, y]) x.dispose();
      });
    }
  }

  it("softmaxCrossEntropy leaves a targets gradient alone (the targets get none)", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    const z = gbuf(sg, [1, 2, 3]), t = gbuf(sg, [0, 1, 0]), y = guarded(sg, 1), p = guarded(sg, 3);
    const dy = gbuf(sg, [1]), dz = gbuf(sg, [0, 0, 0]), dt = gbuf(sg, [5, 5, 5]);
    const b = (g: typeof z, shape: number[]) => ({ ptr: g.ptr, shape, size: g.n });
    const env = { saved: [b(p, [3])], scratch: 0 };
    softmaxCrossEntropyOp.forward(k, [b(z, [3]), b(t, [3])], b(y, []), undefined, env);
    softmaxCrossEntropyOp.backward!(k, [b(z, [3]), b(t, [3])], b(y, []), b(dy, []), [b(dz, [3]), b(dt, [3])], undefined, env);
    expect(Array.from(dt.view())).toEqual([5, 5, 5]);
    const s = Math.exp(1) + Math.exp(2) + Math.exp(3);
    expectWithin(dz.view(), [Math.exp(1) / s, Math.exp(2) / s - 1, Math.exp(3) / s], 1e-6, "dz");
    for (const g of [z, t, y, p, dy, dz, dt]) g.check(), g.free();
  });

  for (const shape of [[3, 4], [17], [1]]) {
    it(`sigmoidCrossEntropy and mse ${JSON.stringify(shape)}: gradients of both inputs`, async () => {
      const sg = await runtime();
      const n = shape.reduce((a, b) => a * b, 1);
      const x = randomArray(n, n + 1, -3, 3), t = randomArray(n, n + 2, 0, 1);
      checkGrad(sg, { op: sigmoidCrossEntropyOp, attrs: undefined, inputs: [{ shape, values: x }, { shape, values: t }], ...grad }, "sigmoid xent");
      checkGrad(sg, { op: mseOp, attrs: undefined, inputs: [{ shape, values: x }, { shape, values: t }], ...grad }, "mse");
      checkGrad(sg, { op: mseOp, attrs: undefined, inputs: [{ shape, values: x }, { shape, values: t }], wrt: [1], ...grad }, "mse target only");
    });
  }

  it("logits of ±1e4 give finite losses and gradients", async () => {
    const sg = await runtime();
    const zv = [1e4, -1e4, 0, 5e3, -1e4, 1e4, 1e4, -3e4];
    const tv = [0, 1, 0, 0, 0, 0, 1, 0]; // row 0 aims at −1e4: loss 2e4; row 1 at a top logit: log 2
    const z = sg.tensor([2, 4], zv), t = sg.tensor([2, 4], tv);
    const y = sg.apply(softmaxCrossEntropyOp, [z, t], undefined);
    expectWithin(y.toArray(), [(2e4 + Math.LN2) / 2], 2e4 * 4 * U32, "softmax xent ±1e4");
    const k = kernels(sg);
    const p = sg.zeros([2, 4]), dl = sg.tensor([], [3]), dz = sg.zeros([2, 4]);
    k.softmax_xent_forward(z.ptr, t.ptr, p.ptr, y.ptr, 2, 4);
    k.softmax_xent_backward(p.ptr, t.ptr, dl.ptr, dz.ptr, 2, 4, 0);
    expectWithin(dz.toArray(), [1.5, -1.5, 0, 0, 0, 0.75, -0.75, 0], 1e-6, "softmax xent ±1e4 gradient");

    const xs = sg.tensor([6], [1e4, -1e4, 1e4, -1e4, 100, -100]);
    const ts = sg.tensor([6], [0, 1, 1, 0, 0.5, 0.5]);
    const ys = sg.apply(sigmoidCrossEntropyOp, [xs, ts], undefined);
    expectWithin(ys.toArray(), [(1e4 + 1e4 + 0 + 0 + 50 + 50) / 6], 4 * 2e4 * U32, "sigmoid xent ±1e4");
    const dx = sg.zeros([6]);
    k.sigmoid_xent_backward(xs.ptr, ts.ptr, dl.ptr, dx.ptr, 0, 6, 0);
    expectWithin(dx.toArray(), [0.5, -0.5, 0, 0, 0.25, -0.25], 1e-6, "sigmoid xent ±1e4 gradient");
    for (const x of [z, t, y, p, dl, dz, xs, ts, ys, dx]) x.dispose();
  });

  it("a NaN logit or prediction makes the loss NaN (never a silent finite value)", async () => {
    const sg = await runtime();
    for (const cols of [3, 4, 6, 9]) {
      for (const at of [0, cols - 1, Math.floor(cols / 2)]) {
        const zv = randomArray(2 * cols, cols, -2, 2);
        zv[cols + at] = NaN;
        const z = sg.tensor([2, cols], zv), t = sg.tensor([2, cols], targets(2, cols, false, 3));
        expect(sg.apply(softmaxCrossEntropyOp, [z, t], undefined).toArray()[0]).toBeNaN();
        expect(sg.apply(sigmoidCrossEntropyOp, [z, t], undefined).toArray()[0]).toBeNaN();
        expect(sg.apply(mseOp, [z, t], undefined).toArray()[0]).toBeNaN();
        z.dispose(), t.dispose();
      }
    }
  });

  it("losses over zero rows or elements are NaN (0/0), and their backward writes nothing", async () => {
    const sg = await runtime();
    const k = kernels(sg);
    const e = sg.zeros([0, 3]);
    expect(Number.isNaN(sg.apply(softmaxCrossEntropyOp, [e, e], undefined).toArray()[0])).toBe(true);
    expect(Number.isNaN(sg.apply(mseOp, [e, e], undefined).toArray()[0])).toBe(true);
    const dl = gbuf(sg, [1]), d = guarded(sg, 0);
    k.softmax_xent_backward(e.ptr, e.ptr, dl.ptr, d.ptr, 0, 3, 1);
    k.mse_backward(e.ptr, e.ptr, dl.ptr, d.ptr, d.ptr, 0, 1);
    d.check(), dl.free(), d.free();
  });

  it("shape errors name the op and both shapes; the runtime keeps working", async () => {
    const sg = await runtime();
    const z = sg.zeros([4, 3]), t = sg.zeros([4, 2]);
    expectError(() => sg.apply(softmaxCrossEntropyOp, [z, t], undefined), "softmaxCrossEntropy: logits and targets differ in shape: logits is [4, 3], targets is [4, 2]");
    expectError(() => sg.apply(softmaxCrossEntropyOp, [sg.zeros([2, 3, 4]), sg.zeros([2, 3, 4])], undefined), "softmaxCrossEntropy: logits must be [N, C] or [C]: logits is [2, 3, 4]");
    expectError(() => sg.apply(softmaxCrossEntropyOp, [sg.zeros([2, 0]), sg.zeros([2, 0])], undefined), "softmaxCrossEntropy: needs at least one class", "[2, 0]");
    expectError(() => sg.apply(sigmoidCrossEntropyOp, [z, t], undefined), "sigmoidCrossEntropy: logits and targets differ in shape: logits is [4, 3], targets is [4, 2]");
    expectError(() => sg.apply(mseOp, [z, sg.zeros([3, 4])], undefined), "mse: pred and target differ in shape: pred is [4, 3], target is [3, 4]");
    expectError(() => sg.apply(mseOp, [z], undefined), "mse: expects 2 inputs");
    const ok = sg.apply(mseOp, [z, sg.ones([4, 3])], undefined);
    expect(ok.toArray()[0]).toBe(1);
    const sx = sg.apply(softmaxCrossEntropyOp, [z, sg.tensor([4, 3], [1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0])], undefined);
    expectWithin(sx.toArray(), [Math.log(3)], 4 * U32, "uniform logits");
  });
});
