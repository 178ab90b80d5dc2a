/**
 * The demo page's model files in a real Chromium: after training, the params are kept in
 * IndexedDB and a reload offers them back; "Save .safetensors" gives the params by name
 * (read back here with simdgrad's parser), "Save .onnx" a model ONNX Runtime runs with
 * the page's own predictions; "Load model…" takes a file the person picks, and a corrupt
 * file is a clear message that changes nothing.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer } from "../../demo/web/serve.js";
import { parse } from "../../src/io/safetensors.js";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

describe("the demo page's model files", () => {
  let server: { url: string; close(): Promise<void> };
  let context: BrowserContext;
  let profile: string;
  let page: Page;
  const problems: string[] = [];
  const downloads = mkdtempSync(join(tmpdir(), "simdgrad-downloads-"));

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: install it or set CHROMIUM`);
    if (!existsSync("dist/index.js")) throw new Error("dist/ is missing: run npm run build first");
    server = await startServer({ port: 0 });
    profile = mkdtempSync(join(tmpdir(), "simdgrad-chromium-"));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
      headless: true,
      acceptDownloads: true,
    });
    page = await context.newPage();
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("crash", () => problems.push("the page crashed"));
  }, 600_000);

  afterAll(async () => {
    await context?.close();
    await server?.close();
    for (const d of [profile, downloads]) if (d) rmSync(d, { recursive: true, force: true });
  });

  const ready = () => page.waitForFunction(() => !(document.getElementById("train") as HTMLButtonElement).disabled, null, { timeout: 120_000 });
  const modelState = (state: string) =>
    page.waitForFunction((s) => document.getElementById("model-status")!.dataset.state === s, state, { timeout: 60_000 });

  async function download(button: string): Promise<{ name: string; bytes: Uint8Array }> {
    const [d] = await Promise.all([page.waitForEvent("download", { timeout: 60_000 }), page.click(button)]);
    const path = join(downloads, d.suggestedFilename());
    await d.saveAs(path);
    return { name: d.suggestedFilename(), bytes: new Uint8Array(readFileSync(path)) };
  }

  it("keeps the trained params in IndexedDB; a reload offers them back and restores them", async () => {
    await page.goto(`${server.url}?threads=1`);
    await ready();
    expect(await page.isVisible("#restore")).toBe(false);
    await page.click("#train");
    await page.waitForFunction(() => Number(document.getElementById("stat-step")!.dataset.value) >= 50, null, { timeout: 60_000 });
    await page.click("#stop");
    await modelState("stored");
    expect(await page.isVisible("#restore")).toBe(true);
    const step = Number(await page.getAttribute("#stat-step", "data-value"));
    const acc = Number(await page.getAttribute("#stat-acc", "data-value"));
    // Reload: a fresh net from its seed, and the stored params on offer.
    await page.reload();
    await ready();
    await page.waitForFunction(() => !document.getElementById("restore")!.hidden, null, { timeout: 30_000 });
    expect(await page.textContent("#restore")).toContain(`step ${step.toLocaleString("en")}`);
    await page.click("#restore");
    await modelState("loaded");
    await page.waitForFunction((a) => Number(document.getElementById("stat-acc")!.dataset.value) === a, acc, { timeout: 30_000 });
  });

  it("downloads the params as safetensors and the net as ONNX, which ONNX Runtime runs", async () => {
    const st = await download("#download-st");
    expect(st.name).toMatch(/^simdgrad-spirals-.*\.safetensors$/);
    const params = parse(st.bytes);
    expect(Object.keys(params)).toContain("W1");
    expect(Object.keys(params)).toContain("bout");
    const onnx = await download("#download-onnx");
    expect(onnx.name).toMatch(/\.onnx$/);
    const session = await ort.InferenceSession.create(onnx.bytes);
    const x = new ort.Tensor("float32", Float32Array.from([0.1, 0.2, -0.5, 0.3, 0, 0]), [3, 2]);
    const out = await session.run({ x });
    const logits = Object.values(out)[0]!;
    expect(logits.dims).toEqual([3, params.bout!.shape[0]]);
    expect([...(logits.data as Float32Array)].every(Number.isFinite)).toBe(true);
    await session.release();
    writeFileSync(join(downloads, "model.safetensors"), st.bytes);
  });

  it("loads a file the person picks; a corrupt file is a clear message", async () => {
    await page.click("#reset");
    await page.waitForFunction(() => document.getElementById("stat-step")!.dataset.value === "0", null, { timeout: 30_000 });
    await page.setInputFiles("#model-file", join(downloads, "model.safetensors"));
    await modelState("loaded");
    expect(await page.textContent("#model-status")).toContain("model.safetensors");
    const bad = join(downloads, "bad.safetensors");
    writeFileSync(bad, readFileSync(join(downloads, "model.safetensors")).subarray(0, 100));
    await page.setInputFiles("#model-file", bad);
    await modelState("error");
    expect(await page.textContent("#model-status")).toMatch(/loadParams: safetensors: /);
    expect(problems).toEqual([]);
  });
});
