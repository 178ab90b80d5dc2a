/**
 * The GEMM's register tile, chosen once per runtime.
 *
 * The packed GEMM runs its whole tiles as 4 × 8 (eight accumulators), 4 × 16 (sixteen:
 * gemm_wide, gemm_bias_act_wide; assembly/gemm.ts) or, in the relaxed-SIMD build, 5 × 8
 * (ten, over rows of A packed compact: rows5 in assembly/gemm.ts, and in the convolutions'
 * transposed loops). All give the same results bit for bit; which is faster depends on the
 * engine and the CPU. The relaxed build's own exports (gemm, gemm_bias_act, the conv2d
 * kernels) take 5 × 8 where it applies; its _4x8 exports do not (FOUR_EXPORTS); the SIMD128
 * build's exports are 4 × 8 throughout. Eight accumulators
 * are what two fused multiply-add pipes of 4-cycle latency need in flight (x86 cores), and
 * 4 × 8 with its loaded vectors fits the 15 vector registers V8 allocates on x64, where 4 × 16
 * spills: on an Intel Xeon it ran 0.70–0.81× of 4 × 8 under Node 20 and 0.77–0.96× under Node
 * 24, Deno and Chromium, both builds. Arm cores with four such pipes (Apple's M series,
 * Neoverse V) need sixteen in flight, and arm64 engines allocate from 32 vector registers,
 * where V8 keeps all sixteen (its arm64 code, read under emulation: no spills in the loop)
 * and loads 8 vectors for 16 multiply-adds where 4 × 8 loads 6 for 8.
 *
 * So "auto" takes 4 × 16 on hosts that say they are arm64 (Node, Bun: process.arch; Deno:
 * Deno.build.arch; Chromium-based browsers in a secure context: User-Agent Client Hints, see
 * browserArch); elsewhere (including browsers that do not say: Safari and Firefox report an
 * Intel Mac even on Apple silicon) 5 × 8 in the relaxed build and 4 × 8 in the SIMD128 one,
 * but 4 × 8 in the relaxed build under SpiderMonkey (jsEngine): Firefox 153 ran the 5 × 8
 * tiles 0.89–0.99× of 4 × 8 on products and 0.66–0.68× on a 64 → 64 convolution's forward,
 * input and filter gradients, where V8 (Node 20) ran them 1.03–1.11× faster, the same bits
 * (2026-12-06, the Xeon VM: bench/engines-ab.mjs --build=relaxed --engines=firefox,node
 * against the build before the 5 × 8 tiles, and the two exports timed side by side in one
 * page); a training step of two 64 → 64 convolutions ran 1.47× faster there on 4 × 8.
 * `init({ gemmTile })` sets it instead, and `sg.features.gemmTile` tells which runs.
 *
 * Not timed at init: timing the two there was tried and misjudged. An engine runs new code
 * unoptimized first and swaps in optimized code some calls (and some background compiling)
 * later, one function at a time, so an early reading can compare one tile optimized with the
 * other not; in Chromium on the Xeon VM the first init's ratios (4 × 8's time over 4 × 16's)
 * ran 0.29–3.1 where the steady one is 0.82–0.90, and waiting for readings to settle took
 * 12–49 ms and still once chose 4 × 16 there.
 */
import type { Kernels } from "./kernels.js";

// gemm_wide and gemm_bias_act_wide are declared with the GEMM kernels in src/ops/matmul.ts.
import type {} from "../ops/matmul.js";

export type GemmTile = "4x8" | "4x16" | "5x8";

/** What init was asked for: a tile, or "auto" (the default). */
export type GemmTileOption = GemmTile | "auto";

/** The exports that run each GEMM kernel name on 4 × 16 tiles. */
export const WIDE_EXPORTS: Readonly<Record<string, string>> = { gemm: "gemm_wide", gemm_bias_act: "gemm_bias_act_wide" };

/**
 * The exports that run each kernel name on 4 × 8 tiles only, in the relaxed-SIMD build (its
 * own exports take 5 × 8 tiles where they apply). The dense kernel set has the first two.
 */
export const FOUR_EXPORTS: Readonly<Record<string, string>> = {
  gemm: "gemm_4x8",
  gemm_bias_act: "gemm_bias_act_4x8",
  conv2d_forward: "conv2d_forward_4x8",
  conv2d_forward_bias_act: "conv2d_forward_bias_act_4x8",
  conv2d_backward_filter: "conv2d_backward_filter_4x8",
  conv2d_backward_input: "conv2d_backward_input_4x8",
};

/** Throws a clear error unless `v` is a tile option (or undefined). */
export function checkGemmTileOption(v: unknown): GemmTileOption {
  if (v === undefined) return "auto";
  if (v === "auto" || v === "4x8" || v === "4x16" || v === "5x8") return v;
  throw new TypeError(`init: gemmTile must be "auto", "4x8", "4x16" or "5x8", got ${typeof v === "string" ? JSON.stringify(v) : String(v)}`);
}

/**
 * "spidermonkey" where the JavaScript engine is Firefox's (its non-standard InternalError
 * global), else undefined: what "auto" needs to know of the engine (see above).
 */
export function jsEngine(): "spidermonkey" | undefined {
  return typeof (globalThis as { InternalError?: unknown }).InternalError === "function" ? "spidermonkey" : undefined;
}

/** Deno's names for the architectures, as Node names them (the names sg.features.arch uses). */
const NODE_ARCH: Readonly<Record<string, string>> = { x86_64: "x64", aarch64: "arm64" };

/**
 * The host's CPU architecture where the runtime tells it (Node, Bun: process.arch; Deno:
 * Deno.build.arch, "x86_64" and "aarch64" given as Node's "x64" and "arm64").
 */
export function hostArch(): string | undefined {
  const g = globalThis as { Deno?: { build?: { arch?: string } }; process?: { arch?: unknown; versions?: { node?: unknown } } };
  if (typeof g.Deno?.build?.arch === "string") return NODE_ARCH[g.Deno.build.arch] ?? g.Deno.build.arch;
  if (g.process?.versions?.node !== undefined && typeof g.process.arch === "string") return g.process.arch;
  return undefined;
}

/** What a browser's navigator offers for the architecture (User-Agent Client Hints). */
interface HintsNavigator {
  userAgentData?: { getHighEntropyValues?: (hints: string[]) => Promise<{ architecture?: unknown; bitness?: unknown }> };
}

/** How long init waits for a browser's answer before taking it as "does not say" (ms). */
export const BROWSER_ARCH_WAIT_MS = 100;

/**
 * The CPU architecture a browser reports through User-Agent Client Hints ("arm64", "arm",
 * "x64" or "ia32"), or undefined where it does not say: no navigator.userAgentData (Safari,
 * Firefox, an insecure context), an empty or unknown answer (Chromium on Android), a
 * rejection, or no answer within BROWSER_ARCH_WAIT_MS. Chromium answers "arm" or "x86" with a
 * bitness of "64" or "32"; asking prompts nothing.
 */
export async function browserArch(nav: unknown = (globalThis as { navigator?: unknown }).navigator, waitMs = BROWSER_ARCH_WAIT_MS): Promise<string | undefined> {
  const ask = (nav as HintsNavigator | undefined)?.userAgentData?.getHighEntropyValues;
  if (typeof ask !== "function") return undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const hints = await Promise.race([
      Promise.resolve(ask.call((nav as HintsNavigator).userAgentData, ["architecture", "bitness"])),
      new Promise<undefined>((resolve) => { timer = setTimeout(() => resolve(undefined), waitMs); }),
    ]);
    const wide = hints?.bitness === "64";
    if (hints?.architecture === "arm") return wide ? "arm64" : "arm";
    if (hints?.architecture === "x86") return wide ? "x64" : "ia32";
    return undefined;
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

/** The host's architecture as far as any runtime tells it: hostArch, else browserArch. */
export async function detectArch(): Promise<string | undefined> {
  return hostArch() ?? (await browserArch());
}

/**
 * The tile "auto" takes on a host of architecture `arch` (undefined: the host does not say)
 * with the module `build` ("relaxed" or another) under the engine `engine` (jsEngine's answer).
 */
export function autoGemmTile(arch: string | undefined, build = "simd", engine: string | undefined = jsEngine()): GemmTile {
  if (arch === "arm64" || arch === "aarch64") return "4x16";
  return build === "relaxed" && engine !== "spidermonkey" ? "5x8" : "4x8";
}

const hasAll = (k: Kernels, names: readonly string[]) => names.every((name) => typeof (k as unknown as Record<string, unknown>)[name] === "function");

/**
 * The tile for `option` with the module's kernels `k` of build `build`: "auto" goes by `arch`
 * (detectArch's answer; by default the synchronous hostArch's) and the engine (autoGemmTile);
 * "5x8" is the relaxed build's only (the SIMD128 build runs 4 × 8: the caller warns). A module
 * without the exports a tile needs (a build older than the option) is an error when the tile
 * is asked for by name; "auto" then takes the module's own exports.
 */
export function chooseGemmTile(k: Kernels, option: GemmTileOption, arch: string | undefined = hostArch(), build = "simd", engine: string | undefined = jsEngine()): GemmTile {
  const relaxed = build === "relaxed";
  const own: GemmTile = relaxed ? "5x8" : "4x8";
  const wide = hasAll(k, Object.values(WIDE_EXPORTS));
  const four = !relaxed || hasAll(k, [FOUR_EXPORTS.gemm!, FOUR_EXPORTS.gemm_bias_act!]);
  if (option === "4x16" && !wide) throw new Error('init: gemmTile "4x16": this .wasm has no gemm_wide (a build older than the option)');
  if (option === "4x8" && !four) throw new Error('init: gemmTile "4x8": this relaxed-SIMD .wasm has no gemm_4x8 (a build older than the option)');
  if (option === "5x8") return own;
  if (option !== "auto") return option;
  const auto = autoGemmTile(arch, build, engine);
  return (auto === "4x16" && !wide) || (auto === "4x8" && !four) ? own : auto;
}

/**
 * The export that runs each kernel name on `tile`'s tiles where it is not the name itself,
 * for a module of build `build`: the calling thread's kernels (withGemmTile) and the workers'
 * (the pool's `exports`) map names alike. undefined: the module's own exports.
 */
export function tileExports(tile: GemmTile, build = "simd"): Readonly<Record<string, string>> | undefined {
  if (tile === "4x16") return WIDE_EXPORTS;
  if (tile === "4x8" && build === "relaxed") return FOUR_EXPORTS;
  return undefined;
}

/**
 * The kernels with `tile`'s under the usual names (tileExports; the names the module lacks,
 * such as the dense set's convolutions, stay as they are).
 */
export function withGemmTile(k: Kernels, tile: GemmTile, build = "simd"): Kernels {
  const map = tileExports(tile, build);
  if (map === undefined) return k;
  const byName = k as unknown as Record<string, unknown>;
  return { ...k, ...Object.fromEntries(Object.entries(map).filter(([, e]) => typeof byName[e] === "function").map(([name, e]) => [name, byName[e]])) };
}
