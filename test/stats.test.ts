/**
 * Graph-level gradient health: g.trackStats / g.stats / g.gradNorms against float64
 * references on small nets, dead-unit and saturation counts on hand-made inputs, the
 * anomaly hook on planted NaNs and on growth, and bad input.
 */
import { describe, expect, it } from "vitest";
import type { Node, SimdGrad } from "../src/index.js";
import type { Anomaly } from "../src/graph/stats.js";
import { randomArray, runtime } from "./helpers.js";

function norm64(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * a[i]!;
  return Math.sqrt(s);
}

function maxabs64(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

function diffNorm(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(s);
}

const B = 5, NI = 3, NH = 4, NO = 2;

/** x [5,3] → linear tanh [4] → linear [2] → mse against t. */
function smallNet(sg: SimdGrad) {
  const g = sg.graph();
  const x = g.input([B, NI], "x");
  const t = g.input([B, NO], "t");
  const W1 = g.param([NI, NH], { data: randomArray(NI * NH, 1, -1, 1), name: "W1" });
  const b1 = g.param([NH], { data: randomArray(NH, 2, -0.5, 0.5), name: "b1" });
  const W2 = g.param([NH, NO], { data: randomArray(NH * NO, 3, -1, 1), name: "W2" });
  const b2 = g.param([NO], { data: randomArray(NO, 4, -0.5, 0.5), name: "b2" });
  const h = g.linear(x, W1, b1, "tanh");
  const y = g.linear(h, W2, b2);
  const loss = g.mse(y, t);
  const feeds = { x: randomArray(B * NI, 5, -2, 2), t: randomArray(B * NO, 6, -1, 1) };
  return { g, x, t, W1, b1, W2, b2, h, y, loss, feeds };
}

/** The same net's gradients in float64, from the params' current values. */
function reference(net: ReturnType<typeof smallNet>): Record<string, Float64Array> {
  const xv = Float64Array.from(net.feeds.x), tv = Float64Array.from(net.feeds.t);
  const W1 = Float64Array.from(net.W1.value.toArray()), b1 = Float64Array.from(net.b1.value.toArray());
  const W2 = Float64Array.from(net.W2.value.toArray()), b2 = Float64Array.from(net.b2.value.toArray());
  const h = new Float64Array(B * NH), z2 = new Float64Array(B * NO);
  for (let r = 0; r < B; r++) {
    for (let j = 0; j < NH; j++) {
      let s = b1[j]!;
      for (let i = 0; i < NI; i++) s += xv[r * NI + i]! * W1[i * NH + j]!;
      h[r * NH + j] = Math.tanh(s);
    }
    for (let j = 0; j < NO; j++) {
      let s = b2[j]!;
      for (let i = 0; i < NH; i++) s += h[r * NH + i]! * W2[i * NO + j]!;
      z2[r * NO + j] = s;
    }
  }
  const dz2 = z2.map((z, i) => (2 * (z - tv[i]!)) / (B * NO));
  const dW2 = new Float64Array(NH * NO), db2 = new Float64Array(NO), dW1 = new Float64Array(NI * NH), db1 = new Float64Array(NH);
  for (let r = 0; r < B; r++) {
    const dz1 = new Float64Array(NH);
    for (let j = 0; j < NO; j++) {
      db2[j]! += dz2[r * NO + j]!;
      for (let i = 0; i < NH; i++) {
        dW2[i * NO + j]! += h[r * NH + i]! * dz2[r * NO + j]!;
        dz1[i]! += dz2[r * NO + j]! * W2[i * NO + j]!;
      }
    }
    for (let i = 0; i < NH; i++) {
      const d = dz1[i]! * (1 - h[r * NH + i]! ** 2);
      db1[i]! += d;
      for (let k = 0; k < NI; k++) dW1[k * NH + i]! += xv[r * NI + k]! * d;
    }
  }
  return { W1: dW1, b1: db1, W2: dW2, b2: db2 };
}

function byName<T extends { name: string }>(list: T[], name: string): T {
  const e = list.find((p) => p.name === name);
  if (!e) throw new Error(`no entry ${name} in ${list.map((p) => p.name).join(", ")}`);
  return e;
}

describe("g.stats(): per-param statistics against float64 references", () => {
  it("gradient norms and max |g| after backward, before any optimizer step", async () => {
    const sg = await runtime();
    const net = smallNet(sg);
    const { g, loss, feeds } = net;
    g.trackStats(true);
    expect(g.tracksStats).toBe(true);
    const s0 = g.stats();
    expect(s0.runs).toBe(0);
    expect(s0.gradNorm).toBeNull();
    expect(s0.params.map((p) => p.gradNorm)).toEqual([null, null, null, null]);
    g.forward(feeds);
    g.backward(loss);
    const ref = reference(net);
    const s = g.stats();
    expect(s.runs).toBe(1);
    let total = 0;
    for (const p of g.params) {
      const st = byName(s.params, p.name);
      const want = ref[p.name]!;
      total += norm64(want) ** 2;
      // Against the float64 net: the graph's float32 gradients are within ~1e-6 relative.
      expect(Math.abs(st.gradNorm! - norm64(want)), `${p.name} ‖g‖`).toBeLessThanOrEqual(1e-5 * norm64(want));
      expect(Math.abs(st.gradMaxAbs! - maxabs64(want)), `${p.name} max|g|`).toBeLessThanOrEqual(1e-5 * maxabs64(want));
      // Against the graph's own gradient, summed in float64: ~f32 rounding of the squares.
      const mine = p.grad!.toArray();
      expect(Math.abs(st.gradNorm! - norm64(mine))).toBeLessThanOrEqual(1e-6 * norm64(mine));
      expect(st.gradMaxAbs).toBe(maxabs64(mine));
      expect(Math.abs(st.weightNorm - norm64(p.value.toArray()))).toBeLessThanOrEqual(1e-6 * norm64(p.value.toArray()));
      expect(st.updateNorm).toBeNull();
      expect(st.updateRatio).toBeNull();
      expect(st.shape).toEqual([...p.shape]);
    }
    expect(Math.abs(s.gradNorm! - Math.sqrt(total))).toBeLessThanOrEqual(1e-5 * Math.sqrt(total));
    // gradNorms: the same numbers, into a caller's array.
    const out = new Float64Array(4);
    expect(g.gradNorms(out)).toBe(out);
    expect(Array.from(out)).toEqual(s.params.map((p) => p.gradNorm));
    // Plain data: survives JSON.
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
    g.dispose();
  });

  for (const opt of ["sgd", "sgd+momentum", "adam"] as const) {
    it(`‖Δw‖ and ‖Δw‖/‖w‖ of the last ${opt} step equal the change of the weights (three steps)`, async () => {
      const sg = await runtime();
      const net = smallNet(sg);
      const { g, loss, feeds } = net;
      g.trackStats();
      const o = opt === "adam" ? sg.adam(g.params, { lr: 0.05 }) : sg.sgd(g.params, { lr: 0.1, momentum: opt === "sgd" ? 0 : 0.9, weightDecay: 0.01 });
      for (let step = 0; step < 3; step++) {
        o.zeroGrad();
        g.forward(feeds);
        g.backward(loss);
        const before = g.params.map((p) => p.value.toArray());
        o.step();
        const s = g.stats();
        g.params.forEach((p, i) => {
          const st = byName(s.params, p.name);
          const dw = diffNorm(p.value.toArray(), before[i]!);
          const w1 = norm64(p.value.toArray());
          expect(Math.abs(st.updateNorm! - dw), `${opt} step ${step} ${p.name} ‖Δw‖`).toBeLessThanOrEqual(1e-6 * dw + 1e-30);
          expect(Math.abs(st.updateRatio! - dw / w1), `${p.name} ratio`).toBeLessThanOrEqual(1e-6 * (dw / w1));
          expect(Math.abs(st.weightNorm - norm64(p.value.toArray()))).toBeLessThanOrEqual(1e-6 * st.weightNorm);
        });
        // Plain SGD's first step moves w by exactly lr·(g + λw): check the float64 net agrees.
        if (opt === "sgd" && step === 0) {
          const ref = reference({ ...net, W1: { value: { toArray: () => before[0]! } }, b1: { value: { toArray: () => before[1]! } }, W2: { value: { toArray: () => before[2]! } }, b2: { value: { toArray: () => before[3]! } } } as never);
          g.params.forEach((p, i) => {
            const d = ref[p.name]!.map((gv, j) => 0.1 * (gv + 0.01 * before[i]![j]!));
            expect(Math.abs(byName(s.params, p.name).updateNorm! - norm64(d))).toBeLessThanOrEqual(1e-5 * norm64(d));
          });
        }
      }
      o.dispose();
      g.dispose();
    });
  }

  it("a param that starts at zero: after one step Δw = w, so the ratio is 1; all-zero weights give null", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const x = g.input([2, 2], "x");
    const W = g.param([2, 2], { data: [1, 2, 3, 4], name: "W" });
    const b = g.param([2], { name: "b" });
    const loss = g.sum(g.linear(x, W, b));
    g.trackStats();
    const o = sg.sgd(g.params, { lr: 0.5 });
    g.forward({ x: [1, 0, 0, 1] });
    g.backward(loss);
    o.step();
    const st = byName(g.stats().params, "b");
    expect(st.updateNorm).toBeCloseTo(0.5 * Math.sqrt(2 * 4), 6); // db = [2, 2]
    expect(st.updateRatio).toBe(1);
    b.value = [0, 0];
    expect(byName(g.stats().params, "b").updateRatio).toBeNull();
    g.dispose();
  });

  it("stops with trackStats(false); a later trackStats(true) starts afresh", async () => {
    const sg = await runtime();
    const { g, loss, feeds } = smallNet(sg);
    g.trackStats(true);
    g.forward(feeds);
    g.backward(loss);
    g.backward(loss);
    expect(g.stats().runs).toBe(2);
    g.trackStats(false);
    expect(g.tracksStats).toBe(false);
    g.backward(loss);
    expect(() => g.stats()).toThrow(/trackStats\(true\)/);
    g.trackStats(true);
    expect(g.stats().runs).toBe(0);
    g.backward(loss);
    expect(g.stats().runs).toBe(1);
    // With an anomaly listener the records stay current while collection is off.
    const off = g.onAnomaly(() => {});
    g.trackStats(false);
    g.backward(loss);
    g.trackStats(true);
    expect(g.stats().runs).toBe(0);
    g.backward(loss);
    expect(g.stats().runs).toBe(1);
    expect(g.stats().params.every((p) => p.gradNorm! > 0 && p.updateNorm === null)).toBe(true);
    off();
    g.dispose();
  });

  it("a training step with statistics and an anomaly listener allocates nothing", async () => {
    const sg = await runtime();
    const { g, loss, feeds } = smallNet(sg);
    g.trackStats();
    const off = g.onAnomaly(() => {}, { growthFactor: 1e6 });
    const o = sg.sgd(g.params, { lr: 0.01, momentum: 0.9 });
    const xs = sg.tensor([B, NI], feeds.x), ts = sg.tensor([B, NO], feeds.t);
    const run = () => {
      o.zeroGrad();
      g.forward({ x: xs, t: ts });
      g.backward(loss);
      o.step();
    };
    run();
    const before = sg.memory.totalAllocations;
    for (let i = 0; i < 20; i++) run();
    expect(sg.memory.totalAllocations).toBe(before);
    off();
    o.dispose(), xs.dispose(), ts.dispose(), g.dispose();
  });

  it("params added after collection began are picked up", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const a = g.param([3], { data: [1, 2, 3], name: "a" });
    g.trackStats();
    const l1 = g.sum(a);
    g.forward();
    g.backward(l1);
    expect(g.stats().params.map((p) => p.name)).toEqual(["a"]);
    const b = g.param([2], { data: [4, 5], name: "b" });
    const l2 = g.add(g.sum(a), g.dot(b, b));
    g.forward();
    g.backward(l2);
    const s = g.stats();
    expect(s.params.map((p) => p.name)).toEqual(["a", "b"]);
    expect(byName(s.params, "b").gradNorm).toBeCloseTo(Math.hypot(8, 10), 5);
    g.dispose();
  });
});

describe("g.stats(): dead and saturated units on hand-made inputs", () => {
  // Columns: 0 very negative in every row, 1 mixed around 0 and ±1, 2 at +3 in every row,
  // 3 alternating ±6, 4 small values.
  const X = [
    [-6, 0, 3, 6, 0.1],
    [-7, -1, 3, -6, 0.2],
    [-5.5, 0.5, 3, 6, -0.3],
    [-8, 2, 3, -6, 0.4],
  ].flat();
  // [flat values of 20, units flat in every row of 5], worked out by hand:
  // relu: y = 0 at col 0 (4), col 1 rows 0–1 (2), col 3 rows 1, 3 (2), col 4 row 2 (1) → 9; unit 0 dead.
  // sigmoid: σ(±6) and σ(−5.5…−8) are within 0.01 of a bound, σ(3) = 0.953 is not → 8; units 0, 3.
  // tanh: tanh(3) = 0.99505 counts too → 12; units 0, 2, 3.
  // hardTanh: clipped where |x| ≥ 1: col 0, col 1 rows 1 and 3, cols 2, 3 → 14; units 0, 2, 3.
  // step: every value → 20; all 5 units.
  const want = { relu: [9, 1], sigmoid: [8, 2], tanh: [12, 3], hardTanh: [14, 3], step: [20, 5] } as const;

  it("relu, sigmoid, tanh, hardTanh, step, and the same inside fused linear layers", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const x = g.input([4, 5], "x");
    const I = g.param([5, 5], { data: Array.from({ length: 25 }, (_, i) => (i % 6 === 0 ? 1 : 0)), name: "I" });
    const zero = g.param([5], { name: "zero" });
    const nodes: Record<string, Node> = {
      relu: g.name(g.relu(x), "relu"),
      sigmoid: g.name(g.sigmoid(x), "sigmoid"),
      tanh: g.name(g.tanh(x), "tanh"),
      hardTanh: g.name(g.hardTanh(x), "hardTanh"),
      step: g.name(g.step(x), "step"),
      linRelu: g.name(g.linear(x, I, zero, "relu"), "linRelu"),
      linSigmoid: g.name(g.linear(x, I, zero, "sigmoid"), "linSigmoid"),
      linTanh: g.name(g.linear(x, I, null, "tanh"), "linTanh"),
    };
    g.leakyRelu(x); // no flat region: not reported
    g.gelu(x);
    g.linear(x, I, zero); // no activation: not reported
    g.trackStats();
    expect(g.stats().activations).toEqual([]); // no forward run yet
    g.forward({ x: X });
    const acts = g.stats().activations;
    expect(acts.map((a) => a.name)).toEqual(Object.keys(nodes));
    const check = (name: string, kind: keyof typeof want, op: string, region: string) => {
      const a = byName(acts, name);
      expect(a.activation).toBe(kind);
      expect(a.op).toBe(op);
      expect(a.region).toBe(region);
      expect([a.rows, a.units]).toEqual([4, 5]);
      expect([a.flatShare * 20, a.flatUnits], name).toEqual([want[kind][0], want[kind][1]]);
      expect(a.flatUnitShare).toBe(want[kind][1] / 5);
    };
    check("relu", "relu", "relu", "dead");
    check("sigmoid", "sigmoid", "sigmoid", "saturated");
    check("tanh", "tanh", "tanh", "saturated");
    check("hardTanh", "hardTanh", "hardTanh", "clipped");
    check("step", "step", "step", "step");
    check("linRelu", "relu", "linear", "dead");
    check("linSigmoid", "sigmoid", "linear", "saturated");
    check("linTanh", "tanh", "linear", "saturated");
    g.dispose();
  });

  it("1-D and 3-D activations: rows are every dimension but the last", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const v = g.input([6], "v");
    const t = g.input([2, 2, 3], "t");
    g.name(g.relu(v), "r1");
    g.name(g.relu(t), "r3");
    g.trackStats();
    g.forward({ v: [0, 1, -1, 2, 0, 3], t: [0, 1, 2, 0, -1, 5, 0, 2, 3, 0, 4, 9] });
    const [r1, r3] = g.stats().activations;
    expect([r1!.rows, r1!.units, r1!.flatShare, r1!.flatUnits]).toEqual([1, 6, 3 / 6, 3]);
    expect([r3!.rows, r3!.units, r3!.flatShare, r3!.flatUnits]).toEqual([4, 3, 5 / 12, 1]);
    g.dispose();
  });
});

describe("g.onAnomaly", () => {
  function mlp(sg: SimdGrad) {
    const g = sg.graph();
    const x = g.input([4, 3], "x");
    const t = g.input([4, 2], "t");
    const W1 = g.param([3, 5], { data: randomArray(15, 11, -1, 1), name: "W1" });
    const b1 = g.param([5], { name: "b1" });
    const W2 = g.param([5, 2], { data: randomArray(10, 12, -1, 1), name: "W2" });
    const h = g.name(g.relu(g.linear(x, W1, b1)), "h");
    const y = g.linear(h, W2);
    const loss = g.name(g.mse(y, t), "loss");
    return { g, x, t, W1, b1, W2, h, y, loss, xs: randomArray(12, 13, 0.1, 1), ts: randomArray(8, 14) };
  }

  it("a NaN planted in the input: fires once, naming the loss, with every NaN gradient and the input as origin", async () => {
    const sg = await runtime();
    const { g, loss, xs, ts } = mlp(sg);
    const calls: [Anomaly, readonly Anomaly[]][] = [];
    g.onAnomaly((a, all) => calls.push([a, all]));
    g.forward({ x: xs, t: ts });
    g.backward(loss);
    expect(calls).toEqual([]);
    const bad = Float32Array.from(xs);
    bad[4] = NaN;
    g.forward({ x: bad, t: ts });
    g.backward(loss);
    expect(calls.length).toBe(1);
    const [first, all] = calls[0]!;
    expect(first.kind).toBe("nonfinite-loss");
    expect(first.node).toBe(loss);
    expect(first.name).toBe("loss");
    expect(first.run).toBe(2);
    expect(first.message).toMatch(/'loss' \[\] \(mse\) is NaN or Inf/);
    expect(first.origin!.name).toBe("x");
    expect(first.origin!.phase).toBe("forward");
    expect(first.origin!.nonfinite).toBe(1);
    expect(first.message).toMatch(/value of 'x' \[4, 3\] \(input\)/);
    expect(all[0]).toBe(first);
    // Row 1 of x and so of h and y is NaN. W1's gradient xᵀ·dz and W2's hᵀ·dy take it in;
    // b1's stays finite: relu′ is 0 where its input is NaN (NaN > 0 is false).
    expect(all.slice(1).map((a) => [a.kind, a.name])).toEqual([
      ["nonfinite-gradient", "W1"],
      ["nonfinite-gradient", "W2"],
    ]);
    expect(all[1]!.message).toMatch(/the gradient of 'W1' \[3, 5\] \(param\) has NaN or Inf/);
    g.dispose();
  });

  it("a NaN planted in a param's value is traced to that param", async () => {
    const sg = await runtime();
    const { g, loss, xs, ts, W2 } = mlp(sg);
    let seen: Anomaly | null = null;
    g.onAnomaly((a) => (seen = a));
    const w = W2.value.toArray();
    w[3] = NaN;
    W2.value = w;
    g.forward({ x: xs, t: ts });
    g.backward(loss);
    expect(seen).not.toBeNull();
    expect(seen!.origin!.node).toBe(W2);
    expect(seen!.origin!.phase).toBe("forward");
    g.dispose();
  });

  it("a NaN that appears only in backward (a custom op's gradient) names the param and the node it entered", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const x = g.input([2, 3], "x");
    const W = g.param([3, 3], { data: randomArray(9, 21), name: "W" });
    const h = g.name(g.linear(x, W), "h");
    const poison = g.custom(
      {
        name: "poison",
        forward: (_ctx, a) => sg.scale(a, 1),
        backward: (_ctx, dy) => {
          const d = dy.toArray();
          d[2] = NaN;
          return [sg.tensor(dy.shape, d)];
        },
      },
      h,
    );
    const loss = g.sum(poison);
    const events: Anomaly[] = [];
    g.onAnomaly((_a, all) => events.push(...all));
    g.forward({ x: randomArray(6, 22) });
    g.backward(loss);
    expect(events.map((e) => [e.kind, e.name])).toEqual([["nonfinite-gradient", "W"]]);
    expect(events[0]!.nonfinite).toBe(3); // column 2 of dW = xᵀ·dh
    expect(events[0]!.origin!.phase).toBe("backward");
    expect(events[0]!.origin!.node).toBe(h);
    expect(events[0]!.message).toMatch(/gradient of 'h' \[2, 3\] \(linear\)/);
    g.dispose();
  });

  it("gradient growth beyond the factor fires with the ratio; below it, or without a factor, it does not", async () => {
    const sg = await runtime();
    const { g, loss, xs, ts } = mlp(sg);
    const at10: Anomaly[] = [];
    const at1000: Anomaly[] = [];
    const nanOnly: Anomaly[] = [];
    g.onAnomaly((_a, all) => at10.push(...all), { growthFactor: 10 });
    const off = g.onAnomaly((_a, all) => at1000.push(...all), { growthFactor: 1000 });
    g.onAnomaly((_a, all) => nanOnly.push(...all));
    g.forward({ x: xs, t: ts });
    g.backward(loss);
    g.zeroGrad();
    g.backward(loss); // same gradient: ratio 1
    expect(at10).toEqual([]);
    // Targets 200× further away: the mse gradient grows ~100–200×.
    g.forward({ x: xs, t: ts.map((v) => v * 200 + 100) });
    g.zeroGrad();
    g.backward(loss);
    expect(at10.length).toBeGreaterThan(0);
    expect(at10.every((a) => a.kind === "gradient-growth" && a.growth! > 10)).toBe(true);
    const w2 = at10.find((a) => a.name === "W2")!;
    expect(w2.growth).toBeCloseTo(w2.gradNorm! / w2.previousGradNorm!, 10);
    expect(w2.message).toMatch(/the gradient norm of 'W2' \[5, 2\] \(param\) grew .*× in one step/);
    expect(at1000).toEqual([]);
    expect(nanOnly).toEqual([]);
    // Unsubscribed listeners hear nothing more; the others still do.
    off();
    off(); // twice is harmless
    g.forward({ x: xs, t: ts.map((v) => v * 1e6 + 1e6) });
    g.zeroGrad();
    g.backward(loss);
    expect(at1000).toEqual([]);
    expect(at10.length).toBeGreaterThan(1);
    g.dispose();
  });

  it("fires on every run while the NaN persists, and not after unsubscribing", async () => {
    const sg = await runtime();
    const { g, loss, xs, ts } = mlp(sg);
    let n = 0;
    const off = g.onAnomaly(() => n++);
    const bad = Float32Array.from(ts);
    bad[0] = Infinity;
    g.forward({ x: xs, t: bad });
    g.backward(loss);
    g.backward(loss);
    expect(n).toBe(2);
    off();
    g.backward(loss);
    expect(n).toBe(2);
    g.dispose();
  });
});

describe("bad input to the gradient-health methods", () => {
  it("clear errors naming the method; the graph keeps working", async () => {
    const sg = await runtime();
    const { g, loss, feeds } = smallNet(sg);
    expect(() => g.stats()).toThrow(/^stats: gradient statistics are not being collected; call g\.trackStats\(true\)/);
    expect(() => g.gradNorms()).toThrow(/^gradNorms: .*trackStats\(true\)/);
    expect(() => g.trackStats("yes" as never)).toThrow(/^trackStats: expected true or false, got string/);
    expect(() => g.onAnomaly(42 as never)).toThrow(/^onAnomaly: expected a callback function, got number/);
    expect(() => g.onAnomaly(() => {}, { growthFactor: 1 })).toThrow(/^onAnomaly: growthFactor must be a number > 1, got 1/);
    expect(() => g.onAnomaly(() => {}, { growthFactor: NaN })).toThrow(/growthFactor must be a number > 1, got NaN/);
    expect(() => g.onAnomaly(() => {}, null as never)).toThrow(/^onAnomaly: options must be/);
    g.trackStats();
    expect(() => g.gradNorms(new Float64Array(2))).toThrow(/^gradNorms: out must be a Float64Array of at least 4 values/);
    expect(() => g.gradNorms([0, 0, 0, 0] as never)).toThrow(/^gradNorms: out must be a Float64Array/);
    g.forward(feeds);
    g.backward(loss);
    expect(g.stats().runs).toBe(1);
    expect(g.gradNorms().every((v) => v > 0)).toBe(true);
    g.dispose();
    expect(() => g.stats()).toThrow(/^stats: this graph has been disposed/);
    expect(() => g.trackStats()).toThrow(/^trackStats: this graph has been disposed/);
    expect(() => g.onAnomaly(() => {})).toThrow(/^onAnomaly: this graph has been disposed/);
  });

  it("disposing a graph with statistics frees their memory", async () => {
    const sg = await runtime();
    const before = sg.memory.bytesInUse;
    const { g, loss, feeds } = smallNet(sg);
    g.trackStats();
    g.onAnomaly(() => {});
    g.forward(feeds);
    g.backward(loss);
    g.dispose();
    expect(sg.memory.bytesInUse).toBe(before);
  });
});
