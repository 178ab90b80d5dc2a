// A function run in a page of headless Firefox (SpiderMonkey), without a browser driver:
// Firefox opens a page of a local server that holds the function's source; the page fetches
// the function's argument, awaits the function and posts its result (or error) back. Used by
// the cross-engine benchmarks (bench/lib/engines.js: `--engines=…,firefox`) and by the
// browser tests (test/browser/firefox.test.ts). Debian's firefox-esr package provides the
// binary (/usr/bin/firefox-esr; $FIREFOX picks another).
//
// With an app server (appUrl), every other path is passed through to it, so the page shares
// its origin with the app's files (the library's minified bundle, the .wasm files, the data
// sets) and can import them by relative URL. The page is cross-origin isolated (COOP and
// COEP headers), as the demo's pages are, so SharedArrayBuffer and threads are available.
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";

/** The Firefox binary to use ($FIREFOX, or Debian's), or null when there is none. */
export function firefoxBinary() {
  return [process.env.FIREFOX, "/usr/bin/firefox-esr", "/usr/bin/firefox"].find((p) => p && fs.existsSync(p)) ?? null;
}

// A fresh profile's settings: no first-run pages, updates, telemetry or background fetches
// (this machine's network is closed), and no slow-script stop for a long benchmark loop.
const PREFS = {
  "app.update.disabledForTesting": true,
  "app.normandy.enabled": false,
  "browser.aboutwelcome.enabled": false,
  "browser.newtabpage.enabled": false,
  "browser.safebrowsing.downloads.enabled": false,
  "browser.safebrowsing.malware.enabled": false,
  "browser.safebrowsing.phishing.enabled": false,
  "browser.shell.checkDefaultBrowser": false,
  "browser.startup.homepage_override.mstone": "ignore",
  "datareporting.policy.dataSubmissionEnabled": false,
  "dom.max_script_run_time": 0,
  "extensions.update.enabled": false,
  "network.captive-portal-service.enabled": false,
  "network.connectivity-service.enabled": false,
  "toolkit.telemetry.enabled": false,
};

const PAGE_PATH = "/__simdgrad/page";
const MODULE_PATH = "/__simdgrad/check.mjs";
const INPUT_PATH = "/__simdgrad/input";
const RESULT_PATH = "/__simdgrad/result";

/** The page: it runs `source` (a function's source text) or, with source null, the default export of MODULE_PATH. */
function page(source) {
  const fn = source ?? `(await import(${JSON.stringify(MODULE_PATH)})).default`;
  return `<!doctype html><meta charset="utf-8"><title>simdgrad in Firefox</title>
<script type="module">
const post = (o) => fetch(${JSON.stringify(RESULT_PATH)}, { method: "POST", body: JSON.stringify(o) });
try {
  const input = await (await fetch(${JSON.stringify(INPUT_PATH)})).json();
  const result = await (${fn})(input);
  await post({ result: result === undefined ? null : result });
} catch (e) {
  await post({ error: String(e && e.stack ? \`\${e}\\n\${e.stack}\` : e) });
}
</script>`;
}

/**
 * Runs fn (a self-contained function, its source, or the file: URL of an ES module whose
 * default export is the function, which the page then imports as it is) in a page of
 * headless Firefox `exe`:
 * fn(inputFor(origin)) where origin is the page's (so the argument can name URLs on it);
 * appUrl, if given, is an app server whose files the page's origin serves too.
 * prefs: more of Firefox's settings for its profile (name → value).
 * Resolves to { version, result } (the result as JSON carried it); rejects with the page's
 * error, or when Firefox exits or posts nothing within timeoutMs.
 * @param {string} exe
 * @param {Function | string | URL} fn
 * @param {(origin: string) => unknown} inputFor
 * @param {string | null} [appUrl]
 * @param {{ timeoutMs?: number, prefs?: Record<string, string | number | boolean> }} [options]
 * @returns {Promise<{ version: string, result: any }>}
 */
export async function inFirefox(exe, fn, inputFor, appUrl = null, { timeoutMs = 20 * 60_000, prefs = {} } = {}) {
  const version = (spawnSync(exe, ["--version"], { encoding: "utf8" }).stdout ?? "").trim().replace(/^Mozilla /, "") || "Firefox";
  const moduleText = fn instanceof URL ? fs.readFileSync(fn, "utf8") : null;
  const source = moduleText !== null ? null : typeof fn === "function" ? fn.toString() : String(fn);
  if (source !== null && /<\/script/i.test(source)) throw new Error("inFirefox: the function's source holds </script>, which would end the page's script");
  const app = appUrl ? new URL(appUrl) : null;
  let settle;
  const done = new Promise((resolve, reject) => (settle = { resolve, reject }));
  let input = null;
  const isolated = { "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp" };
  const server = http.createServer((req, res) => {
    if (req.url === PAGE_PATH) {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store", ...isolated });
      res.end(page(source));
    } else if (req.url === MODULE_PATH && moduleText !== null) {
      res.writeHead(200, { "content-type": "text/javascript; charset=utf-8", "cache-control": "no-store" });
      res.end(moduleText);
    } else if (req.url === INPUT_PATH) {
      res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
      res.end(JSON.stringify(input));
    } else if (req.url === RESULT_PATH && req.method === "POST") {
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (d) => (body += d));
      req.on("end", () => {
        res.end();
        try {
          const r = JSON.parse(body);
          if ("error" in r) settle.reject(new Error(`in Firefox: ${r.error}`));
          else settle.resolve(r.result);
        } catch (e) {
          settle.reject(new Error(`the Firefox page posted something other than JSON: ${e.message}`));
        }
      });
    } else if (app) {
      const up = http.request(
        { host: app.hostname, port: app.port, path: req.url, method: req.method, headers: { ...req.headers, host: app.host } },
        (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        },
      );
      up.on("error", (e) => {
        res.writeHead(502);
        res.end(String(e));
      });
      req.pipe(up);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${server.address().port}`;
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "simdgrad-firefox-"));
  let ff = null;
  let timer = null;
  try {
    input = inputFor(origin);
    fs.writeFileSync(path.join(profile, "user.js"), Object.entries({ ...PREFS, ...prefs }).map(([k, v]) => `user_pref(${JSON.stringify(k)}, ${JSON.stringify(v)});\n`).join(""));
    // Its own process group, so that the content processes it starts end with it.
    ff = spawn(exe, ["--headless", "--no-remote", "--profile", profile, `${origin}${PAGE_PATH}`], {
      stdio: ["ignore", "ignore", "pipe"],
      detached: true,
      env: { ...process.env, MOZ_HEADLESS: "1" },
    });
    let stderr = "";
    ff.stderr.on("data", (d) => (stderr = (stderr + d).slice(-4000)));
    ff.on("error", (e) => settle.reject(e));
    ff.on("exit", (code, signal) => settle.reject(new Error(`Firefox exited (${signal ?? code}) before its page posted a result: ${stderr.trim().split("\n").slice(-2).join(" / ")}`)));
    timer = setTimeout(() => settle.reject(new Error(`no result from the Firefox page within ${timeoutMs / 1000} s`)), timeoutMs);
    return { version, result: await done };
  } finally {
    clearTimeout(timer);
    if (ff && ff.exitCode === null && ff.signalCode === null) {
      const exited = new Promise((resolve) => ff.once("exit", resolve));
      try {
        process.kill(-ff.pid, "SIGTERM");
      } catch {}
      const late = setTimeout(() => {
        try {
          process.kill(-ff.pid, "SIGKILL");
        } catch {}
      }, 5000);
      await exited;
      clearTimeout(late);
    }
    // (Connections first: a kept-alive one would hold close() open.)
    server.closeAllConnections?.();
    await new Promise((resolve) => server.close(resolve));
    fs.rmSync(profile, { recursive: true, force: true });
  }
}
