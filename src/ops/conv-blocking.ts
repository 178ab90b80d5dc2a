// The convolution input gradient's transposed path (assembly/conv.ts, dx_swap): its sizes,
// THE one definition. AssemblyScript reads this file (assembly/conv.ts imports it) and so does
// TypeScript (the scratch rule of src/ops/conv.ts). Plain integer constants only, which both
// languages compile alike. With these, the path's scratch stays below what the untransposed
// loops take for many pixels (about 0.57 MiB): at most 256 KiB of packed filter, 128 KiB of
// dy and 96 KiB of product rows, or 64 + 256 + 192 KiB.

/** Widest patch (K = KH·KW·C columns) whose input gradient runs transposed. */
export const DX_SWAP_MAX_K = 192;
/**
 * Largest slice of packed filter (pre-broadcast: 16 bytes a value) the transposed input
 * gradient packs whole, once per slice of filters; past it, MC patch columns at a time, for
 * every panel of pixels.
 */
export const DX_WHOLE_MAX_BYTES = 256 * 1024;
/** Output pixels per panel when the filter slice is packed whole. */
export const DX_PANEL_WHOLE = 128;
/** Output pixels per panel when the filter is packed a block at a time. */
export const DX_PANEL = 256;

// The input gradient as a forward convolution (stride 1: assembly/conv.ts, dx_rot). Its
// scratch: the filter rotated 180° with its channel axes swapped, then the forward's packing
// space for DX_ROT_ROWS pixels of dx at a time over at most DX_ROT_ROWS channels (256 +
// 320 KiB at most), or, for a filter of up to DX_ROT_MAX_FILTER_BYTES, half as many of each
// (384 + 192 KiB): below what the untransposed loops take for many pixels (about 0.57 MiB).

/** Largest filter (KH·KW·C·F floats, in bytes) run with panels of DX_ROT_ROWS pixels. */
export const DX_ROT_FULL_FILTER_BYTES = 256 * 1024;
/** Largest filter whose input gradient runs as a forward convolution (panels of half as many). */
export const DX_ROT_MAX_FILTER_BYTES = 384 * 1024;
/** Pixels of dx per forward call, and the most input channels (C) the path takes. */
export const DX_ROT_ROWS = 256;

// A first layer's direct forward (C < 8, assembly/conv.ts, conv2d_forward_direct) copies the
// windows of a run of output pixels that reach into the padding into a band (KH rows of the
// input, 0s in the padding) and multiplies them from there as it does inside the image. Its
// size: 16 KiB, a whole 28- or 224-pixel row of 3 × 3 windows over 1 or 3 channels, 95
// pixels of a 7 × 7, stride 2 layer's over 3; a band too narrow for one window (a huge
// dilation) falls back to gathering windows one at a time.

/** Floats of the direct forward's band. */
export const DIRECT_BAND_FLOATS = 4096;

// With F not a multiple of 4 (LeNet's 1 → 6), the direct forward works on a copy of the
// filter padded with zero columns to F4 = ⌈F⌉₄, DIRECT_PAD_ROWS output pixels at a time into
// a buffer of F4-float rows, and copies their first F values out: at most 64 KiB of filter
// (K ≤ 256, F4 ≤ 64) and 16 KiB of buffer. Past DIRECT_PAD_MAX_F filters the packed loops
// run it.

/** The most filters (F not a multiple of 4) the direct forward takes through a padded copy. */
export const DIRECT_PAD_MAX_F = 63;
/** Output pixels a padded direct forward forms at a time. */
export const DIRECT_PAD_ROWS = 64;
