/**
 * The typed face of the module (the `Kernels` interface, merged from the `declare module`
 * blocks of src/) against the module's real exports: every declared kernel is an exported
 * function of both builds with the declared number of parameters, and each is declared in
 * one place only. Read with the TypeScript compiler from the sources, so a declaration cannot
 * drift from the kernel it names.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { runtime } from "./helpers.js";

const root = fileURLToPath(new URL("..", import.meta.url));

interface Declared {
  arity: number;
  files: string[];
}

function declaredKernels(): Map<string, Declared> {
  const cfgPath = `${root}tsconfig.json`;
  const cfg = ts.parseJsonConfigFileContent(ts.parseConfigFileTextToJson(cfgPath, readFileSync(cfgPath, "utf8")).config, ts.sys, root);
  const program = ts.createProgram(cfg.fileNames, { ...cfg.options, noEmit: true });
  const checker = program.getTypeChecker();
  const file = program.getSourceFile(`${root}src/runtime/kernels.ts`)!;
  let iface: ts.InterfaceDeclaration | undefined;
  file.forEachChild((n) => {
    if (ts.isInterfaceDeclaration(n) && n.name.text === "Kernels") iface = n;
  });
  const type = checker.getTypeAtLocation(iface!);
  const out = new Map<string, Declared>();
  for (const p of checker.getPropertiesOfType(type)) {
    const decls = p.getDeclarations() ?? [];
    const sigs = checker.getTypeOfSymbolAtLocation(p, iface!).getCallSignatures();
    const arities = new Set(sigs.map((s) => s.getParameters().length));
    expect(arities.size, `${p.name} has declarations with different parameter counts`).toBe(1);
    out.set(p.name, {
      arity: [...arities][0]!,
      files: decls.map((d) => d.getSourceFile().fileName.slice(root.length)),
    });
  }
  return out;
}

describe("Kernels declarations", () => {
  const declared = declaredKernels();

  it("name exported functions of the module with the declared arity", async () => {
    const sg = await runtime();
    const exports = sg.rt.rawKernels as unknown as Record<string, unknown>;
    expect(declared.size).toBeGreaterThan(50);
    const problems: string[] = [];
    for (const [name, d] of declared) {
      const f = exports[name];
      if (typeof f !== "function") problems.push(`${name} (declared in ${d.files.join(", ")}) is not exported by the module`);
      else if (f.length !== d.arity) problems.push(`${name}: declared with ${d.arity} parameters, the module's takes ${f.length}`);
    }
    expect(problems).toEqual([]);
  });

  it("declare each kernel once", () => {
    const twice = [...declared].filter(([, d]) => d.files.length > 1).map(([n, d]) => `${n}: ${d.files.join(", ")}`);
    expect(twice).toEqual([]);
  });
});
