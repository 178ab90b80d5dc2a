/**
 * Misuse fuzzing: random sequences of API calls, many of them wrong (bad shapes, bad feeds,
 * disposed tensors and graphs, foreign runtimes, a closed runtime, forward called from inside
 * a custom op, non-finite and non-number arguments). Every call must end in a result or in
 * a clear Error — an Error whose message names what was called, never a wasm trap, a
 * JavaScript internals message ("Cannot read properties of …", "… is not a function") or a
 * hang — and after every sequence the runtime must still compute a known result exactly.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { init, type Graph, type Node, type SimdGrad, type Tensor } from "../../src/index.js";
import { BUILD } from "../helpers.js";
import { Chooser } from "./ops.js";

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
  log: string[];
}

const SHAPES: unknown[] = [[2, 3], [3], [], [3, 2], [0, 4], [-1, 2], [2.5], "2x3", null, [1e6, 1e6], [2, 3, 4]];
const DATA: unknown[] = [[1, 2, 3, 4, 5, 6], [1, 2, 3], [], [NaN, 1, 2], null, "abc", new Float32Array(6), { length: 6 }];

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
    ["sg.gradcheck", () => {
      const { g, loss } = pickG();
      w.sg.gradcheck(g, loss!, { feeds: { [g.inputs[0]!.name]: [1, 2, 3, 4, 5, 6] }, samples: c.pick([1, 0, -1, 2.5]) } as never);
    }],
  ];
  const [name, fn] = actions[c.int(actions.length)]!;
  w.log.push(name);
  try {
    fn();
  } catch (e) {
    checkError(e, `${name} (after ${w.log.slice(0, -1).join(" → ") || "nothing"})`);
  }
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
  g.dispose();
  for (const t of [a, b, c]) t.dispose();
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
          const w: World = { sg, other, tensors: [], graphs: [], optimizers: [], log: [] };
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
    if (SECONDS > 0) console.log(`misuse: ${sequences} sequences, ${calls} calls, seed ${SEED}`);
  });
});
