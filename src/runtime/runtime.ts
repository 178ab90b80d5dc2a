/**
 * A runtime: one WebAssembly.Memory, its arena, the instantiated kernels, and the
 * features the loader found. Everything above (ops, graphs, optimizers) reaches the
 * kernels through one of these.
 */
import { Arena, type MemoryStats } from "./arena.js";
import type { Kernels } from "./kernels.js";
import { type BuildName, type LoadOptions, load } from "./load.js";
import type { TensorHost } from "./tensor.js";

export interface Features {
  simd: true;
  relaxedSimd: boolean;
  threads: number;
  /** Which binary runs: "simd" (SIMD128), "relaxed" (SIMD128 + relaxed SIMD) or "debug". */
  build: BuildName;
}

const INITIAL_PAGES = 32; // 2 MiB

export class Runtime implements TensorHost {
  readonly arena: Arena;
  closed = false;
  private scratchPtr = 0;
  private scratchSize = 0;

  private constructor(
    readonly memory: WebAssembly.Memory,
    readonly kernels: Kernels,
    readonly module: WebAssembly.Module,
    readonly features: Features,
  ) {
    this.arena = new Arena(memory);
  }

  static async create(opts: LoadOptions & { threads?: number } = {}): Promise<Runtime> {
    const memory = new WebAssembly.Memory({ initial: INITIAL_PAGES });
    const { kernels, module, build } = await load(memory, opts);
    return new Runtime(memory, kernels, module, {
      simd: true,
      relaxedSimd: build === "relaxed",
      threads: 1,
      build,
    });
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
    if (bytes <= this.scratchSize) return this.scratchPtr;
    if (this.scratchSize > 0) this.arena.release(this.scratchPtr);
    this.scratchSize = 0;
    const size = Math.max(bytes, 64 * 1024);
    this.scratchPtr = this.arena.alloc(size, "scratch");
    this.scratchSize = size;
    return this.scratchPtr;
  }

  close(): void {
    this.closed = true;
  }
}
