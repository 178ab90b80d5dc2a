/**
 * Finding, validating and instantiating the wasm module. The only file that knows about
 * `@assemblyscript/loader`, file systems and fetch.
 */
import type { Kernels } from "./kernels.js";
import { KERNEL_SETS, type KernelSet } from "./kernel-set.js";
import { withSharedMemoryImport } from "./shared-memory.js";

export type WasmSource = URL | string | BufferSource | WebAssembly.Module;
export type BuildName = "simd" | "relaxed" | "debug";

export interface LoadOptions {
  /**
   * true: require the relaxed build; false: use SIMD128; undefined: relaxed where it validates
   * and its multiply-adds fuse (relaxedMaddFuses), else SIMD128.
   */
  relaxedSimd?: boolean;
  /**
   * Load the debug build (assertions on, names in traps). It is not in the npm package (it
   * is 5× the size): build it in a clone (npm run build:wasm) and pass its directory as `wasm`.
   */
  debug?: boolean;
  /** Where the .wasm is: a URL or path of the build directory or of one .wasm file, its bytes, or a compiled module. */
  wasm?: WasmSource;
  /**
   * "all" (the default): every op's kernels. "dense": the smaller .wasm with the kernels of
   * dense layers only (GEMM, activations, elementwise and broadcasting, reductions, shape
   * ops, losses, softmax, optimizers); convolutions, pooling, attention, layer norm,
   * embeddings and dropout then throw when a graph or an eager call uses them. It picks the
   * file read from a directory (simdgrad.dense.simd.wasm, simdgrad.dense.relaxed.wasm); one
   * .wasm given as `wasm` is used as it is (`features.kernels` tells which set it holds).
   */
  kernels?: KernelSet;
}

export interface Loaded {
  module: WebAssembly.Module;
  kernels: Kernels;
  build: BuildName;
}

// The smallest module that uses a v128 (a function returning v128.const 0); validating it tells
// whether the engine has SIMD at all.
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 22, 1, 20, 0, 253, 12,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11,
]);

const FILE = { simd: "simdgrad.simd.wasm", relaxed: "simdgrad.relaxed.wasm", debug: "simdgrad.debug.wasm" };
const DENSE_FILE = { simd: "simdgrad.dense.simd.wasm", relaxed: "simdgrad.dense.relaxed.wasm", debug: "" };

/** Whether this engine validates WebAssembly SIMD128. */
export function hasSimd(): boolean {
  return typeof WebAssembly === "object" && WebAssembly.validate(SIMD_PROBE);
}

function defaultDir(): URL {
  // dist/runtime/load.js → <package>/build/
  return new URL("../../build/", import.meta.url);
}

async function readUrl(url: URL): Promise<ArrayBuffer | Uint8Array> {
  if (url.protocol === "file:") {
    const fs = await import("node:fs/promises");
    const { fileURLToPath } = await import("node:url");
    return fs.readFile(fileURLToPath(url));
  }
  const res = await fetch(url);
  if (!res.ok) throw new Error(`init: could not fetch ${url.href}: HTTP ${res.status}`);
  return res.arrayBuffer();
}

function toUrl(s: string | URL): URL {
  if (s instanceof URL) return s;
  if (/^[a-z][a-z0-9+.-]*:/i.test(s) && !/^[a-z]:[\\/]/i.test(s)) return new URL(s);
  // A plain path: relative to the working directory where there is one, else to the page.
  const g = globalThis as { process?: { cwd(): string }; location?: { href: string } };
  if (g.location) return new URL(s, g.location.href);
  if (g.process) {
    const cwd = g.process.cwd().replace(/\\/g, "/");
    return new URL(s, `file://${cwd.startsWith("/") ? "" : "/"}${cwd}/`);
  }
  return new URL(s, import.meta.url);
}

/** Where build `build` is read from for `source` (a directory, a URL or a .wasm path); undefined for bytes and modules. */
function urlOf(source: WasmSource | undefined, build: BuildName, set: KernelSet = "all"): URL | undefined {
  if (source instanceof WebAssembly.Module || source instanceof ArrayBuffer || ArrayBuffer.isView(source)) return undefined;
  let url = source === undefined ? defaultDir() : toUrl(source);
  if (!url.pathname.endsWith(".wasm")) {
    if (!url.pathname.endsWith("/")) url = new URL(url.href + "/");
    url = new URL((set === "dense" ? DENSE_FILE : FILE)[build], url);
  }
  return url;
}

async function bytesOf(source: WasmSource | undefined, build: BuildName, set: KernelSet = "all"): Promise<BufferSource | WebAssembly.Module> {
  if (source instanceof WebAssembly.Module) return source;
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) return source;
  const url = urlOf(source, build, set)!;
  try {
    return await readUrl(url);
  } catch (e) {
    if (e instanceof Error && e.message.startsWith("init:")) throw e;
    const code = (e as { code?: unknown }).code;
    const why = code === "ENOENT" ? "no such file" : e instanceof Error ? e.message : String(e);
    const hint = build === "debug"
      ? "; the debug build is not part of the npm package: build it in a clone of simdgrad (npm run build:wasm) and pass init({ debug: true, wasm: '<its build directory>' })"
      : source === undefined
        ? "; the package's build/ directory should hold it: reinstall simdgrad, or pass init({ wasm }) with the directory or URL of the .wasm files"
        : `; init({ wasm }) takes the directory (or URL) holding ${set === "dense" ? "simdgrad.dense.simd.wasm and simdgrad.dense.relaxed.wasm" : "simdgrad.simd.wasm and simdgrad.relaxed.wasm"}, or one .wasm file, its bytes or a compiled module`;
    throw new Error(`init: could not read ${url.href} (${why})${hint}`, { cause: e });
  }
}

/**
 * Whether this engine runs f32x4.relaxed_madd as one fused multiply-add (false also where it
 * has no relaxed SIMD). The two builds differ in nothing else (assembly/simd.ts), and the
 * relaxed one is there for the fused operation: where an engine computes relaxed_madd as a
 * multiply and an add (JavaScriptCore on x86: Bun 1.4), the relaxed build gives the SIMD128
 * build's bits, its products run no faster, and its polynomials slower (under Bun: tanh 0.57×,
 * swish 0.72–0.75×, sigmoid 1.12×, GEMMs and convolutions 0.92–1.00× the SIMD128 build;
 * bench/engines-ab.mjs). A 92-byte module computes (1 + 2⁻¹²)² − 1 with it: 2⁻¹¹ + 2⁻²⁴ when
 * fused, 2⁻¹¹ when the product is rounded first.
 */
export function relaxedMaddFuses(): boolean {
  const a = 1 + 2 ** -12;
  const f32x4Const = (x: number): number[] => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, x, true);
    return [0xfd, 0x0c, ...b, ...b, ...b, ...b];
  };
  // () → f32: f32x4.extract_lane 0 (f32x4.relaxed_madd (a, a, −1)), exported as "f".
  const body = [0x00, ...f32x4Const(a), ...f32x4Const(a), ...f32x4Const(-1), 0xfd, 0x85, 0x02, 0xfd, 0x1f, 0x00, 0x0b];
  const bytes = new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7d, // type 0: () → f32
    0x03, 0x02, 0x01, 0x00, // function 0 of type 0
    0x07, 0x05, 0x01, 0x01, 0x66, 0x00, 0x00, // export "f"
    0x0a, body.length + 2, 0x01, body.length, ...body,
  ]);
  if (!WebAssembly.validate(bytes)) return false;
  const f = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports.f as () => number;
  return f() === 2 ** -11 + 2 ** -24;
}

/** Loads the build `opts` asks for into `memory` and returns its kernels. */
export async function load(memory: WebAssembly.Memory, opts: LoadOptions): Promise<Loaded> {
  const set = opts.kernels ?? "all";
  if (!KERNEL_SETS.includes(set)) {
    throw new RangeError(`init: kernels must be ${KERNEL_SETS.map((s) => `"${s}"`).join(" or ")}, got ${typeof set === "string" ? `"${set}"` : String(set)}`);
  }
  if (set === "dense" && opts.debug) {
    throw new Error('init: the debug build has every kernel; kernels: "dense" has no debug build (drop one of debug and kernels)');
  }
  if (!hasSimd()) {
    throw new Error(
      "init: this JavaScript runtime does not support WebAssembly SIMD (128-bit), which simdgrad needs " +
        "(Chrome/Edge 91+, Firefox 89+, Safari 16.4+, Node 16.4+, Deno 1.9+, Bun)",
    );
  }
  const shared = typeof SharedArrayBuffer !== "undefined" && memory.buffer instanceof SharedArrayBuffer;
  // Threads import the memory shared: the same binary with its memory import rewritten.
  // A file that is not a module (empty, cut short, something else) is named with its size.
  const compile = async (src: BufferSource | WebAssembly.Module, from: BuildName): Promise<WebAssembly.Module> => {
    if (src instanceof WebAssembly.Module) {
      if (shared) throw new Error("init: threads need the .wasm bytes or its URL, not a compiled WebAssembly.Module");
      return src;
    }
    try {
      return await WebAssembly.compile(shared ? (withSharedMemoryImport(src) as Uint8Array<ArrayBuffer>) : src);
    } catch (e) {
      const what = urlOf(opts.wasm, from, set)?.href ?? "the given wasm";
      const empty = src.byteLength === 0 ? ": the file is empty (a build or a download cut short?)" : "";
      throw new Error(`init: ${what} (${src.byteLength} bytes) is not a WebAssembly module this runtime can compile${empty}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  };
  const single = opts.wasm instanceof WebAssembly.Module || opts.wasm instanceof ArrayBuffer || ArrayBuffer.isView(opts.wasm ?? null)
    || (opts.wasm !== undefined && String(opts.wasm instanceof URL ? opts.wasm.pathname : opts.wasm).endsWith(".wasm"));
  let module: WebAssembly.Module | undefined;
  let build: BuildName;
  if (single) {
    // The caller named one binary: use it as it is.
    const src = await bytesOf(opts.wasm, "simd");
    if (!(src instanceof WebAssembly.Module) && !WebAssembly.validate(src)) {
      const what = urlOf(opts.wasm, "simd")?.href ?? "the given wasm";
      throw new Error(`init: ${what} (${src.byteLength} bytes) does not validate in this runtime (is it the relaxed-SIMD build on an engine without relaxed SIMD, or a file cut short?)`);
    }
    module = await compile(src, "simd");
    build = "simd";
  } else if (opts.debug) {
    module = await compile((await bytesOf(opts.wasm, "debug")) as BufferSource, "debug");
    build = "debug";
  } else {
    build = "simd";
    // By default the relaxed build only where its multiply-adds fuse (see relaxedMaddFuses).
    if (opts.relaxedSimd === true || (opts.relaxedSimd === undefined && relaxedMaddFuses())) {
      const relaxed = (await bytesOf(opts.wasm, "relaxed", set)) as BufferSource;
      if (WebAssembly.validate(relaxed)) {
        module = await compile(relaxed, "relaxed");
        build = "relaxed";
      } else if (opts.relaxedSimd === true) {
        throw new Error(
          "init: relaxedSimd: true was asked for, but this runtime does not support WebAssembly relaxed SIMD " +
            "(on Node 20 run with --experimental-wasm-relaxed-simd; Node 22+, Deno and Chromium have it)",
        );
      }
    }
    if (!module) module = await compile((await bytesOf(opts.wasm, "simd", set)) as BufferSource, "simd");
  }
  const exports = await instantiateKernels(module, memory, build === "debug");
  // (Imported only here, so the release path does not carry the kernel list.)
  if (build === "debug") (await import("./check-exports.js")).checkKernelExports(exports);
  const kernels = exports as unknown as Kernels;
  if (single && kernels.build_has_relaxed_simd() === 1) build = "relaxed";
  return { module, kernels, build };
}

/**
 * The debug build goes through `@assemblyscript/loader`, whose abort handler turns the
 * build's assertion messages into text. The release builds have no assertions and no
 * strings (they are built with --noAssert), so they are instantiated directly: the loader
 * would add nothing there but a bare import specifier that browsers without an import map
 * and module Web Workers cannot resolve, and 40–60 ms of start-up in Node 20 (its
 * instantiate touches the global `Response`, which loads Node's fetch). Where the loader
 * cannot be resolved even for the debug build, a small decoder of AssemblyScript strings
 * stands in for it.
 */
async function instantiateKernels(module: WebAssembly.Module, memory: WebAssembly.Memory, debug: boolean): Promise<Record<string, unknown>> {
  if (debug) {
    const specifier = "@assemblyscript/loader";
    let loader: { instantiate: (m: WebAssembly.Module, i: object) => Promise<{ exports: Record<string, unknown> }> } | null = null;
    try {
      loader = await import(/* @vite-ignore */ specifier);
    } catch {
      loader = null;
    }
    if (loader) return (await loader.instantiate(module, { env: { memory } })).exports;
  }
  const text = (ptr: number): string => {
    if (!ptr) return "";
    const bytes = new Uint32Array(memory.buffer, ptr - 4, 1)[0]!;
    return String.fromCharCode(...new Uint16Array(memory.buffer, ptr, bytes >>> 1));
  };
  const env = {
    memory,
    abort(msg: number, file: number, line: number, col: number) {
      throw new Error(`abort: ${text(msg)} at ${text(file)}:${line}:${col}`);
    },
  };
  const instance = await WebAssembly.instantiate(module, { env });
  return instance.exports as Record<string, unknown>;
}
