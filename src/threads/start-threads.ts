/**
 * What a runtime with worker threads needs beyond one thread: the pool and the kernels that
 * split their calls across it. Runtime.create imports this module only when asked for more
 * than one thread, so a page that runs on one thread never fetches it (in dist/browser it is
 * a file of its own beside simdgrad.min.js, loaded on first use).
 */
export { Pool } from "./pool.js";
export { TASK_KERNELS, threadedKernels, workerScratchBytes } from "./split.js";
