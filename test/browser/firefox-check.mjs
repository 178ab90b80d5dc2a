/**
 * What test/browser/firefox.test.ts runs in headless Firefox and in Node: the same module in
 * both (Firefox imports this file as it is), so their results can be compared bit for bit.
 *
 * First, with askRelaxed, init({ relaxedSimd: true }): whether the engine loads the relaxed
 * build, or init's error where it cannot. Then, for each of `runs` ({ relaxedSimd, threads }:
 * relaxedSimd undefined is init's default choice), it loads the library from `lib` (the
 * minified bundle in the page, dist/index.js in Node) with init({ relaxedSimd, threads, seed }):
 *   - trains a small convnet (conv2d with its bias and ReLU fused, max pooling, a GeLU
 *     layer, softmax cross-entropy) with Adam for a few steps on fixed data: the loss at
 *     each step and the safetensors bytes of the params after them;
 *   - runs a causal attention graph forward and backward: its output and gradients;
 *   - an eager A·Bᵀ, a seeded randn, and a matmul with mismatched shapes (its error's text),
 *     after which the same A·Bᵀ must give the same values again.
 * Everything is returned as plain JSON (numbers, arrays and strings):
 * { relaxedError: string | null (null: loaded) | undefined, runs: [...] }.
 */
export default async function check({ lib, runs = [{ threads: 1 }], askRelaxed = false }) {
  const { init } = await import(lib);
  const out = { runs: [] };
  if (askRelaxed) {
    try {
      await (await init({ relaxedSimd: true })).close();
      out.relaxedError = null;
    } catch (e) {
      out.relaxedError = String(e.message);
    }
  }
  for (const { relaxedSimd, threads } of runs) {
    const sg = await init({ relaxedSimd, threads, seed: 7 });
    try {
      out.runs.push(run(sg));
    } finally {
      await sg.close();
    }
  }
  return out;
}

function run(sg) {
  const f = sg.features;
  const out = {
    features: { build: f.build, relaxedSimd: f.relaxedSimd, threads: f.threads, kernels: f.kernels, gemmTile: f.gemmTile, warnings: [...f.warnings] },
  };
  // Fixed data from a 32-bit generator (the same in every engine).
  let s = 12345;
  const rnd = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
  const N = 8;
  const xs = Float32Array.from({ length: N * 8 * 8 }, rnd);
  const ts = new Float32Array(N * 3);
  for (let i = 0; i < N; i++) ts[3 * i + (i % 3)] = 1;

  const g = sg.graph();
  const x = g.input([N, 8, 8, 1], "x");
  const t = g.input([N, 3], "t");
  const filt = g.param([3, 3, 1, 4], { init: "xavier", seed: 1, name: "filt" });
  const cb = g.param([4], { name: "cb" });
  const W1 = g.param([64, 16], { init: "xavier", seed: 2, name: "W1" });
  const b1 = g.param([16], { name: "b1" });
  const W2 = g.param([16, 3], { init: "xavier", seed: 3, name: "W2" });
  const b2 = g.param([3], { name: "b2" });
  const h = g.maxPool2d(g.conv2d(x, filt, { padding: "same", bias: cb, activation: "relu" }), { size: 2, stride: 2 });
  const logits = g.linear(g.linear(g.reshape(h, [N, 64]), W1, b1, "gelu"), W2, b2);
  const loss = g.softmaxCrossEntropy(logits, t);
  const opt = sg.adam(g.params, { lr: 0.02 });
  out.losses = [];
  for (let i = 0; i < 30; i++) {
    g.forward({ x: xs, t: ts });
    g.backward(loss);
    opt.step();
    opt.zeroGrad();
    out.losses.push(loss.value.toArray()[0]);
  }
  out.params = Array.from(g.saveParams());

  const ga = sg.graph();
  const [q, k, v] = [4, 5, 6].map((seed, i) => ga.param([2, 6, 4], { init: "xavier", seed, name: "qkv"[i] }));
  const o = ga.attention(q, k, v, { causal: true });
  const l = ga.mean(ga.mul(o, o));
  ga.forward({});
  ga.backward(l);
  out.attention = [o.value, q.grad, k.grad, v.grad].flatMap((n) => Array.from(n.toArray()));

  const a = sg.tensor([33, 47], Float32Array.from({ length: 33 * 47 }, rnd));
  const b = sg.tensor([29, 47], Float32Array.from({ length: 29 * 47 }, rnd));
  out.product = Array.from(sg.matmul(a, b, { transposeB: true }).toArray());
  out.randn = Array.from(sg.randn([64], { seed: 3 }).toArray());
  try {
    sg.matmul(sg.zeros([2, 3]), sg.zeros([4, 5]));
    out.error = null;
  } catch (e) {
    out.error = String(e.message);
  }
  const again = Array.from(sg.matmul(a, b, { transposeB: true }).toArray());
  out.sameAfterError = again.length === out.product.length && again.every((x, i) => Object.is(x, out.product[i]));
  return out;
}
