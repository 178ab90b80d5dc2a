// The two runtimes every fuzz test compares: one thread and two (whose results must be bitwise
// equal), on the build this test file runs for.
import { afterAll, beforeAll } from "vitest";
import { init, type SimdGrad } from "../../src/index.js";
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
    rt.two = await init({ relaxedSimd: BUILD === "relaxed", threads: 2 });
  });
  afterAll(async () => {
    await rt.one?.close();
    await rt.two?.close();
  });
  return rt;
}
