// How smooth the text page stays while it trains on its own thread (?noworker): the gaps
// between animation frames in headless Chromium while the page trains for a while, samples
// (every 4 s of training) and measures the held-out loss (every 2 s), with samples and
// evaluations drawn in pieces (the page as it is) and, in alternating runs, in one piece each
// (?wholetasks, as before). Frames are requested continuously; a gap is the time between two
// frames. Reports the median over runs of each run's longest gap, 99th percentile and number of
// gaps over 50 ms; then, training paused, the longest gap while the page draws 5 samples asked
// for one after another (no training steps in the way: the samples' own stalls).
//
//   npm run build && node bench/text-page-frames.mjs [--runs=3] [--seconds=12] [--chromium=/usr/bin/chromium]
import { chromium } from "playwright-core";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "./lib/args.js";
import { startServer } from "../demo/web/serve.js";

const args = parseArgs();
const RUNS = Number(args.runs ?? 3);
const SECONDS = Number(args.seconds ?? 12);
const server = await startServer({ port: 0 });
const context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "simdgrad-frames-")), {
  executablePath: args.chromium ?? process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
  headless: true,
});

async function run(query) {
  const p = await context.newPage();
  try {
    await p.goto(new URL(`text.html?noworker${query}`, server.url).href);
    await p.waitForFunction(() => document.getElementById("status")?.dataset.state === "ready", null, { timeout: 120_000 });
    await p.waitForFunction(() => document.getElementById("heat")?.dataset.size !== undefined, null, { timeout: 60_000 });
    await p.evaluate(() => {
      const w = window;
      w.gaps = [];
      let last = performance.now();
      const frame = (t) => {
        w.gaps.push(t - last);
        last = t;
        if (!w.stopFrames) requestAnimationFrame(frame);
      };
      requestAnimationFrame(frame);
    });
    await p.click("#train");
    await p.waitForTimeout(SECONDS * 1000);
    await p.click("#stop");
    const r = await p.evaluate(() => {
      window.stopFrames = true;
      return { gaps: window.gaps.slice(1), samples: document.querySelectorAll("#samples li").length, steps: Number(document.getElementById("steps").dataset.value) };
    });
    const g = r.gaps.sort((a, b) => a - b);
    // Paused: let queued work finish, then 5 samples on request, frames recorded throughout.
    await p.waitForTimeout(1000);
    const sampling = await p.evaluate(async () => {
      const gaps = [];
      let stop = false;
      let last = performance.now();
      const frame = (t) => {
        gaps.push(t - last);
        last = t;
        if (!stop) requestAnimationFrame(frame);
      };
      requestAnimationFrame(frame);
      const list = document.getElementById("samples");
      for (let i = 0; i < 5; i++) {
        const had = list.children.length;
        document.getElementById("sample-now").click();
        while (list.children.length === had) await new Promise((res) => setTimeout(res, 5));
      }
      stop = true;
      return Math.max(...gaps.slice(1));
    });
    return { max: g[g.length - 1], p99: g[Math.floor(0.99 * (g.length - 1))], over50: g.filter((x) => x > 50).length, frames: g.length, samples: r.samples, steps: r.steps, sampling };
  } finally {
    await p.close();
  }
}

const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const res = { pieces: [], whole: [] };
for (let i = 0; i < RUNS; i++) {
  const order = i % 2 === 0 ? ["pieces", "whole"] : ["whole", "pieces"];
  for (const name of order) res[name].push(await run(name === "whole" ? "&wholetasks" : ""));
}
console.log(`text page on its own thread, ${SECONDS} s of training per run, ${RUNS} runs each (medians)`);
console.log(`${"".padEnd(22)}${"longest gap".padStart(12)}${"p99 gap".padStart(9)}${"gaps>50ms".padStart(10)}${"frames".padStart(8)}${"samples".padStart(8)}${"steps".padStart(7)}${"paused, 5 samples: longest gap".padStart(32)}`);
for (const [name, label] of [["whole", "in one piece (before)"], ["pieces", "in pieces (now)"]]) {
  const rs = res[name];
  console.log(`${label.padEnd(22)}${(med(rs.map((r) => r.max)).toFixed(0) + " ms").padStart(12)}${(med(rs.map((r) => r.p99)).toFixed(0) + " ms").padStart(9)}${String(med(rs.map((r) => r.over50))).padStart(10)}${String(med(rs.map((r) => r.frames))).padStart(8)}${String(med(rs.map((r) => r.samples))).padStart(8)}${String(med(rs.map((r) => r.steps))).padStart(7)}${(med(rs.map((r) => r.sampling)).toFixed(0) + " ms").padStart(32)}`);
}
await context.close();
await server.close();
