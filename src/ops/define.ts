/**
 * How an op definition becomes a graph method (`g.relu(x)`) and an eager function
 * (`sg.relu(x, out?)`), with full types and doc comments, without writing either by hand.
 *
 * The mechanism is a TYPED MAPPING, not generated code. Each op family exports a `methods`
 * object; each entry is written once, with its doc comment, as a function from the user's
 * arguments to an op call:
 *
 *     export const methods = {
 *       /** max(x, 0). *\/
 *       relu: method(1, (x: In) => call(reluOp, [x], { p: 0 })),
 *     };
 *
 * `In` stands for "a graph Node or an eager Tensor" (also as a field of an options object:
 * conv2d's `{ bias }`). src/ops/registry.ts merges the families'
 * `methods`; the Graph class and the SimdGrad class install one small forwarding function per
 * entry on their prototypes, and declare their types by mapping over the merged object:
 * `GraphMethods<M>` turns `(x: In, slope?: number) => OpCall` into
 * `(x: Node, slope?: number) => Node`, and `EagerMethods<M>` into
 * `(x: Tensor, slope?: number, out?: Tensor) => Tensor`. Parameter names, optional
 * parameters and each entry's doc comment carry over (the mapped types are homomorphic, so
 * editors and the published .d.ts show the entry's comment on `g.relu` and `sg.relu`).
 *
 * Why a mapping rather than generated source: nothing to regenerate or forget, no build
 * step, and a new op is one entry in its own family file (plus the family's line in
 * registry.ts for a new family). The price: the .d.ts shows the methods as a mapped type
 * rather than as written-out declarations.
 *
 * An entry whose eager form needs a different signature (matmul's options with `out` and
 * `accumulate`, the backward helpers) says `eager: false` and SimdGrad keeps a hand-written
 * method for it.
 */
import type { AttrValue, OpDef } from "./op.js";

declare const inBrand: unique symbol;
/** An op input in a method entry: a Node in the graph method, a Tensor in the eager function. */
export interface In {
  readonly [inBrand]: "a graph Node or an eager Tensor";
}

/** One op application: which op, its inputs (in order) and its attributes. */
export interface OpCall {
  readonly op: OpDef<any, any>;
  readonly inputs: readonly In[];
  readonly attrs: unknown;
}

/** Builds an OpCall, checking the attrs' type against the op's. */
export function call<A, P>(op: OpDef<A, P>, inputs: readonly In[], attrs: A): OpCall {
  return { op, inputs, attrs };
}

/** A user-facing method: how its arguments become an op call. */
export interface Method<F extends (...args: any[]) => OpCall = (...args: any[]) => OpCall, E extends boolean = boolean> {
  /** How many arguments precede the eager form's optional `out` tensor. */
  readonly arity: number;
  /** The user's arguments → the op call; validates the non-tensor arguments. */
  readonly call: F;
  /** false: no generated eager function (SimdGrad has a hand-written one, or none). */
  readonly eager: E;
}

/** A method entry; `arity` is the number of user arguments (the eager `out` comes after them). */
export function method<F extends (...args: any[]) => OpCall, E extends boolean = true>(arity: number, f: F, opts: { eager?: E } = {}): Method<F, E> {
  return { arity, call: f, eager: (opts.eager ?? true) as E };
}

/** Defines an op, checking that its attributes are serialisable (numbers, booleans, strings, number lists, null). */
export function defineOp<A extends void | { readonly [K in keyof A]: AttrValue | null }, P = undefined>(def: OpDef<A, P>): OpDef<A, P> {
  return def;
}

// ------------------------------------------------------------------ the mapping

// An options object with an In among its fields (conv2d's { bias }) has those fields mapped too.
type HasIn<T> = [Extract<T[keyof T], In>] extends [never] ? false : true;
type Subst1<T, R> = T extends In
  ? R
  : T extends readonly In[]
    ? R[]
    : T extends object
      ? HasIn<T> extends true ? { [K in keyof T]: Subst1<T[K], R> } : T
      : T;
type Subst<P extends readonly unknown[], R> = { [I in keyof P]: Subst1<P[I], R> };

type Fn<M> = M extends Method<infer F, boolean> ? F : never;
type EagerKeys<M> = { [K in keyof M]: M[K] extends { readonly eager: true } ? K : never }[keyof M];

/** The graph methods of a methods object, with N the node type. */
export type GraphMethods<M, N> = {
  [K in keyof M]: (...args: Subst<Parameters<Fn<M[K]>>, N>) => N;
};

/** The eager functions of a methods object, with T the tensor type: the method's arguments, then `out?`. */
export type EagerMethods<M, T> = {
  [K in keyof M as K extends EagerKeys<M> ? K : never]: (...args: [...Subst<Parameters<Fn<M[K]>>, T>, out?: T]) => T;
};
