import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { staleIncrementals, startRawEpoch } from "../../src/raw/epoch.ts";
import { compileForDuckDb } from "../../src/dataform/compile.ts";
import { runGraph } from "../../src/runner/execute.ts";
import { summarizeRun } from "../../src/runner/progress.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { tempProject, type TempProject } from "../support/dataform-project.ts";

describe("staleIncrementals", () => {
  const epoch = { epochId: "e2", startedAt: "2026-12-06T10:00:00.000Z", reason: "slice generate" };
  it.each([
    ["no epoch recorded: nothing is stale", undefined, [["a", true, "2026-12-01T00:00:00.000Z"]], []],
    ["built before the epoch", epoch, [["a", true, "2026-12-06T09:59:59.000Z"]], ["a"]],
    ["built after the epoch", epoch, [["a", true, "2026-12-06T10:00:01.000Z"]], []],
    ["never recorded but existing (built before epochs were kept)", epoch, [["a", true, undefined]], ["a"]],
    ["not built yet: the normal first build makes it whole", epoch, [["a", false, undefined]], []],
  ] as const)("%s", (_name, latest, tables, expected) => {
    const builtAt = new Map(tables.filter(([, , at]) => at).map(([key, , at]) => [key, at as string]));
    expect(staleIncrementals(tables.map(([key, exists]) => ({ key, exists })), latest, builtAt)).toEqual(expected);
  });
});

const FILES: Record<string, string> = {
  "definitions/sources/events.sqlx": `config { type: "declaration", schema: "raw", name: "events" }\n`,
  "definitions/staging/stg_events.sqlx": `config { type: "incremental", schema: "staging", uniqueKey: ["id"] }
select id, kind from \${ref("events")}
\${when(incremental(), \`where id > (select coalesce(max(id), 0) from \${self()})\`)}`,
  "definitions/marts/kinds_seen.sqlx": `config { type: "incremental", schema: "marts", protected: true, uniqueKey: ["kind"] }
select distinct kind from \${ref("stg_events")}`,
};

describe("a build after raw data was replaced", () => {
  let project: TempProject;
  let wh: Warehouse;
  beforeEach(async () => {
    project = tempProject(FILES);
    wh = await Warehouse.open(":memory:");
  });
  afterEach(async () => {
    await wh.close();
    project.cleanup();
  });

  const replaceRaw = async (rows: [number, string][]) => {
    await wh.run("create schema if not exists raw; create or replace table raw.events (id integer, kind varchar)");
    for (const [id, kind] of rows) await wh.run(`insert into raw.events values (${id}, '${kind}')`);
  };

  it("rebuilds unprotected incremental tables from scratch, keeps protected history, and says so", async () => {
    const graph = await compileForDuckDb(project.dir);
    await replaceRaw([[1, "old"], [2, "old"], [3, "old"]]);
    expect((await runGraph(wh, graph)).ok).toBe(true);

    // Appending is the normal incremental case: no epoch, an incremental merge.
    await wh.run("insert into raw.events values (4, 'old')");
    const appended = await runGraph(wh, graph);
    expect(appended.results.find((r) => r.key === "staging.stg_events")?.mode).toBe("incremental");
    expect(appended.rebuiltAfterRawReplacement).toBeUndefined();

    // A new demo replaces raw: fewer ids, other kinds. Without the epoch the incremental run would keep 1–4.
    await replaceRaw([[1, "new"], [2, "new"]]);
    await startRawEpoch(wh, "slice generate");
    const after = await runGraph(wh, graph);
    expect(after.ok).toBe(true);
    expect(after.results.find((r) => r.key === "staging.stg_events")?.mode).toBe("full");
    expect(await wh.query("select id, kind from staging.stg_events order by id")).toEqual([
      { id: 1, kind: "new" },
      { id: 2, kind: "new" },
    ]);
    // Protected history is merged, never rebuilt: it remembers the old kind.
    expect(await wh.query("select kind from marts.kinds_seen order by kind")).toEqual([{ kind: "new" }, { kind: "old" }]);
    expect(after.rebuiltAfterRawReplacement).toMatchObject({ tables: ["staging.stg_events"], reason: "slice generate" });
    expect(summarizeRun(after)).toMatch(/Raw data was replaced \(slice generate, .*\) after the last build of 1 incremental table\(s\); rebuilt them from scratch: staging\.stg_events/);

    // The next build is incremental again.
    const next = await runGraph(wh, graph);
    expect(next.results.find((r) => r.key === "staging.stg_events")?.mode).toBe("incremental");
    expect(next.rebuiltAfterRawReplacement).toBeUndefined();
  }, 120_000);
});
