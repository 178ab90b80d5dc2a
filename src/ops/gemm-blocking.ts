// The blocking of the packed GEMM (assembly/gemm.ts): THE one definition. AssemblyScript reads
// this file (assembly/gemm.ts imports it) and so does TypeScript (scratch sizes in
// src/ops/matmul.ts, the thread split of src/threads/split.ts). Keep it to plain integer
// constants, which both languages compile alike; retune here, never in a copy.
// test/gemm.test.ts checks the module's gemm_scratch_bytes against the TypeScript rule.

/** Rows of the micro-tile (broadcast values of op(A) per depth step). */
export const MR = 4;
/** Columns of the micro-tile (two f32x4 of op(B) per depth step). */
export const NR = 8;
/** Depth of one slice: an NR-wide B micro-panel of KC rows is 8 KiB and stays in L1. */
export const KC = 256;
/** Rows of op(A) packed at once: MC × KC floats (128 KiB) stay in L2. */
export const MC = 16;
/** Columns of op(B) packed at once: KC × NC floats (1 MiB) stay in L2/L3. */
export const NC = 512;
/** Tile buffer for edge tiles: C part (MR × NR), Z part (MR × NR), bias (NR). */
export const TILE_FLOATS = 2 * MR * NR + NR;
