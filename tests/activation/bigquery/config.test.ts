/**
 * Warehouse settings at the edge: flags, a settings file and the function's environment, validated with
 * zod; every error names where the value came from, the field and the fix.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { partnerApiSettingsFromEnv } from "../../../src/api/config.ts";
import { bigQueryWarehouseConfigFromEnv, loadWarehouseConfigFile, warehouseConfigFromFlags } from "../../../src/warehouse/config.ts";

const dir = mkdtempSync(join(tmpdir(), "slice-warehouse-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe("warehouse flags", () => {
  it("defaults to the DuckDB file", () => {
    expect(warehouseConfigFromFlags({})).toEqual({ engine: "duckdb", path: "warehouse/slice.duckdb" });
    expect(warehouseConfigFromFlags({ warehouse: "w.duckdb" })).toEqual({ engine: "duckdb", path: "w.duckdb" });
  });

  it("takes BigQuery from --bigquery-project, dataset defaulting to activation", () => {
    expect(warehouseConfigFromFlags({ bigqueryProject: "slice-prod", bigqueryLocation: "EU" })).toEqual({
      engine: "bigquery", projectId: "slice-prod", dataset: "activation", location: "EU",
    });
    expect(warehouseConfigFromFlags({ bigqueryProject: "slice-prod", bigqueryDataset: "activation_dev" })).toEqual({
      engine: "bigquery", projectId: "slice-prod", dataset: "activation_dev",
    });
  });

  it.each([
    [{ bigqueryProject: "Slice_Prod" }, /--bigquery-project: is not a BigQuery project id\. Fix: use the Google Cloud project id/],
    [{ bigqueryProject: "slice-prod", bigqueryDataset: "my-set" }, /--bigquery-dataset: is not a BigQuery dataset name\. Fix: use the dataset the Dataform build writes/],
    [{ bigqueryProject: "slice-prod", bigqueryLocation: "eu west" }, /--bigquery-location: is not a BigQuery location\. Fix: use the dataset's location, e\.g\. EU/],
    [{ bigqueryDataset: "activation" }, /--bigquery-project: is not set\. Fix: name the project/],
    [{ warehouse: "w.duckdb", bigqueryProject: "slice-prod" }, /--warehouse, --bigquery-\*: choose one\. Fix:/],
    [{ warehouse: "", }, /--warehouse: is empty\. Fix: give the DuckDB warehouse file/],
  ])("names the flag, the problem and the fix (%#)", (flags, message) => {
    expect(() => warehouseConfigFromFlags(flags)).toThrow(message);
  });
});

describe("warehouse settings file", () => {
  it("reads engine: bigquery and engine: duckdb", () => {
    expect(loadWarehouseConfigFile(file("bq.yaml", "engine: bigquery\nproject: slice-prod\nlocation: EU\n"))).toEqual({
      engine: "bigquery", projectId: "slice-prod", dataset: "activation", location: "EU",
    });
    expect(warehouseConfigFromFlags({ warehouseConfig: file("duck.json", '{"engine":"duckdb","path":"x.duckdb"}') })).toEqual({ engine: "duckdb", path: "x.duckdb" });
  });

  it("names the file, the field and the fix", () => {
    const bad = file("bad.yaml", "engine: bigquery\nproject: slice-prod\ndataset: a.b\nregion: EU\n");
    expect(() => loadWarehouseConfigFile(bad)).toThrow(`${bad}: dataset: is not a BigQuery dataset name. Fix:`);
    expect(() => loadWarehouseConfigFile(bad)).toThrow(`${bad}: region: is not a warehouse setting. Fix: remove it`);
    const noProject = file("noproject.yaml", "engine: bigquery\n");
    expect(() => loadWarehouseConfigFile(noProject)).toThrow(`${noProject}: project: is not set. Fix: use the Google Cloud project id`);
    const engine = file("engine.yaml", "engine: snowflake\n");
    expect(() => loadWarehouseConfigFile(engine)).toThrow(`${engine}: engine: must be duckdb or bigquery. Fix: set engine to duckdb or bigquery`);
    expect(() => loadWarehouseConfigFile(join(dir, "none.yaml"))).toThrow(/none\.yaml: cannot read the warehouse settings.*Fix: check the --warehouse-config path/);
  });
});

describe("the partner API function's environment", () => {
  const base = { SLICE_API_KEYS: "keys: []\n", SLICE_CURSOR_SECRET: "x".repeat(40) };

  it("reads SLICE_BIGQUERY_* and falls back to GOOGLE_CLOUD_PROJECT", () => {
    expect(bigQueryWarehouseConfigFromEnv({ GOOGLE_CLOUD_PROJECT: "slice-demo", SLICE_BIGQUERY_LOCATION: "EU" })).toEqual({
      engine: "bigquery", projectId: "slice-demo", dataset: "activation", location: "EU",
    });
  });

  it("names the variable and the fix", () => {
    expect(() => bigQueryWarehouseConfigFromEnv({ SLICE_BIGQUERY_PROJECT: "slice-demo", SLICE_BIGQUERY_DATASET: "bad-name" })).toThrow(
      /SLICE_BIGQUERY_DATASET: is not a BigQuery dataset name\. Fix:/,
    );
    expect(() => bigQueryWarehouseConfigFromEnv({})).toThrow(/SLICE_BIGQUERY_PROJECT: is not set\. Fix:/);
    expect(() => partnerApiSettingsFromEnv({ ...base, SLICE_BIGQUERY_PROJECT: "X" })).toThrow(/SLICE_BIGQUERY_PROJECT: is not a BigQuery project id/);
  });
});
