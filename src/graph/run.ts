/**
 * Running a planned graph: forward (feeds checked and written, then one prepared op call per
 * node in topological order) and backward (seed, then each node's gradient rule in reverse
 * order, adding into its inputs' gradients). Neither allocates: every buffer and argument
 * list comes from the plan (./plan.ts).
 *
 * Backward follows the notes: d(loss)/d(loss) = 1, then visit the nodes in reverse
 * topological order and turn each node's upstream gradient into downstream gradients with
 * its local rule (downstream = upstream × local). Every op's backward adds into its inputs'
 * gradients, so a node used by several consumers sums what they send back.
 */
import type { Buf } from "../ops/op.js";
import { rowSetOf } from "../ops/embedding.js";
import type { Kernels } from "../runtime/kernels.js";
import { fmtShape, sameShape } from "../runtime/shape.js";
import { Tensor, checkTensor, pinView, staleHint, typeName, unpinView } from "../runtime/tensor.js";
import { type GraphCore, hasFree } from "./core.js";
import type { CustomHost } from "./custom-host.js";
import type { Node } from "./node.js";
import { type Planner, backwardPrep, sameKey } from "./plan.js";
import { topoSort } from "./topo.js";

export type Feeds = Record<string, Tensor | ArrayLike<number>>;

export interface RunOptions {
  /** After each node, check its value (and in backward its gradient) for NaN/Inf, and name the first node that has any. */
  checkFinite?: boolean;
}

/** @internal the running side of one graph. */
export class Runner {
  constructor(
    private readonly core: GraphCore,
    private readonly planner: Planner,
    private readonly customs: CustomHost,
  ) {}

  forward(feeds: Feeds, opts: RunOptions & { outputs?: readonly Node[] }): void {
    const core = this.core;
    const rt = core.rt;
    if (typeof feeds !== "object") throw new TypeError(`forward: feeds must be an object of input name → data, got ${typeName(feeds)}`);
    // Validate every feed before writing any, so a bad call changes nothing.
    for (const name in feeds) {
      const node = core.byName.get(name);
      if (node === undefined || node.kind !== "input") {
        const known = core.nodes.filter((n) => n.kind === "input").map((n) => `'${n.name}'`).join(", ") || "none";
        throw new Error(`forward: no input named '${name}' (inputs: ${known})`);
      }
      if (!hasFree(node.declShape)) this.checkValues(node, feeds[name]!, "forward");
    }
    const key = this.planner.feedKey(feeds);
    let plan = this.planner.plan;
    if (plan === null || plan.nodeCount !== core.nodes.length || !sameKey(plan.key, key)) {
      // Planning allocates (and may grow memory): feeds that are views of it (t.data) are re-derived.
      const pinned: Record<string, unknown> = {};
      for (const name in feeds) pinned[name] = feeds[name] instanceof Tensor ? feeds[name] : pinView(rt, feeds[name] as ArrayLike<number>);
      plan = this.planner.selectPlan(key);
      const fresh: Feeds = {};
      for (const name in pinned) fresh[name] = pinned[name] instanceof Tensor ? (pinned[name] as Tensor) : unpinView(rt, pinned[name] as ArrayLike<number>);
      feeds = fresh;
    }
    let order: Node[];
    if (opts.outputs) {
      for (const o of opts.outputs) core.own(o, "order");
      order = topoSort(opts.outputs);
    } else order = core.defaultOrder();
    for (const node of order) {
      if (node.kind === "input" && !node._provided && !(node.name in feeds)) {
        throw new Error(`forward: input ${node.describe()} was not fed (pass { ${node.name}: data } to forward)`);
      }
    }
    for (const name in feeds) this.write(core.byName.get(name)!, feeds[name]!);
    if (core.mode.training) core.mode.step++; // dropout draws a new mask per training run
    const k = rt.kernels;
    const run = ++core.runs;
    const steps = plan.steps;
    const check = opts.checkFinite === true;
    for (let i = 0; i < order.length; i++) {
      const node = order[i]!;
      node._stamp = run;
      const st = steps[node.id];
      if (st === undefined || st.fold !== null) continue; // leaves; folded views
      if (st.custom !== null) this.customs.runForward(node, st.custom);
      else st.op!.forward(k, st.xs, st.y, st.attrs, st.env);
      if (check) this.assertFinite(k, node, st.y, "forward", "value");
    }
    core.ranForward = true;
  }

  backward(output: Node, upstream: Tensor | ArrayLike<number> | null | undefined, opts: RunOptions): void {
    const core = this.core;
    const rt = core.rt;
    core.own(output, "backward");
    if (upstream === null) upstream = undefined;
    if (upstream === undefined && output.size !== 1) {
      throw new Error(`backward: ${output.describe()} is not a scalar; pass an upstream gradient of shape ${fmtShape(output.shape)}`);
    }
    if (upstream !== undefined) this.checkValues(output, upstream, "backward", "upstream gradient");
    if (!output.requiresGrad) {
      throw new Error(`backward: ${output.describe()} does not depend on any param or input with requiresGrad`);
    }
    const pinned = upstream === undefined || upstream instanceof Tensor ? upstream : pinView(rt, upstream);
    const plan = this.planner.ensurePlan("backward");
    if (pinned !== undefined && !(pinned instanceof Tensor)) upstream = unpinView(rt, pinned);
    if (!core.ranForward) {
      throw new Error(`backward: run forward before backward (no values for ${output.describe()} since the graph last changed)`);
    }
    if (output._folded) {
      throw new Error(
        `backward: ${output.describe()} is read by its consumers through its layout (no copy), so it has no gradient buffer ` +
          `of its own to seed; start backward from a node computed from it (or from its input)`,
      );
    }
    let order = plan.orders.get(output.id);
    if (order === undefined) {
      order = topoSort([output]);
      plan.orders.set(output.id, order);
    }
    // Backward differentiates the values of the last forward: every node it visits must have
    // been computed by that run, and no leaf set since (one integer compare per node).
    const run = core.runs;
    for (let i = 0; i < order.length; i++) {
      const n = order[i]!;
      if (n._stamp === run || order.length === 1) continue;
      if (n._stamp === -1) {
        throw new Error(`backward: ${n.describe()} was set after the last forward; run g.forward() again so backward differentiates the current values`);
      }
      if (n.kind === "op" || n.kind === "custom") {
        throw new Error(
          `backward: the last forward did not compute ${n.describe()}, which ${output.describe()} depends on; ` +
            `run g.forward() (or g.forward(feeds, { outputs: [..., ${output.name}] })) before backward`,
        );
      }
    }
    const k = rt.kernels;
    // Gradients of op nodes start from zero on every run (leaves keep accumulating): each is
    // zeroed here, or written whole by its first writer (backwardPrep).
    let prep = plan.backwardPreps.get(output.id);
    if (prep === undefined) {
      prep = backwardPrep(plan, order, output, this.planner.freshGrads);
      plan.backwardPreps.set(output.id, prep);
    }
    const zero = prep.zero;
    for (let i = 0; i < zero.length; i += 2) k.fill_f32(zero[i]!, zero[i + 1]!, 0);
    const fresh = prep.fresh;
    core.backwardRuns++;
    core.gradForwardRun = run;
    const seed = output._grad!;
    if (upstream === undefined) {
      if (output.kind === "op" || output.kind === "custom") k.fill_f32(seed.ptr, seed.size, 1);
      else {
        // A leaf's gradient accumulates: d(leaf)/d(leaf) = 1 is added to it.
        const d = seed.data;
        d[0] = d[0]! + 1;
      }
    } else if (output.kind === "op" || output.kind === "custom") this.writeInto(seed, upstream);
    else {
      // A leaf's gradient accumulates: add the upstream gradient to it.
      const d = seed.data;
      const u = upstream instanceof Tensor ? upstream.data : upstream;
      for (let i = 0; i < d.length; i++) d[i] = d[i]! + u[i]!;
    }
    const steps = plan.steps;
    const check = opts.checkFinite === true;
    for (let i = order.length - 1; i >= 0; i--) {
      const node = order[i]!;
      if (!node.requiresGrad) continue;
      node._gradStamp = core.backwardRuns;
      const st = steps[node.id];
      if (st === undefined || st.fold !== null) continue; // leaves; folded views (their consumers wrote into their input's gradient)
      if (st.custom !== null) this.customs.runBackward(node, st);
      else if (st.op!.backward) {
        st.env.fresh = fresh[node.id]!;
        st.op!.backward(k, st.xs, st.y, st.dy!, st.dxs, st.attrs, st.env);
      }
      if (check) {
        for (let j = 0; j < st.dxs.length; j++) {
          const dx = st.dxs[j];
          if (dx) this.assertFinite(k, st.gradNodes[j]!, dx, "backward", `gradient (sent back by ${node.describe()})`);
        }
      }
    }
    core.afterBackward?.(output);
  }

  /** Sets every leaf gradient (params, inputs with requiresGrad) to zero. */
  zeroGrad(): void {
    const k = this.core.rt.kernels;
    for (const n of this.core.nodes) {
      if ((n.kind !== "param" && n.kind !== "input") || !n._grad) continue;
      const rs = rowSetOf(n._grad);
      if (rs !== null) k.rowset_zero(n._grad.ptr, rs.dim, rs.ptr); // only the rows used
      else k.fill_f32(n._grad.ptr, n._grad.size, 0);
    }
  }

  private assertFinite(k: Kernels, node: Node, buf: Buf, phase: string, what: string): void {
    const bad = k.count_nonfinite(buf.ptr, buf.size);
    if (bad > 0) {
      const ins = node.inputs.map((n) => n.describe()).join(", ");
      throw new Error(`${phase}: ${node.describe()} has NaN or Inf in its ${what} (${bad} of ${buf.size} values)${ins ? `; its inputs: ${ins}` : ""}`);
    }
  }

  /** Checks data for a node: a Tensor of its shape, or exactly `size` numbers. */
  checkValues(node: Node, values: unknown, op: string, what = "data"): void {
    if (values instanceof Tensor) {
      checkTensor(values, op, this.core.rt, `${what} for ${node.describe()}`);
      if (!sameShape(values.shape, node.shape)) {
        throw new Error(`${op}: ${what} for ${node.describe()} has shape ${fmtShape(values.shape)}`);
      }
      return;
    }
    if (values === null || typeof values !== "object" || typeof (values as ArrayLike<number>).length !== "number") {
      throw new TypeError(`${op}: ${what} for ${node.describe()} must be a Tensor or an array of ${node.size} numbers, got ${typeName(values)}`);
    }
    const len = (values as ArrayLike<number>).length;
    if (len !== node.size) {
      throw new RangeError(`${op}: ${what} for ${node.describe()} must have ${node.size} values, got ${len}${staleHint(values as ArrayLike<number>)}`);
    }
  }

  /** Writes a leaf's value. */
  write(node: Node, values: Tensor | ArrayLike<number>): void {
    this.writeInto(node._value!, values);
    node._provided = true;
  }

  private writeInto(dst: Tensor, values: Tensor | ArrayLike<number>): void {
    if (values instanceof Tensor) {
      if (values.ptr !== dst.ptr) this.core.rt.kernels.copy_f32(values.ptr, dst.ptr, dst.size);
    } else {
      dst.data.set(values);
    }
  }
}
