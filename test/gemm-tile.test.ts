/**
 * The GEMM's register tiles (init({ gemmTile }), src/runtime/gemm-tile.ts): 4 × 16 gives
 * the bits of 4 × 8 on every path that runs it (whole tiles of the packed loops, the deep
 * order, B read in place, the fused layer's ReLU ending) and on the paths that do not; the
 * relaxed build's 5 × 8 (its own exports) gives the bits of its 4 × 8 exports on products and
 * convolutions; worker threads take the calling thread's tile; the option is checked and
 * reported ("5x8" in the SIMD128 build runs 4 × 8 and says so), and "auto" takes 4 × 16 on
 * arm64 hosts, 5 × 8 in the relaxed build but under SpiderMonkey, 4 × 8 otherwise.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { init, type SimdGrad } from "../src/index.js";
import { ACT_RELU } from "../src/ops/act-codes.js";
import { gemmScratchBytes } from "../src/ops/matmul.js";
import { FOUR_EXPORTS, autoGemmTile, browserArch, hostArch, jsEngine } from "../src/runtime/gemm-tile.js";
import { BUILD, type GemmCase, expectSameBits, randomArray } from "./helpers.js";

const TRANS = [[false, false], [true, false], [false, true], [true, true]] as const;

const tiles: Record<string, SimdGrad> = {};
beforeAll(async () => {
  const relaxedSimd = BUILD === "relaxed";
  tiles["4x8"] = await init({ relaxedSimd, gemmTile: "4x8" });
  tiles["4x16"] = await init({ relaxedSimd, gemmTile: "4x16" });
  tiles["4x16 threads"] = await init({ relaxedSimd, gemmTile: "4x16", threads: 2 });
  tiles["5x8"] = await init({ relaxedSimd, gemmTile: "5x8" });
  tiles["4x8 threads"] = await init({ relaxedSimd, gemmTile: "4x8", threads: 2 });
});
afterAll(async () => {
  for (const sg of Object.values(tiles)) await sg.close();
});

interface Product extends GemmCase {
  /** gemm_bias_act with this activation code (bias added; Z stored when z) instead of gemm. */
  act?: number;
  z?: boolean;
}

/** C (and Z) of one product on `sg`'s kernels, from inputs drawn from `seed`. */
function product(sg: SimdGrad, p: Product, seed: number): Float32Array[] {
  const { tA, tB, m, n, k, pad } = p;
  const [ar, ac] = tA ? [k, m] : [m, k];
  const [br, bc] = tB ? [n, k] : [k, n];
  const lda = ac + pad[0], ldb = bc + pad[1], ldc = n + pad[2];
  const a = sg.tensor([ar * lda], randomArray(ar * lda, seed));
  const b = sg.tensor([br * ldb], randomArray(br * ldb, seed + 1));
  const c = sg.tensor([m * ldc], randomArray(m * ldc, seed + 2));
  const z = sg.tensor([m * ldc], new Float32Array(m * ldc).fill(NaN));
  const bias = sg.tensor([n], randomArray(n, seed + 3));
  const scratch = sg.rt.arena.alloc(gemmScratchBytes(m, n, k), "test");
  const k_ = sg.rt.kernels;
  if (p.act === undefined) k_.gemm(tA ? 1 : 0, tB ? 1 : 0, m, n, k, p.alpha, a.ptr, lda, b.ptr, ldb, p.beta, c.ptr, ldc, scratch);
  else k_.gemm_bias_act(tA ? 1 : 0, tB ? 1 : 0, m, n, k, a.ptr, lda, b.ptr, ldb, bias.ptr, p.act, 0, p.z ? z.ptr : 0, c.ptr, ldc, scratch);
  sg.rt.arena.release(scratch);
  const out = [c.toArray(), z.toArray()];
  for (const t of [a, b, c, z, bias]) t.dispose();
  return out;
}

function name(p: Product): string {
  return `${p.act === undefined ? "gemm" : `gemm_bias_act act ${p.act}${p.z ? " +z" : ""}`} ${p.tA ? "T" : "N"}${p.tB ? "T" : "N"} ${p.m}×${p.k}×${p.n} α=${p.alpha} β=${p.beta} pad=${p.pad}`;
}

describe("GEMM tiles", () => {
  it("4 × 16 gives the bits of 4 × 8: whole tiles in pairs and an odd one, part tiles, several slices and column panels, every transpose case", () => {
    // n: one pair after the packing column (24), a pair and an odd tile (32), many pairs (136),
    // two column panels (520), a part tile at the end (44, 203); m: part micro-panels (7, 33);
    // B read in place at 4 rows 776–781 floats apart, and packed two micro-panels a pass at
    // 16 rows 768 floats apart (pad 0; one a pass at 769 and 773).
    const shapes: [number, number, number][] = [
      [16, 24, 64], [7, 32, 300], [33, 136, 257], [64, 520, 40], [100, 44, 513], [21, 203, 129], [4, 16, 1], [48, 64, 256],
      [4, 776, 40], [16, 768, 64],
    ];
    let seed = 1;
    for (const [tA, tB] of TRANS) {
      for (const [m, n, k] of shapes) {
        for (const [alpha, beta, pad] of [[1, 0, [0, 0, 0]], [-0.75, 1, [3, 1, 2]], [1.5, -0.5, [0, 5, 1]]] as const) {
          const p: Product = { tA, tB, m, n, k, alpha, beta, pad: [...pad] };
          const [want] = product(tiles["4x8"]!, p, seed);
          const [got] = product(tiles["4x16"]!, p, seed);
          expectSameBits(got!, want!, name(p));
          seed += 4;
        }
      }
    }
  });

  it("4 × 16 gives the bits of 4 × 8 in the deep order, with B read in place, and in the fused layer (bias and ReLU in the tiles, with and without Z; tanh after them)", () => {
    let seed = 500;
    // Deep: more than one slice, op(B) within one panel, m·n ≥ 256·512. In place: kc·ldb ≤ 4096.
    const cases: Product[] = [];
    for (const tB of [false, true]) {
      cases.push({ tA: false, tB, m: 1100, n: 128, k: 300, alpha: 1, beta: 0.5, pad: [0, 0, 0] });
      cases.push({ tA: true, tB, m: 1030, n: 136, k: 520, alpha: 0.25, beta: 0, pad: [1, 0, 3] });
    }
    cases.push({ tA: false, tB: false, m: 40, n: 64, k: 64, alpha: 1, beta: 0, pad: [0, 0, 0] });
    cases.push({ tA: true, tB: false, m: 33, n: 128, k: 32, alpha: -1, beta: 1, pad: [2, 0, 1] });
    for (const [act, z] of [[0, false], [5, false], [5, true], [3, false]] as const) {
      cases.push({ tA: false, tB: false, m: 64, n: 256, k: 784, alpha: 1, beta: 0, pad: [0, 0, 0], act, z });
      cases.push({ tA: true, tB: true, m: 37, n: 88, k: 300, alpha: 1, beta: 0, pad: [1, 2, 3], act, z });
    }
    for (const p of cases) {
      const want = product(tiles["4x8"]!, p, seed);
      const got = product(tiles["4x16"]!, p, seed);
      expectSameBits(got[0]!, want[0]!, name(p));
      expectSameBits(got[1]!, want[1]!, `${name(p)} Z`);
      seed += 4;
    }
  });

  it("a product split over two threads on 4 × 16 gives one thread's bits on 4 × 8", () => {
    const a = randomArray(512 * 300, 901), b = randomArray(300 * 520, 902);
    const run = (sg: SimdGrad, tA: boolean): Float32Array => {
      const ta = sg.tensor(tA ? [300, 512] : [512, 300], a), tb = sg.tensor([300, 520], b);
      const c = sg.matmul(ta, tb, { transposeA: tA });
      const out = c.toArray();
      for (const t of [ta, tb, c]) t.dispose();
      return out;
    };
    expect(tiles["4x16 threads"]!.features.threads).toBe(2);
    for (const tA of [false, true]) expectSameBits(run(tiles["4x16 threads"]!, tA), run(tiles["4x8"]!, tA), `matmul 512×300×520 ${tA ? "TN" : "NN"}`);
  });

  it("5 × 8 (the relaxed build's own exports) gives the bits of 4 × 8 only: products and a convnet's forward and backward, one thread and two", () => {
    // Shapes where rows5 and rows5_t take 5 × 8 in the relaxed build: 64³ and 256×256×64
    // (whole tiles), 64×784×256 Aᵀ·B (grouped packing), n = 203 (a part panel), the
    // transposed loops at 512×300×100; and a ReLU layer.
    let seed = 1201;
    const products: Product[] = [
      ...TRANS.map(([tA, tB]): Product => ({ tA, tB, m: 64, n: 64, k: 64, alpha: 1, beta: 0, pad: [0, 0, 0] })),
      { tA: false, tB: false, m: 256, n: 64, k: 256, alpha: 0.5, beta: 0.25, pad: [1, 3, 2] },
      { tA: true, tB: false, m: 784, n: 256, k: 64, alpha: 1, beta: 1, pad: [0, 0, 0] },
      { tA: false, tB: true, m: 46, n: 203, k: 259, alpha: 1, beta: 0, pad: [0, 0, 0] },
      { tA: false, tB: false, m: 512, n: 100, k: 300, alpha: 1, beta: 0, pad: [0, 0, 0] },
      { tA: false, tB: false, m: 60, n: 256, k: 784, alpha: 1, beta: 0, pad: [0, 0, 0], act: ACT_RELU },
    ];
    for (const p of products) {
      const want = product(tiles["4x8"]!, p, seed);
      const got = product(tiles["5x8"]!, p, seed);
      expectSameBits(got[0]!, want[0]!, `5x8 ${name(p)}`);
      expectSameBits(got[1]!, want[1]!, `5x8 ${name(p)} Z`);
      seed += 4;
    }
    // A conv layer with 64 filters (rows5_t takes it) trained one step: forward, filter and
    // input gradients; on 4 × 8 with two threads too.
    const layer = (sg: SimdGrad): Float32Array[] => {
      const g = sg.graph();
      const x = g.input([4, 12, 12, 64], "x", { requiresGrad: true });
      const f = g.param([3, 3, 64, 64], { init: "xavier", seed: 5, name: "f" });
      const b = g.param([64], { name: "b" });
      const y = g.conv2d(x, f, { padding: "same", bias: b, activation: "relu" });
      const loss = g.mean(g.mul(y, y));
      g.forward({ x: randomArray(4 * 12 * 12 * 64, 1299) });
      g.backward(loss);
      return [y.value!.toArray(), f.grad!.toArray(), x.grad!.toArray()];
    };
    const want = layer(tiles["4x8"]!);
    for (const t of ["5x8", "4x8 threads"]) {
      const got = layer(tiles[t]!);
      for (const [i, what] of ["y", "filter gradient", "input gradient"].entries()) expectSameBits(got[i]!, want[i]!, `conv ${what} on ${t}`);
    }
  });

  it("the tile asked for is the one reported (and the kernels it maps); auto: 4 × 16 on arm64 hosts, 5 × 8 in the relaxed build but under SpiderMonkey, else 4 × 8; anything else is a clear error", async () => {
    const relaxed = BUILD === "relaxed";
    expect(tiles["4x8"]!.features.gemmTile).toBe("4x8");
    expect(tiles["4x16"]!.features.gemmTile).toBe("4x16");
    expect(tiles["4x16 threads"]!.features.gemmTile).toBe("4x16");
    expect(tiles["4x8 threads"]!.features.gemmTile).toBe("4x8");
    // "5x8" is the relaxed build's; the SIMD128 build runs 4 × 8 and says why.
    expect(tiles["5x8"]!.features.gemmTile).toBe(relaxed ? "5x8" : "4x8");
    expect(tiles["5x8"]!.features.warnings).toEqual(relaxed ? [] : ['gemmTile: "5x8" runs in the relaxed-SIMD build only; this runtime loaded the simd build, running 4x8']);
    // Which exports run under the kernels' names (one thread): the relaxed build's 4 × 8 maps
    // the GEMM and the convolutions to their _4x8 exports, its 5 × 8 keeps the module's own.
    // (In the SIMD128 build the two are one function: the optimizer merges identical code.)
    const ran = (sg: SimdGrad) => sg.rt.kernels as unknown as Record<string, unknown>;
    for (const [name, four] of Object.entries(FOUR_EXPORTS)) {
      expect(typeof ran(tiles["4x8"]!)[four], four).toBe("function");
      if (!relaxed) continue;
      expect(ran(tiles["4x8"]!)[name], `${name} on 4x8`).toBe(ran(tiles["4x8"]!)[four]);
      expect(ran(tiles["5x8"]!)[name], `${name} on 5x8`).not.toBe(ran(tiles["5x8"]!)[four]);
    }
    expect(hostArch()).toBe(process.arch);
    expect(jsEngine()).toBeUndefined(); // V8
    const rules = [
      ["arm64", "relaxed", undefined, "4x16"], ["aarch64", "simd", undefined, "4x16"], ["arm64", "relaxed", "spidermonkey", "4x16"],
      ["x64", "relaxed", undefined, "5x8"], [undefined, "relaxed", undefined, "5x8"], ["x86_64", "relaxed", undefined, "5x8"],
      ["x64", "relaxed", "spidermonkey", "4x8"], [undefined, "relaxed", "spidermonkey", "4x8"],
      ["x64", "simd", undefined, "4x8"], ["ia32", "simd", undefined, "4x8"], [undefined, "simd", "spidermonkey", "4x8"], ["x64", "debug", undefined, "4x8"],
    ] as const;
    for (const [arch, build, engine, tile] of rules) expect(autoGemmTile(arch, build, engine), `${arch} ${build} ${engine}`).toBe(tile);
    const auto = await init({ relaxedSimd: relaxed });
    try {
      expect(auto.features.arch).toBe(process.arch);
      expect(auto.features.gemmTile).toBe(autoGemmTile(process.arch, BUILD));
      expect(auto.features.gemmTile).toBe(process.arch === "arm64" ? "4x16" : relaxed ? "5x8" : "4x8");
    } finally {
      await auto.close();
    }
    for (const bad of ["8x8", "5x4", "", 4, null]) {
      await expect(init({ gemmTile: bad as never })).rejects.toThrow(/init: gemmTile must be "auto", "4x8", "4x16" or "5x8", got/);
    }
  });

  it("a browser's architecture comes from User-Agent Client Hints; no answer, a bad one or a late one is undefined", async () => {
    const nav = (answer: () => Promise<unknown>) => ({ userAgentData: { getHighEntropyValues: (hints: string[]) => {
      expect(hints).toEqual(["architecture", "bitness"]);
      return answer();
    } } });
    const said = (architecture: string, bitness: string) => nav(async () => ({ architecture, bitness, platform: "macOS" }));
    expect(await browserArch(said("arm", "64"))).toBe("arm64");
    expect(await browserArch(said("arm", "32"))).toBe("arm");
    expect(await browserArch(said("x86", "64"))).toBe("x64");
    expect(await browserArch(said("x86", "32"))).toBe("ia32");
    expect(autoGemmTile(await browserArch(said("arm", "64")))).toBe("4x16");
    expect(autoGemmTile(await browserArch(said("x86", "64")))).toBe("4x8");
    expect(autoGemmTile(await browserArch(said("x86", "64")), "relaxed")).toBe("5x8");
    // Chromium on Android answers with empty strings; Safari and Firefox have no userAgentData.
    expect(await browserArch(said("", ""))).toBeUndefined();
    expect(await browserArch({})).toBeUndefined();
    expect(await browserArch(undefined)).toBeUndefined();
    expect(await browserArch({ userAgentData: {} })).toBeUndefined();
    expect(await browserArch(nav(() => Promise.reject(new Error("denied"))))).toBeUndefined();
    expect(await browserArch(nav(() => { throw new Error("thrown"); }))).toBeUndefined();
    expect(await browserArch(nav(async () => null))).toBeUndefined();
    // An answer that never comes does not hold init up past the wait.
    const t0 = performance.now();
    expect(await browserArch(nav(() => new Promise(() => {})), 30)).toBeUndefined();
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});
