/**
 * The demo's model files: the trained params as safetensors, the net as an ONNX model, and
 * the last trained params kept in IndexedDB so a reload can bring them back. Runs where the
 * trainer runs (the module worker, or the page with ?noworker); both have IndexedDB.
 */

const DB_NAME = "simdgrad-demo";
const STORE = "models";
const LAST = "last";

/** What decides the params' names and shapes (and the data they were trained on). */
export function netKey(config) {
  return JSON.stringify({ data: config.data, seed: config.seed, hidden: config.hidden, activation: config.activation });
}

function openDb() {
  return new Promise((resolve, reject) => {
    if (typeof indexedDB === "undefined") return reject(new Error("IndexedDB is not available here"));
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error("IndexedDB could not be opened"));
  });
}

async function withStore(mode, f) {
  const db = await openDb();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = f(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error ?? new Error("IndexedDB transaction failed"));
      tx.onabort = () => reject(tx.error ?? new Error("IndexedDB transaction aborted"));
    });
  } finally {
    db.close();
  }
}

/** Keeps `bytes` (a safetensors file) as the last trained params of the net `config` describes. */
export function storeLast(config, step, bytes) {
  return withStore("readwrite", (s) => s.put({ key: netKey(config), config, step, savedAt: Date.now(), bytes }, LAST));
}

/** The last stored params: { key, config, step, savedAt, bytes }, or undefined. */
export function loadLast() {
  return withStore("readonly", (s) => s.get(LAST));
}

/** Forgets the stored params. */
export function clearLast() {
  return withStore("readwrite", (s) => s.delete(LAST));
}

/**
 * @bufbuild/protobuf's wire module, which the ONNX exporter writes with: loaded by URL from
 * the package's node_modules (the demo server serves it), since a page without a bundler
 * cannot import it by name.
 */
export function protobufWire() {
  return import(new URL("../../node_modules/@bufbuild/protobuf/dist/esm/wire/index.js", import.meta.url).href);
}
