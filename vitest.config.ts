import { defineConfig } from "vitest/config";
// @ts-ignore: a plain ESM script without types
import { relaxedFlags } from "./scripts/relaxed-simd.mjs";

// Every test runs twice: once on the SIMD128 build, once on the relaxed-SIMD (FMA) build.
// Node 20 needs a flag for relaxed SIMD; Node 22+ has it on and rejects the flag.
export default defineConfig({
  test: {
    testTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: "simd128",
          include: ["test/**/*.test.ts"],
          exclude: ["test/browser/**", "test/runtimes/**"],
          env: { SIMDGRAD_BUILD: "simd" },
        },
      },
      {
        extends: true,
        test: {
          name: "relaxed",
          include: ["test/**/*.test.ts"],
          exclude: ["test/browser/**", "test/runtimes/**"],
          env: { SIMDGRAD_BUILD: "relaxed" },
          // Node 20 needs V8's flag for relaxed SIMD; Node 22+ has it on and rejects the flag.
          execArgv: relaxedFlags(),
        },
      },
      {
        // Once, not per build: pack the package, install it into an empty project, and run it
        // under Node (both builds), Deno and Bun as a user would.
        extends: true,
        test: {
          name: "runtimes",
          include: ["test/runtimes/**/*.test.ts"],
          testTimeout: 180_000,
        },
      },
    ],
  },
});
