import { defineConfig } from "vitest/config";

// The browser demo's test in a real Chromium: `npm run test:browser`. Not part of `npm test`.
export default defineConfig({
  test: {
    include: ["test/browser/**/*.test.ts"],
    testTimeout: 300_000,
    hookTimeout: 600_000,
    fileParallelism: false,
  },
});
