// Two builds of the GEMM side by side: the same products timed on both, in alternating
// bursts (order swapped every pair), the ratio the median of the per-pair ratios. For
// changes to the kernel, where the question is "faster than before, by how much", which
// a share of a noisy machine's peak answers less precisely. Each row also says when the two
// builds' results differ in their bits (after one call each on the same operands).
//
//   node bench/gemm-ab.mjs --baseline=/path/to/old/build            # SIMD128
//   node --experimental-wasm-relaxed-simd bench/gemm-ab.mjs --build=relaxed --baseline=DIR
//   options: --new=DIR (the build to compare, default this checkout's build/)
//            --pairs=N (default 15)  --ms=N (burst length, default 25)  --shapes=MxKxN,…
//            --cases=NN,TN,NT  --thrash=KiB (a neighbour thread streaming over KiB of memory
//            meanwhile, bench/lib/neighbour.js: the outer cache of a busier or smaller machine)
//            --conv (the convolution kernels instead: conv2d_forward, conv2d_backward_filter
//            and conv2d_backward_input on "same" layers, N×H×W×C→F with a 3×3 filter or
//            N×H×W×C×F×S with an S×S one, --layers=32x28x28x1x16,…;
//            --kernels=forward,dfilter,dinput picks among them; --accumulate: the gradients
//            added to what their results hold, as a graph's backward pass calls them;
//            --act=CODE: the forward as the fused layer, conv2d_forward_bias_act with a bias
//            and activation code CODE of src/ops/act-codes.ts, both builds needing it)
//            --wide (GEMM: one build's two register tiles, 4 × 8 as the baseline and 4 × 16, the
//            gemm_wide export, as the new side: which one init({ gemmTile }) should take on this
//            machine; --baseline may then be omitted, both sides load --new or build/)
//
//   node bench/gemm-ab.mjs --wide [--build=relaxed]   # on an Arm machine: is 4 × 16 faster here?
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { bumpArena } from "./lib/wasm-arena.js";
import { parseArgs } from "./lib/args.js";
import { compare, median } from "./lib/paired.js";
import { convCall, gemmCall } from "./lib/kernel-calls.js";
import { startNeighbour } from "./lib/neighbour.js";

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = parseArgs();
const build = args.build ?? "simd";
if (!args.baseline && !args.wide) throw new Error("--baseline=DIR: a directory holding simdgrad.<build>.wasm of the build to compare with");
const pairs = Number(args.pairs ?? 15);
const ms = Number(args.ms ?? 25);
const shapes = (args.shapes ?? "64x64x64,128x128x128,256x256x256,512x512x512,64x784x256,784x64x256,64x256x784,64x256x10,256x64x10,64x10x256")
  .split(",").map((s) => s.split("x").map(Number));
const cases = (args.cases ?? "NN,TN,NT").split(",");
const beside = args.thrash ? `, beside a thread streaming over ${args.thrash} KiB` : "";
if (args.thrash) await startNeighbour(args.thrash);

async function load(dir) {
  const bytes = fs.readFileSync(path.join(dir, `simdgrad.${build}.wasm`));
  const memory = new WebAssembly.Memory({ initial: 256 });
  const { instance } = await WebAssembly.instantiate(bytes, { env: { memory, abort() { throw new Error("abort"); } } });
  return { k: instance.exports, arena: bumpArena(memory), memory };
}
const newDir = args.new ?? path.join(root, "build");
const sides = [await load(args.baseline ?? newDir), await load(newDir)];
if (args.wide) {
  // The new side runs the 4 × 16 tiles under the usual names (as the runtime does, gemm-tile.ts).
  const k = sides[1].k;
  if (typeof k.gemm_wide !== "function") throw new Error(`--wide: ${newDir} has no gemm_wide export (an older build)`);
  sides[1].k = { ...k, gemm: k.gemm_wide, gemm_bias_act: k.gemm_bias_act_wide };
}

function setup(side, tA, tB, m, k, n) {
  side.arena.reset();
  return gemmCall(side.k, side.arena, m, k, n, tA, tB);
}

/** One call on each side (operands just filled alike), then whether the results' bits agree:
 *  "" when they do, a warning for the row when they do not. */
function bits(made) {
  const got = made.map(({ call, out }, i) => { call(); return new Uint32Array(sides[i].memory.buffer, out.ptr, out.count).slice(); });
  let differ = 0;
  for (let j = 0; j < got[0].length; j++) if (got[0][j] !== got[1][j]) differ++;
  return differ === 0 ? "" : `  ${differ} of ${got[0].length} results differ in their bits`;
}


if (args.conv) {
  // conv2d_forward, conv2d_backward_filter and conv2d_backward_input, S×S "same" (3×3
  // unless a layer names S), stride 1, on both builds.
  const layers = (args.layers ?? "32x28x28x1x16,32x14x14x16x32,16x32x32x64x64,16x16x16x64x128,8x32x32x32x32")
    .split(",").map((s) => s.split("x").map(Number));
  const kernels = (args.kernels ?? "forward,dfilter,dinput").split(",");
  const acc = args.accumulate ? 1 : 0;
  const act = args.act === undefined ? null : Number(args.act);
  console.log(`conv A/B, ${build} build: baseline ${args.baseline} vs ${newDir}; ${pairs} pairs of ${ms} ms bursts, CPU time${beside}`);
  console.log("layer (N×H×W×C→F)     kernel   base GFLOPS  new GFLOPS  new/base  (quartiles)");
  const all = [];
  for (const [nb, h, w, c, f, sz = 3] of layers) {
    for (const kernel of kernels) {
      const made = sides.map(({ k, arena }) => {
        arena.reset();
        return convCall(k, arena, [nb, h, w, c, f, sz], kernel, { act, accumulate: acc });
      });
      const same = bits(made);
      const r = compare(made[0].call, made[1].call, pairs, ms);
      const fl = 2 * nb * h * w * sz * sz * c * f / 1e6;
      all.push(r.ratio);
      const name = sz === 3 ? `${nb}x${h}x${w}x${c}→${f}` : `${nb}x${h}x${w}x${c}→${f} ${sz}×${sz}`;
      console.log(`${name.padEnd(21)} ${kernel.padEnd(8)} ${(fl / r.t0).toFixed(1).padStart(11)}  ${(fl / r.t1).toFixed(1).padStart(10)}  ${r.ratio.toFixed(3).padStart(7)}×  (${r.q1.toFixed(3)}–${r.q3.toFixed(3)})${same}`);
    }
  }
  console.log(`median over rows: ${median(all).toFixed(3)}×`);
  process.exit(0);
}


console.log(args.wide
  ? `GEMM tiles, ${build} build from ${newDir}: 4 × 8 (base) vs 4 × 16 (new); ${pairs} pairs of ${ms} ms bursts, CPU time${beside}`
  : `GEMM A/B, ${build} build: baseline ${args.baseline} vs ${newDir}; ${pairs} pairs of ${ms} ms bursts, CPU time${beside}`);
console.log("shape            case  base GFLOPS  new GFLOPS  new/base  (quartiles)");
const all = [];
for (const [m, k, n] of shapes) {
  for (const cs of cases) {
    const tA = cs[0] === "T" ? 1 : 0, tB = cs[1] === "T" ? 1 : 0;
    // Each side's instance holds its own operands (same values).
    const made = [setup(sides[0], tA, tB, m, k, n), setup(sides[1], tA, tB, m, k, n)];
    const same = bits(made);
    const r = compare(made[0].call, made[1].call, pairs, ms);
    const fl = 2 * m * n * k / 1e6;
    all.push(r.ratio);
    console.log(`${`${m}x${k}x${n}`.padEnd(16)} ${cs.padEnd(4)}  ${(fl / r.t0).toFixed(1).padStart(11)}  ${(fl / r.t1).toFixed(1).padStart(10)}  ${r.ratio.toFixed(3).padStart(7)}×  (${r.q1.toFixed(3)}–${r.q3.toFixed(3)})${same}`);
  }
}
console.log(`median over rows: ${median(all).toFixed(3)}×`);
