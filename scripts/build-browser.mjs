// The browser path, minified: dist/browser/simdgrad.min.js (the library in one ES module)
// and dist/browser/worker.js (the thread pool's worker), each with a source map that maps
// back to the modules tsc wrote in dist/ (shipped beside it, so the map does not repeat their
// text). A page then fetches this one script and one .wasm. Code reached only through a
// dynamic import (the ONNX exporter, which is asynchronous anyway; the worker pool and split
// kernels, loaded by an init that asks for threads; the debug build's export check) becomes
// its own file beside it (onnx.min.js, start-threads.min.js, check-exports.min.js), fetched the
// first time it is used; it imports what it shares with the library from simdgrad.min.js
// itself ("allow-extension": the module gains a few short-named exports for that), so every
// module exists once.
//
//   node scripts/build-browser.mjs      (after `tsc`; part of `npm run build`)
//
// The bundle sits two directories below the package root, as dist/runtime/load.js does, so
// the relative URLs the library resolves against import.meta.url still hold: the .wasm files
// at ../../build/ and the worker at ./worker.js.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { rolldown } from "rolldown";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const OUT = path.join(ROOT, "dist/browser");

// Optional peers (the ONNX exporter's protobuf encoder) stay imports, loaded only when used;
// node: modules stay imports too (reached only where Node runs).
const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8"));
const peers = Object.keys(pkg.peerDependencies ?? {});
const external = [/^node:/, ...peers.map((name) => new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}(/|$)`))];

const entries = [
  { input: "dist/index.js", file: "simdgrad.min.js" },
  { input: "dist/threads/worker.js", file: "worker.js" },
];

rmSync(OUT, { recursive: true, force: true }); // (no stale lazy chunks of an earlier build)
mkdirSync(OUT, { recursive: true });
for (const e of entries) {
  const bundle = await rolldown({ input: path.join(ROOT, e.input), external, logLevel: "silent", preserveEntrySignatures: "allow-extension" });
  const { output } = await bundle.generate({
    dir: OUT, format: "esm", minify: true, sourcemap: true, sourcemapExcludeSources: true,
    entryFileNames: e.file, chunkFileNames: "[name].min.js",
  });
  await bundle.close();
  const chunks = output.filter((o) => o.type === "chunk");
  // The entry and lazy chunks only: a shared chunk would be one more file a page fetches first.
  const shared = chunks.filter((c) => !c.isEntry && !c.isDynamicEntry);
  if (shared.length > 0) throw new Error(`build-browser: ${e.input} gave shared chunks (${shared.map((c) => c.fileName).join(", ")}), expected the entry and lazily imported files only`);
  for (const o of output) {
    const dest = path.join(OUT, o.fileName);
    if (o.type === "chunk") writeFileSync(dest, o.code);
    else writeFileSync(dest, typeof o.source === "string" ? o.source : Buffer.from(o.source));
  }
  for (const c of chunks) {
    const code = readFileSync(path.join(OUT, c.fileName));
    const kb = (n) => (n / 1024).toFixed(1);
    console.log(`dist/browser/${c.fileName}: ${kb(code.length)} KB, ${kb(gzipSync(code, { level: 9 }).length)} KB gzip${c.isEntry ? "" : " (imported on first use)"}`);
  }
}
