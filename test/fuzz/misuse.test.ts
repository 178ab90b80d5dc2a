/**
 * Misuse fuzzing: random sequences of API calls, many of them wrong (bad shapes, bad feeds,
 * disposed tensors and graphs, foreign runtimes, a closed runtime, forward called from inside
 * a custom op, non-finite and non-number arguments, truncated, corrupted and mismatched
 * checkpoints and safetensors files, convolutions and pools of bad shapes, options and windows
 * larger than the padded input). Every call must end in a result or in
 * a clear Error — an Error whose message names what was called, never a wasm trap, a
 * JavaScript internals message ("Cannot read properties of …", "… is not a function") or a
 * hang — and after every sequence the runtime must still compute a known result exactly. A
 * load that fails must change nothing (params and optimizer state keep their bytes); an eager
 * convolution or pool that succeeds must match the float64 reference.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { init, type Graph, type Node, type SimdGrad, type Tensor } from "../../src/index.js";
import { BUILD } from "../helpers.js";
import { Chooser } from "./ops.js";
import { type ConvOpts, convForward, geo, pool, poolGeo } from "../conv-reference.js";

const SECONDS = Number(process.env.FUZZ_SECONDS ?? 0);
const RUNS = Number(process.env.FUZZ_MISUSE_RUNS ?? 150);
const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : SECONDS > 0 ? Date.now() % 2 ** 31 : 20261201;

/** What a clear error looks like: an Error, a message that starts by naming the call, no JS internals. */
function checkError(e: unknown, step: string): void {
  if (e instanceof WebAssembly.RuntimeError) throw new Error(`${step}: a wasm trap reached the user: ${e.message}`);
  if (!(e instanceof Error)) throw new Error(`${step}: threw a non-Error: ${String(e)}`);
  const m = e.message;
  if (/Cannot read propert|is not a function|is not iterable|undefined is not|of undefined|of null|Maximum call stack|detached ArrayBuffer|Invalid typed array length/.test(m)) {
    throw new Error(`${step}: an unclear error reached the user: ${e.constructor.name}: ${m}`);
  }
  if (!/^[A-Za-z][\w.#]*( [\w.#]+)?:/.test(m)) throw new Error(`${step}: the error does not start by naming the op: ${m}`);
}

interface World {
  sg: SimdGrad;
  other: SimdGrad;
  tensors: Tensor[];
  graphs: { g: Graph; nodes: Node[]; loss: Node | null }[];
  optimizers: { dispose(): void }[];
  /** Optimizers over a graph's params, for checkpoints. */
  trained: { g: Graph; opt: ReturnType<SimdGrad["adam"]> | ReturnType<SimdGrad["sgd"]> }[];
  log: string[];
}

const SHAPES: unknown[] = [[2, 3], [3], [], [3, 2], [0, 4], [-1, 2], [2.5], "2x3", null, [1e6, 1e6], [2, 3, 4]];
const DATA: unknown[] = [[1, 2, 3, 4, 5, 6], [1, 2, 3], [], [NaN, 1, 2], null, "abc", new Float32Array(6), { length: 6 }];

const CONV_X: number[][] = [[1, 4, 4, 2], [2, 3, 3, 1], [1, 1, 1, 1], [1, 0, 4, 2], [4, 4, 2], [1, 4, 4, 3], [1, 2, 5, 2], [0, 3, 3, 2]];
const CONV_F: number[][] = [[3, 3, 2, 4], [5, 5, 2, 1], [1, 1, 2, 2], [3, 3, 3, 2], [2, 2, 2], [0, 3, 2, 1], [9, 1, 2, 1], [2, 2, 1, 3]];
const CONV_OPTS: unknown[] = [{}, { padding: "same" }, { padding: 1 }, { padding: 5 }, { stride: 0 }, { stride: [2, 1] }, { dilation: 3 }, { padding: -1 }, { stride: 2.5 }, { padding: "full" }, null, { dilation: [1, 0] }, { stride: 2, padding: "same", dilation: 2 }, "same", { stride: [1, 2, 3] }];
const POOL_OPTS: unknown[] = [{ size: 2 }, { size: 5 }, { size: [1, 9] }, { size: 3, padding: 1 }, { size: 3, padding: 2 }, { size: 2, stride: 0 }, { size: 0 }, {}, null, { size: 2, padding: "same" }, { size: 4, stride: 3, padding: "same" }, { size: [2, 3], stride: [1, 2] }, { size: 1, padding: 1 }, 2];

/** Whether `o` is an options object the float64 reference reads as the op does (when the op accepted it). */
const plainOpts = (o: unknown): o is ConvOpts => o !== null && typeof o === "object" && !Array.isArray(o);

/** Eager conv2d / pool results that came back must match the float64 reference. */
function checkConv(x: Tensor, f: Tensor, opts: unknown, y: Tensor, step: string): void {
  if (!plainOpts(opts)) throw new Error(`${step}: accepted options ${JSON.stringify(opts)}`);
  const ref = convForward(geo(x.shape, f.shape, opts), x.toArray(), f.toArray());
  const got = y.toArray();
  if (got.length !== ref.want.length) throw new Error(`${step}: ${got.length} results, the reference has ${ref.want.length}`);
  got.forEach((v, i) => {
    if (!(Math.abs(v - ref.want[i]!) <= 1e-5 * ref.mag[i]! + 1e-30)) throw new Error(`${step}: element ${i} is ${v}, the reference ${ref.want[i]}`);
  });
}

function checkPool(kind: "max" | "avg", x: Tensor, opts: unknown, y: Tensor, step: string): void {
  const o = opts as { size: number | [number, number]; stride?: number | [number, number]; padding?: "valid" | "same" | number };
  const ref = pool(poolGeo(x.shape, o.size, o.stride, o.padding), x.toArray(), null);
  const want = kind === "max" ? ref.max : ref.avg;
  const got = y.toArray();
  if (got.length !== want.length) throw new Error(`${step}: ${got.length} results, the reference has ${want.length}`);
  got.forEach((v, i) => {
    if (!(Math.abs(v - want[i]!) <= 1e-6 * (1 + Math.abs(want[i]!)))) throw new Error(`${step}: element ${i} is ${v}, the reference ${want[i]}`);
  });
}

/** A file made from `bytes` by one of the ways files go bad: truncated, bytes flipped, the header length or JSON edited, or nothing at all. */
function damage(bytes: Uint8Array, c: Chooser): Uint8Array {
  const b = bytes.slice();
  const headerLen = b.length >= 8 ? new DataView(b.buffer).getUint32(0, true) : 0;
  switch (c.int(8)) {
    case 0: return b; // intact (what an exhausted choice list gives)
    case 7: return b.subarray(0, c.int(b.length + 1)); // truncated anywhere
    case 1: return b.subarray(0, Math.min(b.length, 8 + headerLen + c.int(8))); // header whole, data cut
    case 2: { // random bytes flipped (data or header)
      for (let k = 0, n = 1 + c.int(4); k < n && b.length > 0; k++) b[c.int(b.length)]! ^= 1 << c.int(8);
      return b;
    }
    case 3: { // a byte of the JSON header replaced by a JSON-significant character
      if (headerLen > 0) b[8 + c.int(Math.min(headerLen, b.length - 8))] = c.pick([0x22, 0x7b, 0x7d, 0x5b, 0x5d, 0x2c, 0x3a, 0x30, 0x39, 0x2d, 0x20, 0]);
      return b;
    }
    case 4: { // the header length prefix made wrong
      new DataView(b.buffer).setUint32(0, c.pick([0, 1, headerLen + 1, headerLen - 1, 0xffffffff, b.length]) >>> 0, true);
      return b;
    }
    case 5: return new Uint8Array(c.pick([0, 3, 8, 16])); // empty or zeros
    case 6: { // extra bytes after the data
      const out = new Uint8Array(b.length + 1 + c.int(7));
      out.set(b);
      return out;
    }
    default: return b;
  }
}

/** Every param's values and the optimizer's state as bytes (null if the graph cannot be read). */
function snapshot(w: World, g: Graph, opt?: World["trained"][number]["opt"]): Uint8Array | null {
  try {
    return w.sg.checkpoint.save(opt ? { graph: g, optimizer: opt } : { graph: g });
  } catch {
    return null;
  }
}

/** How often each action ended in a result and in a clear error. */
const TALLY = new Map<string, { ok: number; error: number }>();

/** One random action; returns a description. Throws only for a broken contract. */
function act(w: World, c: Chooser): void {
  const pickT = () => {
    if (w.tensors.length === 0) w.tensors.push(w.sg.zeros([2, 3]));
    return w.tensors[c.int(w.tensors.length)]!;
  };
  const pickG = () => {
    if (w.graphs.length === 0 || c.chance(5)) {
      const g = w.sg.graph();
      const x = g.input([2, 3], `x${w.graphs.length}`);
      const W = g.param([3, 2], { init: "xavier", seed: 1 });
      const h = g.tanh(g.matmul(x, W));
      const loss = g.mean(g.mul(h, h));
      w.graphs.push({ g, nodes: [x, W, h, loss], loss });
    }
    return w.graphs[c.int(w.graphs.length)]!;
  };
  const actions: [string, () => unknown][] = [
    ["sg.tensor", () => w.tensors.push(w.sg.tensor(c.pick(SHAPES) as number[], c.pick(DATA) as number[]))],
    ["sg.randn", () => w.tensors.push(w.sg.randn(c.pick(SHAPES) as number[], { seed: c.int(5) }))],
    ["t.dispose", () => pickT().dispose()],
    ["t.set", () => pickT().set(c.pick(DATA) as number[])],
    ["t.toArray", () => pickT().toArray()],
    ["t.readInto", () => pickT().readInto(c.pick([new Float32Array(2), new Float32Array(6), [1, 2] as unknown as Float32Array]))],
    ["sg.matmul", () => w.tensors.push(w.sg.matmul(pickT(), pickT(), c.pick([{}, { transposeA: true }, { transposeB: "yes" } as never, null as never])))],
    ["sg.relu", () => w.tensors.push(w.sg.relu(pickT()))],
    ["sg.add", () => w.tensors.push(w.sg.add(pickT(), pickT()))],
    ["sg.matmul other runtime", () => w.sg.matmul(pickT(), w.other.zeros([3, 2]))],
    ["g.forward", () => {
      const { g } = pickG();
      const feeds = c.pick([{}, { [g.inputs[0]!.name]: c.pick(DATA) }, { nope: [1] }, null, { [g.inputs[0]!.name]: pickT() }]);
      g.forward(feeds as never);
    }],
    ["g.backward", () => {
      const { g, loss, nodes } = pickG();
      g.backward(c.pick([loss!, nodes[c.int(nodes.length)]!, pickG().loss!]), c.chance(3) ? (c.pick(DATA) as number[]) : undefined);
    }],
    ["g.dispose", () => pickG().g.dispose()],
    ["g.op on disposed", () => {
      const { g, nodes } = pickG();
      g.relu(nodes[c.int(nodes.length)]!);
    }],
    ["g.matmul bad shapes", () => {
      const { g, nodes } = pickG();
      g.matmul(nodes[c.int(nodes.length)]!, nodes[c.int(nodes.length)]!);
    }],
    ["g.add other graph", () => pickG().g.add(pickG().nodes[0]!, pickG().nodes[1]!)],
    ["node.value set", () => {
      const { nodes } = pickG();
      nodes[c.int(nodes.length)]!.value = c.pick(DATA) as number[];
    }],
    ["node.value.dispose", () => {
      const { nodes } = pickG();
      nodes[1]!.value.dispose();
    }],
    ["sg.sgd step", () => {
      const { g } = pickG();
      const opt = w.sg.sgd(c.chance(4) ? [...g.params, ...g.params] : g.params, { lr: c.pick([0.1, -1, NaN, 0]) });
      w.optimizers.push(opt);
      opt.step();
    }],
    ["sg.adam step", () => {
      const { g } = pickG();
      const opt = w.sg.adam(g.params, c.pick([{ lr: 0.01 }, { beta1: 1.5 }, { eps: 0 }, null as never]));
      w.optimizers.push(opt);
      opt.step();
    }],
    ["sg.adam other runtime", () => {
      const { g } = pickG();
      const opt = w.other.adam(g.params, { lr: 0.1 });
      w.optimizers.push(opt);
      opt.step();
    }],
    ["custom forward inside backward", () => {
      const { g, nodes } = pickG();
      const y = g.custom({
        name: "reenter",
        forward: (ctx, x) => {
          ctx.save(x);
          return w.sg.tanh(x);
        },
        backward: (_ctx, dy) => {
          g.forward();
          return [dy];
        },
      }, nodes[2]!);
      const l = g.sum(y);
      g.forward({ [g.inputs[0]!.name]: [1, 2, 3, 4, 5, 6] });
      g.backward(l);
    }],
    ["loadParams damaged or mismatched", () => {
      const { g } = pickG();
      const src = c.pick([pickG().g, pickG().g, w.graphs[c.int(w.graphs.length)]!.g]);
      // From this graph, another one (other names or shapes), or a checkpoint.
      const other = c.chance(4) ? (() => {
        const h = w.sg.graph();
        h.param(c.pick([[3, 2], [2, 3], [3], [6]]), { name: c.pick(["W", "param#1", "x0"]) });
        const bytes = h.saveParams();
        h.dispose();
        return bytes;
      })() : null;
      const bytes = damage(other ?? (c.chance(5) ? w.sg.checkpoint.save({ graph: src }) : src.saveParams()), c);
      const before = snapshot(w, g);
      try {
        g.loadParams(c.chance(6) ? (bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer) : bytes, c.pick([undefined, { strict: false }, { strict: true }]));
      } catch (e) {
        const after = snapshot(w, g);
        if (before && after && !sameBytes(before, after)) throw new Error(`loadParams: failed (${(e as Error).message}) but changed the params`);
        throw e;
      }
    }],
    ["checkpoint.load damaged or mismatched", () => {
      const { g } = pickG();
      if (w.trained.length === 0 || c.chance(3)) {
        const opt = c.chance(2) ? w.sg.adam(g.params, { lr: c.pick([0.01, 0.1]) }) : w.sg.sgd(g.params, { lr: 0.1, momentum: c.pick([0, 0.9]) });
        w.optimizers.push(opt);
        w.trained.push({ g, opt });
      }
      const from = w.trained[c.int(w.trained.length)]!;
      if (c.chance(2)) from.opt.step();
      const into = c.chance(3) ? from : w.trained[c.int(w.trained.length)]!;
      const bytes = damage(c.chance(6) ? from.g.saveParams() : w.sg.checkpoint.save(c.chance(5) ? { graph: from.g } : { graph: from.g, optimizer: from.opt }), c);
      const target = c.chance(4) ? { graph: into.g } : { graph: into.g, optimizer: into.opt };
      const before = snapshot(w, into.g, target.optimizer);
      try {
        w.sg.checkpoint.load(bytes, target);
      } catch (e) {
        const after = snapshot(w, into.g, target.optimizer);
        if (before && after && !sameBytes(before, after)) throw new Error(`checkpoint.load: failed (${(e as Error).message}) but changed the params or the optimizer state`);
        throw e;
      }
    }],
    ["safetensors.parse damaged", () => {
      const { g } = pickG();
      const parsed = w.sg.safetensors.parse(damage(g.saveParams(), c));
      for (const t of Object.values(parsed)) if (t.data.length !== t.shape.reduce((a, b) => a * b, 1)) throw new Error("safetensors.parse: a tensor's data does not match its shape");
    }],
    ["sg.conv2d", () => {
      const x = w.sg.randn(c.pick(CONV_X), { seed: c.int(9) });
      const f = w.sg.randn(c.pick(CONV_F), { seed: c.int(9) });
      w.tensors.push(x, f);
      const opts = c.pick(CONV_OPTS);
      const y = w.sg.conv2d(x, f, opts as never);
      w.tensors.push(y);
      checkConv(x, f, opts, y, "sg.conv2d");
    }],
    ["sg.maxPool2d / avgPool2d", () => {
      const x = w.sg.randn(c.pick(CONV_X), { seed: c.int(9) });
      w.tensors.push(x);
      const kind = c.pick(["max", "avg"] as const);
      const opts = c.pick(POOL_OPTS);
      const y = kind === "max" ? w.sg.maxPool2d(x, opts as never) : w.sg.avgPool2d(x, opts as never);
      w.tensors.push(y);
      checkPool(kind, x, opts, y, `sg.${kind}Pool2d`);
    }],
    ["conv/pool backward helpers", () => {
      const opts = c.pick(CONV_OPTS);
      const t = () => {
        const u = w.sg.randn(c.pick([...CONV_X, ...CONV_F]), { seed: c.int(9) });
        w.tensors.push(u);
        return u;
      };
      const which = c.int(4);
      const r = which === 0 ? w.sg.conv2dBackwardInput(t(), t(), c.pick(CONV_X) as never, opts as never)
        : which === 1 ? w.sg.conv2dBackwardFilter(t(), t(), c.pick(CONV_F) as never, opts as never)
        : which === 2 ? w.sg.maxPool2dBackward(t(), t(), t(), c.pick(POOL_OPTS) as never)
        : w.sg.avgPool2dBackward(t(), c.pick(CONV_X) as never, c.pick(POOL_OPTS) as never);
      w.tensors.push(r);
    }],
    ["g.conv2d / pools", () => {
      const g = w.sg.graph();
      const xs = c.pick(CONV_X);
      const x = g.input(c.chance(3) ? [-1, ...xs.slice(1)] : xs, "img");
      const f = g.param(c.pick(CONV_F), { init: "he", seed: 3 });
      w.graphs.push({ g, nodes: [x, f], loss: null });
      let y = g.conv2d(x, f, c.pick(CONV_OPTS) as never);
      if (c.chance(2)) y = c.chance(2) ? g.maxPool2d(y, c.pick(POOL_OPTS) as never) : g.avgPool2d(y, c.pick(POOL_OPTS) as never);
      const loss = g.sum(y);
      w.graphs[w.graphs.length - 1] = { g, nodes: [x, f, y, loss], loss };
      const n = c.pick([1, 2, 0]) * xs.slice(1).reduce((a, b) => a * b, 1);
      g.forward({ img: c.chance(5) ? [1, 2, 3] : Float32Array.from({ length: n }, (_, i) => Math.sin(i)) });
      g.backward(loss);
    }],
    ["sg.gradcheck", () => {
      const { g, loss } = pickG();
      w.sg.gradcheck(g, loss!, { feeds: { [g.inputs[0]!.name]: [1, 2, 3, 4, 5, 6] }, samples: c.pick([1, 0, -1, 2.5]) } as never);
    }],
  ];
  const [name, fn] = actions[c.int(actions.length)]!;
  w.log.push(name);
  const tally = TALLY.get(name) ?? { ok: 0, error: 0 };
  TALLY.set(name, tally);
  try {
    fn();
    tally.ok++;
  } catch (e) {
    checkError(e, `${name} (after ${w.log.slice(0, -1).join(" → ") || "nothing"})`);
    tally.error++;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** A computation with a known answer, on a runtime that went through a sequence. */
async function knownResult(sg: SimdGrad): Promise<void> {
  const a = sg.tensor([2, 2], [1, 2, 3, 4]);
  const b = sg.tensor([2, 2], [5, 6, 7, 8]);
  const c = sg.matmul(a, b);
  expect(Array.from(c.toArray())).toEqual([19, 22, 43, 50]);
  const g = sg.graph();
  const x = g.param([3], { data: [1, -2, 3] });
  const l = g.sum(g.mul(x, x));
  g.forward();
  g.backward(l);
  expect(l.value.toArray()[0]).toBe(14);
  expect(Array.from(x.grad!.toArray())).toEqual([2, -4, 6]);
  // Params and optimizer state round-trip through a checkpoint exactly.
  const opt = sg.adam([x], { lr: 0.5 });
  opt.step();
  const saved = sg.checkpoint.save({ graph: g, optimizer: opt });
  const stepped = x.value.toArray();
  opt.step();
  sg.checkpoint.load(saved, { graph: g, optimizer: opt });
  expect(Array.from(x.value.toArray())).toEqual(Array.from(stepped));
  expect(sameBytes(sg.checkpoint.save({ graph: g, optimizer: opt }), saved)).toBe(true);
  opt.dispose();
  g.dispose();
  // A convolution and the pools.
  const img = sg.tensor([1, 2, 2, 1], [1, 2, 3, 4]);
  const k = sg.tensor([1, 1, 1, 1], [2]);
  const conv = sg.conv2d(img, k);
  expect(Array.from(conv.toArray())).toEqual([2, 4, 6, 8]);
  const mp = sg.maxPool2d(img, { size: 2 });
  const ap = sg.avgPool2d(img, { size: 2 });
  expect([mp.toArray()[0], ap.toArray()[0]]).toEqual([4, 2.5]);
  for (const t of [a, b, c, img, k, conv, mp, ap]) t.dispose();
}

describe("misuse fuzzing", () => {
  it(`${SECONDS > 0 ? `${SECONDS} s of` : RUNS} random call sequences end in results or clear errors, and the runtime still computes exactly (seed ${SEED})`, async () => {
    const other = await init({ relaxedSimd: BUILD === "relaxed" });
    let sequences = 0;
    let calls = 0;
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.nat({ max: 1 << 16 }), { minLength: 1, maxLength: 60 }), async (cs) => {
          const sg = await init({ relaxedSimd: BUILD === "relaxed" });
          const w: World = { sg, other, tensors: [], graphs: [], optimizers: [], trained: [], log: [] };
          const c = new Chooser(cs);
          const n = 1 + c.int(20);
          try {
            // The runtime's own lasting allocations (the kernels' shared scratch area).
            await knownResult(sg);
            const baseline = sg.memory.liveAllocations;
            for (let i = 0; i < n; i++) act(w, c);
            calls += n;
            sequences++;
            await knownResult(sg);
            // Everything the sequence made can be released, and then nothing is left.
            for (const { g } of w.graphs) g.dispose();
            for (const o of w.optimizers) o.dispose();
            for (const t of w.tensors) t.dispose();
            expect(sg.memory.liveAllocations, `live allocations after ${w.log.join(" → ")}`).toBe(baseline);
          } finally {
            await sg.close();
          }
        }),
        SECONDS > 0 ? { seed: SEED, numRuns: 1e9, interruptAfterTimeLimit: SECONDS * 1000 } : { seed: SEED, numRuns: RUNS },
      );
      // Closing a runtime with graphs and tensors alive: every later call is a clear error.
      const sg = await init({ relaxedSimd: BUILD === "relaxed" });
      const g = sg.graph();
      const x = g.param([2], { data: [1, 2] });
      const t = sg.tensor([2], [1, 2]);
      await sg.close();
      for (const [what, fn] of [
        ["forward", () => g.forward()],
        ["tensor", () => sg.tensor([1])],
        ["toArray", () => t.toArray()],
        ["value", () => x.value],
      ] as const) {
        expect(fn, what).toThrow(/closed|disposed/);
      }
    } finally {
      await other.close();
    }
    expect(sequences).toBeGreaterThan(0);
    // The share really drew the file and convolution actions, and some of them succeeded.
    const files = ["loadParams damaged or mismatched", "checkpoint.load damaged or mismatched", "safetensors.parse damaged"];
    const convs = ["sg.conv2d", "sg.maxPool2d / avgPool2d", "g.conv2d / pools", "conv/pool backward helpers"];
    for (const name of [...files, ...convs]) expect((TALLY.get(name)?.ok ?? 0) + (TALLY.get(name)?.error ?? 0), `${name} drawn`).toBeGreaterThan(0);
    for (const group of [files, convs]) {
      expect(group.reduce((a, n) => a + (TALLY.get(n)?.ok ?? 0), 0), `${group.join(", ")}: some succeeded`).toBeGreaterThan(0);
      expect(group.reduce((a, n) => a + (TALLY.get(n)?.error ?? 0), 0), `${group.join(", ")}: some failed`).toBeGreaterThan(0);
    }
    if (SECONDS > 0) {
      console.log(`misuse: ${sequences} sequences, ${calls} calls, seed ${SEED}`);
      console.log([...TALLY].map(([n, t]) => `  ${n}: ${t.ok} results, ${t.error} errors`).join("\n"));
    }
  });
});
