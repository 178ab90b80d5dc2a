// Kernel calls on a module instance of a bench script's own (bench/gemm-ab.mjs,
// bench/kernel-profile.mjs): operands allocated from a bump arena (./wasm-arena.js) and
// filled, and a function that makes the call, so that scripts timing or profiling the same
// kernels set them up alike.

/**
 * C = op(A)·op(B) through `gemm` (α = 1, β = 0), m × k times k × n, transposes tA, tB (0/1).
 * Returns the call, its flops and where its result is (out: ptr and count of floats).
 */
export function gemmCall(k, arena, m, kk, n, tA, tB) {
  const a = arena.alloc(m * kk * 4), b = arena.alloc(kk * n * 4), c = arena.alloc(m * n * 4);
  const s = arena.alloc(k.gemm_scratch_bytes(m, n, kk));
  arena.fill(a, m * kk, 1);
  arena.fill(b, kk * n, 2);
  const lda = tA ? m : kk, ldb = tB ? kk : n;
  return { call: () => k.gemm(tA, tB, m, n, kk, 1, a, lda, b, ldb, 0, c, n, s), flops: 2 * m * n * kk, out: { ptr: c, count: m * n } };
}

/**
 * One convolution kernel on an S×S "same" layer, stride 1: layer = [N, H, W, C, F, S = 3],
 * kernel "forward", "dfilter" or "dinput". act (an activation code of src/ops/act-codes.ts):
 * the forward as the fused layer, conv2d_forward_bias_act with a bias; accumulate (0/1): the
 * gradients added to what their results hold. Returns the call, its flops and where its result is (out).
 */
export function convCall(k, arena, layer, kernel, { act = null, accumulate = 0 } = {}) {
  const [nb, h, w, c, f, sz = 3] = layer;
  const pair = (lo, hi) => lo | (hi << 16);
  const M = nb * h * w, K = sz * sz * c;
  const x = arena.alloc(M * c * 4), fl = arena.alloc(K * f * 4), y = arena.alloc(M * f * 4);
  const s = arena.alloc(k.conv2d_scratch_bytes(M, K, f));
  arena.fill(x, M * c, 1);
  arena.fill(fl, K * f, 2);
  arena.fill(y, M * f, 3);
  const geo = [nb, h, w, c, f, h, w, pair(sz, sz), pair(1, 1), pair(1, 1), pair((sz - 1) >> 1, (sz - 1) >> 1)];
  const bias = arena.alloc(f * 4);
  arena.fill(bias, f, 4);
  let call;
  if (kernel === "forward") {
    call = act === null ? () => k.conv2d_forward(x, fl, y, ...geo, 0, M, s) : () => k.conv2d_forward_bias_act(x, fl, y, ...geo, 0, M, bias, act, 0.01, 0, s);
  } else if (kernel === "dfilter") {
    call = () => k.conv2d_backward_filter(x, y, fl, ...geo, 0, K, 0, f, accumulate, s);
  } else if (kernel === "dinput") {
    call = () => k.conv2d_backward_input(y, fl, x, ...geo, accumulate, s);
  } else {
    throw new Error(`convolution kernel: forward, dfilter or dinput, not ${kernel}`);
  }
  const out = kernel === "forward" ? { ptr: y, count: M * f } : kernel === "dfilter" ? { ptr: fl, count: K * f } : { ptr: x, count: M * c };
  return { call, flops: 2 * M * K * f, out };
}

/**
 * The fused attention kernels on [nbh slices, t, dh], the slices' rows `heads` to a sequence
 * ([B, T, heads·dh], as linear projections leave them; nbh = B·heads), scale 1/√dh; kernel
 * "forward" or "backward" (its O and logsumexp from one forward made here; the gradients
 * written fresh). Returns the call and its flops: 4·T²·dh a slice forward (QKᵀ and P·V),
 * 8·T²·dh backward (four products), half of each when causal.
 */
export function attentionCall(k, arena, [nbh, t, dh, heads = 1], kernel, causal) {
  if (nbh % heads !== 0) throw new Error(`attention: ${nbh} slices are not a whole number of sequences of ${heads} heads`);
  const n = nbh * t * dh;
  const [q, kk, v, o, dO, dq, dk, dv] = Array.from({ length: 8 }, () => arena.alloc(n * 4));
  const lse = arena.alloc(nbh * t * 4);
  const s = arena.alloc(k.attention_scratch_bytes(t, dh));
  arena.fill(q, n, 1);
  arena.fill(kk, n, 2);
  arena.fill(v, n, 3);
  arena.fill(dO, n, 4);
  const ld = heads * dh, scale = 1 / Math.sqrt(dh), c = causal ? 1 : 0;
  const forward = () => k.attention_forward(nbh, t, dh, heads, ld, 0, q, kk, v, o, lse, scale, c, s);
  const per = (causal ? 0.5 : 1) * nbh * t * t * dh;
  if (kernel === "forward") return { call: forward, flops: 4 * per };
  if (kernel !== "backward") throw new Error(`attention kernel: forward or backward, not ${kernel}`);
  forward();
  return { call: () => k.attention_backward(nbh, t, dh, heads, ld, 0, q, kk, v, o, lse, dO, dq, dk, dv, scale, c, s, 7), flops: 8 * per };
}
