// Two builds of the convolution kernels, bit for bit, on random geometries: for changes to a
// convolution's packing or loops that must not change a single result (every path sums in
// the packed loops' order, so a faster packer gives the same bits or has a bug). Each case
// draws a batch, an image size, channels, filters, a window, stride, dilation and padding,
// then runs one of the three kernels on both builds with the same operands: the forward
// (plain, with a bias and ReLU, or with a bias and sigmoid), the filter gradient or the
// input gradient (each written fresh or added to what the output holds). The scratch is
// filled with NaN first, so a kernel that reads scratch it did not write shows as a
// difference too. Exits with status 1 if any case differs.
//
//   node bench/conv-bits.mjs --baseline=DIR [--new=DIR] [--build=simd|relaxed]
//        [--cases=600] [--seed=11] [--max-size=20] (image sides 1 … max-size)
//   node --experimental-wasm-relaxed-simd bench/conv-bits.mjs --build=relaxed --baseline=DIR
//
// DIR holds simdgrad.<build>.wasm (copy build/*.wasm aside before the change); --new
// defaults to this checkout's build/. Speed is bench/gemm-ab.mjs --conv's question.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "./lib/args.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const args = parseArgs();
if (!args.baseline) throw new Error("conv-bits: --baseline=DIR (the build to compare against) is required");
const build = args.build ?? "simd";
const cases = Number(args.cases ?? 600);
const maxSize = Number(args["max-size"] ?? 20);
const dirs = [args.baseline, args.new ?? path.join(here, "../build")];

async function load(dir) {
  const file = path.join(dir, `simdgrad.${build}.wasm`);
  const memory = new WebAssembly.Memory({ initial: 4096 });
  const { instance } = await WebAssembly.instantiate(fs.readFileSync(file), { env: { memory, abort() { throw new Error(`abort in ${file}`); } } });
  return { k: instance.exports, memory };
}
const builds = await Promise.all(dirs.map(load));

let seed = Number(args.seed ?? 11) >>> 0;
const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
const pick = (list) => list[int(0, list.length - 1)];
const pair = (lo, hi) => (lo | (hi << 16)) >>> 0;
const KINDS = ["forward", "dfilter", "dinput"];
const ACTS = [[0, 0], [1, 5], [1, 2]]; // [with a bias, code of src/ops/act-codes.ts]: none, ReLU, sigmoid

let run = 0, differ = 0;
const counts = { forward: 0, dfilter: 0, dinput: 0 };
for (let t = 0; t < cases; t++) {
  const n = int(1, 4), h = int(1, maxSize), w = int(1, maxSize);
  const c = pick([1, 2, 3, 4, 8, 16, 17, 32, 64]), f = pick([1, 4, 6, 8, 16, 24, 32, 64, 200, 256]);
  const kh = int(1, 5), kw = int(1, 5), sh = int(1, 3), sw = int(1, 3), dh = int(1, 2), dw = int(1, 2);
  const pt = int(0, Math.min(kh - 1, 2)), pl = int(0, Math.min(kw - 1, 2));
  const ho = Math.floor((h + 2 * pt - dh * (kh - 1) - 1) / sh) + 1;
  const wo = Math.floor((w + 2 * pl - dw * (kw - 1) - 1) / sw) + 1;
  const kind = pick(KINDS), accumulate = int(0, 1), [withBias, act] = pick(ACTS);
  if (ho < 1 || wo < 1) continue;
  const m = n * ho * wo, kk = kh * kw * c;
  const geo = [n, h, w, c, f, ho, wo, pair(kh, kw), pair(sh, sw), pair(dh, dw), pair(pt, pl)];
  const outs = builds.map(({ k, memory }) => {
    // x (or dx), the filter (or its gradient), y (or dy), the bias, then the scratch.
    const x = 1 << 20, fl = x + n * h * w * c * 4 + 64, y = fl + kk * f * 4 + 64, bias = y + m * f * 4 + 64, scratch = bias + f * 4 + 64;
    const bytes = k.conv2d_scratch_bytes(m, kk, f);
    if (scratch + bytes > memory.buffer.byteLength) throw new Error(`conv-bits: case ${t} needs more than the ${memory.buffer.byteLength} bytes of memory`);
    const F = new Float32Array(memory.buffer);
    let s = (t * 7 + 3) >>> 0;
    for (let i = x >> 2; i < (bias + f * 4) >> 2; i++) F[i] = ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) - 0.5;
    F.fill(NaN, scratch >> 2, (scratch + bytes) >> 2);
    if (kind === "forward") {
      k.conv2d_forward_bias_act(x, fl, y, ...geo, 0, m, withBias ? bias : 0, act, 0, 0, scratch);
      return F.slice(y >> 2, (y >> 2) + m * f);
    }
    if (kind === "dfilter") {
      k.conv2d_backward_filter(x, y, fl, ...geo, 0, kk, 0, f, accumulate, scratch);
      return F.slice(fl >> 2, (fl >> 2) + kk * f);
    }
    k.conv2d_backward_input(y, fl, x, ...geo, accumulate, scratch);
    return F.slice(x >> 2, (x >> 2) + n * h * w * c);
  });
  run++;
  counts[kind]++;
  if (!outs[0].every((v, i) => Object.is(v, outs[1][i]))) {
    differ++;
    if (differ <= 10) {
      console.log(`differs: ${kind} ${n}×${h}×${w}×${c}→${f}, ${kh}×${kw} window, stride ${sh},${sw}, dilation ${dh},${dw}, padding ${pt},${pl}` +
        (kind === "forward" ? `, bias ${withBias}, activation ${act}` : `, accumulate ${accumulate}`));
    }
  }
}
console.log(`conv-bits (${build}): ${run} cases (forward ${counts.forward}, filter gradient ${counts.dfilter}, input gradient ${counts.dinput}), ${differ} differ; ${dirs[0]} against ${dirs[1]}`);
if (differ > 0) process.exitCode = 1;
