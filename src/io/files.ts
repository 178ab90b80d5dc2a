/**
 * Files for Node (and Deno and Bun, which offer node:fs): save and load params, checkpoints
 * and ONNX models by path. Kept apart from the main entry (its own entry point,
 * simdgrad/node) so browser code never loads node:fs. Writes go to a temporary file that then replaces the
 * target, so a crash mid-write never leaves half a checkpoint where the last good one was.
 */
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import type { Graph } from "../graph/graph.js";
import { type ExportOnnxOptions, exportOnnx } from "./onnx.js";
import { type CheckpointTarget, type LoadParamsOptions, type SaveParamsOptions, loadCheckpoint, loadParams, saveCheckpoint, saveParams } from "./params.js";

/** Writes `bytes` to `path` through a temporary file in the same directory (atomic on POSIX file systems). */
export async function writeBytes(path: string, bytes: Uint8Array): Promise<void> {
  if (typeof path !== "string" || path.length === 0) throw new TypeError("writeBytes: path must be a non-empty string");
  const tmp = `${path}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}.tmp`;
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** The bytes of the file at `path`. */
export async function readBytes(path: string): Promise<Uint8Array> {
  if (typeof path !== "string" || path.length === 0) throw new TypeError("readBytes: path must be a non-empty string");
  const b = await readFile(path);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** g.saveParams() written to `path` (a .safetensors file). */
export async function saveParamsFile(g: Graph, path: string, opts?: SaveParamsOptions): Promise<void> {
  await writeBytes(path, saveParams(g, opts));
}

/** g.loadParams() from the file at `path`. */
export async function loadParamsFile(g: Graph, path: string, opts?: LoadParamsOptions): Promise<void> {
  loadParams(g, await readBytes(path), opts);
}

/** sg.checkpoint.save() written to `path`. */
export async function saveCheckpointFile(path: string, target: CheckpointTarget): Promise<void> {
  await writeBytes(path, saveCheckpoint(target));
}

/** sg.checkpoint.load() from the file at `path`. */
export async function loadCheckpointFile(path: string, target: CheckpointTarget): Promise<void> {
  loadCheckpoint(await readBytes(path), target);
}

/** g.exportOnnx() written to `path` (a .onnx file). */
export async function exportOnnxFile(g: Graph, path: string, opts: ExportOnnxOptions): Promise<void> {
  await writeBytes(path, await exportOnnx(g, opts));
}
