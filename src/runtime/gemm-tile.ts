/**
 * The GEMM's register tile, chosen once per runtime.
 *
 * The packed GEMM runs its whole tiles as 4 × 8 (eight accumulators: gemm, gemm_bias_act) or
 * 4 × 16 (sixteen: gemm_wide, gemm_bias_act_wide; assembly/gemm.ts). Both give the same
 * results bit for bit; which is faster depends on the engine and the CPU. Eight accumulators
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
 * browserArch) and 4 × 8 everywhere else, including browsers that do not say (Safari and
 * Firefox report an Intel Mac even on Apple silicon); `init({ gemmTile })` sets it instead, and
 * `sg.features.gemmTile` tells which runs.
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

export type GemmTile = "4x8" | "4x16";

/** What init was asked for: a tile, or "auto" (the default). */
export type GemmTileOption = GemmTile | "auto";

/** The exports that run each GEMM kernel name on 4 × 16 tiles. */
export const WIDE_EXPORTS: Readonly<Record<string, string>> = { gemm: "gemm_wide", gemm_bias_act: "gemm_bias_act_wide" };

/** Throws a clear error unless `v` is a tile option (or undefined). */
export function checkGemmTileOption(v: unknown): GemmTileOption {
  if (v === undefined) return "auto";
  if (v === "auto" || v === "4x8" || v === "4x16") return v;
  throw new TypeError(`init: gemmTile must be "auto", "4x8" or "4x16", got ${typeof v === "string" ? JSON.stringify(v) : String(v)}`);
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

/** The tile "auto" takes on a host of architecture `arch` (undefined: the host does not say). */
export function autoGemmTile(arch: string | undefined): GemmTile {
  return arch === "arm64" || arch === "aarch64" ? "4x16" : "4x8";
}

/**
 * The tile for `option` with the module's kernels `k` (4 × 8 where the module has no 4 × 16);
 * "auto" goes by `arch` (detectArch's answer; by default the synchronous hostArch's).
 */
export function chooseGemmTile(k: Kernels, option: GemmTileOption, arch: string | undefined = hostArch()): GemmTile {
  const wide = Object.values(WIDE_EXPORTS).every((name) => typeof (k as unknown as Record<string, unknown>)[name] === "function");
  if (option === "4x16" && !wide) throw new Error('init: gemmTile "4x16": this .wasm has no gemm_wide (a build older than the option)');
  if (option !== "auto") return option;
  return wide ? autoGemmTile(arch) : "4x8";
}

/** The kernels with `tile`'s GEMM under the usual names (the module's own exports for 4 × 8). */
export function withGemmTile(k: Kernels, tile: GemmTile): Kernels {
  if (tile === "4x8") return k;
  const byName = k as unknown as Record<string, unknown>;
  return { ...k, ...Object.fromEntries(Object.entries(WIDE_EXPORTS).map(([name, wide]) => [name, byName[wide]])) };
}
