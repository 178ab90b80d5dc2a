/**
 * Hosting custom ops (see ./custom.ts for what users write): the dry run that finds an output
 * shape, running the user's forward and backward with every check on what they return, and
 * disposing what their code allocated (never a tensor the graph owns or still uses).
 */
import { type Shape, fmtShape, sameShape } from "../runtime/shape.js";
import { Tensor, allocTensor, checkTensor, typeName } from "../runtime/tensor.js";
import type { GraphCore } from "./core.js";
import { type CustomOp, CustomState } from "./custom.js";
import type { Node } from "./node.js";

/** What a custom node's run needs of its plan step. @internal */
export interface CustomStep {
  readonly custom: CustomState | null;
  readonly dxs: readonly ({ readonly ptr: number; readonly size: number } | null)[];
}

/** @internal the custom-op side of one graph. */
export class CustomHost {
  constructor(
    private readonly core: GraphCore,
    /** Whether `t` is kept by a custom node of the current plan (ctx.save). */
    private readonly savedByPlan: (t: Tensor) => boolean,
  ) {}

  /** The output shape of a custom op without a shape function: one forward on zeros. */
  dryRunShape(op: CustomOp, name: string, inputs: readonly Node[]): Shape {
    const rt = this.core.rt;
    const temps = inputs.map((n) => allocTensor(rt, n.shape, name).fill(0));
    const ctx = new CustomState(inputs.map(() => false), null, name);
    let out: unknown;
    try {
      out = op.forward(ctx, ...temps);
      if (!(out instanceof Tensor)) throw new TypeError(`${name}: forward must return a Tensor, got ${typeName(out)}`);
      return out.shape;
    } finally {
      if (out instanceof Tensor && !temps.includes(out) && out.host === rt) out.dispose();
      for (const t of ctx.saved) if (!temps.includes(t) && t !== out) t.dispose();
      for (const t of temps) t.dispose();
    }
  }

  /** Runs a custom node's forward (again, once, if memory grew while it ran) and copies its result into the node's buffer. */
  runForward(node: Node, ctx: CustomState): void {
    const old = ctx.saved;
    const mem = this.core.rt.memory;
    let buf = mem.buffer;
    let out = this.callForward(node, ctx);
    if (mem.buffer !== buf) {
      // Memory grew while the user's forward ran: any t.data view it read before allocating
      // went stale, so its result cannot be trusted. Run it again; now its allocations fit.
      const first = ctx.saved;
      ctx.saved = [];
      for (const t of first) if (!old.includes(t)) this.disposeForeign(t);
      if (!first.includes(out) && !old.includes(out)) this.disposeForeign(out);
      buf = mem.buffer;
      out = this.callForward(node, ctx);
      if (mem.buffer !== buf) throw new Error(growthMessage(node.custom!.name, "forward"));
    }
    const dst = node._value!;
    if (out.ptr !== dst.ptr) this.core.rt.kernels.copy_f32(out.ptr, dst.ptr, dst.size);
    for (const t of old) if (!ctx.saved.includes(t)) this.disposeForeign(t);
    if (!ctx.saved.includes(out)) this.disposeForeign(out);
  }

  /** Calls a custom op's forward and checks what it returns (a live tensor of this runtime, of the node's shape). */
  private callForward(node: Node, ctx: CustomState): Tensor {
    const op = node.custom!;
    ctx.saved = [];
    const args = node.inputs.map((n) => n._value!);
    const out = op.forward(ctx, ...args);
    if (!(out instanceof Tensor)) throw new TypeError(`${op.name}: forward must return a Tensor, got ${typeName(out)}`);
    checkTensor(out, op.name, this.core.rt, "the tensor forward returned");
    if (!sameShape(out.shape, node.shape)) {
      throw new Error(`${op.name}: forward returned ${fmtShape(out.shape)}, the node's shape is ${fmtShape(node.shape)}`);
    }
    for (let i = 0; i < ctx.saved.length; i++) checkTensor(ctx.saved[i], op.name, this.core.rt, `saved tensor ${i + 1} (ctx.save)`);
    return out;
  }

  /** Runs a custom node's backward (again, once, if memory grew) and adds its gradients into the inputs'. */
  runBackward(node: Node, st: CustomStep): void {
    const op = node.custom!;
    if (!op.backward) return;
    const mem = this.core.rt.memory;
    let buf = mem.buffer;
    let grads = this.callBackward(node, st);
    if (mem.buffer !== buf) {
      // As in forward: views read before an allocation went stale; run it once more.
      for (const g of grads) if (g) this.disposeForeign(g);
      buf = mem.buffer;
      grads = this.callBackward(node, st);
      if (mem.buffer !== buf) throw new Error(growthMessage(op.name, "backward"));
    }
    const k = this.core.rt.kernels;
    for (let i = 0; i < grads.length; i++) {
      const g = grads[i];
      const dx = st.dxs[i];
      if (g && dx) k.axpy_f32(g.ptr, dx.ptr, dx.size, 1);
    }
    for (const g of grads) if (g) this.disposeForeign(g);
  }

  /** Calls a custom op's backward and checks its gradients (one per input, null or a live tensor of this runtime shaped like the input). */
  private callBackward(node: Node, st: CustomStep): (Tensor | null)[] {
    const op = node.custom!;
    const grads = op.backward!(st.custom!, node._grad!);
    if (!Array.isArray(grads) || grads.length !== node.inputs.length) {
      throw new Error(
        `${op.name}: backward must return one gradient (or null) per input: expected ${node.inputs.length}, got ${Array.isArray(grads) ? grads.length : typeName(grads)}`,
      );
    }
    for (let i = 0; i < grads.length; i++) {
      const g = grads[i];
      const input = node.inputs[i]!;
      if (g === null || g === undefined) continue;
      if (!(g instanceof Tensor)) throw new TypeError(`${op.name}: backward's gradient ${i + 1} must be a Tensor or null, got ${typeName(g)}`);
      checkTensor(g, op.name, this.core.rt, `backward's gradient ${i + 1}`);
      if (!sameShape(g.shape, input.shape)) {
        throw new Error(`${op.name}: backward's gradient ${i + 1} has shape ${fmtShape(g.shape)}, but input ${input.describe()} has shape ${fmtShape(input.shape)}`);
      }
    }
    return grads;
  }

  /** Disposes a tensor the user's code made, but never one the graph owns or still uses. */
  disposeForeign(t: Tensor): void {
    if (t.disposed || t.host !== this.core.rt) return;
    if (t.owner === "graph") return;
    for (const n of this.core.nodes) if (n._value === t || n._grad === t) return;
    if (this.savedByPlan(t)) return;
    t.dispose();
  }
}

function growthMessage(op: string, phase: string): string {
  return (
    `${op}: linear memory grew while its ${phase} ran, twice in a row; a Float32Array view (t.data) read before an ` +
    `allocation is stale after it (detached, reading undefined). Write the result into ctx.output (allocated by the ` +
    `graph), dispose what the op allocates, and read .data again after every allocation`
  );
}
