import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Subprocess and server tests share two cores; keep parallelism modest so they stay deterministic.
    maxWorkers: 2,
    reporters: process.env.CI ? ["default"] : ["default"],
  },
});
