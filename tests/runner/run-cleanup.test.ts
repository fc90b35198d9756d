import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { compileForDuckDb } from "../../src/dataform/compile.ts";
import { runGraph } from "../../src/runner/execute.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { tempProject, type TempProject } from "../support/dataform-project.ts";

const FILES = {
  "definitions/sources/events.sqlx": `config { type: "declaration", schema: "raw", name: "events" }\n`,
  "definitions/staging/stg_events.sqlx": `config { type: "table", schema: "staging" }\nselect id from \${ref("events")}`,
  "definitions/marts/event_count.sqlx": `config { type: "table", schema: "marts" }\nselect count(*) as events from \${ref("stg_events")}`,
};

describe("a run that throws half way", () => {
  let project: TempProject;
  let wh: Warehouse;
  beforeEach(async () => {
    project = tempProject(FILES);
    wh = await Warehouse.open(":memory:");
    await wh.run("create schema raw; create table raw.events as select 1 as id");
  });
  afterEach(async () => {
    await wh.close();
    project.cleanup();
  });

  it("closes its run row as failed and its connections, and the next run works", async () => {
    const graph = await compileForDuckDb(project.dir);
    let finished = 0;
    const onEvent = (event: { type: string }) => {
      if (event.type === "finish" && ++finished === 1) throw new Error("the progress printer broke");
    };
    await expect(runGraph(wh, graph, { onEvent, concurrency: 2 })).rejects.toThrow("the progress printer broke");
    expect(await wh.query("select status from slice_runs.runs")).toEqual([{ status: "failed" }]);
    // No connection of the broken run is left open in a transaction: the next run takes every table.
    const next = await runGraph(wh, graph, { concurrency: 2 });
    expect(next.ok).toBe(true);
    expect(await wh.query("select status from slice_runs.runs order by started_at")).toEqual([{ status: "failed" }, { status: "succeeded" }]);
  }, 120_000);
});
