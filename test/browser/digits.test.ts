/**
 * The digits page in a real Chromium: it loads the real MNIST digits from the mnist package,
 * trains the LeNet-style CNN live (loss curve and first-layer filters drawn as it learns,
 * held-out accuracy measured), and classifies a digit drawn on the pad with the mouse: the
 * probabilities shown sum to 1 and a vertical stroke reads as a 1.
 * Run with `npm run test:browser` (after `npm run build`). Set CHROMIUM to use another binary.
 */
import * as ort from "onnxruntime-node";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OpenPage, openPage } from "./chromium.js";
import { loadDigits, splitDigits } from "../../demo/data/digits.js";
import { parse } from "../../src/io/safetensors.js";

describe("the digits page in Chromium", () => {
  let b: OpenPage;
  let page: Page;
  let server: OpenPage["server"];
  let context: OpenPage["context"];
  let problems: string[];
  let download: OpenPage["download"];

  beforeAll(async () => {
    b = await openPage({ viewport: { width: 1200, height: 1000 } });
    ({ page, server, context, problems, download } = b);
  }, 120_000);

  afterAll(async () => {
    await b?.close();
  });

  it("trains on the real digits, draws the loss and the filters, and reads a drawn 1", async () => {
    await page.goto(new URL("digits.html", server.url).href);
    await page.waitForFunction(() => document.getElementById("status")?.dataset.state === "ready", null, { timeout: 120_000 });
    expect(await page.textContent("#status")).toMatch(/8000 training digits, 2000 held out/);
    expect(await page.getAttribute("#status", "data-where")).toBe("worker");
    await page.click("#train");
    await page.waitForFunction(() => Number(document.getElementById("steps")?.dataset.value) >= 300, null, { timeout: 240_000 });
    await page.click("#stop");
    await page.waitForFunction(() => document.getElementById("accuracy")?.dataset.value !== "", null, { timeout: 60_000 });
    const accuracy = Number(await page.getAttribute("#accuracy", "data-value"));
    expect(accuracy).toBeGreaterThan(0.85);
    const loss = Number(await page.textContent("#loss"));
    expect(loss).toBeLessThan(1);
    // The loss curve (#2f6fdb) spans the chart; the filters are drawn in colour.
    const pixels = (sel: string) =>
      page.$eval(sel, (el) => {
        const c = el as HTMLCanvasElement;
        const { data } = c.getContext("2d")!.getImageData(0, 0, c.width, c.height);
        let curve = 0, tinted = 0;
        const cols = new Set<number>();
        for (let i = 0; i < c.width * c.height; i++) {
          const r = data[4 * i]!, g = data[4 * i + 1]!, b = data[4 * i + 2]!, a = data[4 * i + 3]!;
          if (a > 0 && b > 150 && r < 140 && b - r > 60) {
            curve++;
            cols.add(i % c.width);
          }
          if (a > 0 && (Math.abs(r - b) > 60)) tinted++;
        }
        return { curve, columns: cols.size, tinted, width: c.width };
      });
    const chart = await pixels("#loss-chart");
    expect(chart.columns).toBeGreaterThan(0.8 * chart.width);
    const filters = await pixels("#filters");
    expect(filters.tinted).toBeGreaterThan(200);

    // Draw a vertical stroke on the pad.
    const box = (await page.locator("#pad").boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + 0.15 * box.height);
    await page.mouse.down();
    for (let i = 1; i <= 20; i++) await page.mouse.move(box.x + box.width / 2, box.y + (0.15 + 0.035 * i) * box.height);
    await page.mouse.up();
    // The trainer (in its worker) answers the last drawing.
    await page.waitForFunction(() => document.getElementById("probs")?.dataset.state === "current", null, { timeout: 30_000 });
    const p = await page.$$eval("#probs td.p", (cells) => cells.map((c) => Number((c as HTMLElement).dataset.p)));
    expect(p).toHaveLength(10);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    expect(p.indexOf(Math.max(...p))).toBe(1);
    // Clearing the pad clears the probabilities.
    await page.click("#clear");
    expect(await page.$$eval("#probs td.p", (cells) => cells.map((c) => (c as HTMLElement).dataset.p))).toEqual(new Array(10).fill(""));
    expect(problems).toEqual([]);
  });

  it("downloads the trained CNN: its params as safetensors, and an ONNX model that ONNX Runtime runs with the page's accuracy", async () => {
    const steps = Number(await page.getAttribute("#steps", "data-value"));
    const pageAccuracy = Number(await page.getAttribute("#accuracy", "data-value"));
    const st = await download("#download-st");
    expect(st.name).toBe(`simdgrad-digits-cnn-step${steps}.safetensors`);
    const params = parse(st.bytes);
    expect(Object.fromEntries(Object.entries(params).map(([k, v]) => [k, v.shape]))).toEqual({
      f1: [5, 5, 1, 8], c1: [8], f2: [5, 5, 8, 16], c2: [16], W1: [784, 64], b1: [64], W2: [64, 10], b2: [10],
    });
    expect(await page.getAttribute("#model-status", "data-state")).toBe("downloaded");
    const onnx = await download("#download-onnx");
    expect(onnx.name).toBe(`simdgrad-digits-cnn-step${steps}.onnx`);
    // The page measured its accuracy on the first 1,000 held-out digits, with the same params
    // (training is paused): the ONNX model, fed those digits channels last in batches of
    // 250 (any batch: the model's first dimension is free), classifies them the same.
    const { test } = splitDigits(loadDigits(), 0.2, 1);
    const session = await ort.InferenceSession.create(onnx.bytes);
    let right = 0;
    for (let b = 0; b < 1000; b += 250) {
      const x = new ort.Tensor("float32", test.x.slice(b * 784, (b + 250) * 784), [250, 28, 28, 1]);
      const out = await session.run({ x });
      expect(out.logits!.dims).toEqual([250, 10]);
      const z = out.logits!.data as Float32Array;
      for (let r = 0; r < 250; r++) {
        const row = Array.from(z.subarray(10 * r, 10 * r + 10));
        if (row.indexOf(Math.max(...row)) === test.labels[b + r]) right++;
      }
    }
    await session.release();
    expect(Math.abs(right / 1000 - pageAccuracy)).toBeLessThanOrEqual(0.002);
    expect(problems).toEqual([]);
  });

  it("trains on the page itself where module workers are not used (?noworker), and reads the pad", async () => {
    const p2 = await context.newPage();
    const errors: string[] = [];
    p2.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    p2.on("pageerror", (e) => errors.push(e.message));
    try {
      await p2.goto(new URL("digits.html?noworker", server.url).href);
      await p2.waitForFunction(() => document.getElementById("status")?.dataset.state === "ready", null, { timeout: 120_000 });
      expect(await p2.getAttribute("#status", "data-where")).toBe("page");
      await p2.click("#train");
      await p2.waitForFunction(() => Number(document.getElementById("steps")?.dataset.value) >= 20, null, { timeout: 120_000 });
      await p2.click("#stop");
      await p2.waitForFunction(() => document.getElementById("accuracy")?.dataset.value !== "", null, { timeout: 60_000 });
      expect(Number(await p2.getAttribute("#accuracy", "data-value"))).toBeGreaterThan(0.1);
      const box = (await p2.locator("#pad").boundingBox())!;
      await p2.mouse.move(box.x + 0.3 * box.width, box.y + 0.3 * box.height);
      await p2.mouse.down();
      await p2.mouse.move(box.x + 0.7 * box.width, box.y + 0.7 * box.height);
      await p2.mouse.up();
      await p2.waitForFunction(() => document.getElementById("probs")?.dataset.state === "current", null, { timeout: 30_000 });
      const p = await p2.$$eval("#probs td.p", (cells) => cells.map((c) => Number((c as HTMLElement).dataset.p)));
      expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
      expect(errors).toEqual([]);
    } finally {
      await p2.close();
    }
  });
});
