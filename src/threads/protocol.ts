/**
 * The layout of the pool's control block in shared linear memory, known to both the
 * calling thread (pool.ts) and the workers (worker.ts). All fields are Int32 or Float64
 * views over the same bytes; slots are 64 bytes apart so workers do not share cache lines.
 *
 *   header (64 bytes, Int32 index):
 *     [0] generation  bumped once per dispatch; workers wait on it
 *     [1] pending     workers still running this generation's tasks; the caller waits on it
 *     [2] failed      id of the first worker whose task threw (0: none)
 *     [3] shutdown    1: workers leave their loop
 *     [4] ready       workers that have started and are waiting
 *   one slot per worker w ≥ 1, at byte 64·(w + 1) … (SLOT_BYTES each):
 *     Int32 [0] generation of the task in this slot, 0 once claimed: the worker or the calling
 *               thread claims it by compare-exchange (generation → 0) and only the winner runs it
 *     Int32 [1] kernel index into KERNELS
 *     Float64 [1 …] arguments (up to MAX_ARGS)
 */
export const HEADER_BYTES = 64;
export const SLOT_BYTES = 192;
// 22 arguments (conv2d_forward_bias_act takes 21) and the slot's 8-byte head fit its 192 bytes.
export const MAX_ARGS = 22;

export const H_GENERATION = 0;
export const H_PENDING = 1;
export const H_FAILED = 2;
export const H_SHUTDOWN = 3;
export const H_READY = 4;

export function slotByte(ctrl: number, worker: number): number {
  return ctrl + HEADER_BYTES + (worker - 1) * SLOT_BYTES;
}

export function controlBytes(threads: number): number {
  return HEADER_BYTES + Math.max(0, threads - 1) * SLOT_BYTES;
}

/** Message that starts a worker. */
export interface StartMessage {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  ctrl: number;
  id: number;
  kernels: readonly string[];
}

/**
 * How many times a thread polls a counter before it sleeps in Atomics.wait (about 50–100 µs
 * of polling). Waking a sleeping thread costs tens of microseconds on a virtual machine;
 * kernels of a training step arrive back to back, so a worker that polls briefly after each
 * task picks up the next one within a microsecond.
 */
export const SPIN = 1 << 16;
