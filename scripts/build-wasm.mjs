// Compiles every .wasm the package and its tests use: the full kernel set (assembly/index.ts)
// for SIMD128 and relaxed SIMD, the dense set (assembly/dense.ts) for both, and the debug
// build. Each is its own AssemblyScript compile of 10–20 s on one core; they run side by side,
// as many at once as the machine has cores (`npm run build:wasm`, part of `npm run build`).
// Exits non-zero, with the compiler's messages, if any compile fails.
//
//   node scripts/build-wasm.mjs [--jobs N]
import { spawn } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const ASC = path.join(ROOT, "node_modules/assemblyscript/bin/asc.js");

/** [entry, target, out file or null for the target's own] — asconfig.json names the targets. */
const BUILDS = [
  ["assembly/index.ts", "simd", null],
  ["assembly/index.ts", "relaxed", null],
  ["assembly/dense.ts", "simd", "build/simdgrad.dense.simd.wasm"],
  ["assembly/dense.ts", "relaxed", "build/simdgrad.dense.relaxed.wasm"],
  ["assembly/index.ts", "debug", null],
];

const argv = process.argv.slice(2);
const at = argv.indexOf("--jobs");
const jobs = Math.max(1, at >= 0 ? Number(argv[at + 1]) : typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length);

function compile([entry, target, out]) {
  const args = [ASC, entry, "--target", target, ...(out ? ["-o", out] : [])];
  const label = `${entry} --target ${target}${out ? ` -o ${out}` : ""}`;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let text = "";
    child.stdout.on("data", (d) => (text += d));
    child.stderr.on("data", (d) => (text += d));
    child.on("close", (code) => resolve({ label, code, text }));
  });
}

const queue = BUILDS.slice();
const failed = [];
async function worker() {
  while (queue.length > 0) {
    const r = await compile(queue.shift());
    // asc's own notes ("Last converge was suboptimal.") are not failures; errors set the code.
    if (r.code !== 0) failed.push(r);
    else console.log(`asc ${r.label}`);
  }
}
await Promise.all(Array.from({ length: Math.min(jobs, BUILDS.length) }, worker));
for (const f of failed) console.error(`asc ${f.label} failed (exit ${f.code}):\n${f.text}`);
process.exit(failed.length > 0 ? 1 : 0);
