import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";

describe("README", () => {
  const readme = readFileSync("README.md", "utf8");

  it("starts with the two commands: install + demo, and the tests", () => {
    const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)![1]!;
    expect(readme.indexOf("```sh")).toBeLessThan(40);
    expect(firstBlock).toMatch(/npm ci && npm run demo/);
    expect(firstBlock).toMatch(/^npm test/m);
  });

  it("its training example runs as written and learns XOR", () => {
    const example = /## Example\s+```js\n([\s\S]*?)```/.exec(readme)![1]!;
    expect(example.split("\n").length).toBeLessThanOrEqual(32);
    const dir = mkdtempSync(join(tmpdir(), "simdgrad-readme-"));
    const file = join(dir, "example.mjs");
    const dist = pathToFileURL(join(process.cwd(), "dist/index.js")).href;
    writeFileSync(file, example.replace('from "simdgrad"', `from ${JSON.stringify(dist)}`));
    const out = execFileSync(process.execPath, [file], { encoding: "utf8", timeout: 60_000 });
    const losses = [...out.matchAll(/step (\d+): loss ([\d.]+)/g)].map((m) => Number(m[2]));
    expect(losses.length).toBe(4);
    expect(losses[3]!).toBeLessThan(0.05);
    expect(losses[3]!).toBeLessThan(losses[0]!);
    expect(out).toMatch(/predictions \[ 0, 1, 1, 0 \]/);
  });
});
