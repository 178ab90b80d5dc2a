/**
 * A pool worker: instantiates the kernels over the shared memory, then loops: wait for the
 * generation to change, claim the task in its slot (if it has one and the calling thread has
 * not claimed it first), run it, count it done.
 * Runs under Node's worker_threads and as a Web Worker (browsers, Deno).
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
  slotByte,
} from "./protocol.js";

type Fn = (...args: number[]) => void;

function run(msg: StartMessage): void {
  const { module, memory, ctrl, id } = msg;
  const instance = new WebAssembly.Instance(module, {
    env: {
      memory,
      abort: () => {
        throw new Error(`abort in worker ${id}`);
      },
    },
  });
  const exp = instance.exports as Record<string, unknown>;
  const fns: Fn[] = msg.kernels.map((name) => exp[name] as Fn);
  const head = new Int32Array(memory.buffer, ctrl, 16);
  const slot = slotByte(ctrl, id);
  const slotI = new Int32Array(memory.buffer, slot, 2);
  const args = new Float64Array(memory.buffer, slot + 8, MAX_ARGS);
  let seen = Atomics.load(head, H_GENERATION);
  Atomics.add(head, H_READY, 1);
  Atomics.notify(head, H_READY);
  for (;;) {
    for (let i = 0; i < SPIN && Atomics.load(head, H_GENERATION) === seen; i++);
    Atomics.wait(head, H_GENERATION, seen);
    if (Atomics.load(head, H_SHUTDOWN) === 1) return;
    seen = Atomics.load(head, H_GENERATION);
    // Claim the task; the calling thread may have claimed it already (this worker was late).
    if (seen === 0 || Atomics.compareExchange(slotI, 0, seen, 0) !== seen) continue;
    try {
      const f = fns[slotI[1]!]!;
      // Wasm ignores arguments beyond a function's arity, so one call shape serves all.
      f(args[0]!, args[1]!, args[2]!, args[3]!, args[4]!, args[5]!, args[6]!, args[7]!, args[8]!, args[9]!,
        args[10]!, args[11]!, args[12]!, args[13]!, args[14]!, args[15]!, args[16]!, args[17]!, args[18]!, args[19]!,
        args[20]!, args[21]!);
    } catch {
      Atomics.compareExchange(head, H_FAILED, 0, id);
    }
    if (Atomics.sub(head, H_PENDING, 1) === 1) Atomics.notify(head, H_PENDING);
  }
}

interface NodePort {
  once(ev: "message", cb: (m: StartMessage) => void): void;
}

if (typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== "undefined") {
  // A Web Worker (browsers, Deno): the start message arrives as an event.
  (globalThis as unknown as { onmessage: (e: MessageEvent<StartMessage>) => void }).onmessage = (e) => run(e.data);
} else {
  // Node's (or Bun's) worker_threads.
  const { parentPort } = (await import("node:worker_threads")) as unknown as { parentPort: NodePort };
  parentPort.once("message", run);
}
