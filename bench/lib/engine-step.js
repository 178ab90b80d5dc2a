// One training step of the library itself, timed inside any engine: the suite's 784→256→10
// ReLU MLP (softmax cross-entropy, SGD) at batch 64, or with `model: "cnn"` the digits CNN of
// bench/step-profile.mjs --model=cnn --pool=max (conv 3×3 1→16 and 16→32, each with its bias
// and ReLU fused, 2 × 2 max pooling, dense 1568→10, SGD) at batch 32, built with the graph API from the
// library's module at `lib` (a URL: dist/index.js for Node, Deno and Bun, the minified
// browser bundle for Chromium), in alternating bursts with the peak probe. Self-contained (no
// imports but the library's) so that bench/engines-step.mjs can hand its source to a page.
//
// The step efficiency is the time the step's matrix products alone would take at the probe's
// rate over the step's time (as bench/suites/train.js reports it for Node), the median of the
// per-round ratios. The ceiling is the larger of the probe's two forms (constant and run-time
// multiplier, as bench/lib/engine-gemm.js) of the step's own build.

/**
 * @param {{ lib: string, peak: { simd: number[], relaxed: number[] }, model?: "mlp" | "cnn", relaxedSimd?: boolean, rounds?: number, burstMs?: number, warmMs?: number }} input
 *   peak: the probe's two builds; the step's build (the engine's default, or SIMD128 with
 *   relaxedSimd: false) is measured against its own ceiling, mul+add or relaxed_madd.
 * @returns {Promise<{ peak: number, stepMs: number, efficiency: number, gemmFlops: number, loss: [number, number], build: string }>}
 */
export async function measureStep(input) {
  const rounds = input.rounds ?? 9;
  const burstMs = input.burstMs ?? 60;
  const warmMs = input.warmMs ?? 2000;
  const { init } = await import(input.lib);
  const sg = await init(input.relaxedSimd === false ? { relaxedSimd: false } : {});
  const build = sg.features.build;
  const cnn = input.model === "cnn";
  const B = cnn ? 32 : 64, NI = 784, NH = 256, NO = 10;
  // Deterministic data and weights (xorshift32), digit-like inputs in [0, 1).
  let s = 12345;
  const rnd = () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s / 4294967296;
  };
  const fill = (n, scale, shift) => Float32Array.from({ length: n }, () => (rnd() + shift) * scale);
  const uniformFor = (fanIn, n) => fill(n, 2 * Math.sqrt(6 / fanIn), -0.5);
  const g = sg.graph();
  const xShape = cnn ? [B, 28, 28, 1] : [B, NI];
  const x = g.input(xShape, "x");
  const y = g.input([B, NO], "y");
  let logits, gemmFlops;
  if (cnn) {
    const conv = (v, c, f, name) => {
      const w = g.param([3, 3, c, f], { data: uniformFor(9 * c, 9 * c * f), name });
      const b = g.param([f], { data: new Float32Array(f), name: `${name}b` });
      return g.maxPool2d(g.conv2d(v, w, { padding: "same", bias: b, activation: "relu" }), { size: 2 });
    };
    const h = conv(conv(x, 1, 16, "f1"), 16, 32, "f2");
    const W = g.param([1568, NO], { data: uniformFor(1568, 1568 * NO), name: "W" });
    const b = g.param([NO], { data: new Float32Array(NO), name: "b" });
    logits = g.linear(g.reshape(h, [B, 1568]), W, b);
    // As bench/step-profile.mjs --model=cnn counts them: conv 1→16 forward and filter
    // gradient, conv 16→32 all three, the dense layer's three products.
    gemmFlops = 2 * B * 784 * 9 * 16 * 2 + 3 * 2 * B * 196 * 144 * 32 + 3 * 2 * B * 1568 * NO;
  } else {
    const W1 = g.param([NI, NH], { data: fill(NI * NH, 2 * Math.sqrt(6 / (NI + NH)), -0.5), name: "W1" });
    const b1 = g.param([NH], { data: new Float32Array(NH), name: "b1" });
    const W2 = g.param([NH, NO], { data: fill(NH * NO, 2 * Math.sqrt(6 / (NH + NO)), -0.5), name: "W2" });
    const b2 = g.param([NO], { data: new Float32Array(NO), name: "b2" });
    logits = g.linear(g.linear(x, W1, b1, "relu"), W2, b2);
    gemmFlops = 2 * B * (NI * NH + NH * NO) * 2 + 2 * B * NO * NH;
  }
  const loss = g.softmaxCrossEntropy(logits, y);
  const opt = sg.sgd(g.params, { lr: 0.05 });
  const ys = new Float32Array(B * NO);
  for (let r = 0; r < B; r++) ys[r * NO + (r % NO)] = 1;
  const xt = sg.tensor(xShape, fill(B * NI, 1, 0));
  const yt = sg.tensor([B, NO], ys);
  g.forward({ x: xt, y: yt });
  const first = loss.value.toArray()[0];
  const step = () => {
    opt.zeroGrad();
    g.forward();
    g.backward(loss);
    opt.step();
  };

  const relaxed = build === "relaxed";
  const { instance: probe } = await WebAssembly.instantiate(new Uint8Array(relaxed ? input.peak.relaxed : input.peak.simd), { env: { abort() {} } });
  const ITERS = 1 << 14;
  let sink = 0;
  const [fc, fr] = relaxed ? ["peak_madd_12", "peak_madd_12_rt"] : ["peak_muladd_12", "peak_muladd_12_rt"];
  const probes = [() => { sink += probe.exports[fc](ITERS, 1); }, () => { sink += probe.exports[fr](ITERS, 1); }];
  const repsFor = (fn) => {
    let n = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < burstMs) { fn(); n++; }
    return Math.max(1, n);
  };
  const msPer = (fn, reps) => {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    return (performance.now() - t0) / reps;
  };
  for (const end = performance.now() + warmMs; performance.now() < end; ) { step(); probes[0](); probes[1](); }
  const stepReps = repsFor(step), probeReps = probes.map(repsFor);
  const steps = [], effs = [], peaks = [];
  for (let r = 0; r < rounds; r++) {
    const peak = Math.max(...probes.map((p, i) => (96 * ITERS) / msPer(p, probeReps[i]) / 1e6)); // GFLOPS
    const ms = msPer(step, stepReps);
    steps.push(ms);
    peaks.push(peak);
    effs.push(gemmFlops / (peak * 1e6) / ms);
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  g.forward();
  const last = loss.value.toArray()[0];
  g.dispose(); xt.dispose(); yt.dispose();
  if (!(sink > 0)) throw new Error("engine-step: the probe's sums were not used");
  return { peak: median(peaks), stepMs: median(steps), efficiency: median(effs), gemmFlops, loss: [first, last], build };
}
