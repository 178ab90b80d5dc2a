#!/usr/bin/env node
// The four pooling kernels (max/avg, forward/backward) on CNN-sized inputs, called directly
// (no graph, no allocation per call), one thread. With `--baseline DIR` (a build directory
// holding another simdgrad.simd.wasm / simdgrad.relaxed.wasm, e.g. main's build copied
// aside) each case also runs on that build, interleaved round by round in the same process,
// and the table gives the ratio of medians (this build / baseline; < 1 is faster). Times
// are process CPU time per call.
//
//   node bench/pool-kernels.mjs [--baseline DIR] [--rounds 15] [--build simd|relaxed]
import { init } from "../dist/index.js";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : dflt;
};
const baseline = opt("baseline", null);
const rounds = Number(opt("rounds", "15"));
const relaxed = opt("build", "simd") === "relaxed";

/** [label, x shape, size, stride, padding (pt, pl), output h, w]. */
const CASES = [
  ["28×28×16, 2×2/2", [32, 28, 28, 16], 2, 2, 0],
  ["14×14×32, 2×2/2", [32, 14, 14, 32], 2, 2, 0],
  ["32×32×3, 3×3/2 pad 1", [16, 32, 32, 3], 3, 2, 1],
  ["16×16×64, 3×3/1 pad 1", [8, 16, 16, 64], 3, 1, 1],
];

const pack = (lo, hi) => (lo | (hi << 16)) >>> 0;

async function runtimeOf(wasm) {
  return init({ relaxedSimd: relaxed, ...(wasm ? { wasm } : {}) });
}

function setup(sg, [, [n, h, w, c], k, s, p]) {
  const ho = Math.floor((h + 2 * p - k) / s) + 1;
  const wo = Math.floor((w + 2 * p - k) / s) + 1;
  const xs = Float32Array.from({ length: n * h * w * c }, (_, i) => Math.sin(i * 0.37) + 0.01 * (i % 7));
  const x = sg.tensor([n, h, w, c], xs);
  const y = sg.tensor([n, ho, wo, c], new Float32Array(n * ho * wo * c));
  const dy = sg.tensor([n, ho, wo, c], Float32Array.from({ length: n * ho * wo * c }, (_, i) => Math.cos(i)));
  const dx = sg.tensor([n, h, w, c], new Float32Array(n * h * w * c));
  const k0 = sg.rt.rawKernels;
  const geo = [n, h, w, c, ho, wo, pack(k, k), pack(s, s), pack(p, p)];
  k0.maxpool2d_forward(x.ptr, y.ptr, ...geo);
  return {
    tensors: [x, y, dy, dx],
    calls: {
      "max fwd": () => k0.maxpool2d_forward(x.ptr, y.ptr, ...geo),
      "max bwd": () => k0.maxpool2d_backward(x.ptr, y.ptr, dy.ptr, dx.ptr, ...geo, 0),
      "avg fwd": () => k0.avgpool2d_forward(x.ptr, y.ptr, ...geo),
      "avg bwd": () => k0.avgpool2d_backward(dy.ptr, dx.ptr, ...geo, 0),
    },
  };
}

// Process CPU time (user + system), not wall time: on a busy shared machine wall time also
// counts the time the thread waited for a core.
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Milliseconds of CPU per call: enough calls for ~20 ms. */
function time(f) {
  let reps = 1;
  for (;;) {
    const t0 = cpuMs();
    for (let i = 0; i < reps; i++) f();
    const dt = cpuMs() - t0;
    if (dt > 20) return dt / reps;
    reps *= 2;
  }
}

const median = (a) => {
  const s = a.slice().sort((x, y) => x - y);
  return s[s.length >> 1];
};

const builds = [["this", await runtimeOf(null)]];
if (baseline) builds.push(["baseline", await runtimeOf(baseline)]);
console.log(`pool kernels, ${relaxed ? "relaxed" : "simd128"} build, ${rounds} rounds, medians in ms${baseline ? ` (baseline ${baseline})` : ""}`);
const rows = [];
for (const c of CASES) {
  const sets = builds.map(([, sg]) => setup(sg, c));
  const names = Object.keys(sets[0].calls);
  const samples = names.map(() => builds.map(() => []));
  for (let r = 0; r < rounds; r++) {
    names.forEach((name, i) => sets.forEach((s, b) => samples[i][b].push(time(s.calls[name]))));
  }
  names.forEach((name, i) => {
    const m = samples[i].map(median);
    rows.push([c[0], name, ...m.map((v) => v.toFixed(3)), ...(m.length > 1 ? [(m[0] / m[1]).toFixed(3)] : [])]);
  });
  sets.forEach((s) => s.tensors.forEach((t) => t.dispose()));
}
console.log(["case", "kernel", ...builds.map(([n]) => n), ...(baseline ? ["ratio"] : [])].join("\t"));
for (const r of rows) console.log(r.join("\t"));
for (const [, sg] of builds) await sg.close();
