/**
 * The typed face of the wasm module's exports. Each op family in src/ops/ adds the
 * kernels it calls to this interface by declaration merging, next to the code that calls
 * them, so adding a kernel touches its own family file and nothing shared.
 *
 * Every kernel takes byte offsets into linear memory (pointers) and element counts; see
 * the doc comment of each kernel in assembly/ for its contract.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface Kernels {
  /** 1 for the relaxed-SIMD build, 0 for SIMD128. */
  build_has_relaxed_simd(): number;
}
