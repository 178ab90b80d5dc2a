/**
 * Building a graph: inputs, params, op nodes (from any op definition) and custom nodes, each
 * with its shape inferred and checked when it is created, and names (`op#id` unless given).
 */
import type { OpDef } from "../ops/op.js";
import { type Shape, checkShape, fmtShape, sizeOf } from "../runtime/shape.js";
import { Tensor, checkTensor, pinView, staleHint, typeName, unpinView } from "../runtime/tensor.js";
import { INIT_NAMES, type InitName, initValues } from "../nn/init.js";
import { embeddingOp, anyRowSet, attachRowSet } from "../ops/embedding.js";
import { type GraphCore, hasFree } from "./core.js";
import { checkKernelNeeded } from "../runtime/kernel-set.js";
import type { CustomOp } from "./custom.js";
import type { CustomHost } from "./custom-host.js";
import { Node } from "./node.js";
import type { Planner } from "./plan.js";

export interface ParamOptions {
  /** Initial values: a scheme (default "zeros" for 0-D/1-D, "xavier" otherwise)… */
  init?: InitName;
  /** …or exactly `size` numbers (an array, a typed array, or a Tensor of the same runtime, copied). */
  data?: ArrayLike<number> | Tensor;
  name?: string;
  /** Seed of the initialiser (reproducible across runtimes). */
  seed?: number;
  /** Standard deviation for "normal" (default 0.01), half-width for "uniform" (default 0.05). */
  std?: number;
}

export interface InputOptions {
  /** Give this input a gradient too (dS/dx, the loss's gradient with respect to the input itself: saliency, adversarial examples). */
  requiresGrad?: boolean;
}

/** An input shape whose dimensions are non-negative integers or -1 (set by each feed). */
export function checkInputShape(shape: unknown, op: string): Shape {
  if (Array.isArray(shape) && shape.includes(-1)) {
    for (const d of shape) {
      if (typeof d !== "number" || !Number.isInteger(d) || d < -1) {
        throw new RangeError(`${op}: shape ${fmtShape(shape as number[])} has a dimension that is neither a non-negative integer nor -1 (${String(d)})`);
      }
    }
    return Object.freeze((shape as number[]).slice());
  }
  return checkShape(shape, op);
}

/**
 * The declared output shape of a shape rule over inputs that may have -1 dimensions: the rule
 * runs with every -1 set to 2 and again set to 3, and the output dimensions that differ are
 * -1 (they follow the fed dimension).
 */
export function declaredShape(rule: (shapes: Shape[]) => Shape, decl: readonly Shape[]): Shape {
  if (!decl.some(hasFree)) return rule(decl.slice());
  const probe = (v: number) => {
    try {
      return rule(decl.map((s) => s.map((d) => (d === -1 ? v : d))));
    } catch (e) {
      if (e instanceof Error) e.message += ` (checked with each -1 dimension set to ${v}; inputs: ${decl.map(fmtShape).join(", ")})`;
      throw e;
    }
  };
  const a = probe(2), b = probe(3);
  if (a.length !== b.length) throw new Error(`shape: the rank of the result depends on the -1 dimension (inputs ${decl.map(fmtShape).join(", ")})`);
  return Object.freeze(a.map((d, i) => (d === b[i] ? d : -1)));
}

/** @internal the building side of one graph. */
export class Builder {
  constructor(
    private readonly core: GraphCore,
    private readonly planner: Planner,
    private readonly customs: CustomHost,
  ) {}

  input(shape: readonly number[], name: string, opts: InputOptions): Node {
    const core = this.core;
    const s = checkInputShape(shape, "input");
    if (typeof name !== "string" || name.length === 0) throw new TypeError(`input: a name is required to feed it, got ${String(name)}`);
    this.claimName(name, "input");
    const node = new Node(core.owner, core.nodes.length, "input", "input", [], s, name, opts.requiresGrad === true);
    if (hasFree(s)) {
      // A -1 dimension is set by each feed: the value (and gradient) buffers belong to the plan of each shape.
      this.planner.dropPlan();
      return this.register(node);
    }
    node._value = core.leafTensor(s, name);
    node._value.fill(0);
    if (node.requiresGrad) node._grad = core.leafTensor(s, `grad of ${name}`).fill(0);
    return this.register(node);
  }

  param(shape: readonly number[], opts: ParamOptions): Node {
    const core = this.core;
    const rt = core.rt;
    const s = checkShape(shape, "param");
    const name = opts.name ?? `param${core.paramList.length}`;
    this.claimName(name, "param");
    if (opts.init !== undefined && !INIT_NAMES.includes(opts.init)) {
      throw new Error(`param: unknown init '${String(opts.init)}' for '${name}'; use one of ${INIT_NAMES.join(", ")}`);
    }
    if (opts.data instanceof Tensor) {
      checkTensor(opts.data, "param", rt, `data for '${name}'`);
      if (opts.data.size !== sizeOf(s)) throw new RangeError(`param: '${name}' ${fmtShape(s)} takes ${sizeOf(s)} values, the data tensor ${fmtShape(opts.data.shape)} has ${opts.data.size}`);
    }
    if (opts.data !== undefined) {
      if (opts.init !== undefined) throw new Error(`param: '${name}' has both init and data; give one`);
      if (!(opts.data instanceof Tensor) && (opts.data === null || typeof opts.data.length !== "number" || opts.data.length !== sizeOf(s))) {
        throw new RangeError(`param: '${name}' ${fmtShape(s)} takes ${sizeOf(s)} values, data has ${opts.data?.length ?? typeName(opts.data)}${opts.data ? staleHint(opts.data) : ""}`);
      }
    }
    // Data that is a view of linear memory (t.data) is re-derived after the allocation.
    const data = opts.data === undefined || opts.data instanceof Tensor ? opts.data : pinView(rt, opts.data);
    const node = new Node(core.owner, core.nodes.length, "param", "param", [], s, name, true);
    node._value = core.leafTensor(s, name);
    if (data !== undefined) node._value.set(data instanceof Tensor ? data : unpinView(rt, data));
    else initValues(node._value.data, s, opts.init ?? (s.length >= 2 ? "xavier" : "zeros"), opts.seed ?? 1 + core.paramList.length, opts.std);
    node._grad = core.leafTensor(s, `grad of ${name}`).fill(0);
    node._provided = true;
    core.paramList.push(node);
    return this.register(node);
  }

  /** A node applying op definition `op` to `inputs`. */
  op<A>(op: OpDef<A>, inputs: Node[], attrs: A): Node {
    const core = this.core;
    core.alive(op.name);
    checkKernelNeeded(op.name, op.needs, core.rt.rawKernels);
    core.checkInputs(op.name, inputs);
    const shape = declaredShape((shapes) => op.shape(shapes, attrs), inputs.map((n) => n.declShape));
    const requiresGrad = op.backward !== undefined && inputs.some((n) => n.requiresGrad);
    const node = new Node(core.owner, core.nodes.length, "op", op.name, inputs, shape, this.autoName(op.name), requiresGrad, op as OpDef<unknown>, attrs);
    return this.register(node);
  }

  custom(op: CustomOp, inputs: Node[]): Node {
    const core = this.core;
    if (op === null || typeof op !== "object" || typeof op.forward !== "function") {
      throw new TypeError("custom: op must be an object with a forward(ctx, ...inputs) function");
    }
    const name = typeof op.name === "string" && op.name ? op.name : "custom";
    core.checkInputs(name, inputs);
    let shape: Shape;
    if (typeof op.shape === "function") {
      const rule = op.shape;
      shape = declaredShape((shapes) => checkShape(rule(...shapes), name), inputs.map((n) => n.declShape));
    } else if (inputs.some((n) => hasFree(n.declShape))) {
      throw new Error(`${name}: an input has a -1 dimension (${inputs.map((n) => n.describe()).join(", ")}); give the custom op a shape(...inputShapes) function`);
    } else {
      shape = this.customs.dryRunShape(op, name, inputs);
    }
    const requiresGrad = inputs.some((n) => n.requiresGrad) && typeof op.backward === "function";
    const node = new Node(core.owner, core.nodes.length, "custom", name, inputs, shape, this.autoName(name), requiresGrad, null, undefined, op);
    return this.register(node);
  }

  rename(node: Node, name: string): Node {
    const core = this.core;
    core.own(node, "name");
    if (typeof name !== "string" || name.length === 0) throw new TypeError(`name: a name must be a non-empty string, got ${typeName(name)}`);
    if (name === node.name) return node;
    this.claimName(name, "name");
    core.byName.delete(node.name);
    node._name = name;
    core.byName.set(name, node);
    return node;
  }

  private register(node: Node): Node {
    this.trackLookupTables(node);
    return this.core.register(node);
  }

  /**
   * A param used as an embedding table gets a row set on its gradient (the rows a step used,
   * so zeroGrad and optimizers touch only those); a table that any other op also uses may
   * get a dense gradient and is then treated as a whole.
   */
  private trackLookupTables(node: Node): void {
    const core = this.core;
    const table = node.op === embeddingOp ? node.inputs[1]! : null;
    if (table !== null && table.kind === "param" && table._grad !== null && anyRowSet(table._grad) === null) {
      const V = table.shape[0]!, D = table.shape[1]!;
      const k = core.rt.kernels;
      const t = core.leafTensor([Math.ceil(k.rowset_bytes(V) / 4)], `rows used of ${table.name}`);
      k.rowset_init(t.ptr, V);
      const usedElsewhere = core.nodes.some((n) => n.inputs.includes(table));
      attachRowSet(table._grad, { ptr: t.ptr, rows: V, dim: D, dense: usedElsewhere });
    }
    node.inputs.forEach((inp, i) => {
      const rs = inp._grad !== null && !(node.op === embeddingOp && i === 1) ? anyRowSet(inp._grad) : null;
      if (rs !== null) rs.dense = true;
    });
  }

  private claimName(name: string, op: string): void {
    const prev = this.core.byName.get(name);
    if (prev !== undefined && (prev.kind === "input" || prev.kind === "param" || prev.name === name)) {
      throw new Error(`${op}: the name '${name}' is already used by ${prev.describe()}`);
    }
  }

  /** `op#id`, or with a suffix if a user already took that name. */
  private autoName(op: string): string {
    const base = `${op}#${this.core.nodes.length}`;
    let name = base;
    for (let k = 2; this.core.byName.has(name); k++) name = `${base}.${k}`;
    return name;
  }
}
