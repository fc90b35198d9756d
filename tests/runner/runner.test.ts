import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CompilationError, compileProject } from "../../src/dataform/compile.ts";
import { compileForDuckDb } from "../../src/dataform/compile.ts";
import { MissingDeclarationError, runGraph, type RunEvent } from "../../src/runner/execute.ts";
import { buildGraph, selectActions } from "../../src/runner/plan.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { tempProject, type TempProject } from "../support/dataform-project.ts";

const SOURCES = `config { type: "declaration", schema: "raw", name: "events" }\n`;

const BASE_FILES: Record<string, string> = {
  "definitions/sources/events.sqlx": SOURCES,
  "definitions/staging/stg_events.sqlx": `config { type: "view", schema: "staging", tags: ["daily"] }
select id, kind, amount from \${ref("events")} where kind is distinct from 'ignored'`,
  "definitions/marts/kind_totals.sqlx": `config {
  type: "table", schema: "marts",
  assertions: { uniqueKey: ["kind"], nonNull: ["kind"] }
}
select kind, sum(amount) as total_amount, count(*) as events from \${ref("stg_events")} group by kind`,
  "definitions/marts/kind_report.sqlx": `config { type: "table", schema: "marts" }
select kind, total_amount * 2 as doubled from \${ref("kind_totals")}`,
};

async function seed(wh: Warehouse, rows: [number, string, number][]): Promise<void> {
  await wh.run("create schema if not exists raw; create or replace table raw.events (id integer, kind varchar, amount integer, loaded_day integer)");
  for (const [id, kind, amount] of rows) await wh.run(`insert into raw.events values (${id}, '${kind}', ${amount}, ${id})`);
}

describe("runner on DuckDB", () => {
  let project: TempProject;
  let wh: Warehouse;

  beforeEach(async () => {
    project = tempProject(BASE_FILES);
    wh = await Warehouse.open(":memory:");
  });
  afterEach(async () => {
    await wh.close();
    project.cleanup();
  });

  it("runs actions in dependency order and produces the right tables", async () => {
    await seed(wh, [[1, "a", 10], [2, "a", 5], [3, "b", 7], [4, "ignored", 100]]);
    const events: RunEvent[] = [];
    const result = await runGraph(wh, await compileForDuckDb(project.dir), { onEvent: (e) => events.push(e), concurrency: 2 });
    expect(result.ok).toBe(true);
    const finishOrder = events.filter((e) => e.type === "finish").map((e) => (e as { action: { key: string } }).action.key);
    expect(finishOrder.indexOf("staging.stg_events")).toBeLessThan(finishOrder.indexOf("marts.kind_totals"));
    expect(finishOrder.indexOf("marts.kind_totals")).toBeLessThan(finishOrder.indexOf("marts.kind_report"));
    expect(await wh.query("select kind, cast(doubled as integer) as doubled from marts.kind_report order by kind")).toEqual([
      { kind: "a", doubled: 30 },
      { kind: "b", doubled: 14 },
    ]);
    const totals = result.results.find((r) => r.key === "marts.kind_totals");
    expect(totals).toMatchObject({ status: "succeeded", rows: 2 });
    // The run log records every action of the run.
    const logged = await wh.query("select count(*)::integer as n from slice_runs.action_runs where run_id = $id and status = 'succeeded'", { id: result.runId });
    expect(logged[0].n).toBe(result.results.length);
  });

  it("appends to an incremental table without a key and merges on uniqueKey, and --full-refresh rebuilds", async () => {
    project.write(
      "definitions/marts/event_log.sqlx",
      `config { type: "incremental", schema: "marts" }
select id, kind from \${ref("events")}
\${when(incremental(), \`where id > (select max(id) from \${self()})\`)}`,
    );
    project.write(
      "definitions/marts/latest_by_kind.sqlx",
      `config { type: "incremental", schema: "marts", uniqueKey: ["kind"] }
select kind, max(amount) as top_amount, max(id) as last_id from \${ref("events")}
\${when(incremental(), \`where loaded_day > (select max(last_id) from \${self()})\`)}
group by kind`,
    );
    await seed(wh, [[1, "a", 10], [2, "b", 5]]);
    const compiled = await compileForDuckDb(project.dir);
    const first = await runGraph(wh, compiled, { selectors: ["event_log", "latest_by_kind"] });
    expect(first.results.map((r) => r.mode)).toEqual(["full", "full"]);

    await wh.run("insert into raw.events values (3, 'a', 50, 3), (4, 'c', 1, 4)");
    const second = await runGraph(wh, compiled, { selectors: ["event_log", "latest_by_kind"] });
    expect(second.results.every((r) => r.mode === "incremental")).toBe(true);
    expect(await wh.query("select id from marts.event_log order by id")).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }, { id: 4 }]);
    // "a" was replaced by the merge (one row per key, new values), "c" was inserted, "b" kept.
    expect(await wh.query("select kind, top_amount::integer as top_amount from marts.latest_by_kind order by kind")).toEqual([
      { kind: "a", top_amount: 50 },
      { kind: "b", top_amount: 5 },
      { kind: "c", top_amount: 1 },
    ]);

    await wh.run("delete from raw.events where id = 1");
    const refreshed = await runGraph(wh, compiled, { selectors: ["event_log"], fullRefresh: true });
    expect(refreshed.results[0].mode).toBe("full");
    expect(await wh.query("select id from marts.event_log order by id")).toEqual([{ id: 2 }, { id: 3 }, { id: 4 }]);
  });

  it("merges as Dataform's MERGE on BigQuery does: a NULL key matches nothing, two new rows for one key fail, a column the query dropped fails unless SYNCHRONIZE", async () => {
    const model = (columns: string, onSchemaChange = "IGNORE") => `config { type: "incremental", schema: "marts", uniqueKey: ["kind"], onSchemaChange: "${onSchemaChange}" }
select ${columns} from \${ref("events")}
\${when(incremental(), \`where loaded_day > (select max(loaded_day) from \${self()})\`)}`;
    await wh.run("create schema if not exists raw; create or replace table raw.events (id integer, kind varchar, amount integer, loaded_day integer)");
    await wh.run("insert into raw.events values (1, 'a', 10, 1), (2, null, 5, 1)");
    project.write("definitions/marts/by_kind.sqlx", model("kind, amount, loaded_day"));
    const build = async () => runGraph(wh, await compileForDuckDb(project.dir), { selectors: ["by_kind"] });
    expect((await build()).ok).toBe(true);

    await wh.run("insert into raw.events values (3, 'a', 50, 2), (4, null, 7, 2)");
    expect((await build()).ok).toBe(true);
    // 'a' is replaced; the NULL-key row is not (NULL = NULL is not true in MERGE ... ON), so it is there twice.
    expect(await wh.query("select kind, amount from marts.by_kind order by kind nulls last, amount")).toEqual([
      { kind: "a", amount: 50 },
      { kind: null, amount: 5 },
      { kind: null, amount: 7 },
    ]);

    await wh.run("insert into raw.events values (5, 'a', 60, 3), (6, 'a', 70, 3)");
    const ambiguous = await build();
    expect(ambiguous.results[0].error).toContain('returns more than one row for the existing key {"kind":"a"}');
    expect(await wh.query("select amount from marts.by_kind where kind = 'a'")).toEqual([{ amount: 50 }]);
    await wh.run("delete from raw.events where id = 6");

    project.write("definitions/marts/by_kind.sqlx", model("kind, loaded_day"));
    const dropped = await build();
    expect(dropped.results[0].error).toContain("no longer returns column(s) amount of the table (onSchemaChange IGNORE)");
    expect(dropped.results[0].error).toContain("slice build --full-refresh --select by_kind");

    project.write("definitions/marts/by_kind.sqlx", model("kind, loaded_day", "SYNCHRONIZE"));
    expect((await build()).ok).toBe(true);
    expect(await wh.query("select * from marts.by_kind where kind = 'a'")).toEqual([{ kind: "a", loaded_day: 3 }]);
  });

  it("names the missing columns and the fix when an incremental table predates its model's new columns", async () => {
    const model = (withVersion: boolean) => `config { type: "incremental", schema: "marts", uniqueKey: ["id"${withVersion ? ', "version"' : ""}] }
select id, kind${withVersion ? ", 1 as version" : ""} from \${ref("events")}
\${when(incremental(), \`where id > (select max(id) from \${self()}${withVersion ? " where version = 1" : ""})\`)}`;
    project.write("definitions/marts/event_versions.sqlx", model(false));
    await seed(wh, [[1, "a", 10]]);
    expect((await runGraph(wh, await compileForDuckDb(project.dir), { selectors: ["event_versions"] })).ok).toBe(true);

    project.write("definitions/marts/event_versions.sqlx", model(true));
    await wh.run("insert into raw.events values (2, 'b', 5, 2)");
    const compiled = await compileForDuckDb(project.dir);
    const stale = await runGraph(wh, compiled, { selectors: ["event_versions"] });
    expect(stale.ok).toBe(false);
    expect(stale.results[0].error).toContain("marts.event_versions was built by an older version of its model and lacks column(s) version");
    expect(stale.results[0].error).toContain("slice build --full-refresh --select event_versions");
    expect(await wh.query("select id from marts.event_versions order by id")).toEqual([{ id: 1 }]);

    const rebuilt = await runGraph(wh, compiled, { selectors: ["event_versions"], fullRefresh: true });
    expect(rebuilt.ok).toBe(true);
    expect(await wh.query("select id, version from marts.event_versions order by id")).toEqual([{ id: 1, version: 1 }, { id: 2, version: 1 }]);
  });

  it("leaves the previous table intact when an action fails, and skips what depends on it", async () => {
    await seed(wh, [[1, "a", 10]]);
    expect((await runGraph(wh, await compileForDuckDb(project.dir))).ok).toBe(true);
    project.write(
      "definitions/marts/kind_totals.sqlx",
      `config { type: "table", schema: "marts" }
select kind, sum(amount) as total_amount, 1 / (select count(*) from \${ref("stg_events")} where false) as boom, error('model exploded') as e from \${ref("stg_events")} group by kind`,
    );
    const result = await runGraph(wh, await compileForDuckDb(project.dir));
    expect(result.ok).toBe(false);
    const failed = result.results.find((r) => r.key === "marts.kind_totals")!;
    expect(failed.status).toBe("failed");
    expect(failed.error).toContain("definitions/marts/kind_totals.sqlx");
    expect(failed.error).toContain("model exploded");
    expect(result.results.find((r) => r.key === "marts.kind_report")!.status).toBe("skipped");
    // The old version (with its old columns) is still there.
    expect(await wh.query("select kind, total_amount::integer as total_amount, events::integer as events from marts.kind_totals")).toEqual([
      { kind: "a", total_amount: 10, events: 1 },
    ]);
  });

  it("reports failing assertion rows and blocks only the assertion's dependents by default", async () => {
    project.write(
      "definitions/marts/positive_amounts.sqlx",
      `config { type: "assertion" }
select id, amount from \${ref("events")} where amount < 0`,
    );
    project.write(
      "definitions/marts/after_check.sqlx",
      `config { type: "table", schema: "marts", dependencies: ["positive_amounts"] }
select count(*) as n from \${ref("events")}`,
    );
    await seed(wh, [[1, "a", 10], [2, "a", -3], [3, "b", -4]]);
    const compiled = await compileForDuckDb(project.dir);
    const result = await runGraph(wh, compiled);
    expect(result.ok).toBe(false);
    const assertion = result.results.find((r) => r.key.endsWith("positive_amounts"))!;
    expect(assertion.status).toBe("assertion_failed");
    expect(assertion.failingRows).toEqual([
      { id: 2, amount: -3 },
      { id: 3, amount: -4 },
    ]);
    expect(result.results.find((r) => r.key === "marts.after_check")!.status).toBe("skipped");
    expect(result.results.find((r) => r.key === "marts.kind_report")!.status).toBe("succeeded");

    const warned = await runGraph(wh, compiled, { assertionPolicy: "warn" });
    expect(warned.ok).toBe(true);
    expect(warned.results.find((r) => r.key === "marts.after_check")!.status).toBe("succeeded");
  });

  it("blocks everything below the asserted table with the block-downstream policy", async () => {
    await seed(wh, [[1, "a", 10]]);
    await wh.run("insert into raw.events values (2, null, 1, 2)");
    const result = await runGraph(wh, await compileForDuckDb(project.dir), { assertionPolicy: "block-downstream" });
    const nonNull = result.results.find((r) => r.key.includes("kind_totals_assertions_rowConditions"))!;
    expect(nonNull.status).toBe("assertion_failed");
    expect(nonNull.failingRows?.[0]).toMatchObject({ kind: null });
    expect(result.results.find((r) => r.key === "marts.kind_report")!.status).toBe("skipped");
  });

  it("refuses to run when a declared source is missing, naming it", async () => {
    const compiled = await compileForDuckDb(project.dir);
    await expect(runGraph(wh, compiled)).rejects.toThrow(MissingDeclarationError);
    await expect(runGraph(wh, compiled)).rejects.toThrow(/raw\.events \(declared; needed by definitions\/staging\/stg_events\.sqlx\)/);
    expect(await wh.tableExists("marts", "kind_totals")).toBe(false);
  });

  it("reports compile errors with the file and message", async () => {
    project.write("definitions/broken.sqlx", `config { type: "table" }\nselect \${no_such_macro()} as x`);
    const error = await compileProject({ projectDir: project.dir }).catch((e) => e);
    expect(error).toBeInstanceOf(CompilationError);
    expect(error.message).toContain("definitions/broken.sqlx");
    expect(error.message).toContain("no_such_macro is not defined");
  });

  it("selects by name, tag, upstream (+name) and downstream (name+), with assertions following their table", async () => {
    const graph = buildGraph(await compileForDuckDb(project.dir));
    const names = (selectors: string[]) => [...selectActions(graph, selectors)].sort();
    expect(names(["kind_report"])).toEqual(["marts.kind_report"]);
    expect(names(["tag:daily"])).toEqual(["staging.stg_events"]);
    expect(names(["+kind_report"])).toEqual(["marts.kind_report", "marts.kind_totals", "raw.events", "staging.stg_events", ...names(["kind_totals"]).filter((k) => k.includes("assertions"))].sort());
    expect(names(["kind_totals"])).toEqual([
      "fixture_assertions.marts_kind_totals_assertions_rowConditions",
      "fixture_assertions.marts_kind_totals_assertions_uniqueKey_0",
      "marts.kind_totals",
    ]);
    expect(names(["stg_events+"])).toEqual(expect.arrayContaining(["staging.stg_events", "marts.kind_totals", "marts.kind_report"]));
    expect(() => names(["nope"])).toThrow(/no action is named "nope"/);
  });

  it("prints the plan without touching the warehouse on --dry-run", async () => {
    const result = await runGraph(wh, await compileForDuckDb(project.dir), { dryRun: true, selectors: ["+kind_report"] });
    expect(result.planned.map((a) => a.key)).toEqual(expect.arrayContaining(["staging.stg_events", "marts.kind_totals", "marts.kind_report"]));
    expect(await wh.tableExists("slice_runs", "runs")).toBe(false);
  });
});
