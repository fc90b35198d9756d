import { configDefaults, defineConfig } from "vitest/config";

/**
 * Test files that change process-wide state a later file in the same worker would see: environment variables
 * they do not restore, vi.mock/vi.spyOn on shared modules, process.exitCode through the CLI. They keep a fresh
 * process each; every other file shares its worker's module cache (isolate: false), so DuckDB, the AWS and
 * Google clients and the ZetaSQL bindings are imported once per worker instead of once per file.
 */
const ISOLATED_FILES = [
  "tests/activation/meta/command.test.ts",
  "tests/activation/bigquery/sync.test.ts",
  "tests/activation/bigquery/s3-drop.test.ts",
  "tests/unit-tests/runner.test.ts",
  "tests/schedule/preflight.test.ts",
  "tests/load/s3.test.ts",
];

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // DuckDB and the Dataform CLI use native code and child processes; forks isolate them best.
    pool: "forks",
    maxWorkers: 2,
    projects: [
      { extends: true, test: { name: "shared", include: ["tests/**/*.test.ts"], exclude: [...configDefaults.exclude, ...ISOLATED_FILES], isolate: false } },
      { extends: true, test: { name: "isolated", include: ISOLATED_FILES } },
    ],
  },
});
