import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // DuckDB and the Dataform CLI use native code and child processes; forks isolate them best.
    pool: "forks",
    maxWorkers: 2,
  },
});
