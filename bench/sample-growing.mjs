// Sampling from the demo's character transformer on a growing context, before and after plans
// shared memory: the `sample` suite of `npm run bench` (bench/suites/sample.js, which says what
// is timed), alone, with as many rounds as you like.
//
//   npm run build && node bench/sample-growing.mjs [--runs=9]
//   (relaxed build: node --experimental-wasm-relaxed-simd bench/sample-growing.mjs --relaxed)
import { parseArgs } from "./lib/args.js";
import { measureSampling, printSampling } from "./suites/sample.js";

const args = parseArgs();
const { init } = await import("../dist/index.js");
const sg = await init({ relaxedSimd: args.relaxed === "1" });
printSampling(sg.features.build, await measureSampling(sg, Number(args.runs ?? 9)));
await sg.close();
