/**
 * The browser demo in a real Chromium (Debian's /usr/bin/chromium, driven by playwright-core):
 * the page loads simdgrad from dist/ in a module worker with 2 threads (the worker starts one
 * more over a shared memory), trains the spirals to a stated accuracy, draws the loss curve,
 * the gradient health and the decision boundary, runs the "why slopes matter" comparison and
 * its benchmark view; served without cross-origin isolation it runs on one thread and says
 * why. Run with `npm run test:browser` (builds first if dist/ or build/ is missing or stale).
 * Set CHROMIUM to use another Chromium binary. Needs a machine with 2 or more logical cores.
 */
import { execSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, resolve, sep } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer } from "../../demo/web/serve.js";
import { GEMM_MIN_MACS } from "../../src/threads/split.js";

const ROOT = resolve(import.meta.dirname, "../..");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
/** The accuracy on the training points the spirals must reach. */
const TARGET_ACCURACY = 0.9;
/** Threads the page is asked for (through its `?threads=` parameter). */
const THREADS = 2;
/** The spirals of the page (3 arms of 100 points) and the hidden width the threaded test trains. */
const SPIRAL_POINTS = 300;
const SPIRAL_WIDTH = 64;

interface Server {
  url: string;
  close(): Promise<void>;
}

/** Newest modification time of the files under `dir` (recursively). */
function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** Builds the package unless dist/ and build/ exist and are newer than every source. */
function buildIfNeeded(): void {
  const outputs = ["dist/index.js", "build/simdgrad.simd.wasm", "build/simdgrad.relaxed.wasm"].map((f) => join(ROOT, f));
  const fresh =
    outputs.every((f) => existsSync(f)) &&
    Math.min(...outputs.map((f) => statSync(f).mtimeMs)) > Math.max(newest(join(ROOT, "src")), newest(join(ROOT, "assembly")));
  if (!fresh) execSync("npm run build", { cwd: ROOT, stdio: "inherit" });
}

/** Problems the page (or its worker) reported: console errors and uncaught exceptions. */
function watch(page: Page, into: string[]): void {
  page.on("console", (m) => {
    if (m.type() === "error") into.push(`console.error: ${m.text()}`);
  });
  page.on("worker", (w) =>
    w.on("console", (m) => {
      if (m.type() === "error") into.push(`worker console.error: ${m.text()}`);
    }),
  );
  page.on("pageerror", (e) => into.push(`page error: ${e.message}`));
  page.on("crash", () => into.push("the page crashed"));
}

/** A number from an element's data-value attribute (NaN when empty). */
/** Waits until the runtime a control reloaded is ready: Train enabled, the model at step 0. */
async function reloaded(page: Page): Promise<void> {
  await page.waitForFunction(() => !(document.getElementById("train") as HTMLButtonElement).disabled, null, { timeout: 60_000 });
  await page.waitForFunction(() => document.getElementById("stat-step")!.dataset.value === "0", null, { timeout: 30_000 });
}

/** Trains 50 steps or more, stops, and checks the loss is a number. */
async function trainBriefly(page: Page): Promise<void> {
  await page.click("#train");
  await page.waitForFunction(() => Number(document.getElementById("stat-step")!.dataset.value) >= 50, null, { timeout: 60_000 });
  await page.click("#stop");
  await page.waitForFunction(() => document.getElementById("status")!.textContent === "Stopped.", null, { timeout: 30_000 });
  expect(Number.isFinite(await valueOf(page, "#stat-loss"))).toBe(true);
}

async function valueOf(page: Page, selector: string): Promise<number> {
  const v = await page.getAttribute(selector, "data-value");
  return v === null || v === "" ? NaN : Number(v);
}

/**
 * Pixel statistics of a canvas: how many pixels are not the white background, how many
 * have each class tint (orange, blue, green, as main.js paints them), how many are the
 * loss curve's blue, and how many columns that blue spans.
 */
function canvasStats(page: Page, selector: string) {
  return page.$eval(selector, (el) => {
    const c = el as HTMLCanvasElement;
    const { data, width, height } = c.getContext("2d")!.getImageData(0, 0, c.width, c.height);
    let nonWhite = 0, orange = 0, blue = 0, green = 0, curve = 0;
    const curveColumns = new Set<number>();
    const colours = new Set<number>();
    for (let i = 0; i < width * height; i++) {
      const r = data[4 * i]!, g = data[4 * i + 1]!, b = data[4 * i + 2]!;
      colours.add(((r >> 4) << 8) | ((g >> 4) << 4) | (b >> 4));
      if (r < 245 || g < 245 || b < 245) nonWhite++;
      if (r > b + 40 && r > g + 20) orange++;
      else if (b > r + 40 && b > g + 10) blue++;
      else if (g > r + 20 && g > b + 20) green++;
      // The loss curve: #2f6fdb, drawn anti-aliased.
      if (b > 150 && r < 140 && b - r > 60) {
        curve++;
        curveColumns.add(i % width);
      }
    }
    return { width, height, pixels: width * height, nonWhite, orange, blue, green, curve, curveColumns: curveColumns.size, colours: colours.size };
  });
}

/** How many pixels of a canvas are (close to) each of the given colours, and over how many columns. */
function colourStats(page: Page, selector: string, colours: Record<string, string>) {
  return page.$eval(
    selector,
    (el, colours) => {
      const c = el as HTMLCanvasElement;
      const { data, width, height } = c.getContext("2d")!.getImageData(0, 0, c.width, c.height);
      const want = Object.entries(colours).map(([name, hex]) => ({ name, rgb: [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) }));
      const out: Record<string, { pixels: number; columns: number }> = {};
      const cols: Record<string, Set<number>> = {};
      for (const w of want) {
        out[w.name] = { pixels: 0, columns: 0 };
        cols[w.name] = new Set();
      }
      for (let i = 0; i < width * height; i++) {
        const r = data[4 * i]!, g = data[4 * i + 1]!, b = data[4 * i + 2]!;
        for (const w of want) {
          if (Math.abs(r - w.rgb[0]!) + Math.abs(g - w.rgb[1]!) + Math.abs(b - w.rgb[2]!) < 40) {
            out[w.name]!.pixels++;
            cols[w.name]!.add(i % width);
          }
        }
      }
      for (const w of want) out[w.name]!.columns = cols[w.name]!.size;
      return { width, height, ...out } as { width: number; height: number } & Record<string, { pixels: number; columns: number }>;
    },
    colours,
  );
}

/** The numbers of one row of the "why slopes matter" table, from the cells' data-value. */
async function lessonRow(page: Page, activation: string) {
  return page.$eval(`#slopes-table tr[data-activation="${activation}"]`, (tr) => {
    const v = (field: string) => Number((tr.querySelector(`td[data-field="${field}"]`) as HTMLElement).dataset.value);
    return {
      steps: v("steps"),
      firstLoss: v("first-loss"),
      loss: v("loss"),
      accuracy: v("accuracy"),
      firstNorm: v("first-norm"),
      lastNorm: v("last-norm"),
      ratio: v("ratio"),
      verdict: (tr.querySelector('td[data-field="verdict"]') as HTMLElement).textContent ?? "",
    };
  });
}

async function launch(): Promise<{ context: BrowserContext; profile: string }> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: install it (apt-get update && apt-get install -y chromium) or set CHROMIUM`);
  }
  const profile = mkdtempSync(join(tmpdir(), "simdgrad-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: ARGS,
    headless: true,
    viewport: { width: 1200, height: 1000 },
  });
  return { context, profile };
}

describe("the browser demo in Chromium", () => {
  let server: Server;
  let context: BrowserContext;
  let profile: string;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    buildIfNeeded();
    server = await startServer({ port: 0 });
    ({ context, profile } = await launch());
    page = await context.newPage();
    watch(page, problems);
  }, 600_000);

  afterAll(async () => {
    await context?.close();
    await server?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it("serves the page, the library and the wasm with the right types and the isolation headers", async () => {
    const page = await fetch(server.url);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(page.headers.get("cross-origin-opener-policy")).toBe("same-origin");
    expect(page.headers.get("cross-origin-embedder-policy")).toBe("require-corp");
    const wasm = await fetch(new URL("../../build/simdgrad.simd.wasm", server.url));
    expect(wasm.status).toBe(200);
    expect(wasm.headers.get("content-type")).toBe("application/wasm");
    expect(WebAssembly.validate(new Uint8Array(await wasm.arrayBuffer()))).toBe(true);
    // The library's modules are served as they are and import nothing by bare name, so the
    // page's module worker (which has no import map) and the thread workers load them as is.
    const dist = join(ROOT, "dist");
    const modules = readdirSync(dist, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".js"));
    expect(modules).toContain(join("threads", "worker.js"));
    for (const f of modules) {
      const res = await fetch(new URL(`../../dist/${f.split(sep).join("/")}`, server.url));
      expect(res.status, f).toBe(200);
      expect(res.headers.get("content-type"), f).toMatch(/^text\/javascript/);
      const text = await res.text();
      expect(text, f).toBe(readFileSync(join(dist, f), "utf8"));
      // (The ONNX exporter's lazy import of its optional encoder is the one exception: the page
      // passes that module, loaded by URL, instead.)
      const bare = [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)["']([^"'\n]+)["']/g)]
        .map((m) => m[1]!)
        .filter((spec) => !/^(\.{1,2}\/|\/|node:)/.test(spec) && !(f.startsWith("io") && spec === "@bufbuild/protobuf/wire"));
      expect(bare, `${f}: bare import specifiers`).toEqual([]);
    }
    expect((await fetch(new URL("../../node_modules/@assemblyscript/loader/index.js", server.url))).status).toBe(404);
    // Outside the page's files, nothing is served.
    expect((await fetch(new URL("../../package.json", server.url))).status).toBe(404);
    expect((await fetch(new URL("../../node_modules/vitest/package.json", server.url))).status).toBe(404);
    expect((await fetch(new URL("../../demo/web/%2e%2e/%2e%2e/package.json", server.url))).status).toBe(404);
  });

  it("loads the dense kernel set from the minified module in a page: the smaller .wasm, the full set's numbers, conv2d refused", async () => {
    const p = await context.newPage();
    const fetched: string[] = [];
    p.on("request", (r) => {
      if (r.url().endsWith(".wasm")) fetched.push(r.url().slice(r.url().lastIndexOf("/") + 1));
    });
    await p.goto(server.url);
    // (A string, so that the test runner does not rewrite the page's dynamic import.)
    const bundle = new URL("../../dist/browser/simdgrad.min.js", server.url).href;
    const r = (await p.evaluate(`(async () => {
      const m = await import(${JSON.stringify(bundle)});
      const a = Float32Array.from({ length: 40 * 30 }, (_, i) => Math.sin(i));
      const b = Float32Array.from({ length: 30 * 20 }, (_, i) => Math.cos(i));
      const out = { kernels: [], same: false, refused: "" };
      const products = [];
      for (const kernels of ["dense", "all"]) {
        const sg = await m.init({ kernels, relaxedSimd: false });
        out.kernels.push(sg.features.kernels);
        products.push(Array.from(sg.matmul(sg.tensor([40, 30], a), sg.tensor([30, 20], b)).toArray()));
        if (kernels === "dense") {
          const g = sg.graph();
          try {
            g.conv2d(g.input([1, 4, 4, 1], "x"), g.param([3, 3, 1, 2]));
          } catch (e) {
            out.refused = e.message;
          }
        }
        await sg.close();
      }
      out.same = products[0].every((v, i) => Object.is(v, products[1][i]));
      return out;
    })()`)) as { kernels: string[]; same: boolean; refused: string };
    await p.close();
    expect(r.kernels).toEqual(["dense", "all"]);
    expect(r.same).toBe(true);
    expect(r.refused).toMatch(/^conv2d: this runtime loaded the dense kernel set/);
    expect(fetched).toEqual(["simdgrad.dense.simd.wasm", "simdgrad.simd.wasm"]);
  });

  it(`loads simdgrad in its worker on ${THREADS} threads, shows the build, the thread count, the isolation and a GFLOPS reading`, async () => {
    expect(cpus().length, "this test needs a machine with 2 or more logical cores").toBeGreaterThanOrEqual(THREADS);
    await page.goto(`${server.url}?threads=${THREADS}`);
    await page.waitForFunction(() => !(document.getElementById("train") as HTMLButtonElement).disabled, null, { timeout: 60_000 });
    const build = await page.getAttribute("#build-label", "data-value");
    expect(["simd", "relaxed"]).toContain(build);
    expect(await page.textContent("#build-label")).toBe(build === "relaxed" ? "relaxed SIMD" : "SIMD128");
    expect(await page.textContent("#isolation")).toBe("cross-origin isolated");
    // The threads control offers 1 … the logical cores, and the runtime runs the threads asked for.
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    const options = await page.$$eval("#threads option", (os) => os.map((o) => Number((o as HTMLOptionElement).value)));
    expect(options).toEqual(Array.from({ length: cores }, (_, i) => i + 1));
    expect(await page.inputValue("#threads")).toBe(String(THREADS));
    expect(await valueOf(page, "#threads-label")).toBe(THREADS);
    expect(await page.isVisible("#warnings")).toBe(false);
    // The trainer runs in the worker, not on the page.
    expect(await page.textContent("#status")).toMatch(new RegExp(`^simdgrad loaded \\((SIMD128|relaxed SIMD) build, in a worker, ${THREADS} threads\\)`));
    await page.waitForFunction(() => document.getElementById("gflops")!.dataset.value !== "", null, { timeout: 60_000 });
    const gflops = await valueOf(page, "#gflops");
    expect(gflops).toBeGreaterThan(0);
    expect(await page.textContent("#gflops")).toMatch(/^\d+\.\d GFLOPS$/);
  });

  it(`trains the spirals on ${THREADS} threads to ${TARGET_ACCURACY * 100}% training accuracy and draws the loss curve, the gradient health and the decision boundary`, async () => {
    // Two hidden layers of 64: the matrix products of a step (300 points × 64 × 64) are above
    // the size threshold of the threads, so the step really runs on both.
    expect(SPIRAL_POINTS * SPIRAL_WIDTH * SPIRAL_WIDTH).toBeGreaterThanOrEqual(GEMM_MIN_MACS);
    await page.selectOption("#data", "spirals");
    await page.fill("#hidden", `${SPIRAL_WIDTH}, ${SPIRAL_WIDTH}`);
    await page.dispatchEvent("#hidden", "change");
    const params = 2 * SPIRAL_WIDTH + SPIRAL_WIDTH + SPIRAL_WIDTH * SPIRAL_WIDTH + SPIRAL_WIDTH + SPIRAL_WIDTH * 3 + 3;
    await page.waitForFunction((n) => document.getElementById("stat-params")!.dataset.value === String(n), params, { timeout: 30_000 });
    // The loss canvas is blank but for its hint before training.
    expect((await canvasStats(page, "#loss")).curve).toBe(0);
    await page.click("#train");
    await page.waitForFunction(
      (target) => Number(document.getElementById("stat-acc")!.dataset.value || 0) >= target,
      TARGET_ACCURACY,
      { timeout: 120_000, polling: 100 },
    );
    // Let the boundary be redrawn with the trained net, then stop.
    await page.waitForTimeout(600);
    await page.click("#stop");
    await page.waitForFunction(() => document.getElementById("status")!.textContent === "Stopped.", null, { timeout: 30_000 });
    expect(await page.isDisabled("#stop")).toBe(true);
    expect(await page.isEnabled("#train")).toBe(true);

    mkdirSync(join(ROOT, "test-results"), { recursive: true });
    await page.screenshot({ path: join(ROOT, "test-results/browser-demo-spirals.png"), fullPage: true });

    const accuracy = await valueOf(page, "#stat-acc");
    const steps = await valueOf(page, "#stat-step");
    const first = Number(await page.getAttribute("#stat-loss", "data-first"));
    const last = await valueOf(page, "#stat-loss");
    expect(accuracy).toBeGreaterThanOrEqual(TARGET_ACCURACY);
    expect(steps).toBeGreaterThan(0);
    expect(await valueOf(page, "#stat-sps")).toBeGreaterThan(0);
    // Three classes start near ln 3 ≈ 1.1; the loss must have fallen well below that.
    expect(first).toBeGreaterThan(0.8);
    expect(last).toBeLessThan(first / 2);

    // Stopped means stopped: the step count holds still.
    await page.waitForTimeout(400);
    expect(await valueOf(page, "#stat-step")).toBe(steps);

    const loss = await canvasStats(page, "#loss");
    expect(loss.curve, "loss curve pixels").toBeGreaterThan(200);
    expect(loss.curveColumns, "columns the curve spans").toBeGreaterThan(loss.width * 0.5);

    const boundary = await canvasStats(page, "#boundary");
    expect(boundary.nonWhite / boundary.pixels, "painted fraction").toBeGreaterThan(0.9);
    for (const tint of ["orange", "blue", "green"] as const) {
      expect(boundary[tint] / boundary.pixels, `${tint} region`).toBeGreaterThan(0.1);
    }
    expect(boundary.colours, "distinct colours").toBeGreaterThan(20);

    // Still on the threads it started with.
    expect(await valueOf(page, "#threads-label")).toBe(THREADS);

    // Gradient health: one curve per layer (W1, W2, Wout: main.js's first three layer colours)
    // across most of the chart, and a flat-region row per tanh layer with its shares.
    const health = await colourStats(page, "#health", { W1: "#d1495b", W2: "#edae49", Wout: "#00798c" });
    for (const layer of ["W1", "W2", "Wout"]) {
      expect(health[layer]!.pixels, `${layer} curve pixels`).toBeGreaterThan(100);
      expect(health[layer]!.columns, `${layer}: columns its curve spans`).toBeGreaterThan(health.width * 0.5);
    }
    const flat = await page.$$eval("#flat tbody tr", (trs) =>
      trs.map((tr) => {
        const cells = [...tr.children] as HTMLElement[];
        return { layer: cells[0]!.textContent, activation: cells[1]!.textContent, share: Number(cells[3]!.dataset.value), units: Number(cells[4]!.dataset.value) };
      }),
    );
    expect(flat.map((r) => [r.layer, r.activation])).toEqual([["1", "tanh"], ["2", "tanh"]]);
    for (const r of flat) {
      expect(r.share).toBeGreaterThanOrEqual(0);
      expect(r.share).toBeLessThanOrEqual(1);
      expect(r.units).toBeGreaterThanOrEqual(0);
      expect(r.units).toBeLessThanOrEqual(1);
    }
    // A trained tanh net on the spirals pushes some of its units into saturation.
    expect(Math.max(...flat.map((r) => r.share)), "largest saturated share").toBeGreaterThan(0.01);
  });

  it("runs \"why slopes matter\": the step net does not learn, the deep sigmoid net's gradient vanishes, ReLU and GeLU train", async () => {
    await page.click("#slopes-btn");
    await page.waitForFunction(() => document.getElementById("slopes-status")!.dataset.state === "running", null, { timeout: 30_000 });
    // Training and the benchmark wait while it runs; the button now stops it.
    expect(await page.isDisabled("#train")).toBe(true);
    expect(await page.isDisabled("#bench-btn")).toBe(true);
    expect(await page.textContent("#slopes-btn")).toBe("Stop the comparison");
    // Five nets trained in turn: a minute on an idle machine, several on a loaded one.
    await page.waitForFunction(() => document.getElementById("slopes-status")!.dataset.state === "done", null, { timeout: 280_000 });
    expect(await page.textContent("#slopes-btn")).toBe("Run the comparison");
    expect(await page.isEnabled("#train")).toBe(true);

    const names = await page.$$eval("#slopes-table tbody tr", (trs) => trs.map((tr) => (tr as HTMLElement).dataset.activation));
    expect(names).toEqual(["step", "sigmoid", "tanh", "relu", "gelu"]);
    const rows = Object.fromEntries(await Promise.all(names.map(async (a) => [a!, await lessonRow(page, a!)] as const)));
    const steps = rows.step!.steps;
    expect(steps, "steps of the preset").toBeGreaterThanOrEqual(100);
    expect(await page.textContent("#slopes-status")).toMatch(new RegExp(`^done: ${steps} steps each in \\d+\\.\\d s\\.$`));
    for (const [a, r] of Object.entries(rows)) {
      expect(r.steps, `${a}: steps`).toBe(steps);
      for (const v of [r.firstLoss, r.loss, r.accuracy, r.lastNorm]) expect(Number.isFinite(v), `${a}: ${JSON.stringify(r)}`).toBe(true);
    }
    const coinToss = Math.LN2; // every net starts with an output layer of zeros: loss ln 2
    // Step: no gradient reaches the hidden layers (exactly 0); only the output layer learns, on
    // frozen random features, and the loss does not fall below a coin toss.
    expect(rows.step!.firstNorm).toBe(0);
    expect(rows.step!.lastNorm).toBeGreaterThan(0);
    expect(rows.step!.loss, "step: loss at the end").toBeGreaterThan(coinToss - 0.02);
    expect(rows.step!.loss, "step: loss at the end vs at the start").toBeGreaterThanOrEqual(rows.step!.firstLoss - 0.02);
    expect(rows.step!.accuracy, "step: accuracy").toBeLessThan(0.6);
    expect(rows.step!.verdict).toMatch(/^no slope/);
    // Sigmoid: the first layer's gradient is at least 100× smaller than the last layer's.
    expect(rows.sigmoid!.firstNorm).toBeGreaterThan(0);
    expect(rows.sigmoid!.ratio, "sigmoid: last / first layer gradient norm").toBeGreaterThanOrEqual(100);
    expect(rows.sigmoid!.lastNorm / rows.sigmoid!.firstNorm).toBeCloseTo(rows.sigmoid!.ratio, 6);
    expect(rows.sigmoid!.verdict).toMatch(/^vanishing gradient/);
    // ReLU and GeLU (and tanh) pass the gradient back and learn.
    for (const a of ["relu", "gelu", "tanh"]) {
      const r = rows[a]!;
      expect(r.accuracy, `${a}: accuracy`).toBeGreaterThan(0.9);
      expect(r.loss, `${a}: loss at the end`).toBeLessThan(coinToss / 3);
      expect(r.ratio, `${a}: last / first layer gradient norm`).toBeLessThan(10);
      expect(r.verdict).toBe("learns");
    }

    // Both charts draw one line per activation.
    const colours = { step: "#7a7f87", sigmoid: "#d1495b", tanh: "#e09b1a", relu: "#2f6fdb", gelu: "#2ea043" };
    const losses = await colourStats(page, "#slopes-loss", colours);
    const norms = await colourStats(page, "#slopes-norms", colours);
    for (const a of Object.keys(colours)) {
      expect(losses[a]!.columns, `${a}: loss curve columns`).toBeGreaterThan(losses.width * 0.4);
      expect(norms[a]!.columns, `${a}: gradient-norm line columns`).toBeGreaterThan(norms.width * 0.4);
    }
    await page.locator("#slopes").screenshot({ path: join(ROOT, "test-results/browser-demo-slopes.png") });

    // It can be stopped midway, and training works afterwards.
    await page.click("#slopes-btn");
    await page.waitForFunction(() => document.getElementById("slopes-status")!.dataset.state === "running", null, { timeout: 30_000 });
    await page.click("#slopes-btn");
    await page.waitForFunction(() => document.getElementById("slopes-status")!.dataset.state === "stopped", null, { timeout: 30_000 });
    expect(await page.isEnabled("#train")).toBe(true);
  });

  it("resets the net to its seed", async () => {
    await page.click("#reset");
    await page.waitForFunction(() => document.getElementById("stat-loss")!.dataset.value === "", null, { timeout: 30_000 });
    await page.waitForFunction(() => document.getElementById("stat-step")!.dataset.value === "0", null, { timeout: 30_000 });
    expect((await canvasStats(page, "#loss")).curve).toBe(0);
    // A bad control is reported next to the controls, and fixing it works again.
    await page.fill("#hidden", "16, x");
    await page.dispatchEvent("#hidden", "change");
    expect(await page.isVisible("#config-error")).toBe(true);
    expect(await page.textContent("#config-error")).toContain("Hidden layer sizes");
    await page.fill("#hidden", "16, 16");
    await page.dispatchEvent("#hidden", "change");
    expect(await page.isVisible("#config-error")).toBe(false);
  });

  it("trains the window classifier and shows held-out sentences", async () => {
    await page.selectOption("#data", "windows");
    await page.selectOption("#optimizer", "adam");
    await page.fill("#lr", "0.01");
    await page.dispatchEvent("#lr", "change");
    await page.waitForFunction(() => !document.getElementById("heldout-panel")!.hidden, null, { timeout: 30_000 });
    await page.click("#train");
    await page.waitForFunction(() => Number(document.getElementById("stat-acc")!.dataset.value || 0) >= 0.95, null, { timeout: 120_000 });
    await page.waitForFunction(() => document.querySelectorAll("#heldout span").length > 50, null, { timeout: 30_000 });
    await page.click("#stop");
    await page.waitForFunction(() => document.getElementById("status")!.textContent === "Stopped.", null, { timeout: 30_000 });
    const f1 = await valueOf(page, "#stat-heldout");
    expect(f1).toBeGreaterThanOrEqual(0);
    expect(f1).toBeLessThanOrEqual(1);
    expect(await page.locator("#heldout span.gold").count()).toBeGreaterThan(10);
    await page.selectOption("#data", "spirals");
    await page.selectOption("#optimizer", "momentum");
    await page.fill("#lr", "0.05");
    await page.dispatchEvent("#lr", "change");
  });

  it("trains with every activation and every optimizer of the controls", async () => {
    const activations = await page.$$eval("#activation option", (os) => os.map((o) => (o as HTMLOptionElement).value));
    expect(activations).toEqual(["step", "sigmoid", "tanh", "hardTanh", "relu", "leakyRelu", "prelu", "swish", "gelu", "geluTanh"]);
    const optimizers = ["sgd", "momentum", "adam"];
    for (let i = 0; i < activations.length; i++) {
      const act = activations[i]!;
      await page.selectOption("#activation", act);
      await page.selectOption("#optimizer", optimizers[i % optimizers.length]!);
      // The change rebuilt the net: step 0, no loss yet.
      await page.waitForFunction(
        () => document.getElementById("stat-step")!.dataset.value === "0" && document.getElementById("stat-loss")!.dataset.value === "",
        null,
        { timeout: 30_000 },
      );
      await page.click("#train");
      await page.waitForFunction(() => Number(document.getElementById("stat-step")!.dataset.value) >= 50, null, { timeout: 60_000 });
      await page.click("#stop");
      await page.waitForFunction(() => document.getElementById("status")!.textContent === "Stopped.", null, { timeout: 30_000 });
      const loss = await valueOf(page, "#stat-loss");
      expect(Number.isFinite(loss) && loss > 0, `${act}: loss ${loss}`).toBe(true);
    }
    await page.selectOption("#activation", "tanh");
    await page.selectOption("#optimizer", "momentum");
  });

  it("switches between the SIMD128 and relaxed-SIMD builds, between thread counts and between GEMM tiles, and trains on each", async () => {
    for (const [choice, label] of [["simd", "SIMD128"], ["relaxed", "relaxed SIMD"], ["auto", null]] as const) {
      await page.selectOption("#build", choice);
      await reloaded(page);
      if (label) expect(await page.textContent("#build-label")).toBe(label);
      await trainBriefly(page);
      expect(await valueOf(page, "#threads-label")).toBe(THREADS);
    }
    // And between thread counts: 1 (no workers), then back.
    for (const threads of [1, THREADS]) {
      await page.selectOption("#threads", String(threads));
      await reloaded(page);
      expect(await valueOf(page, "#threads-label")).toBe(threads);
      await trainBriefly(page);
    }
    // And between the matrix product's tiles. Chromium reports its CPU through User-Agent
    // Client Hints: the runtime (in the demo's worker) reads the same architecture as the
    // page, and auto takes 4 × 16 on arm64 only.
    const hints = await page.evaluate(async () => {
      const data = (navigator as unknown as { userAgentData?: { getHighEntropyValues(h: string[]): Promise<{ architecture: string; bitness: string }> } }).userAgentData;
      return data ? await data.getHighEntropyValues(["architecture", "bitness"]) : null;
    });
    expect(hints, "navigator.userAgentData in Chromium").not.toBeNull();
    const arch = hints!.architecture === "arm" ? (hints!.bitness === "64" ? "arm64" : "arm") : hints!.bitness === "64" ? "x64" : "ia32";
    expect(await page.getAttribute("#tile-label", "data-arch")).toBe(arch);
    expect(arch).toBe(process.arch); // the browser runs on this machine's CPU
    // The build is init's own choice here (the last of the loop above): relaxed in Chromium,
    // whose auto tile on x64 is 5 × 8.
    expect(await page.textContent("#build-label")).toBe("relaxed SIMD");
    const auto = arch === "arm64" ? "4x16" : "5x8";
    for (const [choice, tile] of [["4x16", "4x16"], ["4x8", "4x8"], ["5x8", "5x8"], ["auto", auto]] as const) {
      await page.selectOption("#tile", choice);
      await page.waitForFunction((t) => document.getElementById("tile-label")!.dataset.value === t, tile, { timeout: 60_000 });
      await reloaded(page);
      await trainBriefly(page);
      expect(await valueOf(page, "#threads-label")).toBe(THREADS);
    }
  });

  it("runs the benchmark view and fills its table with numbers", async () => {
    await page.click("#bench-btn");
    await page.waitForFunction(() => document.getElementById("bench-status")!.textContent!.startsWith("done"), null, { timeout: 300_000 });
    const rows = await page.$$eval("#bench-table tbody tr", (trs) =>
      trs.map((tr) => {
        const cells = [...tr.children] as HTMLElement[];
        return { name: cells[0]!.textContent!, size: cells[1]!.textContent!, value: Number(cells[2]!.dataset.value), unit: cells[3]!.textContent! };
      }),
    );
    const names = rows.map((r) => `${r.name} ${r.size}`);
    for (const n of [256, 512]) {
      for (const op of ["A·B", "Aᵀ·B", "A·Bᵀ"]) expect(names).toContain(`matmul ${op} ${n}×${n}×${n}`);
    }
    expect(names).toContain("training step 784→256 ReLU→10 batch 64");
    for (const r of rows) {
      expect(Number.isFinite(r.value) && r.value > 0, `${r.name} ${r.size}: ${r.value}`).toBe(true);
    }
    expect(rows.find((r) => r.name.startsWith("training step"))!.unit).toBe("ms/step");
    await page.screenshot({ path: join(ROOT, "test-results/browser-demo-bench.png"), fullPage: true });
  });

  it("reported no console error and no page error", () => {
    expect(problems).toEqual([]);
  });
});

describe("the browser demo from a plain static server (no cross-origin isolation)", () => {
  let server: Server;
  let context: BrowserContext;
  let profile: string;

  beforeAll(async () => {
    server = await startServer({ port: 0, isolate: false });
    ({ context, profile } = await launch());
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await server?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it(`asked for ${THREADS} threads, runs on 1 in its worker, shows why, and trains`, async () => {
    const page = await context.newPage();
    const problems: string[] = [];
    watch(page, problems);
    const headers = (await fetch(server.url)).headers;
    expect(headers.get("cross-origin-opener-policy")).toBeNull();
    expect(headers.get("cross-origin-embedder-policy")).toBeNull();
    await page.goto(`${server.url}?threads=${THREADS}`);
    await page.waitForFunction(() => !(document.getElementById("train") as HTMLButtonElement).disabled, null, { timeout: 60_000 });
    expect(await page.textContent("#isolation")).toBe("not cross-origin isolated");
    expect(await page.inputValue("#threads")).toBe(String(THREADS));
    expect(await valueOf(page, "#threads-label")).toBe(1);
    expect(await page.isVisible("#warnings")).toBe(true);
    const warning = await page.textContent("#warnings");
    expect(warning).toMatch(/^threads: .*not cross-origin isolated.*Cross-Origin-Opener-Policy.*; running on 1 thread$/);
    // The library needs no import map: the worker loads it from any static server.
    expect(await page.textContent("#status")).toMatch(/^simdgrad loaded \((SIMD128|relaxed SIMD) build, in a worker, 1 thread\)/);
    await page.click("#train");
    await page.waitForFunction(() => Number(document.getElementById("stat-step")!.dataset.value) > 100, null, { timeout: 60_000 });
    await page.click("#stop");
    await page.waitForFunction(() => document.getElementById("status")!.textContent === "Stopped.", null, { timeout: 30_000 });
    expect((await canvasStats(page, "#loss")).curve).toBeGreaterThan(50);
    // Choosing 1 thread clears the warning.
    await page.selectOption("#threads", "1");
    await page.waitForFunction(() => !(document.getElementById("train") as HTMLButtonElement).disabled, null, { timeout: 60_000 });
    expect(await page.isVisible("#warnings")).toBe(false);
    expect(problems).toEqual([]);
    await page.close();
  });

  it("trains on the page itself where module workers are not used (?noworker)", async () => {
    const page = await context.newPage();
    const problems: string[] = [];
    watch(page, problems);
    await page.goto(`${server.url}?noworker`);
    await page.waitForFunction(() => !(document.getElementById("train") as HTMLButtonElement).disabled, null, { timeout: 60_000 });
    expect(["simd", "relaxed"]).toContain(await page.getAttribute("#build-label", "data-value"));
    expect(await page.textContent("#status")).toMatch(/^simdgrad loaded \((SIMD128|relaxed SIMD) build, on the page, 1 thread\)/);
    await page.click("#train");
    await page.waitForFunction(() => Number(document.getElementById("stat-step")!.dataset.value) > 100, null, { timeout: 60_000 });
    await page.click("#stop");
    await page.waitForFunction(() => document.getElementById("status")!.textContent === "Stopped.", null, { timeout: 30_000 });
    expect((await canvasStats(page, "#loss")).curve).toBeGreaterThan(50);
    expect(problems).toEqual([]);
    await page.close();
  });
});
