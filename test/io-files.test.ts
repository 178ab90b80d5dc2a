/**
 * simdgrad/node: params, checkpoints and ONNX models written to and read from files.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { exportOnnxFile, loadCheckpointFile, loadParamsFile, readBytes, saveCheckpointFile, saveParamsFile, writeBytes } from "../src/node.js";
import { runtime } from "./helpers.js";

const dir = mkdtempSync(path.join(tmpdir(), "simdgrad-io-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("simdgrad/node files", () => {
  it("params, checkpoints and ONNX models round-trip through files; no temporary file is left", async () => {
    const sg = await runtime();
    const g = sg.graph();
    const x = g.input([2, 3], "x");
    const W = g.param([3, 2], { name: "W", data: [1, 2, 3, 4, 5, 6] });
    const y = g.name(g.sigmoid(g.matmul(x, W)), "y");
    const opt = sg.adam(g.params, { lr: 0.1 });
    const p = path.join(dir, "model.safetensors");
    await saveParamsFile(g, p);
    expect(readFileSync(p)).toEqual(Buffer.from(g.saveParams()));
    W.value = [0, 0, 0, 0, 0, 0];
    await loadParamsFile(g, p);
    expect([...W.value.toArray()]).toEqual([1, 2, 3, 4, 5, 6]);
    const c = path.join(dir, "ckpt.safetensors");
    opt.t = 7;
    await saveCheckpointFile(c, { graph: g, optimizer: opt });
    opt.t = 0;
    await loadCheckpointFile(c, { graph: g, optimizer: opt });
    expect(opt.t).toBe(7);
    const o = path.join(dir, "model.onnx");
    await exportOnnxFile(g, o, { inputs: [x], outputs: [y] });
    expect((await readBytes(o)).length).toBeGreaterThan(24 + 50);
    expect(readdirSync(dir).sort()).toEqual(["ckpt.safetensors", "model.onnx", "model.safetensors"]);
    // A failed load of a corrupt file changes nothing.
    writeFileSync(p, Buffer.from("not a model"));
    await expect(loadParamsFile(g, p)).rejects.toThrow(/loadParams: safetensors: /);
    expect([...W.value.toArray()]).toEqual([1, 2, 3, 4, 5, 6]);
    // A write that cannot happen leaves no temporary file behind.
    await expect(writeBytes(path.join(dir, "missing", "x.bin"), new Uint8Array(1))).rejects.toThrow();
    expect(readdirSync(dir).length).toBe(3);
    opt.dispose();
    g.dispose();
  });
});
