// A bump allocator over a raw WebAssembly.Memory, for the scripts that call kernels on a
// module instance of their own (bench/gemm-dev.mjs, bench/gemm-blocking.mjs): every problem
// resets it and allocates its operands again, 64-byte aligned, growing the memory as needed.
import { uniform } from "./data.js";

export function bumpArena(memory, base = 65536) {
  let top = base;
  return {
    /** A 64-byte-aligned block of `bytes` bytes. */
    alloc(bytes) {
      const p = top;
      top = Math.ceil((top + bytes) / 64) * 64;
      const need = top - memory.buffer.byteLength;
      if (need > 0) memory.grow(Math.ceil(need / 65536));
      return p;
    },
    /** Forgets every block (the next alloc starts at `base` again). */
    reset() {
      top = base;
    },
    /** n floats at ptr, uniform in [−0.5, 0.5) from `seed` (xorshift32, as bench/lib/data.js). */
    fill(ptr, n, seed) {
      new Float32Array(memory.buffer, ptr, n).set(uniform(n, seed, -0.5, 0.5));
    },
  };
}
