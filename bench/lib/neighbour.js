// A neighbour that competes for the caches: a worker thread streaming over a buffer of `kib`
// KiB, one cache line at a time, for the life of the process. On a machine whose cores keep
// their L2 to themselves it runs on the other core and shares L3 (and memory bandwidth): a
// bench run beside it sees the smaller or busier outer cache of a loaded or smaller machine.
// Used by bench/gemm-blocking.mjs and bench/gemm-ab.mjs (--thrash=KiB).
import { Worker } from "node:worker_threads";

/** Starts the neighbour and resolves once it runs; it stops with the process. */
export async function startNeighbour(kib) {
  const w = new Worker(
    `const { parentPort } = require("node:worker_threads");
     const a = new Float64Array(${Number(kib)} * 128);
     parentPort.postMessage("up");
     for (;;) { for (let i = 0; i < a.length; i += 8) a[i] += 1; }`,
    { eval: true },
  );
  await new Promise((r) => w.once("message", r));
  w.unref();
}
