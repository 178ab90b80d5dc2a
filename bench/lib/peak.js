// The peak probe (bench/peak/peak.ts): compiled here to a bench-only .wasm per build, then
// timed like everything else. It gives the 128-bit SIMD FLOP ceiling GEMM rows are set against.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { measure } from "./timing.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const SRC = path.join(here, "../peak/peak.ts");
const CONFIG = path.join(here, "../peak/asconfig.json");
export const PEAK_RELAXED = path.join(here, "../build/peak.relaxed.wasm");
const OUT = { simd: path.join(here, "../build/peak.simd.wasm"), relaxed: path.join(here, "../build/peak.relaxed.wasm") };

/** Compiles the probe for both builds when its source or config is newer than the binaries. */
export async function buildProbe() {
  const srcTime = Math.max(fs.statSync(SRC).mtimeMs, fs.statSync(CONFIG).mtimeMs);
  const stale = Object.values(OUT).some((f) => !fs.existsSync(f) || fs.statSync(f).mtimeMs < srcTime);
  if (!stale) return;
  const { default: asc } = await import("assemblyscript/asc");
  for (const target of ["simd", "relaxed"]) {
    const { error, stderr } = await asc.main([SRC, "--config", CONFIG, "--target", target]);
    if (error) throw new Error(`peak probe: asc failed for target ${target}: ${error.message}\n${stderr.toString()}`);
  }
}

/**
 * Compiles the probe for `target` ("simd" or "relaxed") in memory and returns the .wasm bytes
 * (nothing is written; tests use this).
 */
export async function compileProbe(target) {
  const { default: asc } = await import("assemblyscript/asc");
  let binary = null;
  const { error, stderr } = await asc.main([SRC, "--config", CONFIG, "--target", target], {
    writeFile(name, contents) {
      if (name.endsWith(".wasm")) binary = contents;
    },
  });
  if (error || !binary) throw new Error(`peak probe: asc failed for target ${target}: ${error?.message ?? "no binary"}\n${stderr.toString()}`);
  return binary;
}

/** The probe's variants: export name, flops per loop step, and what it measures. */
const VARIANTS = [
  { fn: "peak_muladd_8", flops: 64, what: "mul+add, 8 chains" },
  { fn: "peak_muladd_12", flops: 96, what: "mul+add, 12 chains" },
  { fn: "peak_muladd_12_rt", flops: 96, what: "mul+add, 12 chains, run-time multiplier" },
  { fn: "peak_madd_12", flops: 96, what: "relaxed_madd, 12 chains" },
  { fn: "peak_madd_12_rt", flops: 96, what: "relaxed_madd, 12 chains, run-time multiplier" },
];

/**
 * Times each variant on `build` ("simd" or "relaxed"; the latter needs relaxed SIMD in the
 * engine). Returns { rows, muladd, madd, probes }: GFLOPS per variant, the two ceilings, and
 * `probes.muladd` / `probes.madd` ({ fn, flops }: one call and its work) for suites that time
 * the ceiling again beside each of their rows.
 */
export async function measurePeak(build) {
  const { instance } = await WebAssembly.instantiate(fs.readFileSync(OUT[build]), { env: { abort() {} } });
  const ex = instance.exports;
  const iters = 1 << 18;
  const rows = [];
  for (const v of VARIANTS) {
    if (v.fn.startsWith("peak_madd_") && ex.probe_has_relaxed_simd() !== 1) {
      rows.push({ key: v.fn, what: v.what, gflops: null, note: "SIMD128 build: no relaxed_madd (see the relaxed run)" });
      continue;
    }
    let sink = 0;
    const t = measure(v.fn, () => {
      sink += ex[v.fn](iters, 1);
    });
    if (!Number.isFinite(sink)) throw new Error(`peak probe ${v.fn} returned ${sink}`);
    rows.push({ key: v.fn, what: v.what, gflops: (v.flops * iters) / t.seconds / 1e9, samples: t.samples });
  }
  const g = (k) => rows.find((r) => r.key === k)?.gflops ?? null;
  // The ceiling is the fastest form. An engine that builds a vector constant again at each
  // use inside a loop (V8 since about 12, JavaScriptCore) runs the constant-multiplier forms
  // at a third of its speed, and a ceiling from them alone put every GEMM share above 100%
  // under Node 24; the run-time-multiplier forms keep the multiplier in a register there.
  const muladd = Math.max(g("peak_muladd_8"), g("peak_muladd_12"), g("peak_muladd_12_rt"));
  const madd = g("peak_madd_12") === null ? null : Math.max(g("peak_madd_12"), g("peak_madd_12_rt"));
  const probe = (name) => {
    const n = 1 << 16;
    let sink = 0;
    return { fn: () => (sink += ex[name](n, 1)), flops: 96 * n };
  };
  // Timed again beside each row by the suites: the faster 12-chain form.
  const faster = (a, b) => (g(b) > g(a) ? b : a);
  const probes = {
    muladd: probe(faster("peak_muladd_12", "peak_muladd_12_rt")),
    madd: madd === null ? null : probe(faster("peak_madd_12", "peak_madd_12_rt")),
  };
  return { rows, muladd, madd, probes };
}

/**
 * The name of the faster 12-chain form of the probe on this engine for `build` ("simd":
 * mul+add, "relaxed": relaxed_madd), given the probe module's exports: the constant or the
 * run-time multiplier (see measurePeak for why both). Each runs for about 30 ms first.
 */
export function fasterForm(ex, build) {
  const [a, b] = build === "relaxed" ? ["peak_madd_12", "peak_madd_12_rt"] : ["peak_muladd_12", "peak_muladd_12_rt"];
  const calls = (name) => {
    let n = 0;
    for (const t0 = performance.now(); performance.now() - t0 < 30; n++) ex[name](1 << 12, 1);
    return n;
  };
  calls(a);
  calls(b);
  return calls(b) > calls(a) ? b : a;
}
