// Run in a fresh process by the load suite: times loading one library from nothing to ready,
// then its first 64×64 matmul, and prints one line of JSON.
//   node load-probe.js simdgrad simd|relaxed
//   node load-probe.js tfjs
const which = process.argv[2];
const out = {};
const t0 = performance.now();
if (which === "simdgrad") {
  const { init } = await import("../../dist/index.js");
  const t1 = performance.now();
  const sg = await init({ relaxedSimd: process.argv[3] === "relaxed" });
  const t2 = performance.now();
  out.importMs = t1 - t0;
  out.initMs = t2 - t1;
  out.readyMs = t2 - t0;
  out.build = sg.features.build;
  if (typeof sg.matmul === "function") {
    const a = sg.ones([64, 64]);
    const t3 = performance.now();
    sg.matmul(a, a).dispose();
    out.firstMatmulMs = performance.now() - t3;
  }
} else if (which === "tfjs") {
  const tf = await import("@tensorflow/tfjs-core");
  await import("@tensorflow/tfjs-backend-wasm");
  const t1 = performance.now();
  await tf.setBackend("wasm");
  await tf.ready();
  const t2 = performance.now();
  out.importMs = t1 - t0;
  out.initMs = t2 - t1;
  out.readyMs = t2 - t0;
  const a = tf.ones([64, 64]);
  const t3 = performance.now();
  tf.matMul(a, a).dispose();
  out.firstMatmulMs = performance.now() - t3;
} else {
  throw new Error(`load-probe: unknown library ${which}`);
}
console.log(JSON.stringify(out));
