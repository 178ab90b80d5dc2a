// Softmax, log-softmax, layer norm and embedding lookups, forward and backward: elements per
// nanosecond for simdgrad's ops (the op definitions a graph runs, called on tensors) beside
// TensorFlow.js wasm (its own op where it has one, else the composition tfjs-layers uses;
// backward: the rule tfjs's gradient applies, written with tfjs ops).
//
// Embedding backward: simdgrad scatter-adds dy into the rows used and records them (then
// zeroes those rows again, as zeroGrad does each step): O(ids·D). tfjs's gradient of gather
// is unsortedSegmentSum into a dense [V, D] tensor: O(V·D). The rows with V = 500 and
// V = 50 000 at the same ids show which cost grows with V.
import { uniform, reason } from "../lib/data.js";
import { measureSet } from "../lib/timing.js";
import { printTable, fmt, ratio, change } from "../lib/table.js";

const EPS = 1e-5;

async function ops() {
  const [{ softmaxOp, logSoftmaxOp }, { layerNormOp }, { embeddingOp, attachRowSet }] = await Promise.all([
    import("../../dist/ops/softmax.js"),
    import("../../dist/ops/layernorm.js"),
    import("../../dist/ops/embedding.js"),
  ]);
  return { softmaxOp, logSoftmaxOp, layerNormOp, embeddingOp, attachRowSet };
}

export async function run(ctx) {
  const { sg, tf, prev } = ctx;
  const O = await ops();
  const k = sg.rt.kernels;
  const rows = [];
  const cells = [];
  const env = (saved) => ({ saved, scratch: 0 });

  const add = (key, label, dir, shape, fns, elements, cleanup) => {
    const row = { key, op: label, dir, shape };
    try {
      const t = measureSet(fns);
      for (const name in t) row[name] = t[name].error ? reason(t[name].error) : elements / t[name].seconds / 1e9;
    } catch (e) {
      row.sg = reason(e);
    } finally {
      for (const f of cleanup) f();
    }
    rows.push(row);
    cells.push([label, dir, shape, fmt(row.sg, 2), fmt(row.tf, 2), ratio(row.sg, row.tf), change(row.sg, prev(key)?.sg)]);
  };

  // ---- softmax, log-softmax, layer norm over the last axis
  for (const [R, C] of [[64, 1024], [1024, 1024]]) {
    const n = R * C;
    const shape = `${R}×${C}`;
    const xData = uniform(n, 5, -4, 4);
    const dyData = uniform(n, 7, -1, 1);
    for (const [name, op, tfF, tfB] of [
      ["softmax", O.softmaxOp, (x) => tf.softmax(x), (y, dy) => tf.mul(y, tf.sub(dy, tf.sum(tf.mul(dy, y), -1, true)))],
      ["logSoftmax", O.logSoftmaxOp, (x) => tf.logSoftmax(x), (y, dy) => tf.sub(dy, tf.mul(tf.exp(y), tf.sum(dy, -1, true)))],
    ]) {
      for (const dir of ["forward", "backward"]) {
        const x = sg.tensor([R, C], xData), y = sg.zeros([R, C]), dy = sg.tensor([R, C], dyData), dx = sg.zeros([R, C]);
        const attrs = { axis: -1 };
        op.forward(k, [x], y, attrs, env([]));
        const tx = tf.tensor2d(xData, [R, C]), tdy = tf.tensor2d(dyData, [R, C]);
        const ty = tfF(tx);
        const fns = dir === "forward"
          ? { sg: () => op.forward(k, [x], y, attrs, env([])), tf: () => tf.tidy(() => { tfF(tx); }) }
          : { sg: () => { k.fill_f32(dx.ptr, n, 0); op.backward(k, [x], y, dy, [dx], attrs, env([])); }, tf: () => tf.tidy(() => { tfB(ty, tdy); }) };
        add(`${name}/${dir}/${shape}`, name, dir, shape, fns, n, [() => { for (const t of [x, y, dy, dx]) t.dispose(); tf.dispose([tx, tdy, ty]); }]);
      }
    }
    // layer norm: tfjs has no fused op; tfjs-layers' LayerNormalization is moments + arithmetic.
    for (const dir of ["forward", "backward"]) {
      const x = sg.tensor([R, C], xData), y = sg.zeros([R, C]), dy = sg.tensor([R, C], dyData), dx = sg.zeros([R, C]);
      const g = sg.tensor([C], uniform(C, 3, 0.5, 1.5)), b = sg.tensor([C], uniform(C, 4, -1, 1));
      const dg = sg.zeros([C]), db = sg.zeros([C]);
      const mean = sg.zeros([R]), rstd = sg.zeros([R]);
      const attrs = { eps: EPS };
      const e = env([mean, rstd]);
      O.layerNormOp.forward(k, [x, g, b], y, attrs, e);
      const tx = tf.tensor2d(xData, [R, C]), tdy = tf.tensor2d(dyData, [R, C]);
      const tg = tf.tensor1d(g.toArray()), tb = tf.tensor1d(b.toArray());
      const tfF = () => {
        const { mean: m, variance: v } = tf.moments(tx, -1, true);
        return tf.add(tf.mul(tf.mul(tf.sub(tx, m), tf.rsqrt(tf.add(v, EPS))), tg), tb);
      };
      // The gradient rule of the composition (what tfjs's autodiff applies), written out.
      const tfB = () => {
        const { mean: m, variance: v } = tf.moments(tx, -1, true);
        const rs = tf.rsqrt(tf.add(v, EPS));
        const xh = tf.mul(tf.sub(tx, m), rs);
        const gg = tf.mul(tdy, tg);
        const dxv = tf.mul(rs, tf.sub(tf.sub(gg, tf.mean(gg, -1, true)), tf.mul(xh, tf.mean(tf.mul(gg, xh), -1, true))));
        return [dxv, tf.sum(tf.mul(tdy, xh), 0), tf.sum(tdy, 0)];
      };
      const fns = dir === "forward"
        ? { sg: () => O.layerNormOp.forward(k, [x, g, b], y, attrs, e), tf: () => tf.tidy(() => { tfF(); }) }
        : {
            sg: () => { k.fill_f32(dx.ptr, n, 0); O.layerNormOp.backward(k, [x, g, b], y, dy, [dx, dg, db], attrs, e); },
            tf: () => tf.tidy(() => { tfB(); }),
          };
      add(`layerNorm/${dir}/${shape}`, "layerNorm", dir, shape, fns, n, [() => { for (const t of [x, y, dy, dx, g, b, dg, db, mean, rstd]) t.dispose(); tf.dispose([tx, tdy, tg, tb]); }]);
    }
  }

  // ---- embedding: ids into a [V, D] table
  for (const [N, V, D] of [[64, 500, 64], [64, 50000, 64], [64, 4096, 1024], [1024, 4096, 1024]]) {
    const shape = `${N} ids, ${V}×${D}`;
    const n = N * D;
    const idsData = Float32Array.from({ length: N }, (_, i) => (i * 7919 + 13) % V);
    const tableData = uniform(V * D, 9, -1, 1);
    const dyData = uniform(n, 11, -1, 1);
    for (const dir of ["forward", "backward"]) {
      const ids = sg.tensor([N], idsData), table = sg.tensor([V, D], tableData), out = sg.zeros([N, D]);
      const dy = sg.tensor([N, D], dyData), dtable = sg.zeros([V, D]);
      const rsBytes = k.rowset_bytes(V);
      const rsT = sg.zeros([Math.ceil(rsBytes / 4)]);
      k.rowset_init(rsT.ptr, V);
      O.attachRowSet(dtable, { ptr: rsT.ptr, rows: V, dim: D, dense: false });
      const tIds = tf.tensor1d(Int32Array.from(idsData), "int32"), tTable = tf.tensor2d(tableData, [V, D]), tdy = tf.tensor2d(dyData, [N, D]);
      const fns = dir === "forward"
        ? { sg: () => O.embeddingOp.forward(k, [ids, table], out, undefined, env([])), tf: () => tf.tidy(() => { tf.gather(tTable, tIds); }) }
        : {
            // per step: scatter-add into the rows used, then zero those rows again (zeroGrad)
            sg: () => { O.embeddingOp.backward(k, [ids, table], out, dy, [null, dtable], undefined, env([])); k.rowset_zero(dtable.ptr, D, rsT.ptr); },
            tf: () => tf.tidy(() => { tf.unsortedSegmentSum(tdy, tIds, V); }),
          };
      add(`embedding/${dir}/${N}/${V}/${D}`, "embedding", dir, shape, fns, n, [() => { for (const t of [ids, table, out, dy, dtable, rsT]) t.dispose(); tf.dispose([tIds, tTable, tdy]); }]);
    }
  }

  printTable(
    "Softmax, layer norm, embedding: elements per nanosecond (higher is better)",
    [
      { title: "op", align: "l" },
      { title: "dir", align: "l" },
      { title: "shape", align: "l" },
      { title: "simdgrad" },
      { title: "tfjs-wasm" },
      { title: "sg/tfjs" },
      { title: "Δ prev" },
    ],
    cells,
    [
      "simdgrad: the op definitions a graph step runs (fused kernels), on tensors; tfjs: tf.softmax, tf.logSoftmax,",
      "layer norm as tf.moments + arithmetic (tfjs-layers' form), tf.gather; backward: tfjs's gradient rules written with",
      "tfjs ops. Elements: the output's (forward) or dy's (backward). Embedding backward: simdgrad O(ids·D) with the",
      "rows zeroed again per step; tfjs unsortedSegmentSum into a dense [V, D] gradient, O(V·D).",
    ],
  );
  return rows;
}
