/**
 * The worker pool never waits for a worker that has not started its task: the calling thread
 * claims and runs such tasks itself once its own share is done. On a busy machine (or with a
 * worker that died) a dispatch then takes about one thread's time instead of waiting for the
 * operating system to schedule the worker (which once held a dispatch for over 60 s), and the
 * results are bitwise those of one thread whichever thread ran each task.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { init, type SimdGrad } from "../src/index.js";
import { Pool } from "../src/threads/pool.js";
import { TASK_KERNELS, threadedKernels } from "../src/threads/split.js";
import type { Kernels } from "../src/runtime/kernels.js";
import { BUILD, randomArray } from "./helpers.js";

let sg1: SimdGrad;
let sg2: SimdGrad;
const extraPools: Pool[] = [];

beforeAll(async () => {
  sg1 = await init({ relaxedSimd: BUILD === "relaxed" });
  sg2 = await init({ threads: 2, relaxedSimd: BUILD === "relaxed" });
});
afterAll(async () => {
  for (const p of extraPools) p.close();
  await sg1.close();
  await sg2.close();
});

/** A second pool over sg2's memory whose worker is the given fixture; sg2 computes through it. */
async function usePool(fixture: string, timeoutMs: number): Promise<Pool> {
  const rt = sg2.rt;
  const pool = await Pool.start(
    { memory: rt.memory, module: rt.module, kernels: rt.rawKernels as unknown as Record<string, unknown>, alloc: (b, w) => rt.arena.alloc(b, w) },
    { threads: 2, kernels: TASK_KERNELS, timeoutMs, workerUrl: new URL(`./fixtures/${fixture}`, import.meta.url) },
  );
  extraPools.push(pool);
  rt.kernels = threadedKernels(rt.rawKernels, pool, rt.workerScratch, { gemmMinMacs: 0, elementwiseMin: 0 }) as Kernels;
  return pool;
}

/** A small training-like sequence: products in every transpose case and activations. */
function work(sg: SimdGrad): Float32Array[] {
  const out: Float32Array[] = [];
  for (const [m, n, k] of [[64, 96, 80], [33, 17, 129], [5, 200, 7]] as const) {
    for (const [tA, tB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      const a = sg.tensor(tA ? [k, m] : [m, k], randomArray(m * k, m + k));
      const b = sg.tensor(tB ? [n, k] : [k, n], randomArray(k * n, n + k));
      const c = sg.matmul(a, b, { transposeA: tA, transposeB: tB });
      const s = sg.sigmoid(c);
      out.push(c.toArray(), s.toArray());
      for (const t of [a, b, c, s]) t.dispose();
    }
  }
  return out;
}

describe("a worker pool whose workers are late or absent", () => {
  it("finishes every dispatch on the calling thread when the worker never takes a task, with one thread's results", async () => {
    const want = work(sg1);
    const pool = await usePool("absent-worker.mjs", 2000);
    const got = work(sg2); // a dispatch that waited for the worker would throw after 2 s
    expect(pool.broken).toBeNull();
    expect(pool.counts.tasks).toBeGreaterThan(20);
    expect(pool.counts.ranByCaller).toBe(pool.counts.tasks);
    expect(got.length).toBe(want.length);
    for (let i = 0; i < want.length; i++) expect(Buffer.from(got[i]!.buffer).equals(Buffer.from(want[i]!.buffer)), `result ${i}`).toBe(true);
  });

  it("gives one thread's results, bit for bit, when the worker wakes late and the tasks are shared", async () => {
    const want = work(sg1);
    const pool = await usePool("late-worker.mjs", 10_000);
    let got: Float32Array[] = [];
    for (let r = 0; r < 5; r++) got = work(sg2);
    expect(pool.broken).toBeNull();
    expect(pool.counts.ranByCaller).toBeGreaterThan(0); // the caller took some …
    for (let i = 0; i < want.length; i++) expect(Buffer.from(got[i]!.buffer).equals(Buffer.from(want[i]!.buffer)), `result ${i}`).toBe(true);
  });

  it("still splits work with workers that are on time", () => {
    const rt = sg2.rt;
    const pool = rt.threadPool!;
    rt.kernels = threadedKernels(rt.rawKernels, pool, rt.workerScratch) as Kernels;
    const before = { ...pool.counts };
    const a = sg2.tensor([512, 512], randomArray(512 * 512, 1));
    const b = sg2.tensor([512, 512], randomArray(512 * 512, 2));
    // A 512³ product takes milliseconds, far longer than waking a worker: the worker takes
    // its task (the machine may be busy, so allow it to be late for a while, not for ever).
    const byWorker = () => pool.counts.tasks - before.tasks - (pool.counts.ranByCaller - before.ranByCaller);
    for (let r = 0; r < 40 && byWorker() === 0; r++) sg2.matmul(a, b).dispose();
    a.dispose();
    b.dispose();
    expect(byWorker()).toBeGreaterThan(0);
  });
});
