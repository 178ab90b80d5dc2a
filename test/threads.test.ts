import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { init, type SimdGrad } from "../src/index.js";
import { ELEMENTWISE, GEMM_MIN_MACS } from "../src/threads/split.js";
import { randomArray, expectSameBits, expectSameTraining, threadRuntimes } from "./helpers.js";

// Results with threads must equal one thread's: GEMM splits the output into blocks whose
// elements are computed exactly as on one thread, and elementwise kernels split by range,
// so the comparison is exact (tolerance 0).

const runtimes = threadRuntimes();

describe("threads", () => {
  it("starts the pool and reports the thread count", () => {
    expect(runtimes[1]!.features.threads).toBe(1);
    expect(runtimes[2]!.features.threads).toBe(2);
    expect(runtimes[3]!.features.threads).toBe(3);
    expect(runtimes[3]!.features.warnings).toEqual([]);
  });

  it("GEMM with 2 and 3 threads equals one thread, every transpose case, uneven splits", () => {
    const shapes: [number, number, number][] = [
      [67, 129, 45], // more columns than rows: split by columns
      [301, 17, 90], // split by rows, an uneven last block
      [64, 784, 256],
      [130, 130, 33],
      [9, 16, 2048], // a last block of one row would take the matrix-vector path: it joins the one before
      [5, 3, 2], // below the threshold: stays on the caller
      // 2–4 rows with B of 2^19 floats or more: the whole product reads B's rows in order
      // (gemm_rows_seq); split by columns, each part's B is under the bound and takes the tiles
      [4, 1030, 600],
      [3, 1100, 520],
      [2, 2100, 300],
      [10, 1000, 300], // 5–12 rows four at a time (B's rows 1000 floats apart), split by columns
    ];
    for (const [m, n, k] of shapes) {
      for (const [tA, tB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
        const results = [1, 2, 3].map((t) => {
          const sg = runtimes[t]!;
          const a = sg.tensor(tA ? [k, m] : [m, k], randomArray(m * k, 1));
          const b = sg.tensor(tB ? [n, k] : [k, n], randomArray(k * n, 2));
          const c = sg.tensor([m, n], randomArray(m * n, 3));
          sg.matmul(a, b, { transposeA: tA, transposeB: tB, out: c, accumulate: true });
          const out = c.toArray();
          for (const x of [a, b, c]) x.dispose();
          return out;
        });
        expectSameBits(results[1]!, results[0]!, `${m}×${n}×${k} ${tA ? "T" : "N"}${tB ? "T" : "N"} 2 threads`);
        expectSameBits(results[2]!, results[0]!, `${m}×${n}×${k} ${tA ? "T" : "N"}${tB ? "T" : "N"} 3 threads`);
      }
    }
    expect(64 * 784 * 256).toBeGreaterThan(GEMM_MIN_MACS);
  });

  it("elementwise kernels split by range give the same results", () => {
    const n = 100_003; // above the threshold, not a multiple of 4 or 3
    const acts = ["sigmoid", "tanh", "relu", "swish", "gelu", "hardTanh"] as const;
    for (const act of acts) {
      const outs = [1, 2, 3].map((t) => {
        const sg = runtimes[t]!;
        const x = sg.tensor([n], randomArray(n, 5, -4, 4));
        const dy = sg.tensor([n], randomArray(n, 6));
        const y = sg[act](x);
        const dx = sg[`${act}Backward`](act === "sigmoid" || act === "tanh" ? y : x, dy);
        const r = [y.toArray(), dx.toArray()];
        for (const t2 of [x, dy, y, dx]) t2.dispose();
        return r;
      });
      for (const t of [1, 2]) {
        expectSameBits(outs[t]![0]!, outs[0]![0]!, `${act} forward, ${t + 1} threads`);
        expectSameBits(outs[t]![1]!, outs[0]![1]!, `${act} backward, ${t + 1} threads`);
      }
    }
    expect(Object.keys(ELEMENTWISE)).toContain("act_backward");
  });

  it("a training step of a graph gives the same loss and parameters on 1, 2 and 3 threads", () => {
    const losses = expectSameTraining(runtimes, (sg) => {
      const g = sg.graph();
      const x = g.input([96, 200], "x");
      const y = g.input([96, 10], "y");
      const W1 = g.param([200, 160], { init: "he", seed: 1, name: "W1" });
      const b1 = g.param([160], { name: "b1" });
      const W2 = g.param([160, 10], { init: "xavier", seed: 2, name: "W2" });
      const b2 = g.param([10], { name: "b2" });
      const loss = g.softmaxCrossEntropy(g.linear(g.linear(x, W1, b1, "gelu"), W2, b2), y);
      const ys = new Float32Array(96 * 10);
      for (let r = 0; r < 96; r++) ys[r * 10 + (r % 10)] = 1;
      return { g, loss, feeds: { x: randomArray(96 * 200, 7), y: ys } };
    });
    expect(losses[2]).not.toEqual(losses[0]);
  });

  it("a kernel that traps in a worker becomes an error on the calling side, and the pool keeps working", () => {
    const sg = runtimes[2]!;
    const k = sg.rt.kernels;
    const m = 256;
    const n = 256;
    const kk = 64;
    const a = sg.randn([m, kk]);
    const b = sg.randn([kk, n]);
    const scratch = sg.rt.scratch(k.gemm_scratch_bytes(m, n, kk));
    // C placed so that the caller's block (the first rows) fits in memory and the worker's does not.
    const end = sg.rt.memory.buffer.byteLength;
    const c = end - (m / 2) * n * 4;
    expect(() => k.gemm(0, 0, m, n, kk, 1, a.ptr, kk, b.ptr, n, 0, c, n, scratch)).toThrow(/threads: worker 1('s share)? failed while running gemm/);
    const out = sg.matmul(a, b);
    expect(out.shape).toEqual([m, n]);
    expect(Number.isFinite(out.toArray()[0]!)).toBe(true);
    for (const t of [a, b, out]) t.dispose();
  });

  it("rejects a bad thread count with a clear error", async () => {
    await expect(init({ threads: 0 })).rejects.toThrow("init: threads must be a positive integer, got 0");
    await expect(init({ threads: 1.5 })).rejects.toThrow(/threads must be a positive integer/);
  });
});

describe("the module serves every worker", () => {
  it("has no data segments and no mutable globals (kernels keep no state)", () => {
    for (const file of ["build/simdgrad.simd.wasm", "build/simdgrad.relaxed.wasm"]) {
      const sections = wasmSections(readFileSync(file));
      expect(sections.get(11) ?? 0, `${file}: data section`).toBe(0);
      const globals = sections.get(6);
      if (globals !== undefined) {
        // A global section may only hold immutable globals.
        expect(globals, `${file}: globals`).toBe(-1);
      }
    }
  });
});


/** Section id → byte size (globals: −1 when every global is immutable, else its size). */
function wasmSections(b: Uint8Array): Map<number, number> {
  const out = new Map<number, number>();
  let p = 8;
  const u32 = (): number => {
    let r = 0;
    let s = 0;
    for (;;) {
      const x = b[p++]!;
      r += (x & 0x7f) * 2 ** s;
      if (!(x & 0x80)) return r;
      s += 7;
    }
  };
  while (p < b.length) {
    const id = b[p++]!;
    const size = u32();
    const start = p;
    if (id === 6) {
      const count = u32();
      let mutable = false;
      for (let i = 0; i < count; i++) {
        p++; // value type
        if (b[p++] === 1) mutable = true;
        while (b[p] !== 0x0b) p++; // skip the constant initialiser
        p++;
      }
      out.set(id, mutable ? size : -1);
    } else {
      out.set(id, size);
    }
    p = start + size;
  }
  return out;
}
