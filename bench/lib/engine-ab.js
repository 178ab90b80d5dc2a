// Paired A/B of two builds of the kernels inside one engine, self-contained (no imports) so
// that bench/engines-ab.mjs can hand its source to Chromium as well as run it in Node, Deno
// and Bun. Both .wasm files are instantiated on memories of their own with the same inputs;
// each kernel is timed in alternating bursts (order swapped every pair) and reported as the
// median of the per-pair ratios, new over base in speed (> 1: the new build is faster), with
// each build's median speed in elements per ns (GFLOPS for the GEMM and convolution cases).

/**
 * @param {{ base: number[], neu: number[], kernels: string[], n: number, pairs: number, ms: number, differ?: boolean }} input
 * differ: the builds may give different results (a change to a kernel's arithmetic, whose
 * accuracy the tests check); otherwise any difference voids the comparison.
 * @returns {{ name: string, base: number, neu: number, ratio: number }[]}
 */
export async function abKernels({ base, neu, kernels, n, pairs, ms, differ = false }) {
  // Kernel calls by name: (exports, x, y, z, w) → void, over n elements (softmax: rows of
  // 64) at x, y, z; w is 8 MB of scratch. GEMM and convolution cases give their work in
  // flops (their rate then reads GFLOPS) and take their operands from x, y (read) and z
  // (written), n floats each at most.
  const pair = (a, b) => a | (b << 16);
  const gemm = (m, nn, kk, tA, tB) => ({
    work: 2 * m * nn * kk,
    floats: Math.max(m * kk, kk * nn, m * nn),
    run: (k, x, y, z, w) => k.gemm(tA, tB, m, nn, kk, 1, x, tA ? m : kk, y, tB ? kk : nn, 0, z, nn, w),
  });
  // 3 × 3, stride 1, same padding, channels last: nb images of h × w × c into f channels.
  const conv = (nb, h, wd, c, f) => ({
    work: 2 * nb * h * wd * 9 * c * f,
    floats: nb * h * wd * Math.max(c, f),
    run: (k, x, y, z, w) => k.conv2d_forward(x, y, z, nb, h, wd, c, f, h, wd, pair(3, 3), pair(1, 1), pair(1, 1), pair(1, 1), 0, nb * h * wd, w),
  });
  // Its filter gradient: x at x, dy at y, the filter gradient (written) at z.
  const dfilter = (nb, h, wd, c, f) => ({
    work: 2 * nb * h * wd * 9 * c * f,
    floats: nb * h * wd * Math.max(c, f),
    run: (k, x, y, z, w) => k.conv2d_backward_filter(x, y, z, nb, h, wd, c, f, h, wd, pair(3, 3), pair(1, 1), pair(1, 1), pair(1, 1), 0, 9 * c, 0, f, 0, w),
  });
  // Its input gradient: dy at x, the filter at y, dx (written) at z.
  const dinput = (nb, h, wd, c, f) => ({
    work: 2 * nb * h * wd * 9 * c * f,
    floats: nb * h * wd * Math.max(c, f),
    run: (k, x, y, z, w) => k.conv2d_backward_input(x, y, z, nb, h, wd, c, f, h, wd, pair(3, 3), pair(1, 1), pair(1, 1), pair(1, 1), 0, w),
  });
  const CALLS = {
    sigmoid_forward: (k, x, y) => k.sigmoid_forward(x, y, n),
    tanh_forward: (k, x, y) => k.tanh_forward(x, y, n),
    swish_forward: (k, x, y) => k.swish_forward(x, y, n),
    swish_backward: (k, x, y, z) => k.swish_backward(x, y, z, n, 0),
    gelu_forward: (k, x, y) => k.gelu_forward(x, y, n),
    gelu_backward: (k, x, y, z) => k.gelu_backward(x, y, z, n, 0),
    gelu_forward_slope: (k, x, y, z) => k.gelu_forward_slope(x, y, z, n),
    gelu_tanh_forward: (k, x, y) => k.gelu_tanh_forward(x, y, n),
    gelu_tanh_backward: (k, x, y, z) => k.gelu_tanh_backward(x, y, z, n, 0),
    exp_f32: (k, x, y) => k.exp_f32(x, y, n),
    log_f32: (k, x, y) => k.log_f32(x, y, n),
    softmax_forward: (k, x, y) => k.softmax_forward(x, y, n / 64, 64, 1),
    relu_forward: (k, x, y) => k.relu_forward(x, y, n),
    relu_backward: (k, x, y, z) => k.relu_backward(x, y, z, n, 0),
    add_same: (k, x, y, z) => k.add_same(x, y, z, n, 0),
    "add_same accumulate": (k, x, y, z) => k.add_same(x, y, z, n, 1),
    mul_same: (k, x, y, z) => k.mul_same(x, y, z, n, 0),
    // A bias row of 64 over n / 64 rows, and a scalar operand (y's first value).
    add_rows: (k, x, y, z) => k.add_rows(x, y, z, n / 64, 64, 0),
    "add_rows accumulate": (k, x, y, z) => k.add_rows(x, y, z, n / 64, 64, 1),
    mul_scalar: (k, x, y, z) => k.mul_scalar(x, y, z, n, 0),
    axpy_f32: (k, x, y, z) => k.axpy_f32(x, z, n, 1e-6),
    // The broadcasting map (op 0 add, 2 mul, 3 div) over [n / 64, 64]: same shapes, a column
    // [n / 64, 1], and the same accumulating (a gradient's share added into its buffer).
    "binary_nd add same": (k, x, y, z) => k.binary_nd(0, x, y, z, 1, 1, n / 64, 64, 0, 0, 64, 1, 0, 0, 64, 1, 0),
    "binary_nd mul same accumulate": (k, x, y, z) => k.binary_nd(2, x, y, z, 1, 1, n / 64, 64, 0, 0, 64, 1, 0, 0, 64, 1, 1),
    "binary_nd div column": (k, x, y, z) => k.binary_nd(3, x, y, z, 1, 1, n / 64, 64, 0, 0, 64, 1, 0, 0, 1, 0, 0),
    "binary_nd add column": (k, x, y, z) => k.binary_nd(0, x, y, z, 1, 1, n / 64, 64, 0, 0, 64, 1, 0, 0, 1, 0, 0),
    // A strided copy: contiguous rows scaled (a gradient summed back: accumulate), and the
    // transpose of [n / 64, 64].
    "copy_nd rows accumulate": (k, x, y, z) => k.copy_nd(x, z, 1, 1, n / 64, 64, 0, 0, 64, 1, 0, 0, 64, 1, 0.5, 1),
    "copy_nd transpose": (k, x, y, z) => k.copy_nd(x, z, 1, 1, 64, n / 64, 0, 0, 1, 64, 0, 0, n / 64, 1, 1, 0),
    // zeroGrad's fill (memory.fill from 256 floats: the engine's memset) and SGD over y as
    // the weights, x as the gradient (lr small enough to keep them finite).
    fill_f32: (k, x, y, z) => k.fill_f32(z, n, 0),
    sgd_step: (k, x, y) => k.sgd_step(y, x, 0, n, 1e-6, 0, 0),
    "sgd_step momentum": (k, x, y, z) => k.sgd_step(y, x, z, n, 1e-6, 0.9, 0),
    // AdamW over y as the weights, x as the gradient, z as both moments (read and written
    // by each call: the values stay finite and non-negative where they must be).
    adamw_step: (k, x, y, z) => k.adamw_step(y, x, z, z, n, 1e-6, 0.9, 0.999, 1e-8, 0.5, 0.01, 0.01),
    "gemm 64³": gemm(64, 64, 64, 0, 0),
    "gemm 256³": gemm(256, 256, 256, 0, 0),
    "gemm 64×256×256 TN": gemm(64, 256, 256, 1, 0),
    // Aᵀ·B with A's rows 16 and 8 KiB apart (gemm.ts, A_LINES_MIN_STRIDE; --n=2359296).
    "gemm 4096×64×576 TN": gemm(4096, 64, 576, 1, 0),
    "gemm 2048×64×512 TN": gemm(2048, 64, 512, 1, 0),
    "gemm 64×10×256": gemm(64, 10, 256, 0, 0),
    // A classifier's weight gradient over 4096 hidden units (the narrow path's strip copies;
    // needs --n=1048576).
    "gemm 4096×10×256 TN": gemm(4096, 10, 256, 1, 0),
    "gemm 2048×32×144": gemm(2048, 32, 144, 0, 0),
    // Small batches through a 784→256 layer (m×n×k): one or two rows past whole 4-row panels.
    "gemm 5×256×784": gemm(5, 256, 784, 0, 0),
    "gemm 33×256×784": gemm(33, 256, 784, 0, 0),
    "gemm 2×256×256": gemm(2, 256, 256, 0, 0),
    // Small batches through wider layers (needs --n=1048576): B packed two micro-panels a pass
    // at 32 rows 1024 floats apart, one a pass at 16 rows 784 apart (read in place there by
    // the relaxed build), and read in place at 3 and 4 rows (at most 800 floats apart).
    "gemm 4×768×768": gemm(4, 768, 768, 0, 0),
    "gemm 16×784×784": gemm(16, 784, 784, 0, 0),
    "gemm 4×784×784": gemm(4, 784, 784, 0, 0),
    "gemm 3×640×640": gemm(3, 640, 640, 0, 0),
    "gemm 32×1024×1024": gemm(32, 1024, 1024, 0, 0),
    // The same layer's input gradient dy·Wᵀ at batches of 8, 16 and 32.
    "gemm 8×784×256 NT": gemm(8, 784, 256, 0, 1),
    "gemm 16×784×256 NT": gemm(16, 784, 256, 0, 1),
    "gemm 32×784×256 NT": gemm(32, 784, 256, 0, 1),
    // Up to 16 rows, B packed a panel or two at a time just before use (A·Bᵀ; A·B in SIMD128).
    "gemm 4×512×512 NT": gemm(4, 512, 512, 0, 1),
    "gemm 2×512×512 NT": gemm(2, 512, 512, 0, 1),
    "gemm 6×784×256 NT": gemm(6, 784, 256, 0, 1),
    "gemm 12×784×256 NT": gemm(12, 784, 256, 0, 1),
    "gemm 6×784×256": gemm(6, 784, 256, 0, 0),
    "gemm 5×784×784": gemm(5, 784, 784, 0, 0),
    // One row (batch 1; m×n×k): a 784→256 layer, 256→784, 1024→1024, 1024→512, 512→2048, 512→512
    // (needs --n=1048576).
    "gemm 1×256×784": gemm(1, 256, 784, 0, 0),
    "gemm 1×784×256": gemm(1, 784, 256, 0, 0),
    "gemm 1×1024×1024": gemm(1, 1024, 1024, 0, 0),
    "gemm 1×512×1024": gemm(1, 512, 1024, 0, 0),
    "gemm 1×2048×512": gemm(1, 2048, 512, 0, 0),
    "gemm 1×512×512": gemm(1, 512, 512, 0, 0),
    // A few rows through such layers: B's rows read in order (2–4 rows, gemm_rows_seq), B
    // packed four panels a pass (16 rows) (needs --n=1048576).
    "gemm 4×1024×1024": gemm(4, 1024, 1024, 0, 0),
    "gemm 3×1024×1024": gemm(3, 1024, 1024, 0, 0),
    "gemm 2×1024×1024": gemm(2, 1024, 1024, 0, 0),
    // 2–4 rows with B's rows over 800 floats apart (B packed; in cache), and two rows with B
    // read in place (the tiles: gemm_rows_seq measured 0.95× there in Node 24 and Chromium).
    "gemm 4×1024×256": gemm(4, 1024, 256, 0, 0),
    "gemm 2×512×512": gemm(2, 512, 512, 0, 0),
    "gemm 8×1024×1024": gemm(8, 1024, 1024, 0, 0),
    "gemm 16×1024×1024": gemm(16, 1024, 1024, 0, 0),
    "conv 2×32×32 16→32": conv(2, 32, 32, 16, 32),
    "conv 2×32×32 32→64": conv(2, 32, 32, 32, 64),
    "conv dfilter 2×32×32 16→32": dfilter(2, 32, 32, 16, 32),
    // The digits CNN's second layer (demo/digits.js): 14-pixel output rows, so most of the
    // transposed packer's 8-pixel panels lie on two rows or touch the padding.
    "conv 32×14×14 16→32": conv(32, 14, 14, 16, 32),
    "conv dinput 32×14×14 16→32": dinput(32, 14, 14, 16, 32),
    // A 64→64 layer: the relaxed build's 5 × 8 tiles, forward and input gradient.
    "conv 4×32×32 64→64": conv(4, 32, 32, 64, 64),
    "conv dinput 4×32×32 64→64": dinput(4, 32, 32, 64, 64),
  };
  const X = 1 << 20, Y = X + 4 * n + 64, Z = Y + 4 * n + 64, W = Z + 4 * n + 64;
  const pages = Math.ceil((W + (8 << 20)) / 65536);
  const make = async (bytes) => {
    const memory = new WebAssembly.Memory({ initial: pages });
    const { instance } = await WebAssembly.instantiate(new Uint8Array(bytes), { env: { memory, abort() { throw new Error("abort"); } } });
    return { k: instance.exports, f: new Float32Array(memory.buffer) };
  };
  // The same inputs for every kernel: x in [0.25, 8.25) for log, [−4, 4) otherwise, dy in (0, 1].
  const fill = (m, name) => {
    for (let i = 0; i < n; i++) {
      const u = ((i * 7919) % 2000) / 2000;
      m.f[(X >> 2) + i] = name === "log_f32" ? u * 8 + 0.25 : u * 8 - 4;
      m.f[(Y >> 2) + i] = 1 - u;
      m.f[(Z >> 2) + i] = 0;
    }
  };
  const A = await make(base), B = await make(neu);
  const med = (a) => [...a].sort((p, q) => p - q)[a.length >> 1];
  const out = [];
  for (const name of kernels) {
    const entry = CALLS[name];
    if (!entry) throw new Error(`engine-ab: no call for kernel ${name} (known: ${Object.keys(CALLS).join(", ")})`);
    const call = typeof entry === "function" ? entry : entry.run;
    const work = typeof entry === "function" ? n : entry.work;
    if (entry.floats > n) throw new Error(`engine-ab: ${name} needs n ≥ ${entry.floats}`);
    fill(A, name);
    fill(B, name);
    const fa = () => call(A.k, X, Y, Z, W), fb = () => call(B.k, X, Y, Z, W);
    // Warm up (long enough for the engines to finish tiering the code up), then calls per
    // burst so that one burst lasts about `ms`.
    for (const t0 = performance.now(); performance.now() - t0 < 300; ) { fa(); fb(); }
    let reps = 1;
    for (;;) {
      const t0 = performance.now();
      for (let i = 0; i < reps; i++) { fa(); fb(); }
      const t = performance.now() - t0;
      if (t >= 2 * ms) break;
      reps *= 2;
    }
    const burst = (fn) => {
      const t0 = performance.now();
      for (let i = 0; i < reps; i++) fn();
      return performance.now() - t0;
    };
    const ra = [], rb = [], ratio = [];
    for (let p = 0; p < pairs; p++) {
      let ta, tb;
      if (p & 1) { tb = burst(fb); ta = burst(fa); } else { ta = burst(fa); tb = burst(fb); }
      ra.push((work * reps) / ta / 1e6);
      rb.push((work * reps) / tb / 1e6);
      ratio.push(ta / tb);
    }
    // Same outputs from both builds, or the comparison is void (unless told they differ).
    fa(); fb();
    for (let i = 0; i < (differ ? 0 : n); i++) {
      const a = A.f[(Y >> 2) + i], b = B.f[(Y >> 2) + i], c = A.f[(Z >> 2) + i], d = B.f[(Z >> 2) + i];
      if (!(Object.is(a, b) && Object.is(c, d))) throw new Error(`engine-ab: ${name} gives different results at ${i}: ${a} vs ${b}, ${c} vs ${d}`);
    }
    out.push({ name, base: med(ra), neu: med(rb), ratio: med(ratio) });
  }
  return out;
}
