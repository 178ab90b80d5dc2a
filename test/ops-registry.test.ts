/**
 * One test for every op: walks the registry (src/ops/registry.ts) and, for each op and each
 * of its samples, checks that
 *   - the eager call and a graph node give the same values, bit for bit;
 *   - gradcheck passes (every differentiable input is a param; the loss is Σ y ⊙ w with a
 *     fixed non-unit upstream gradient w);
 *   - a runtime with 2 threads (split thresholds lowered to 0, so every splittable kernel
 *     splits) gives the same forward values and gradients as 1 thread, bit for bit;
 *   - the op's bad shapes are refused with an error naming the op, before any kernel runs,
 *     and the runtime works afterwards.
 * It also checks the registry itself (unique ids, serialisable attrs, every method's op
 * registered) and that the activation codes TypeScript uses run, in the module, the
 * activation the table names.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { init, type SimdGrad } from "../src/index.js";
import type { Graph } from "../src/graph/graph.js";
import type { Node } from "../src/graph/node.js";
import type { Tensor } from "../src/runtime/tensor.js";
import { METHODS, OPS, OP_LIST } from "../src/ops/registry.js";
import { type OpDef, type OpSample, opId } from "../src/ops/op.js";
import { ACT, ACTIVATIONS, ACTIVATION_NAMES, BACKWARD_READS, activationBackward, activationForward } from "../src/ops/activations.js";
import { threadedKernels } from "../src/threads/split.js";
import { auditScratch } from "./scratch-audit.js";
import { BUILD, randomArray } from "./helpers.js";

let sg1: SimdGrad;
let sg2: SimdGrad;

beforeAll(async () => {
  sg1 = await init({ relaxedSimd: BUILD === "relaxed" });
  sg2 = await init({ threads: 2, relaxedSimd: BUILD === "relaxed" });
  // Split every call that can split, however small.
  const rt = sg2.rt;
  rt.kernels = threadedKernels(rt.rawKernels, rt.threadPool!, rt.workerScratch, { gemmMinMacs: 0, elementwiseMin: 0 });
});
afterAll(async () => {
  await sg1.close();
  await sg2.close();
});

const sizeOf = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

function sampleValues(s: OpSample<unknown>, i: number): Float32Array {
  const n = sizeOf(s.inputs[i]!);
  return s.values ? Float32Array.from(s.values(i, n)) : randomArray(n, 11 + i);
}

interface GraphRun {
  y: Float32Array;
  grads: (Float32Array | null)[];
}

/** A graph with the sample's inputs as params (constants as inputs), y = op(...), loss = Σ y ⊙ w. */
function buildGraph(sg: SimdGrad, op: OpDef<any, any>, s: OpSample<unknown>): { g: Graph; y: Node; loss: Node; leaves: Node[]; feeds: Record<string, Float32Array> } {
  const g = sg.graph();
  const feeds: Record<string, Float32Array> = {};
  const leaves = s.inputs.map((shape, i) => {
    const data = sampleValues(s, i);
    if (s.constant?.includes(i)) {
      const n = g.input(shape, `in${i}`);
      feeds[`in${i}`] = data;
      return n;
    }
    return g.param(shape, { name: `in${i}`, data });
  });
  const y = g._applyOp(op, leaves, s.attrs);
  const w = g.input(y.shape, "w");
  feeds.w = randomArray(y.size, 99, 0.5, 1.5);
  const loss = g.sum(g.mul(y, w));
  return { g, y, loss, leaves, feeds };
}

function runGraph(sg: SimdGrad, op: OpDef<any, any>, s: OpSample<unknown>): GraphRun {
  const { g, y, loss, leaves, feeds } = buildGraph(sg, op, s);
  g.forward(feeds);
  const out = y.value.toArray();
  let grads: (Float32Array | null)[] = [];
  if (loss.requiresGrad) {
    g.backward(loss);
    grads = leaves.map((n) => n.grad?.toArray() ?? null);
  }
  g.dispose();
  return { y: out, grads };
}

function expectBitwise(got: Float32Array, want: Float32Array, what: string): void {
  expect(got.length, what).toBe(want.length);
  const a = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const b = new Uint32Array(want.buffer, want.byteOffset, want.length);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i] && !(Number.isNaN(got[i]) && Number.isNaN(want[i]))) {
      throw new Error(`${what}: element ${i} differs: ${got[i]} vs ${want[i]}`);
    }
  }
}

const label = (op: OpDef<any, any>, s: OpSample<unknown>, k: number) => `${opId(op)} [${s.label ?? k}] ${s.inputs.map((x) => `[${x.join(",")}]`).join(" ")}`;

describe("the op registry", () => {
  it("gives every op a unique id and every method a registered op", () => {
    const ids = OP_LIST.map(opId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(OPS.get("gelu_tanh")).toBeDefined();
    expect(OPS.get("gelu")).not.toBe(OPS.get("gelu_tanh"));
    for (const [name, m] of Object.entries(METHODS)) {
      expect(typeof m.call, name).toBe("function");
      expect(m.arity, name).toBeGreaterThan(0);
    }
  });

  it("has samples for every op, with attributes that survive a JSON round trip", () => {
    for (const op of OP_LIST) {
      expect(op.samples?.length ?? 0, `${opId(op)} has no samples`).toBeGreaterThan(0);
      for (const s of op.samples!) {
        const a = s.attrs === undefined ? null : s.attrs;
        expect(JSON.parse(JSON.stringify(a)), opId(op)).toEqual(a);
      }
    }
  });

  it("installs every method on graphs, and an eager function for every eager method", () => {
    const g = sg1.graph();
    for (const [name, m] of Object.entries(METHODS)) {
      expect(typeof (g as unknown as Record<string, unknown>)[name], `g.${name}`).toBe("function");
      expect(typeof (sg1 as unknown as Record<string, unknown>)[name], `sg.${name}`).toBe("function");
      if (m.eager) expect(Object.prototype.hasOwnProperty.call(Object.getPrototypeOf(sg1), name), `sg.${name}`).toBe(true);
    }
    g.dispose();
  });
});

describe("every op and sample", () => {
  for (const op of OP_LIST) {
    (op.samples ?? []).forEach((s0, k) => {
      const s = s0 as OpSample<unknown>;
      const name = label(op, s, k);

      it(`${name}: eager equals graph, bit for bit (every kernel's scratch within its block)`, () => {
        const audit = auditScratch(sg1.rt, () => {
          const xs = s.inputs.map((shape, i) => sg1.tensor(shape, sampleValues(s, i)));
          const y = sg1.apply(op, xs, s.attrs);
          const eager = y.toArray();
          // Into a given `out` too.
          const out = sg1.tensor(y.shape);
          sg1.apply(op, xs, s.attrs, out);
          expectBitwise(out.toArray(), eager, `${name} eager out`);
          for (const t of [...xs, y, out]) t.dispose();
          expectBitwise(runGraph(sg1, op, s).y, eager, `${name} graph vs eager`);
        });
        expect(audit.violations).toEqual([]);
      });

      if (s.gradcheck !== false && op.backward) {
        it(`${name}: gradcheck`, () => {
          const { g, loss, feeds } = buildGraph(sg1, op, s);
          if (!loss.requiresGrad) {
            g.dispose();
            return;
          }
          const opts = s.gradcheck === undefined ? {} : s.gradcheck;
          const r = sg1.gradcheck(g, loss, { feeds, ...opts });
          g.dispose();
          expect(r.ok, JSON.stringify(r.params)).toBe(true);
        });
      }

      it(`${name}: 1 and 2 threads agree bit for bit`, () => {
        let a: GraphRun = { y: new Float32Array(0), grads: [] };
        const audit = auditScratch(sg1.rt, () => {
          a = runGraph(sg1, op, s);
        });
        expect(audit.violations, "forward and backward on one thread").toEqual([]);
        const b = runGraph(sg2, op, s);
        expectBitwise(b.y, a.y, `${name} forward`);
        a.grads.forEach((g, i) => {
          if (g) expectBitwise(b.grads[i]!, g, `${name} gradient of input ${i}`);
        });
      });
    });

    (op.badSamples ?? []).forEach((b, k) => {
      it(`${opId(op)}: bad shapes ${b.inputs.map((x) => `[${x.join(",")}]`).join(" ")} are refused clearly`, () => {
        const before = sg1.memory.bytesInUse;
        const xs = b.inputs.map((shape) => sg1.tensor(shape));
        let msg = "";
        try {
          sg1.apply(op, xs, b.attrs);
        } catch (e) {
          msg = (e as Error).message;
        }
        expect(msg.startsWith(`${op.name}:`), `bad sample ${k} of ${opId(op)}: '${msg}'`).toBe(true);
        if (b.message !== undefined) expect(msg).toMatch(b.message);
        // The graph refuses it when the node is built.
        const g = sg1.graph();
        const leaves = b.inputs.map((shape, i) => g.input(shape, `x${i}`));
        expect(() => g._applyOp(op, leaves, b.attrs)).toThrow(new RegExp(`^${op.name}:`));
        g.dispose();
        for (const t of xs) t.dispose();
        expect(sg1.memory.bytesInUse).toBe(before);
        // Still usable.
        const t = sg1.tensor([2], [1, 2]);
        expect(Array.from(sg1.apply(OPS.get("relu")!, [t], { p: 0 }).toArray())).toEqual([1, 2]);
      });
    });
  }
});

describe("activation codes", () => {
  // The codes are defined once (src/ops/act-codes.ts) and read by both languages; this calls
  // the module's run-time-code kernels with every code of the table and checks each runs the
  // activation whose named kernels the table gives.
  const n = 37;
  const x = randomArray(n, 5, -3, 3);
  const dy = randomArray(n, 6, -2, 2);
  const p = 0.3;

  function withBufs<T>(sg: SimdGrad, count: number, f: (ptrs: number[], view: (i: number) => Float32Array) => T): T {
    const ts: Tensor[] = [];
    for (let i = 0; i < count; i++) ts.push(sg.tensor([n]));
    try {
      return f(ts.map((t) => t.ptr), (i) => ts[i]!.toArray());
    } finally {
      for (const t of ts) t.dispose();
    }
  }

  for (const name of ACTIVATION_NAMES) {
    it(`${name}: code ${ACTIVATIONS[name].code} runs ${ACTIVATIONS[name].kernel}_forward/_backward in act_forward, act_backward, act_derivative, gemm_bias_act`, () => {
      const k = sg1.rt.kernels;
      const code = ACT[name];
      withBufs(sg1, 8, (b, view) => {
        const [px, py, pdy, pref, pgot, pdz, pder, pone] = b as [number, number, number, number, number, number, number, number];
        new Float32Array(sg1.rt.memory.buffer, px, n).set(x);
        new Float32Array(sg1.rt.memory.buffer, pdy, n).set(dy);
        activationForward(k, name, px, pref, n, p);
        k.act_forward(code, px, pgot, n, p);
        expectBitwise(view(4), view(3), `${name} act_forward`);
        k.copy_f32(pref, py, n);
        activationBackward(k, name, BACKWARD_READS[name] === "y" ? py : px, pdy, pref, n, p, 0);
        k.act_backward(code, px, py, pdy, pdz, n, p, 0);
        expectBitwise(view(5), view(3), `${name} act_backward`);
        // act_derivative: dx of the named kernel is dy·f′.
        k.act_derivative(code, px, py, pder, n, p);
        const der = view(6);
        const want = view(3);
        for (let i = 0; i < n; i++) {
          const d = Math.abs(Math.fround(dy[i]! * der[i]!) - want[i]!);
          expect(d, `${name} act_derivative at ${i}`).toBeLessThanOrEqual(2e-7 * Math.max(1, Math.abs(want[i]!)));
        }
        void pone;
      });
      // gemm_bias_act with the identity matrix as B: act(x) per element.
      const xt = sg1.tensor([1, n], x);
      const eye = sg1.tensor([n, n], Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 1 : 0)));
      const yt = sg1.tensor([1, n]);
      const scratch = sg1.rt.scratch(k.gemm_scratch_bytes(1, n, n));
      k.gemm_bias_act(0, 0, 1, n, n, xt.ptr, n, eye.ptr, n, 0, code, p, 0, yt.ptr, n, scratch);
      const ref = sg1.tensor([n]);
      activationForward(k, name, xt.ptr, ref.ptr, n, p);
      const got = yt.toArray();
      const want = ref.toArray();
      // act_v (the per-vector form) and the named loops agree to the kernels' stated accuracy.
      for (let i = 0; i < n; i++) expect(Math.abs(got[i]! - want[i]!), `${name} gemm_bias_act at ${i}`).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(want[i]!)));
      for (const t of [xt, eye, yt, ref]) t.dispose();
    });
  }

  it("identity is code 0 in every run-time-code kernel", () => {
    const k = sg1.rt.kernels;
    expect(ACT.identity).toBe(0);
    withBufs(sg1, 3, (b, view) => {
      new Float32Array(sg1.rt.memory.buffer, b[0]!, n).set(x);
      k.act_forward(0, b[0]!, b[1]!, n, 0);
      expectBitwise(view(1), Float32Array.from(x), "identity forward");
      new Float32Array(sg1.rt.memory.buffer, b[0]!, n).set(dy);
      k.act_backward(0, 0, 0, b[0]!, b[2]!, n, 0, 0);
      expectBitwise(view(2), Float32Array.from(dy), "identity backward");
    });
  });
});
