/**
 * A runtime: one WebAssembly.Memory, its arena, the instantiated kernels, and the
 * features the loader found. Everything above (ops, graphs, optimizers) reaches the
 * kernels through one of these.
 */
import { Arena, type MemoryStats } from "./arena.js";
import type { Kernels } from "./kernels.js";
import { type BuildName, type LoadOptions, load } from "./load.js";
import { type KernelSet, kernelSetOf } from "./kernel-set.js";
import type { TensorHost } from "./tensor.js";
import type { Pool } from "../threads/pool.js";
import { SHARED_MAX_PAGES } from "./shared-memory.js";
import { type GemmTile, type GemmTileOption, checkGemmTileOption, chooseGemmTile, detectArch, tileExports, withGemmTile } from "./gemm-tile.js";

// gemm_scratch_bytes, used below for the workers' scratch, is declared with the GEMM kernels
// in src/ops/matmul.ts; conv2d_scratch_bytes with the convolutions in src/ops/conv.ts.
import type {} from "../ops/matmul.js";
import type {} from "../ops/conv.js";

export interface Features {
  simd: true;
  relaxedSimd: boolean;
  threads: number;
  /** Which binary runs: "simd" (SIMD128), "relaxed" (SIMD128 + relaxed SIMD) or "debug". */
  build: BuildName;
  /** Why something asked for is not on (e.g. threads without cross-origin isolation). */
  warnings: string[];
  /**
   * The kernels loaded: "all", or "dense" (init({ kernels: "dense" }): dense layers' kernels
   * only, see src/runtime/kernel-set.ts). Read from the module's exports, so a single .wasm
   * passed as `wasm` reports what it holds.
   */
  kernels: KernelSet;
  /**
   * The packed GEMM's register tile on this runtime: "4x8", "4x16" (by default on arm64
   * hosts) or "5x8" (the relaxed-SIMD build's, by default but under Firefox's engine; see
   * src/runtime/gemm-tile.ts). The same results whichever, bit for bit.
   */
  gemmTile: GemmTile;
  /**
   * The CPU architecture the host reports ("x64", "arm64", …: process.arch in Node and Bun,
   * Deno.build.arch in Deno, User-Agent Client Hints in Chromium-based browsers), or
   * undefined where it does not say (Safari, Firefox). What gemmTile "auto" goes by.
   */
  arch: string | undefined;
}

const INITIAL_PAGES = 32; // 2 MiB

export class Runtime implements TensorHost {
  readonly arena: Arena;
  closed = false;
  private scratchPtr = 0;
  private scratchSize = 0;

  private pool: Pool | null = null;
  /** The pool and each worker's GEMM scratch (for measuring the split thresholds). @internal */
  workerScratch: readonly number[] = [];
  /** Bytes of each worker's scratch (0 without workers); grows, see reserveWorkerScratch. @internal */
  workerScratchBytes = 0;
  /** The kernels as loaded, single-threaded (what workers run), with the GEMM's tile chosen at create. */
  readonly rawKernels: Kernels;
  kernels: Kernels;

  private constructor(
    readonly memory: WebAssembly.Memory,
    kernels: Kernels,
    readonly module: WebAssembly.Module,
    readonly features: Features,
  ) {
    this.arena = new Arena(memory);
    this.rawKernels = kernels;
    this.kernels = kernels;
  }

  static async create(opts: LoadOptions & { threads?: number; gemmTile?: GemmTileOption } = {}): Promise<Runtime> {
    opts ??= {};
    const tileOption = checkGemmTileOption(opts.gemmTile);
    const warnings: string[] = [];
    let threads = opts.threads ?? 1;
    if (threads > 1) {
      const why = threadsUnavailable();
      if (why) {
        warnings.push(`threads: ${why}; running on 1 thread`);
        threads = 1;
      }
    }
    const memory = threads > 1
      ? new WebAssembly.Memory({ initial: INITIAL_PAGES, maximum: SHARED_MAX_PAGES, shared: true })
      : new WebAssembly.Memory({ initial: INITIAL_PAGES });
    // The host's architecture (for gemmTile "auto" and features.arch), asked while the module
    // loads: a browser answers asynchronously.
    const asked = detectArch();
    const { kernels: exports, module, build } = await load(memory, opts);
    // The GEMM's tile (src/runtime/gemm-tile.ts), chosen before any worker starts: the workers
    // run the same exports under the usual names (the pool's `exports`).
    const arch = await asked;
    const tile = chooseGemmTile(exports, tileOption, arch, build);
    if (tileOption === "5x8" && tile !== "5x8") warnings.push(`gemmTile: "5x8" runs in the relaxed-SIMD build only; this runtime loaded the ${build} build, running 4x8`);
    const kernels = withGemmTile(exports, tile, build);
    const rt = new Runtime(memory, kernels, module, {
      simd: true,
      relaxedSimd: build === "relaxed",
      threads: 1,
      build,
      warnings,
      kernels: kernelSetOf(exports as unknown as Record<string, unknown>),
      gemmTile: tile,
      arch,
    });
    if (threads > 1) {
      // The pool and the split kernels load here, on first use (see threads/start-threads.ts).
      const { Pool, TASK_KERNELS, threadedKernels, workerScratchBytes } = await import("../threads/start-threads.js");
      const pool = await Pool.start(
        { memory, module, kernels: kernels as unknown as Record<string, unknown>, alloc: (b, w) => rt.arena.alloc(b, w) },
        // (Only the kernels this module has: the dense set has no convolutions or attention.)
        { threads, kernels: TASK_KERNELS.filter((n) => typeof (exports as unknown as Record<string, unknown>)[n] === "function"), exports: tileExports(tile, build) },
      );
      // Each worker packs GEMM panels in its own scratch (bounded whatever the sizes).
      const bytes = workerScratchBytes(kernels);
      const scratch = [0];
      for (let w = 1; w < threads; w++) scratch.push(rt.arena.alloc(bytes, "threads"));
      rt.pool = pool;
      rt.workerScratch = scratch;
      rt.workerScratchBytes = bytes;
      rt.kernels = threadedKernels(kernels, pool, scratch, { workerBytes: () => rt.workerScratchBytes });
      rt.features.threads = threads;
    }
    return rt;
  }

  /** @internal */
  get threadPool(): Pool | null {
    return this.pool;
  }

  get stats(): MemoryStats {
    return this.arena.stats();
  }

  /**
   * A scratch area of at least `bytes` for kernels that need working space (GEMM packing).
   * It is reused by every call and only reallocated when a larger one is asked for, so a
   * graph that asks for its largest need once allocates nothing afterwards.
   */
  scratch(bytes: number): number {
    this.reserveWorkerScratch(bytes);
    if (bytes <= this.scratchSize) return this.scratchPtr;
    if (this.scratchSize > 0) this.arena.release(this.scratchPtr);
    this.scratchSize = 0;
    const size = Math.max(bytes, 64 * 1024);
    this.scratchPtr = this.arena.alloc(size, "scratch");
    this.scratchSize = size;
    return this.scratchPtr;
  }

  /**
   * Makes each worker's scratch at least `bytes` (no-op without workers or when it already
   * is), so a kernel call whose own scratch is that large can still be split over the pool
   * (attention's grows with T·dh). The pointers change in place in `workerScratch`, which the
   * split kernels read at each call. Called when a graph is planned and by rt.scratch (eager
   * calls): never during a run, so a training step allocates nothing.
   */
  reserveWorkerScratch(bytes: number): void {
    if (this.pool === null || bytes <= this.workerScratchBytes) return;
    const scratch = this.workerScratch as number[];
    const size = Math.ceil(bytes / 65536) * 65536;
    const fresh: number[] = [];
    try {
      for (let w = 1; w < scratch.length; w++) fresh.push(this.arena.alloc(size, "threads"));
    } catch {
      // Memory cannot hold it: such calls keep running on the calling thread, as before.
      for (const p of fresh) this.arena.release(p);
      return;
    }
    for (let w = 1; w < scratch.length; w++) {
      this.arena.release(scratch[w]!);
      scratch[w] = fresh[w - 1]!;
    }
    this.workerScratchBytes = size;
  }

  close(): void {
    this.closed = true;
    this.pool?.close();
    this.pool = null;
  }
}

/** Why shared memory and workers cannot be used here, or null when they can. */
function threadsUnavailable(): string | null {
  const g = globalThis as { crossOriginIsolated?: boolean; SharedArrayBuffer?: unknown; Worker?: unknown; process?: unknown; Deno?: unknown };
  if (typeof g.SharedArrayBuffer !== "function") {
    return g.crossOriginIsolated === false
      ? "this page is not cross-origin isolated (serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)"
      : "SharedArrayBuffer is not available in this runtime";
  }
  if (g.crossOriginIsolated === false) {
    return "this page is not cross-origin isolated (serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)";
  }
  if (typeof g.Worker !== "function" && g.process === undefined && g.Deno === undefined) return "this runtime has no workers";
  return null;
}
