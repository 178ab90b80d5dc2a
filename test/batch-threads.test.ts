/**
 * Kernels split into runs of whole items (rule "batch": pooling by images, softmax by rows,
 * layer norm's forward by rows) equal one thread bit for bit.
 *
 * First through a recording pool that runs each worker's task itself: every item-wise kernel,
 * called through threadedKernels on 3 "threads", must hand out tasks (so the split is really
 * taken) and write exactly what one call writes, and nothing outside its outputs. Then on real
 * runtimes of 1, 2 and 3 threads: a graph with both pools, softmax, logSoftmax and layer norm
 * trains to the same bits.
 */
import { describe, expect, it } from "vitest";
import type { Kernels } from "../src/runtime/kernels.js";
import { BATCH, threadedKernels } from "../src/threads/split.js";
import type { Pool } from "../src/threads/pool.js";
import { guarded, kernels, randomArray, expectSameBits, expectSameTraining, threadRuntimes } from "./helpers.js";

const runtimes = threadRuntimes();


type Fn = (...a: number[]) => void;

/** A pool of `threads` that records each task and runs it on the calling thread. */
function recordingPool(raw: Kernels, threads: number) {
  const names = Object.keys(BATCH);
  const slots = Array.from({ length: threads }, () => ({ kernel: -1, args: new Float64Array(20) }));
  const tasks: string[] = [];
  const pool = {
    threads,
    kernel: (name: string) => names.indexOf(name),
    args(w: number, kernel: number) {
      slots[w]!.kernel = kernel;
      return slots[w]!.args;
    },
    go(count: number, own: () => void) {
      own();
      for (let w = 1; w <= count; w++) {
        const name = names[slots[w]!.kernel]!;
        tasks.push(name);
        (raw as unknown as Record<string, Fn>)[name]!(...Array.from(slots[w]!.args));
      }
    },
  };
  return { pool: pool as unknown as Pool, tasks };
}

describe("item-wise kernels on threads", () => {
  it("every batch-split kernel hands out tasks and writes what one call writes", () => {
    const sg = runtimes[1]!;
    const raw = kernels(sg);
    const { pool, tasks } = recordingPool(raw, 3);
    const split = threadedKernels(raw, pool, [0, 0, 0], { elementwiseMin: 64 }) as unknown as Record<string, Fn>;
    const one = raw as unknown as Record<string, Fn>;
    // Pools: 7 images of 9×10×5, 3×3 windows, stride 2, "same"-like padding 1 (ho = wo = 5).
    const [n, h, w, c, ho, wo] = [7, 9, 10, 5, 5, 5];
    const pack = (lo: number, hi: number) => (lo | (hi << 16)) >>> 0;
    const geom = [pack(3, 3), pack(2, 2), pack(1, 1)];
    // Softmax: 7 outer × 6 × 3 inner; layer norm 7 rows × 37.
    const cases: { name: string; ins: number[]; outs: number[]; args: (p: number[]) => number[] }[] = [
      { name: "maxpool2d_forward", ins: [n * h * w * c], outs: [n * ho * wo * c], args: ([x, y]) => [x!, y!, n, h, w, c, ho, wo, ...geom] },
      { name: "avgpool2d_forward", ins: [n * h * w * c], outs: [n * ho * wo * c], args: ([x, y]) => [x!, y!, n, h, w, c, ho, wo, ...geom] },
      {
        name: "maxpool2d_backward", ins: [n * h * w * c, n * ho * wo * c, n * ho * wo * c], outs: [n * h * w * c],
        args: ([x, y, dy, dx]) => {
          raw.maxpool2d_forward(x!, y!, n, h, w, c, ho, wo, geom[0]!, geom[1]!, geom[2]!);
          return [x!, y!, dy!, dx!, n, h, w, c, ho, wo, ...geom, 1];
        },
      },
      { name: "avgpool2d_backward", ins: [n * ho * wo * c], outs: [n * h * w * c], args: ([dy, dx]) => [dy!, dx!, n, h, w, c, ho, wo, ...geom, 1] },
      { name: "softmax_forward", ins: [7 * 6 * 3], outs: [7 * 6 * 3], args: ([x, y]) => [x!, y!, 7, 6, 3] },
      { name: "log_softmax_forward", ins: [7 * 6 * 3], outs: [7 * 6 * 3], args: ([x, y]) => [x!, y!, 7, 6, 3] },
      { name: "softmax_backward", ins: [7 * 6 * 3, 7 * 6 * 3], outs: [7 * 6 * 3], args: ([y, dy, dx]) => [y!, dy!, dx!, 7, 6, 3, 1] },
      { name: "log_softmax_backward", ins: [7 * 6 * 3, 7 * 6 * 3], outs: [7 * 6 * 3], args: ([y, dy, dx]) => [y!, dy!, dx!, 7, 6, 3, 0] },
      {
        name: "layernorm_forward", ins: [7 * 37, 37, 37], outs: [7 * 37, 7, 7],
        args: ([x, g, b, y, mean, rstd]) => [x!, g!, b!, y!, mean!, rstd!, 7, 37, 1e-5],
      },
    ];
    expect(cases.map((k) => k.name).sort()).toEqual(Object.keys(BATCH).sort());
    let seed = 40;
    for (const k of cases) {
      const runs = [one, split].map((kr) => {
        const ins = k.ins.map((len) => {
          const g = guarded(sg, len);
          g.set(randomArray(len, seed++));
          return g;
        });
        seed -= k.ins.length; // the same inputs on both sides
        const outs = k.outs.map((len) => {
          const g = guarded(sg, len);
          g.set(randomArray(len, 99));
          return g;
        });
        const args = k.args([...ins, ...outs].map((g) => g.ptr));
        const before = tasks.length;
        kr[k.name]!(...args);
        const handed = tasks.length - before;
        const got = outs.map((g) => {
          g.check();
          return g.view().slice();
        });
        for (const g of [...ins, ...outs]) g.free();
        return { got, handed };
      });
      seed += k.ins.length;
      expect(runs[0]!.handed, `${k.name}: one call`).toBe(0);
      expect(runs[1]!.handed, `${k.name}: split over 3 threads`).toBe(2);
      runs[1]!.got.forEach((o, i) => expectSameBits(o, runs[0]!.got[i]!, `${k.name} output ${i}`));
    }
  });

  it("a graph with pools, softmax, logSoftmax and layer norm trains to the same bits on 1, 2 and 3 threads", () => {
    const losses = expectSameTraining(runtimes, (sg) => {
      const g = sg.graph();
      const x = g.input([6, 32, 32, 8], "x");
      const f = g.param([3, 3, 8, 16], { init: "he", seed: 1 });
      const gamma = g.param([16], { data: new Float32Array(16).fill(1) });
      const beta = g.param([16], { seed: 2 });
      let h = g.maxPool2d(g.conv2d(x, f, { padding: "same" }), { size: 2 });
      h = g.avgPool2d(h, { size: 3, stride: 1, padding: 1 });
      h = g.layerNorm(h, gamma, beta);
      const s = g.softmax(h, 1);
      const l = g.logSoftmax(h, -1);
      const loss = g.sum(g.add(g.mul(s, h), g.mul(l, s)));
      return { g, loss, feeds: { x: randomArray(6 * 32 * 32 * 8, 7) }, lr: 0.01 };
    });
    expect(losses[2]).not.toEqual(losses[0]);
  });
});
