/**
 * simdgrad/node: reading and writing model files by path (Node, Deno, Bun). The main entry
 * ("simdgrad") stays free of node:fs for browsers.
 */
export { writeBytes, readBytes, saveParamsFile, loadParamsFile, saveCheckpointFile, loadCheckpointFile, exportOnnxFile } from "./io/files.js";
