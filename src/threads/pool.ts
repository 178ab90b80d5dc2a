/**
 * A pool of workers over the runtime's shared memory. Each worker instantiates the same
 * compiled module over the same memory (kernels keep no state, so one module serves all).
 * A dispatch writes each worker's task into its slot of a control block in linear memory,
 * bumps a generation counter and wakes the workers with Atomics.notify; the calling thread
 * runs its own share, then waits for the pending count to reach zero. No postMessage per
 * kernel: a dispatch costs microseconds.
 *
 * A task is run by whoever claims it first: its worker, or the calling thread once it has
 * finished its own share. A worker that the operating system has not scheduled yet (a busy
 * machine, a browser tab in the background, a worker that died) therefore never holds up a
 * dispatch: the caller runs the work itself and only ever waits for tasks that a worker has
 * already begun. Tasks are described entirely by their kernel and arguments (the worker's
 * scratch included) and kernels keep no state, so the results are bitwise the same whichever
 * thread runs a task. (An earlier version also stopped waking workers that kept arriving late;
 * it cost the mid-size speed-ups on an idle machine and measured no gain on a busy one.)
 */
import {
  H_FAILED,
  H_GENERATION,
  H_PENDING,
  H_READY,
  H_SHUTDOWN,
  MAX_ARGS,
  SPIN,
  type StartMessage,
  controlBytes,
  slotByte,
} from "./protocol.js";

/** What the pool needs of its runtime. */
export interface PoolHost {
  readonly memory: WebAssembly.Memory;
  readonly module: WebAssembly.Module;
  /** The calling thread's instance of the kernels (it runs tasks no worker has claimed). */
  readonly kernels: Readonly<Record<string, unknown>>;
  alloc(bytes: number, what: string): number;
}

type Fn = (...args: number[]) => void;

/** How a pool's dispatches went, for diagnostics and tests. */
export interface PoolCounts {
  /** Dispatches (calls of `go` that handed tasks out). */
  dispatches: number;
  /** Tasks handed out to workers. */
  tasks: number;
  /** Of those, tasks the calling thread ran itself because no worker had started them. */
  ranByCaller: number;
}

interface AnyWorker {
  postMessage(m: unknown): void;
  terminate(): unknown;
}

export interface PoolOptions {
  /** Threads in all, the calling one included (≥ 2). */
  threads: number;
  /** Names of the kernels workers may run, in the order tasks index them. */
  kernels: readonly string[];
  /** How long a dispatch may wait for workers before it is declared failed (ms). */
  timeoutMs?: number;
  /** Where the worker script is (default: dist/threads/worker.js beside this file). */
  workerUrl?: URL;
  /**
   * The export a worker runs for a kernel name, where it is not the name itself (the GEMM's
   * 4 × 16 tiles: gemm runs gemm_wide; the relaxed build's 4 × 8: gemm_4x8 and the _4x8
   * convolutions; see src/runtime/gemm-tile.ts). The calling thread's `kernels` map its names
   * the same way.
   */
  exports?: Readonly<Record<string, string>>;
}

function defaultWorkerUrl(): URL {
  const here = import.meta.url;
  // Run from TypeScript sources (tests), the compiled worker is in dist/.
  if (here.endsWith(".ts")) return new URL("../../dist/threads/worker.js", here);
  return new URL("./worker.js", here);
}

export class Pool {
  readonly threads: number;
  private readonly head: Int32Array;
  private readonly slotI: Int32Array[] = [];
  private readonly slotArgs: Float64Array[] = [];
  private readonly names: readonly string[];
  private readonly index = new Map<string, number>();
  private readonly fns: Fn[];
  private readonly timeoutMs: number;
  private canBlock = true;
  /** See PoolCounts. */
  readonly counts: PoolCounts = { dispatches: 0, tasks: 0, ranByCaller: 0 };
  private closed = false;
  /** Set when a worker died or timed out: the pool refuses further work. */
  broken: string | null = null;

  private constructor(
    private readonly workers: AnyWorker[],
    readonly ctrl: number,
    memory: WebAssembly.Memory,
    kernels: Readonly<Record<string, unknown>>,
    opts: PoolOptions,
  ) {
    this.threads = opts.threads;
    this.names = opts.kernels;
    this.fns = opts.kernels.map((n) => {
      const f = kernels[n];
      if (typeof f !== "function") throw new Error(`threads: kernel ${n} is not exported by the module`);
      return f as Fn;
    });
    opts.kernels.forEach((n, i) => this.index.set(n, i));
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.head = new Int32Array(memory.buffer, ctrl, 16);
    for (let w = 1; w < opts.threads; w++) {
      const s = slotByte(ctrl, w);
      this.slotI[w] = new Int32Array(memory.buffer, s, 2);
      this.slotArgs[w] = new Float64Array(memory.buffer, s + 8, MAX_ARGS);
    }
    try {
      // The main thread of a browser page may not block; it spins instead.
      Atomics.wait(this.head, 15, 1, 0);
    } catch {
      this.canBlock = false;
    }
  }

  static async start(host: PoolHost, opts: PoolOptions): Promise<Pool> {
    const n = opts.threads;
    const ctrl = host.alloc(controlBytes(n), "threads");
    new Int32Array(host.memory.buffer, ctrl, controlBytes(n) / 4).fill(0);
    const url = opts.workerUrl ?? defaultWorkerUrl();
    const workers: AnyWorker[] = [];
    const errors: string[] = [];
    const g = globalThis as { Deno?: unknown; Worker?: new (u: URL, o: object) => AnyWorker & { onerror: unknown } };
    // Browsers use Web Workers; Node, Bun and Deno use node:worker_threads, whose workers can be
    // unref'd so a process that forgets sg.close() still exits.
    const useWeb = typeof g.Worker === "function" && g.Deno === undefined && (typeof (globalThis as { window?: unknown }).window !== "undefined" || typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== "undefined");
    type NodeWorkerCtor = new (u: URL) => AnyWorker & { unref(): void; on(ev: string, cb: (e: unknown) => void): void };
    const NodeWorker: NodeWorkerCtor | null = useWeb ? null : ((await import("node:worker_threads")).Worker as unknown as NodeWorkerCtor);
    for (let id = 1; id < n; id++) {
      const kernels = opts.kernels.map((name) => opts.exports?.[name] ?? name);
      const msg: StartMessage = { module: host.module, memory: host.memory, ctrl, id, kernels };
      if (NodeWorker) {
        const w = new NodeWorker(url);
        w.unref(); // a process that forgets sg.close() still exits
        w.on("error", (e) => errors.push(`worker ${id}: ${String((e as Error)?.message ?? e)}`));
        w.postMessage(msg);
        workers.push(w);
      } else {
        const w = new g.Worker!(url, { type: "module" });
        (w as unknown as { onerror: (e: { message?: string; preventDefault?: () => void }) => void }).onerror = (e) => {
          errors.push(`worker ${id}: ${e.message ?? "failed to start"}`);
          e.preventDefault?.();
        };
        w.postMessage(msg);
        workers.push(w);
      }
    }
    const head = new Int32Array(host.memory.buffer, ctrl, 16);
    const t0 = Date.now();
    while (Atomics.load(head, H_READY) < n - 1) {
      if (errors.length > 0 || Date.now() - t0 > 20_000) {
        for (const w of workers) w.terminate();
        throw new Error(`init: threads: workers did not start (${errors.join("; ") || "timed out after 20 s"})`);
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    return new Pool(workers, ctrl, host.memory, host.kernels, opts);
  }

  /** Index of a kernel in the task table. */
  kernel(name: string): number {
    const i = this.index.get(name);
    if (i === undefined) throw new Error(`threads: kernel ${name} is not in the task table`);
    return i;
  }

  /** The argument slots of worker w (1 … threads − 1), to fill before `go`. */
  args(w: number, kernel: number): Float64Array {
    this.slotI[w]![1] = kernel;
    return this.slotArgs[w]!;
  }

  /**
   * Hands tasks to workers 1 … count (written into their slots by `args`); `own` runs the
   * calling thread's share meanwhile. Then the calling thread claims and runs every task no
   * worker has started yet, and waits only for those a worker is running. Returns when all
   * are done; throws if one failed.
   */
  go(count: number, own: () => void): void {
    if (this.broken) throw new Error(`threads: the worker pool is unusable: ${this.broken}`);
    if (this.closed) throw new Error("threads: the worker pool has been closed");
    this.counts.dispatches++;
    this.counts.tasks += count;
    if (count === 0) return own();
    const head = this.head;
    // 0 marks a claimed (or empty) slot, so a generation is never 0.
    let gen = (Atomics.load(head, H_GENERATION) + 1) | 0;
    if (gen === 0) gen = 1;
    for (let w = 1; w <= count; w++) Atomics.store(this.slotI[w]!, 0, gen);
    Atomics.store(head, H_PENDING, count);
    Atomics.store(head, H_GENERATION, gen);
    Atomics.notify(head, H_GENERATION);
    let error: unknown = null;
    try {
      own();
    } catch (e) {
      error = e;
    }
    let late = 0;
    for (let w = count; w >= 1; w--) {
      if (Atomics.compareExchange(this.slotI[w]!, 0, gen, 0) !== gen) continue; // a worker has it
      late++;
      if (error === null) {
        try {
          this.runHere(w);
        } catch (e) {
          error = e;
        }
      }
      Atomics.sub(head, H_PENDING, 1);
    }
    this.counts.ranByCaller += late;
    this.wait();
    const failed = Atomics.exchange(head, H_FAILED, 0);
    if (error) throw error;
    if (failed !== 0) {
      const k = this.names[this.slotI[failed]![1]!] ?? "a kernel";
      throw new Error(`threads: worker ${failed} failed while running ${k}`);
    }
  }

  /**
   * Runs worker w's task (its kernel and arguments as `args` wrote them) on the calling thread;
   * a failure is reported as the worker's would be, with the reason.
   */
  private runHere(w: number): void {
    const x = this.slotArgs[w]!;
    const k = this.slotI[w]![1]!;
    try {
      this.fns[k]!(x[0]!, x[1]!, x[2]!, x[3]!, x[4]!, x[5]!, x[6]!, x[7]!, x[8]!, x[9]!,
        x[10]!, x[11]!, x[12]!, x[13]!, x[14]!, x[15]!, x[16]!, x[17]!, x[18]!, x[19]!, x[20]!, x[21]!);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new Error(`threads: worker ${w}'s share failed while running ${this.names[k] ?? "a kernel"} (on the calling thread: ${why})`, { cause: e });
    }
  }

  private wait(): void {
    const head = this.head;
    for (let i = 0; i < SPIN; i++) if (Atomics.load(head, H_PENDING) === 0) return;
    const t0 = Date.now();
    for (;;) {
      const p = Atomics.load(head, H_PENDING);
      if (p === 0) return;
      if (this.canBlock) Atomics.wait(head, H_PENDING, p, 1000);
      if (Date.now() - t0 > this.timeoutMs) {
        this.broken = `workers did not finish within ${this.timeoutMs / 1000} s (a worker may have died)`;
        throw new Error(`threads: ${this.broken}`);
      }
    }
  }

  /** Stops the workers. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.head, H_SHUTDOWN, 1);
    Atomics.add(this.head, H_GENERATION, 1);
    Atomics.notify(this.head, H_GENERATION);
    for (const w of this.workers) w.terminate();
  }
}
