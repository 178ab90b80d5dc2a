// The bottom of linear memory, which the arena never hands out: THE one definition of its
// layout. AssemblyScript reads this file (assembly/conv.ts) and so does TypeScript
// (src/runtime/arena.ts). Keep it to plain integer constants, which both languages compile
// alike. What lives there:
//   [1024, …)                  the table of vector constants asc-transform.js hoists out of
//                              the kernels' loops (written by the module's start function);
//   [ZERO_BLOCK_AT, RESERVED)  ZERO_BLOCK_BYTES of zeros, also set by the start function and
//                              never written after: the convolutions' patch packers read
//                              a row in the padding from it instead of testing each source.
// asc-transform.js keeps a copy of RESERVED_BYTES and ZERO_BLOCK_AT (it runs before any
// TypeScript is compiled); test/static-data.test.ts checks the table ends below the block.

/** Bytes at the bottom of memory kept for the module's own static data. */
export const RESERVED_BYTES = 65536;
/** Size of the zero block: KC floats (assembly/conv.ts checks it at compile time). */
export const ZERO_BLOCK_BYTES = 1024;
/** Where the zero block starts: the top of the reserved bytes. */
export const ZERO_BLOCK_AT = RESERVED_BYTES - ZERO_BLOCK_BYTES;
