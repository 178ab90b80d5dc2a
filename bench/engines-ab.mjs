// Two builds of the kernels compared inside each engine simdgrad runs on: Node (this
// process's V8), Deno (a newer V8), Bun (JavaScriptCore) and headless Chromium, each in a
// fresh process, by bench/lib/engine-ab.js (paired bursts, median ratio, and a check that
// both builds give the same bits). For code-generation changes whose effect differs by
// engine: a faster Node can hide a slower browser, and the other way round.
//
//   node bench/engines-ab.mjs --baseline=DIR [--new=DIR] [--build=simd|relaxed]
//        [--engines=node,node24,deno,bun,chromium,firefox] [--kernels=sigmoid_forward,…] [--n=65536]
//        [--pairs=15] [--ms=20] [--differ: the builds may give different results, for a change
//        to a kernel's arithmetic; otherwise a difference voids the run]   (kernels: the
//        elementwise ones by export name, and
//        "gemm 64³", "gemm 256³", "gemm 64×256×256 TN", "gemm 64×10×256", "conv 2×32×32 16→32",
//        "conv 32×14×14 16→32", "conv dinput 32×14×14 16→32", … : bench/lib/engine-ab.js)
//
// DIR holds simdgrad.<build>.wasm; --new defaults to this checkout's build/.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "./lib/args.js";
import { abKernels } from "./lib/engine-ab.js";
import { runEngines } from "./lib/engines.js";
import { printTable, fmt } from "./lib/table.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, "..");
const args = parseArgs();
const build = args.build ?? "simd";
if (!args.baseline) throw new Error("--baseline=DIR: a directory holding simdgrad.<build>.wasm of the build to compare with");
const file = (dir) => {
  const f = path.join(dir, `simdgrad.${build}.wasm`);
  if (!fs.existsSync(f)) throw new Error(`${f} is missing`);
  return f;
};
const input = {
  base: [...fs.readFileSync(file(args.baseline))],
  neu: [...fs.readFileSync(file(args.new ?? path.join(root, "build")))],
  kernels: String(args.kernels ?? "sigmoid_forward,tanh_forward,swish_forward,swish_backward,gelu_forward,gelu_backward,gelu_tanh_forward,gelu_tanh_backward,exp_f32,log_f32,softmax_forward,relu_forward").split(","),
  n: Number(args.n ?? 65536),
  pairs: Number(args.pairs ?? 15),
  ms: Number(args.ms ?? 20),
  differ: Boolean(args.differ),
};
if (!(input.n > 0 && input.n % 64 === 0)) throw new Error(`--n: a positive multiple of 64, not ${args.n}`);
const wanted = String(args.engines ?? "node,deno,bun,chromium").split(",");
const inputFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "simdgrad-ab-")), "input.json");
fs.writeFileSync(inputFile, JSON.stringify(input));
const runs = await runEngines(wanted, {
  runner: path.join(here, "lib", "engine-ab-run.mjs"),
  runnerArgs: [inputFile],
  fn: abKernels,
  input,
  relaxed: build === "relaxed",
});
fs.rmSync(path.dirname(inputFile), { recursive: true, force: true });
const ok = runs.filter((r) => r.result);
if (ok.length === 0) throw new Error(`no engine ran: ${runs.map((r) => `${r.name}: ${r.error}`).join("; ")}`);
printTable(
  `new / base speed by engine (${build}, n = ${input.n}, ${input.pairs} pairs): median ratio (base → new el/ns)`,
  [{ title: "kernel", align: "l" }, ...ok.map((r) => ({ title: r.name }))],
  input.kernels.map((k, i) => [k, ...ok.map((r) => `${r.result[i].ratio.toFixed(2)}× (${fmt(r.result[i].base, 2)} → ${fmt(r.result[i].neu, 2)})`)]),
  [...ok.map((r) => `${r.name}: ${r.version}`), ...runs.filter((r) => r.error).map((r) => `${r.name}: skipped (${r.error})`)],
);
