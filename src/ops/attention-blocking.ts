// The blocking of the fused attention kernels (assembly/attention.ts): THE one definition.
// AssemblyScript reads this file (assembly/attention.ts imports it) and so does TypeScript
// (the scratch size of src/ops/attention.ts, for planning without a module). Keep it to plain
// integer constants, which both languages compile alike; the reasons for each value are in
// assembly/attention.ts. test/attention.test.ts checks the module's attention_scratch_bytes
// against the TypeScript rule.

// Measured on the Zen 4 VM (32 KiB L1d, 1 MiB L2), fused forward + backward at B·heads 64,
// T 256, dh 64, causal, SIMD128, against 32 × 64 (node bench/attention-dev.mjs --baseline=…
// --rounds=101 --min-ms=0 --fused-only, median of per-round ratios, two runs each):
// BQ 64 × BK 64 1.001–1.014×, BQ 32 × BK 128 1.002–1.005×: flat, so the smaller blocks stay.
/** Query rows per block. */
export const BQ = 32;
/** Key columns per block (a multiple of 8: score rows are BK floats apart in scratch). */
export const BK = 64;
/** Extra floats between rows of the packed Kᵀ and Vᵀ (see assembly/attention.ts). */
export const TPAD = 8;
