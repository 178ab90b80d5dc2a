/**
 * Graph traps: ways of using a graph that used to give a wrong result with no error, leak,
 * or fail with a message a user could not act on. Each test names what it guards.
 */
import { describe, expect, it } from "vitest";
import { init, type SimdGrad, type Tensor } from "../src/index.js";
import { BUILD, expectClose, runtime } from "./helpers.js";

type Ctx = { save(...t: Tensor[]): void; readonly saved: readonly Tensor[]; readonly output: Tensor };

async function freshRuntime(): Promise<SimdGrad> {
  return init({ relaxedSimd: BUILD === "relaxed" });
}

describe("backward runs on the values of the last forward, or refuses", () => {
  it("refuses a node the last forward did not compute (partial forward)", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const x = g.input([3], "x");
    const w = g.param([3], { data: [1, 2, 3], name: "w" });
    const a = g.sum(g.mul(x, w));
    const t = g.tanh(x);
    const b = g.sum(g.mul(t, w));
    g.forward({ x: [5, 5, 5] }, { outputs: [a] });
    expect(() => g.backward(b)).toThrow(/backward: the last forward did not compute 'tanh#\d+' \[3\] \(tanh\).*forward/);
    expect(w.grad!.toArray()).toEqual(new Float32Array(3)); // nothing ran
    // A full forward makes it fine; then a partial forward makes b stale again.
    g.forward({ x: [0.5, 0.5, 0.5] });
    g.backward(b);
    expectClose(w.grad!.toArray(), new Array(3).fill(Math.tanh(0.5)), 1e-6, 0, "w.grad");
    g.forward({ x: [1, 1, 1] }, { outputs: [a] });
    expect(() => g.backward(b)).toThrow(/did not compute 'tanh#\d+'/);
    g.backward(a); // a was computed: fine
    g.dispose();
  });

  it("refuses after a param or input it depends on was set since the last forward", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const a = g.param([2], { data: [1, 2], name: "a" });
    const L = g.sum(g.mul(g.tanh(a), a));
    g.forward();
    a.value = [5, 5];
    expect(() => g.backward(L)).toThrow(/backward: 'a' \[2\] \(param\) was set after the last forward; run g\.forward\(\) again/);
    expect(a.grad!.toArray()).toEqual(new Float32Array(2));
    g.forward();
    g.backward(L);
    const d = (v: number) => Math.tanh(v) + v * (1 - Math.tanh(v) ** 2);
    expectClose(a.grad!.toArray(), [d(5), d(5)], 1e-5, 0, "a.grad at the new value");
    // An optimizer step changes params too: backward before the next forward is stale.
    sg.sgd([a], { lr: 0.1 }).step();
    expect(() => g.backward(L)).toThrow(/'a' \[2\] \(param\) was set after the last forward/);
    g.dispose();
  });
});

describe("backward(leaf) accumulates like every other backward", () => {
  it("adds 1 to a scalar leaf's gradient instead of overwriting it", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const s = g.param([], { data: [3], name: "s" });
    const sq = g.mul(s, s);
    g.forward();
    g.backward(sq);
    expect(s.grad!.toArray()[0]).toBe(6);
    g.backward(s);
    expect(s.grad!.toArray()[0]).toBe(7);
    g.backward(s, [2]);
    expect(s.grad!.toArray()[0]).toBe(9);
    g.dispose();
  });
});

describe("custom ops: returned tensors are checked like every other tensor argument", () => {
  const id = (sg: SimdGrad, ret: (x: Tensor) => Tensor) => ({
    name: "leaky",
    shape: (s: readonly number[]) => s,
    forward: (_ctx: Ctx, x: Tensor) => ret(x),
    backward: (_ctx: Ctx, dy: Tensor) => [sg.tensor(dy.shape as number[], dy.toArray())],
  });

  it("a disposed output is an error naming the op", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const p = g.param([4], { data: [1, 2, 3, 4], name: "p" });
    const c = g.custom(id(sg, (x) => {
      const t = sg.tensor([4], x.toArray());
      t.dispose();
      return t;
    }) as never, p);
    expect(() => g.forward()).toThrow(/leaky: the tensor forward returned \[4\] has been disposed/);
    void c;
    g.dispose();
  });

  it("an output of another runtime is an error naming the op", async () => {
    const sg = await runtime();
    const other = await freshRuntime();
    const g = sg.graph();
    const p = g.param([4], { data: [1, 2, 3, 4], name: "p" });
    g.custom(id(sg, (x) => other.tensor([4], x.toArray())) as never, p);
    expect(() => g.forward()).toThrow(/leaky: the tensor forward returned \[4\] belongs to another simdgrad runtime/);
    g.dispose();
  });

  it("disposed or foreign gradients from backward are errors naming the op", async () => {
    const sg = await runtime();
    const other = await freshRuntime();
    for (const bad of ["disposed", "foreign"] as const) {
      const g = sg.graph();
      const p = g.param([4], { data: [1, 2, 3, 4], name: "p" });
      const op = {
        name: "badgrad",
        shape: (s: readonly number[]) => s,
        forward: (_ctx: Ctx, x: Tensor) => sg.tensor([4], x.toArray()),
        backward: (_ctx: Ctx, dy: Tensor) => {
          if (bad === "foreign") return [other.tensor([4], dy.toArray())];
          const t = sg.tensor([4], dy.toArray());
          t.dispose();
          return [t];
        },
      };
      const L = g.sum(g.custom(op as never, p));
      g.forward();
      expect(() => g.backward(L)).toThrow(bad === "foreign" ? /badgrad: backward's gradient 1 .*another simdgrad runtime/ : /badgrad: backward's gradient 1 .*disposed/);
      expect(p.grad!.toArray()).toEqual(new Float32Array(4));
      g.dispose();
    }
  });
});

describe("memory growth inside custom ops", () => {
  it("the natural order (read x.data, then allocate the output) gives right values on the first forward", async () => {
    const sg = await freshRuntime();
    const N = 300_000;
    const g = sg.graph();
    const x = g.input([N], "x");
    const double = {
      name: "double",
      shape: (s: readonly number[]) => s,
      forward(_ctx: Ctx, xt: Tensor) {
        const xd = xt.data;
        const out = sg.tensor(xt.shape as number[]);
        const od = out.data;
        for (let i = 0; i < od.length; i++) od[i] = 2 * xd[i]!;
        return out;
      },
    };
    const y = g.custom(double as never, x);
    const L = g.sum(y);
    const data = new Float32Array(N).fill(0.5);
    const cap = sg.memory.capacityBytes;
    g.forward({ x: data });
    expect(sg.memory.capacityBytes).toBeGreaterThan(cap); // memory really grew during the run
    expect(L.value.toArray()[0]).toBeCloseTo(N, -1);
    g.dispose();
  });

  it("ctx.output is the node's own buffer: writing it and returning it allocates nothing", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const x = g.input([5], "x");
    const double = {
      name: "double",
      shape: (s: readonly number[]) => s,
      forward(ctx: Ctx, xt: Tensor) {
        const xd = xt.data;
        const od = ctx.output.data;
        for (let i = 0; i < od.length; i++) od[i] = 2 * xd[i]!;
        return ctx.output;
      },
    };
    const y = g.custom(double as never, x);
    g.forward({ x: [1, 2, 3, 4, 5] });
    const total = sg.memory.totalAllocations;
    g.forward({ x: [1, 2, 3, 4, 6] });
    expect(sg.memory.totalAllocations).toBe(total);
    expect(Array.from(y.value.toArray())).toEqual([2, 4, 6, 8, 12]);
    g.dispose();
  });

  it("a view read before an allocation is re-derived inside library calls, and a stale one gets a clear error", async () => {
    const sg = await freshRuntime();
    const N = 600_000;
    const src = sg.tensor([N]);
    src.data.fill(0.25);
    src.data.set([1, 2, 3, 4]);
    // sg.tensor(shape, view): the allocation grows memory; the copy still reads the values.
    const cap = sg.memory.capacityBytes;
    const copy = sg.tensor([N], src.data);
    expect(sg.memory.capacityBytes).toBeGreaterThan(cap);
    expect(Array.from(copy.toArray().subarray(0, 5))).toEqual([1, 2, 3, 4, 0.25]);
    const stale = src.data;
    sg.tensor([2_000_000]); // grows memory: `stale` is detached now
    expect(stale.length).toBe(0);
    expect(() => sg.tensor([N], stale)).toThrow(/tensor: .*stale.*read \.data again/);
    expect(() => copy.set(stale)).toThrow(/set: .*stale.*read \.data again/);
    const g = sg.graph();
    const xin = g.input([N], "x");
    g.sum(g.tanh(g.scale(xin, 2)));
    expect(() => g.forward({ x: stale })).toThrow(/forward: .*stale.*read \.data again/);
    // A fresh view passed to forward survives the plan's allocation on the first run.
    const cap2 = sg.memory.capacityBytes;
    g.forward({ x: src.data });
    expect(sg.memory.capacityBytes).toBeGreaterThan(cap2);
    expect(Array.from(xin.value.toArray().subarray(0, 5))).toEqual([1, 2, 3, 4, 0.25]);
    g.dispose();
  });
});

describe("leaks and names", () => {
  it("tensors kept with ctx.save are freed by g.dispose() and on re-planning", async () => {
    const sg = await runtime();
    const keep = {
      name: "keep",
      shape: (s: readonly number[]) => s,
      forward(ctx: Ctx, x: Tensor) {
        ctx.save(sg.tensor(x.shape as number[], x.toArray()));
        return sg.tensor(x.shape as number[], x.toArray());
      },
      backward: (_ctx: Ctx, dy: Tensor) => [sg.tensor(dy.shape as number[], dy.toArray())],
    };
    const live = sg.memory.liveAllocations;
    for (let i = 0; i < 10; i++) {
      const g = sg.graph();
      const p = g.param([3], { data: [1, 2, 3], name: "p" });
      const L = g.sum(g.custom(keep as never, p));
      g.forward();
      g.backward(L);
      g.dispose();
    }
    expect(sg.memory.liveAllocations).toBe(live);
    const g = sg.graph();
    const p = g.param([3], { data: [1, 2, 3], name: "p" });
    g.sum(g.custom(keep as never, p));
    g.forward();
    const before = sg.memory.liveAllocations;
    g.sum(p); // re-plans on the next run
    g.forward();
    g.forward();
    expect(sg.memory.liveAllocations).toBe(before);
    g.dispose();
  });

  it("an input named like an automatic node name can still be fed", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const a = g.input([2], "relu#1");
    const r = g.relu(a);
    expect(r.name).not.toBe("relu#1");
    expect(g.node("relu#1")).toBe(a);
    g.forward({ "relu#1": [-1, 2] });
    expect(Array.from(r.value.toArray())).toEqual([0, 2]);
    g.dispose();
  });

  it("node.name assignments rename through the graph; requiresGrad is read-only", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const x = g.input([2], "x");
    const w = g.param([2], { data: [1, 2], name: "w" });
    const L = g.sum(g.mul(x, w));
    (x as { name: string }).name = "features";
    expect(g.node("features")).toBe(x);
    expect(g.node("x")).toBeUndefined();
    g.forward({ features: [3, 4] });
    expect(L.value.toArray()[0]).toBe(11);
    expect(() => ((w as { requiresGrad: boolean }).requiresGrad = false)).toThrow(/requiresGrad: .*fixed when the node is created/);
    expect(() => ((x as { requiresGrad: boolean }).requiresGrad = true)).toThrow(/requiresGrad/);
    expect(() => ((x as { name: string }).name = "w")).toThrow(/the name 'w' is already used/);
    g.backward(L);
    expect(Array.from(w.grad!.toArray())).toEqual([3, 4]);
    g.dispose();
  });
});
