// The blocking of the fused attention kernels (assembly/attention.ts): THE one definition.
// AssemblyScript reads this file (assembly/attention.ts imports it) and so does TypeScript
// (the scratch size of src/ops/attention.ts, for planning without a module). Keep it to plain
// integer constants, which both languages compile alike; the reasons for each value are in
// assembly/attention.ts. test/attention.test.ts checks the module's attention_scratch_bytes
// against the TypeScript rule.

/** Query rows per block. */
export const BQ = 32;
/** Key columns per block (a multiple of 8: score rows are BK floats apart in scratch). */
export const BK = 64;
/** Extra floats between rows of the packed Kᵀ and Vᵀ (see assembly/attention.ts). */
export const TPAD = 8;
