/**
 * A warehouse built by the real Dataform models over the hand-written fixture (tests/models/fixture.ts),
 * shared by the explorer and LookML tests: customers C1, C2, C3 as of 2025-01-31.
 */
import type { CompiledGraph } from "../../src/dataform/compile.ts";
import { compileForDuckDb } from "../../src/dataform/compile.ts";
import { runGraph, type RunResult } from "../../src/runner/execute.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { FIXTURE_AS_OF_DATE, loadFixture } from "../models/fixture.ts";
import { REPO_ROOT } from "../support/dataform-project.ts";

export interface BuiltWarehouse {
  warehouse: Warehouse;
  graph: CompiledGraph;
  run: RunResult;
}

export async function buildFixtureWarehouse(path = ":memory:"): Promise<BuiltWarehouse> {
  const warehouse = await Warehouse.open(path);
  await loadFixture(warehouse);
  const graph = await compileForDuckDb(REPO_ROOT, { as_of_date: FIXTURE_AS_OF_DATE });
  const run = await runGraph(warehouse, graph, { concurrency: 2 });
  if (!run.ok) {
    const problems = run.results.filter((r) => r.status !== "succeeded").map((r) => `${r.key}: ${r.status} ${r.error ?? ""}`);
    throw new Error(`The fixture warehouse did not build:\n${problems.join("\n")}`);
  }
  return { warehouse, graph, run };
}
