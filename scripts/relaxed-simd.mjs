// What a Node process needs to run the relaxed-SIMD build: nothing on Node 22 and later (the
// feature is on by default, and V8 rejects the old flag: "bad option"), the flag
// --experimental-wasm-relaxed-simd on Node 20 and 21. Read by vitest.config.ts (the relaxed
// test project), bench/run.js (its relaxed child), bench/lib/engines.js and
// scripts/measure-package.mjs, so none of them hard-codes the flag.
import { spawnSync } from "node:child_process";

export const RELAXED_FLAG = "--experimental-wasm-relaxed-simd";

/** The smallest module that uses relaxed SIMD: () → v128, f32x4.relaxed_madd of three zero vectors. */
const zero = [0xfd, 0x0c, ...new Array(16).fill(0)];
const body = [0x00, ...zero, ...zero, ...zero, 0xfd, 0x85, 0x02, 0x0b];
export const RELAXED_PROBE = Uint8Array.from([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // \0asm, version 1
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, //       type section: () → v128
  0x03, 0x02, 0x01, 0x00, //                         function section: one function of type 0
  0x0a, body.length + 2, 0x01, body.length, ...body, // code section
]);

/** The command-line flags this Node process's kind needs for relaxed SIMD: [] where it has it, else [RELAXED_FLAG]. */
export function relaxedFlags() {
  return WebAssembly.validate(RELAXED_PROBE) ? [] : [RELAXED_FLAG];
}

/** relaxedFlags for another Node executable, `binary` (asked in a child process). */
export function relaxedFlagsOf(binary) {
  const r = spawnSync(binary, ["-e", `process.exit(WebAssembly.validate(Uint8Array.from(${JSON.stringify([...RELAXED_PROBE])})) ? 0 : 1)`]);
  return r.status === 0 ? [] : [RELAXED_FLAG];
}
