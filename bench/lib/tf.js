// TensorFlow.js with its wasm backend (XNNPACK kernels), the peer every suite measures beside
// simdgrad. Loaded once per process; its kernels run synchronously when an op is called, so
// `op(); result.dispose()` times real work.
let tfp = null;

export function loadTf() {
  tfp ??= (async () => {
    const tf = await import("@tensorflow/tfjs-core");
    // tfjs-core alone registers no gradients (the @tensorflow/tfjs wrapper does this import).
    const { register } = await import("node:module");
    register("./tf-resolve.js", import.meta.url);
    await import("@tensorflow/tfjs-core/dist/register_all_gradients.js");
    await import("@tensorflow/tfjs-backend-wasm");
    const ok = await tf.setBackend("wasm");
    await tf.ready();
    if (!ok || tf.getBackend() !== "wasm") throw new Error("tfjs: the wasm backend did not initialize");
    return tf;
  })();
  return tfp;
}

/** Describes the tfjs wasm setup for the header. */
export function tfInfo(tf) {
  const f = tf.env().getFlags();
  return {
    version: tf.version_core,
    simd: f.WASM_HAS_SIMD_SUPPORT ?? null,
    threads: f.WASM_HAS_MULTITHREAD_SUPPORT ?? null,
  };
}
