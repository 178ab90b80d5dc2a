// The blocking of the packed GEMM (assembly/gemm.ts): THE one definition. AssemblyScript reads
// this file (assembly/gemm.ts imports it) and so does TypeScript (scratch sizes in
// src/ops/matmul.ts, the thread split of src/threads/split.ts). Keep it to plain integer
// constants, which both languages compile alike; retune here, never in a copy.
// test/gemm.test.ts checks the module's gemm_scratch_bytes against the TypeScript rule.

/** Rows of the micro-tile (broadcast values of op(A) per depth step). */
export const MR = 4;
/** Columns of the micro-tile (two f32x4 of op(B) per depth step). */
export const NR = 8;
/**
 * Depth of one slice: the packed A micro-panel (KC groups of MR broadcast vectors, 16 KiB)
 * and the B micro-panel streaming past it (8 KiB) fit a 32 KiB L1d.
 */
export const KC = 256;
/**
 * Rows of op(A) packed at once, just before use: MC × KC values, each broadcast to 4 lanes
 * (64 KiB). Only the micro-panel in use needs to stay cached (loop 2 walks the block once).
 */
export const MC = 16;
/**
 * Columns of op(B) packed at once: KC × NC floats (512 KiB), reread for every A
 * micro-panel, from L2 (or L3 where L2 is smaller). The measured surface of KC, MC, NC is in
 * assembly/gemm.ts.
 */
export const NC = 512;
/**
 * Tile buffer: for edge tiles a C part (MR × NR), a Z part (MR × NR) and bias (NR); then the
 * tile's sums (MR × NR), where a tile ending that calls out keeps them (see stash_4x8 in
 * assembly/gemm.ts).
 */
export const TILE_FLOATS = 3 * MR * NR + NR;
