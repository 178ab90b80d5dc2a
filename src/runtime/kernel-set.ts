/**
 * The kernel sets a runtime can load: "all" (assembly/index.ts, every op) or "dense"
 * (assembly/dense.ts: GEMM, activations, elementwise maps and broadcasting, reductions,
 * strided copies, losses, softmax, optimizers and the health checks; a smaller .wasm for
 * pages that train dense layers only). An op whose kernels the dense set leaves out names
 * one of them in `OpDef.needs`; building or running it on a runtime without that kernel is
 * an error naming the op, before anything runs. A runtime holds one set for its life: the two
 * modules' start functions write different constant tables at the same place in memory
 * (src/runtime/static-layout.ts), so one memory never holds instances of both.
 */
export type KernelSet = "all" | "dense";

export const KERNEL_SETS: readonly KernelSet[] = ["all", "dense"];

/** A kernel of each family the dense set leaves out, and the family's name in messages. */
export const OUTSIDE_DENSE: Readonly<Record<string, string>> = {
  conv2d_forward: "convolutions",
  maxpool2d_forward: "pooling",
  avgpool2d_forward: "pooling",
  attention_forward: "attention",
  layernorm_forward: "layer norm",
  embedding_forward: "embeddings",
  dropout_forward: "dropout",
};

/** Which set a module's exports are: "all" when every family is there, else "dense". */
export function kernelSetOf(exports: Readonly<Record<string, unknown>>): KernelSet {
  return Object.keys(OUTSIDE_DENSE).every((k) => typeof exports[k] === "function") ? "all" : "dense";
}

/**
 * Throws, naming the op, when the runtime's kernels lack the one it `needs` (a family the
 * dense set leaves out); nothing has run or been allocated yet.
 */
export function checkKernelNeeded(op: string, needs: string | undefined, kernels: object): void {
  if (needs === undefined || typeof (kernels as Record<string, unknown>)[needs] === "function") return;
  const family = OUTSIDE_DENSE[needs] ?? needs;
  throw new Error(
    `${op}: this runtime loaded the dense kernel set (init({ kernels: "dense" })), which has no ${family}; ` +
      `init() without kernels: "dense" loads every op's kernels`,
  );
}
