/**
 * What the browser tests share: the demo server on a free port, headless Chromium on a fresh
 * profile (`CHROMIUM` names another binary), one page whose console errors and page errors
 * are collected in `problems`, and downloads read back as bytes.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { startServer } from "../../demo/web/serve.js";

export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

export interface OpenPage {
  server: { url: string; close(): Promise<void> };
  context: BrowserContext;
  page: Page;
  /** Console errors and page errors (and crashes) seen on `page`. */
  problems: string[];
  /** Clicks `button` and returns the file it downloads. */
  download(button: string): Promise<{ name: string; bytes: Uint8Array }>;
  close(): Promise<void>;
}

export async function openPage(opts: { viewport?: { width: number; height: number } } = {}): Promise<OpenPage> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: install it or set CHROMIUM`);
  if (!existsSync("dist/index.js")) throw new Error("dist/ is missing: run npm run build first");
  const server = await startServer({ port: 0 });
  const profile = mkdtempSync(join(tmpdir(), "simdgrad-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
    headless: true,
    ...(opts.viewport ? { viewport: opts.viewport } : {}),
    acceptDownloads: true,
  });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console.error: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("crash", () => problems.push("the page crashed"));
  let n = 0;
  return {
    server,
    context,
    page,
    problems,
    async download(button) {
      const [d] = await Promise.all([page.waitForEvent("download", { timeout: 60_000 }), page.click(button)]);
      const path = join(profile, `download-${n++}-${d.suggestedFilename()}`);
      await d.saveAs(path);
      return { name: d.suggestedFilename(), bytes: new Uint8Array(readFileSync(path)) };
    },
    async close() {
      await context.close();
      await server.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
