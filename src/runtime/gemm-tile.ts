/**
 * The GEMM's register tile, chosen once per runtime.
 *
 * The packed GEMM runs its whole tiles as 4 × 8 (eight accumulators: gemm, gemm_bias_act) or
 * 4 × 16 (sixteen: gemm_wide, gemm_bias_act_wide; assembly/gemm.ts). Both give the same
 * results bit for bit; which is faster depends on the engine and the CPU,
 * and WebAssembly cannot ask either. Eight accumulators are what two fused multiply-add pipes
 * of 4-cycle latency need in flight (x86 cores), and 4 × 8 with its loaded vectors fits the 15
 * vector registers V8 allocates on x64, where 4 × 16 spills (measured 0.70–0.81× of 4 × 8 on
 * an Intel Xeon under Node 20, both builds). Cores with four such pipes (Apple's, Arm's
 * Neoverse V) need sixteen in flight, and arm64 engines allocate from 32 vector registers,
 * where V8 keeps all sixteen (its arm64 code, read under emulation: no spills in the loop).
 *
 * So: on x64 hosts that say so (Node, Deno, Bun) the 4 × 8 stays without timing anything;
 * elsewhere (arm64 hosts, and browsers, which do not say) both are timed at init, a few
 * milliseconds, and 4 × 16 is kept only if it is at least 10% faster. `init({ gemmTile })`
 * sets it instead; `sg.features.gemmTile` tells which runs.
 */
import type { Arena } from "./arena.js";
import type { Kernels } from "./kernels.js";

// gemm, gemm_scratch_bytes and gemm_tile_mode are declared with the GEMM kernels in src/ops/matmul.ts.
import type {} from "../ops/matmul.js";

export type GemmTile = "4x8" | "4x16";

/** What init was asked for: a tile, or "auto" (the default). */
export type GemmTileOption = GemmTile | "auto";

export interface GemmTileChoice {
  tile: GemmTile;
  /** 4 × 8's best time over 4 × 16's, when they were timed (> 1: 4 × 16 faster). */
  ratio?: number;
}

/** The exports that run each GEMM kernel name on 4 × 16 tiles. */
export const WIDE_EXPORTS: Readonly<Record<string, string>> = { gemm: "gemm_wide", gemm_bias_act: "gemm_bias_act_wide" };

/** The kernels with `tile`'s GEMM under the usual names (the module's own exports for 4 × 8). */
export function withGemmTile(k: Kernels, tile: GemmTile): Kernels {
  if (tile === "4x8") return k;
  return { ...k, gemm: k.gemm_wide, gemm_bias_act: k.gemm_bias_act_wide };
}

/** Throws a clear error unless `v` is a tile option (or undefined). */
export function checkGemmTileOption(v: unknown): GemmTileOption {
  if (v === undefined) return "auto";
  if (v === "auto" || v === "4x8" || v === "4x16") return v;
  throw new TypeError(`init: gemmTile must be "auto", "4x8" or "4x16", got ${typeof v === "string" ? JSON.stringify(v) : String(v)}`);
}

/** The host's CPU architecture where the runtime tells it (Node, Bun: process.arch; Deno: Deno.build.arch). */
function hostArch(): string | undefined {
  const g = globalThis as { Deno?: { build?: { arch?: string } }; process?: { arch?: unknown; versions?: { node?: unknown } } };
  if (g.Deno?.build?.arch) return g.Deno.build.arch;
  if (g.process?.versions?.node !== undefined && typeof g.process.arch === "string") return g.process.arch;
  return undefined;
}

/**
 * The product timed: 32 × 128 by 128 × 128 (a million flops: two row blocks, each a packing
 * column of tiles and then 15 whole tiles, 7 pairs and one, at 32 KiB of B panel).
 */
const M = 32, K = 128, N = 128;

/** Picks the tile for the module `k` was instantiated from (see the header). */
export function chooseGemmTile(k: Kernels, arena: Arena, memory: WebAssembly.Memory, option: GemmTileOption): GemmTileChoice {
  if (typeof k.gemm_wide !== "function" || typeof k.gemm_bias_act_wide !== "function") {
    if (option === "4x16") throw new Error("init: gemmTile \"4x16\": this .wasm has no gemm_wide (a build older than the option)");
    return { tile: "4x8" };
  }
  if (option !== "auto") return { tile: option };
  const arch = hostArch();
  if (arch === "x64" || arch === "x86_64" || arch === "ia32") return { tile: "4x8" };
  const ratio = timeTiles(k, arena, memory);
  return { tile: ratio >= 1.1 ? "4x16" : "4x8", ratio };
}

/**
 * 4 × 8's best time over 4 × 16's on the product above, alternating, the best of each taken
 * (the first calls of each run before the engine's optimized code is in; the best is the
 * optimized code's). On the Xeon VM under Node 20: 5–10 ms in all, ratios 0.71–0.86.
 */
function timeTiles(k: Kernels, arena: Arena, memory: WebAssembly.Memory): number {
  const a = arena.alloc(M * K * 4, "gemm tile");
  const b = arena.alloc(K * N * 4, "gemm tile");
  const c = arena.alloc(M * N * 4, "gemm tile");
  const s = arena.alloc(k.gemm_scratch_bytes(M, N, K), "gemm tile");
  try {
    const fa = new Float32Array(memory.buffer, a, M * K);
    const fb = new Float32Array(memory.buffer, b, K * N);
    for (let i = 0; i < fa.length; i++) fa[i] = ((i * 7) % 13) / 13 - 0.5;
    for (let i = 0; i < fb.length; i++) fb[i] = ((i * 5) % 11) / 11 - 0.5;
    const calls = [
      () => k.gemm(0, 0, M, N, K, 1, a, K, b, N, 0, c, N, s),
      () => k.gemm_wide(0, 0, M, N, K, 1, a, K, b, N, 0, c, N, s),
    ] as const;
    // A few calls of each first: the engine compiles its optimized code for both on the way.
    for (const mode of [0, 1, 0, 1, 0, 1]) calls[mode]!();
    // Calls per sample: enough for 0.4 ms (browsers round their clocks to 0.1 ms or coarser).
    let reps = 1;
    for (;;) {
      const t = performance.now();
      for (let i = 0; i < reps; i++) calls[0]();
      if (performance.now() - t >= 0.4 || reps >= 64) break;
      reps *= 2;
    }
    const best = [Infinity, Infinity];
    const start = performance.now();
    // At least 4 rounds of one sample each, alternating which goes first; at most 8, or 3 ms.
    for (let round = 0; round < 8 && (round < 4 || performance.now() - start < 3); round++) {
      for (const mode of round % 2 ? [1, 0] : [0, 1]) {
        const call = calls[mode]!;
        const t = performance.now();
        for (let i = 0; i < reps; i++) call();
        best[mode] = Math.min(best[mode]!, performance.now() - t);
      }
    }
    return best[1]! > 0 ? best[0]! / best[1]! : 1;
  } finally {
    for (const p of [s, c, b, a]) arena.release(p);
  }
}
