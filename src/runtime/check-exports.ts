/**
 * The debug build's load-time check of its exports against the kernel declarations, in its
 * own module: src/runtime/load.ts imports it only when it loads the debug build, so the
 * release path (and the browser module) does not carry the kernel list.
 */
import { KERNEL_ARITY } from "./kernel-manifest.js";

/**
 * The debug build checks, at load time, that every kernel the TypeScript side declares is an
 * exported function with the declared number of parameters (src/runtime/kernel-manifest.ts,
 * generated from the declarations), so a renamed kernel or a changed signature fails here, by
 * name, instead of as a wrong call later.
 */
export function checkKernelExports(exports: Record<string, unknown>): void {
  const problems: string[] = [];
  for (const [name, arity] of Object.entries(KERNEL_ARITY)) {
    const f = exports[name] as ((...a: unknown[]) => unknown) & { original?: (...a: unknown[]) => unknown };
    // The debug build's loader wraps each export; its `original` is the wasm function.
    const n = typeof f === "function" ? (f.original ?? f).length : -1;
    if (typeof f !== "function") problems.push(`${name} is not exported`);
    else if (n !== arity) problems.push(`${name} takes ${n} parameters, declared ${arity}`);
  }
  if (problems.length > 0) throw new Error(`init: the debug module does not match the kernel declarations: ${problems.join("; ")}`);
}

