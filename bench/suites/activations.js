// Activations: elements per nanosecond, forward and backward, at a cache-resident size and at
// 1M elements, for simdgrad's eager kernels, TensorFlow.js wasm and a plain JS loop.
import { uniform, missing, reason } from "../lib/data.js";
import { measureSet } from "../lib/timing.js";
import { printTable, fmt, ratio, change } from "../lib/table.js";

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** erf for the plain JS peer (Abramowitz–Stegun 7.1.26, |error| ≤ 1.5e-7). */
function erf(x) {
  const s = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  return s * (1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-a * a));
}

const LEAK = 0.01;

/**
 * Each activation: simdgrad eager calls (backward takes x or y, as simdgrad documents), the
 * TensorFlow.js forward op and the backward rule tfjs's own gradient applies, written with
 * tfjs ops, and the plain JS loops.
 */
const OPS = [
  {
    name: "relu", needs: ["relu", "reluBackward"], bwdFrom: "x",
    sg: (sg, x, out) => sg.relu(x, out), sgB: (sg, x, y, dy, out) => sg.reluBackward(x, dy, out),
    tf: (tf, x) => tf.relu(x), tfB: (tf, x, y, dy) => tf.mul(dy, tf.step(x)),
    js: (x) => (x > 0 ? x : 0), jsB: (x, y, dy) => (x > 0 ? dy : 0),
  },
  {
    name: "leakyRelu", needs: ["leakyRelu", "leakyReluBackward"], bwdFrom: "x",
    sg: (sg, x, out) => sg.leakyRelu(x, LEAK, out), sgB: (sg, x, y, dy, out) => sg.leakyReluBackward(x, dy, LEAK, out),
    tf: (tf, x) => tf.leakyRelu(x, LEAK), tfB: (tf, x, y, dy) => tf.where(tf.greater(x, 0), dy, tf.mul(dy, LEAK)),
    js: (x) => (x > 0 ? x : LEAK * x), jsB: (x, y, dy) => (x > 0 ? dy : LEAK * dy),
  },
  {
    name: "hardTanh", needs: ["hardTanh", "hardTanhBackward"], bwdFrom: "x",
    sg: (sg, x, out) => sg.hardTanh(x, out), sgB: (sg, x, y, dy, out) => sg.hardTanhBackward(x, dy, out),
    tf: (tf, x) => tf.clipByValue(x, -1, 1),
    tfB: (tf, x, y, dy) => tf.where(tf.logicalAnd(tf.greaterEqual(x, -1), tf.lessEqual(x, 1)), dy, tf.zerosLike(dy)),
    js: (x) => (x < -1 ? -1 : x > 1 ? 1 : x), jsB: (x, y, dy) => (x > -1 && x < 1 ? dy : 0),
  },
  {
    name: "sigmoid", needs: ["sigmoid", "sigmoidBackward"], bwdFrom: "y",
    sg: (sg, x, out) => sg.sigmoid(x, out), sgB: (sg, x, y, dy, out) => sg.sigmoidBackward(y, dy, out),
    tf: (tf, x) => tf.sigmoid(x), tfB: (tf, x, y, dy) => tf.mul(dy, tf.mul(y, tf.sub(1, y))),
    js: (x) => 1 / (1 + Math.exp(-x)), jsB: (x, y, dy) => dy * y * (1 - y),
  },
  {
    name: "tanh", needs: ["tanh", "tanhBackward"], bwdFrom: "y",
    sg: (sg, x, out) => sg.tanh(x, out), sgB: (sg, x, y, dy, out) => sg.tanhBackward(y, dy, out),
    tf: (tf, x) => tf.tanh(x), tfB: (tf, x, y, dy) => tf.mul(tf.sub(1, tf.square(y)), dy),
    js: (x) => Math.tanh(x), jsB: (x, y, dy) => dy * (1 - y * y),
  },
  {
    name: "swish", needs: ["swish", "swishBackward"], bwdFrom: "x",
    sg: (sg, x, out) => sg.swish(x, out), sgB: (sg, x, y, dy, out) => sg.swishBackward(x, dy, out),
    tf: (tf, x) => tf.mul(x, tf.sigmoid(x)),
    tfB: (tf, x, y, dy) => {
      const s = tf.sigmoid(x);
      return tf.mul(dy, tf.add(s, tf.mul(x, tf.mul(s, tf.sub(1, s)))));
    },
    js: (x) => x / (1 + Math.exp(-x)),
    jsB: (x, y, dy) => {
      const s = 1 / (1 + Math.exp(-x));
      return dy * (s + x * s * (1 - s));
    },
  },
  {
    name: "gelu", needs: ["gelu", "geluBackward"], bwdFrom: "x",
    sg: (sg, x, out) => sg.gelu(x, out), sgB: (sg, x, y, dy, out) => sg.geluBackward(x, dy, out),
    tf: (tf, x) => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, SQRT1_2)))),
    tfB: (tf, x, y, dy) => {
      const cdf = tf.mul(0.5, tf.add(1, tf.erf(tf.mul(x, SQRT1_2))));
      const pdf = tf.mul(INV_SQRT_2PI, tf.exp(tf.mul(-0.5, tf.square(x))));
      return tf.mul(dy, tf.add(cdf, tf.mul(x, pdf)));
    },
    js: (x) => 0.5 * x * (1 + erf(x * SQRT1_2)),
    jsB: (x, y, dy) => dy * (0.5 * (1 + erf(x * SQRT1_2)) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x)),
  },
];

function jsLoop(f) {
  return (x, y) => {
    for (let i = 0; i < x.length; i++) y[i] = f(x[i]);
  };
}
function jsLoopB(f) {
  return (x, y, dy, dx) => {
    for (let i = 0; i < x.length; i++) dx[i] = f(x[i], y[i], dy[i]);
  };
}

export async function run(ctx) {
  const { sg, tf, prev, quick } = ctx;
  const rows = [];
  const cells = [];
  for (const n of [4096, 1 << 20]) {
    const xData = uniform(n, 5, -4, 4);
    const dyData = uniform(n, 7, -1, 1);
    for (const op of OPS) {
      // JS peer data (also gives y for the backward of every implementation).
      const yJs = new Float32Array(n);
      const dxJs = new Float32Array(n);
      const fwdJs = jsLoop(op.js);
      const bwdJs = jsLoopB(op.jsB);
      fwdJs(xData, yJs);

      for (const dir of ["forward", "backward"]) {
        const key = `${op.name}/${dir}/${n}`;
        const row = { key, op: op.name, dir, n };

        const fns = {};
        const cleanup = [];
        const why = missing(sg, op.needs);
        if (why) row.sg = why;
        else {
          try {
            const x = sg.tensor([n], xData);
            cleanup.push(() => x.dispose());
            const y = sg.tensor([n], yJs);
            cleanup.push(() => y.dispose());
            const dy = sg.tensor([n], dyData);
            cleanup.push(() => dy.dispose());
            const out = sg.zeros([n]);
            cleanup.push(() => out.dispose());
            fns.sg = dir === "forward" ? () => op.sg(sg, x, out) : () => op.sgB(sg, x, y, dy, out);
          } catch (e) {
            row.sg = reason(e);
          }
        }
        {
          const x = tf.tensor1d(xData);
          const y = tf.tensor1d(yJs);
          const dy = tf.tensor1d(dyData);
          cleanup.push(() => tf.dispose([x, y, dy]));
          fns.tf = dir === "forward"
            ? () => tf.tidy(() => { op.tf(tf, x); })
            : () => tf.tidy(() => { op.tfB(tf, x, y, dy); });
        }
        // --quick: the plain JS peer only at the small size (its speed hardly depends on n).
        if (quick && n > 4096) row.js = null;
        else fns.js = dir === "forward" ? () => fwdJs(xData, dxJs) : () => bwdJs(xData, yJs, dyData, dxJs);
        try {
          const t = measureSet(fns);
          for (const name in t) row[name] = t[name].error ? reason(t[name].error) : n / t[name].seconds / 1e9;
        } finally {
          for (const f of cleanup) f();
        }

        rows.push(row);
        cells.push([
          op.name,
          dir === "forward" ? "fwd" : `bwd(${op.bwdFrom})`,
          n >= 1 << 20 ? `${n >> 20}M` : String(n),
          fmt(row.sg, 2),
          fmt(row.tf, 2),
          fmt(row.js, 2),
          ratio(row.sg, row.tf),
          ratio(row.sg, row.js),
          change(row.sg, prev(key)?.sg),
        ]);
      }
    }
  }
  printTable(
    "Activations, elements per nanosecond (higher is better)",
    [
      { title: "op", align: "l" },
      { title: "dir", align: "l" },
      { title: "n" },
      { title: "simdgrad" },
      { title: "tfjs-wasm" },
      { title: "plain JS" },
      { title: "sg/tfjs" },
      { title: "sg/JS" },
      { title: "Δ prev" },
    ],
    cells,
    ["simdgrad: sg.<op>(x, out), sg.<op>Backward(x or y, dy, out); tfjs: the op (or its formula) inside tf.tidy;",
     "tfjs backward: the rule tfjs's gradient applies, written with tfjs ops; inputs x in [-4, 4)."],
  );
  return rows;
}
