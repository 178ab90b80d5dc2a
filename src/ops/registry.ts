/**
 * Every op, by its unique id, and every user-facing method, by name: the one list the graph,
 * the eager API, the thread pool, the generic op test and (later) the exporter read.
 *
 * A family file (src/ops/<family>.ts) exports its op definitions and a `methods` object
 * (see src/ops/define.ts); this file merges them: every exported OpDef of a family is
 * registered. A new op in an existing family touches only its family file; a new family adds
 * its import, its entry in FAMILIES and its `methods` line below.
 */
import type { KernelSplits, OpDef } from "./op.js";
import { opId } from "./op.js";
import type { EagerMethods, GraphMethods, Method } from "./define.js";
import * as activations from "./activations.js";
import * as shapes from "./shapes.js";
import * as broadcastOps from "./broadcast.js";
import * as unary from "./unary.js";
import * as elementwise from "./elementwise.js";
import * as linear from "./linear.js";
import * as losses from "./losses.js";
import * as matmul from "./matmul.js";
import * as reduce from "./reduce.js";
import * as softmax from "./softmax.js";
import * as layernorm from "./layernorm.js";
import * as embedding from "./embedding.js";
import * as dropout from "./dropout.js";
import * as attention from "./attention.js";
import * as conv from "./conv.js";
import * as pool from "./pool.js";

/** Every graph method / eager function that comes from an op definition, by name. */
export const METHODS = {
  ...matmul.methods,
  ...linear.methods,
  ...elementwise.methods,
  ...reduce.methods,
  ...losses.methods,
  ...activations.methods,
  ...shapes.methods,
  ...broadcastOps.methods,
  ...unary.methods,
  ...softmax.methods,
  ...layernorm.methods,
  ...embedding.methods,
  ...dropout.methods,
  ...attention.methods,
  ...conv.methods,
  ...pool.methods,
};

/** The op families: every OpDef a family module exports (directly, or in an exported record of them) is registered. */
const FAMILIES: readonly Record<string, unknown>[] = [
  matmul, linear, elementwise, reduce, losses, activations, shapes, broadcastOps, unary, softmax, layernorm, embedding, dropout, attention, conv, pool,
];

function isOpDef(v: unknown): v is OpDef<any, any> {
  return typeof v === "object" && v !== null && typeof (v as OpDef).name === "string" &&
    typeof (v as OpDef).shape === "function" && typeof (v as OpDef).forward === "function";
}

/** The ops a family module exports, in export order. */
function opsOf(mod: Record<string, unknown>): OpDef<any, any>[] {
  const out: OpDef<any, any>[] = [];
  for (const v of Object.values(mod)) {
    if (isOpDef(v)) out.push(v);
    else if (typeof v === "object" && v !== null && !Array.isArray(v)) for (const w of Object.values(v)) if (isOpDef(w)) out.push(w);
  }
  return out;
}

/** Every op definition (what the families export), in registration order, each once. */
export const OP_LIST: readonly OpDef<any, any>[] = [...new Set(FAMILIES.flatMap(opsOf))];

// Two families defining one method name would silently shadow each other in METHODS.
{
  const seen = new Map<string, number>();
  FAMILIES.forEach((f, i) => {
    for (const name of Object.keys((f.methods ?? {}) as object)) {
      if (seen.has(name)) throw new Error(`registry: method '${name}' is defined by two op families`);
      seen.set(name, i);
    }
  });
}

/** Ops by unique id. */
export const OPS: ReadonlyMap<string, OpDef<any, any>> = (() => {
  const m = new Map<string, OpDef<any, any>>();
  for (const op of OP_LIST) {
    const id = opId(op);
    if (m.has(id) && m.get(id) !== op) throw new Error(`registry: two ops share the id '${id}'`);
    m.set(id, op);
  }
  return m;
})();

/** How each kernel splits over threads, gathered from every op's `threads`. */
export function kernelSplits(extra: readonly OpDef<any, any>[] = []): KernelSplits {
  const out: Record<string, KernelSplits[string]> = {};
  for (const op of [...OP_LIST, ...extra]) {
    for (const [name, rule] of Object.entries(op.threads ?? {})) {
      const prev = out[name];
      if (prev !== undefined && JSON.stringify(prev) !== JSON.stringify(rule)) {
        throw new Error(`registry: kernel '${name}' has two split rules (${opId(op)})`);
      }
      out[name] = rule;
    }
  }
  return out;
}

export type Methods = typeof METHODS;
/** The graph methods, typed for node type N. */
export type GraphOps<N> = GraphMethods<Methods, N>;
/** The eager functions, typed for tensor type T. */
export type EagerOps<T> = EagerMethods<Methods, T>;

/** Installs one forwarding function per method on `proto`: `proto[name](...args)` → `run(call)`. */
export function installMethods(
  proto: object,
  run: (self: any, m: Method, args: unknown[], name: string) => unknown,
  filter: (m: Method) => boolean = () => true,
): void {
  for (const [name, m] of Object.entries(METHODS) as [string, Method][]) {
    if (!filter(m)) continue;
    if (Object.prototype.hasOwnProperty.call(proto, name)) throw new Error(`registry: method '${name}' is already defined`);
    Object.defineProperty(proto, name, {
      value: {
        [name](this: unknown, ...args: unknown[]) {
          return run(this, m, args, name);
        },
      }[name],
      writable: true,
      configurable: true,
    });
  }
}
