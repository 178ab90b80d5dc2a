// The two runtimes every fuzz test compares: one thread and two (whose results must be bitwise
// equal), on the build this test file runs for. The two-thread runtime splits every call that
// can split, however small (the size thresholds would keep almost every fuzzed graph on one
// thread, and the comparison would check nothing): each kernel's split, its blocks' edges and
// its worker scratch are then exercised on every graph. The two-thread runtime also runs the
// GEMM's 4 × 16 tiles (gemmTile; one thread runs what init picks for this host: on x64 4 × 8,
// or 5 × 8 in the relaxed build), whose results must be the same bits too.
import { afterAll, beforeAll } from "vitest";
import { init, type SimdGrad } from "../../src/index.js";
import { threadedKernels } from "../../src/threads/split.js";
import { BUILD } from "../helpers.js";

export interface Runtimes {
  one: SimdGrad;
  two: SimdGrad;
}

/** Opens both runtimes before the file's tests and closes them after; read them inside tests. */
export function oneAndTwoThreads(): Runtimes {
  const rt = {} as Runtimes;
  beforeAll(async () => {
    rt.one = await init({ relaxedSimd: BUILD === "relaxed" });
    rt.two = await init({ relaxedSimd: BUILD === "relaxed", threads: 2, gemmTile: "4x16" });
    const r = rt.two.rt;
    r.kernels = threadedKernels(r.rawKernels, r.threadPool!, r.workerScratch, { gemmMinMacs: 0, elementwiseMin: 0, workerBytes: () => r.workerScratchBytes });
  });
  afterAll(async () => {
    await rt.one?.close();
    await rt.two?.close();
  });
  return rt;
}
