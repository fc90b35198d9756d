/**
 * Incremental identity stitching on a generated warehouse: after a full build, a day with new orders (guest
 * orders carrying e-mails and phones), a new record that bridges two persons, an account whose e-mail changed
 * and an erased person, the daily run recomputes only the persons around those changes, and equals a full
 * recompute of the same day on a copy, row for row (EXCEPT ALL both ways, the run stamp left out).
 */
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileForDuckDb, type CompiledGraph } from "../../src/dataform/compile.ts";
import { generate } from "../../src/generate/generate.ts";
import { generateNextDay } from "../../src/generate/next-day.ts";
import { forget } from "../../src/privacy/forget.ts";
import { runGraph, type RunResult } from "../../src/runner/execute.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { buildSelected } from "../support/build-selected.ts";
import { REPO_ROOT } from "../support/dataform-project.ts";

const SEED = 11;
const FIRST_AS_OF = "2026-10-31";
const NEXT_DAY = "2026-11-01";
const SELECT = ["+int_persons", "+int_customer_accounts", "+identity_changes", "+int_identity_persons_converged"];
const PERSONS = "intermediate.int_identity_persons";

let dir: string;
let dailyPath: string;
let recomputePath: string;
let daily: RunResult;
let recompute: RunResult;
let bridged: { a: string; b: string };
let erased: string;
let folded: string;
let nodesBeforeDaily: number;

function build(path: string, asOf: string, fullRefresh = false): Promise<RunResult> {
  return buildSelected(path, SELECT, asOf, fullRefresh);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "slice-identity-incremental-"));
  dailyPath = join(dir, "daily.duckdb");
  recomputePath = join(dir, "recompute.duckdb");
  let wh = await Warehouse.open(dailyPath);
  await generate(wh, { customers: 3000, seed: SEED, dirtyRate: 0.01 });
  await wh.close();
  await build(dailyPath, FIRST_AS_OF);

  wh = await Warehouse.open(dailyPath);
  try {
    await generateNextDay(wh, { date: NEXT_DAY, seed: SEED });
    // A new app record carries the e-mail of A (a single-account person whose e-mail links nothing yet) and
    // the phone of B, which already links B's account to another of B's nodes: the next run merges A and B.
    // B's nodes keep their fingerprints, so only the record's link to B's phone reaches B's person.
    const [a] = await wh.query<{ customer_id: string; email: string }>(`
      select customers.customer_id, customers.email
      from staging.stg_crm__customers customers
      join intermediate.int_persons persons on persons.person_customer_id = customers.customer_id
      where persons.accounts = 1 and persons.source_records = 0 and persons.guest_orders = 0 and customers.email_normalized is not null
        and not exists (select 1 from intermediate.int_identity_identifier_checks checks
          where checks.identifier_key = 'email:' || customers.email_normalized and (checks.reject_reason is not null or checks.nodes > 1))
      order by customers.customer_id limit 1`);
    const [b] = await wh.query<{ customer_id: string; phone: string }>(`
      select customers.customer_id, customers.phone
      from staging.stg_crm__customers customers
      join intermediate.int_persons persons on persons.person_customer_id = customers.customer_id
      join intermediate.int_identity_identifier_checks checks on checks.identifier_key = 'phone:' || customers.phone_e164_digits
      where persons.accounts = 1 and checks.reject_reason is null and checks.nodes = 2
      order by customers.customer_id limit 1`);
    bridged = { a: a.customer_id, b: b.customer_id };
    const text = (value: string) => `'${value.replaceAll("'", "''")}'`;
    await wh.run(`insert into raw.identities (source_system, source_id, email, phone, device_id, first_seen_at, last_seen_at)
      values ('app', 'BRIDGE-1', ${text(a.email)}, ${text(b.phone)}, 'DEVICE-BRIDGE', TIMESTAMP '2026-11-01 09:00:00', TIMESTAMP '2026-11-01 09:00:00')`);
    // An account of a stitched person re-sent with another e-mail: the person may split.
    await wh.run(`
      insert into raw.customers by name
      select * replace ('changed.' || customer_id || '@mail.fi' as email, TIMESTAMP '2026-11-01 08:00:00' as updated_at)
      from raw.customers
      where customer_id = (
        select min(account) from (select unnest(account_ids) as account from intermediate.int_persons where accounts >= 2) stitched
        where account not in ('${a.customer_id}', '${b.customer_id}'))
      order by updated_at desc limit 1`);
    // An account's own loyalty record (folded into the account node) re-sent with another e-mail: the account's
    // identifiers change without any column of the account itself changing.
    folded = await wh.scalar<string>(`
      select min(records.source_id) from staging.stg_identity__records records
      join staging.stg_crm__customers customers on customers.customer_id = records.source_id
      where records.source_system = 'loyalty' and records.email_normalized is not null
        and records.source_id not in ('${a.customer_id}', '${b.customer_id}')`);
    await wh.run(`
      insert into raw.identities by name
      select * replace ('refolded.' || source_id || '@mail.fi' as email, TIMESTAMP '2026-11-01 10:00:00' as last_seen_at)
      from raw.identities
      where source_system = 'loyalty' and source_id = '${folded}'
      order by last_seen_at desc limit 1`);
    // A person with several nodes asks to be forgotten.
    erased = await wh.scalar<string>(`
      select min(person_customer_id) from intermediate.int_persons
      where source_records + guest_orders >= 2 and person_customer_id not in ('${a.customer_id}', '${b.customer_id}', '${folded}')`);
    await forget(wh, { type: "customer_id", value: erased }, { receivedVia: "test" });
    nodesBeforeDaily = Number(await wh.scalar(`select count(*) from ${PERSONS}`));
  } finally {
    await wh.close();
  }
  copyFileSync(dailyPath, recomputePath);
  daily = await build(dailyPath, NEXT_DAY);
  recompute = await build(recomputePath, NEXT_DAY, true);
}, 600_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("the daily run of identity stitching", () => {
  it("runs the nodes, int_identity_persons and int_persons incrementally, and the recompute fully", () => {
    const modes = (run: RunResult) =>
      ["int_identity_nodes", "int_identity_identifiers", "int_identity_identifier_checks", "int_identity_edges", "int_identity_persons", "int_persons"].map(
        (name) => run.results.find((r) => r.key.endsWith(`.${name}`))?.mode,
      );
    expect(modes(daily)).toEqual(Array(6).fill("incremental"));
    expect(modes(recompute)).not.toContain("incremental");
  });

  it("recomputes only the persons around the day's changes", async () => {
    const wh = await Warehouse.open(dailyPath, { readOnly: true });
    try {
      const recomputed = Number(await wh.scalar(`select count(*) from ${PERSONS} where computed_as_of_date = DATE '${NEXT_DAY}'`));
      expect(recomputed).toBeGreaterThan(0);
      expect(recomputed).toBeLessThan(nodesBeforeDaily / 10);
    } finally {
      await wh.close();
    }
  });

  it("rewrites only the identifiers, checks and edges of the changed nodes, the folded record's e-mail among them", async () => {
    const wh = await Warehouse.open(dailyPath, { readOnly: true });
    try {
      for (const table of ["int_identity_identifiers", "int_identity_identifier_checks", "int_identity_edges"]) {
        const [written, all] = (await wh.query<{ written: number; all: number }>(
          `select count(*) filter (where computed_as_of_date = DATE '${NEXT_DAY}') as written, count(*) as "all" from intermediate.${table}`,
        )).map((row) => [Number(row.written), Number(row.all)])[0];
        expect(written, table).toBeGreaterThan(0);
        expect(written, table).toBeLessThan(all / 10);
      }
      expect(await wh.scalar(`select count(*) from intermediate.int_identity_identifiers
        where node_key = 'account:${folded}' and identifier_key = 'email:refolded.${folded.toLowerCase()}@mail.fi'`)).toBe("1");
    } finally {
      await wh.close();
    }
  });

  it("merges the bridged persons and drops the erased one", async () => {
    expect(erased).not.toBe(folded);
    const wh = await Warehouse.open(dailyPath, { readOnly: true });
    try {
      const personOf = async (customer: string) =>
        wh.scalar<string>(`select person_customer_id from intermediate.int_customer_accounts where customer_id = '${customer}'`);
      expect(await personOf(bridged.b)).toBe(await personOf(bridged.a));
      expect(Number(await wh.scalar(`select count(*) from intermediate.int_persons where person_customer_id = '${erased}'`))).toBe(0);
      expect(Number(await wh.scalar(`select count(*) from ${PERSONS} where customer_id = '${erased}'`))).toBe(0);
    } finally {
      await wh.close();
    }
  });

  it("equals a full recompute of the same day, row for row", async () => {
    const wh = await Warehouse.open(recomputePath);
    try {
      await wh.run(`attach '${dailyPath}' as daily (read_only)`);
      const differences: Record<string, [number, number]> = {};
      for (const [table, columns] of [
        ["intermediate.int_identity_nodes", "* exclude (changed_as_of_date)"],
        ["intermediate.int_identity_identifiers", "* exclude (computed_as_of_date)"],
        ["intermediate.int_identity_identifier_checks", "* exclude (computed_as_of_date)"],
        ["intermediate.int_identity_edges", "* exclude (computed_as_of_date)"],
        [PERSONS, "* exclude (computed_as_of_date)"],
        ["intermediate.int_persons", "* exclude (computed_as_of_date)"],
        ["intermediate.int_customer_accounts", "*"],
        ["intermediate.int_identity_person_history", "*"],
      ]) {
        const count = async (from: string, minus: string) =>
          Number(await wh.scalar(`select count(*) from (select ${columns} from ${from} except all select ${columns} from ${minus}) differing`));
        differences[table] = [await count(`daily.${table}`, table), await count(table, `daily.${table}`)];
      }
      expect(differences).toEqual({
        "intermediate.int_identity_nodes": [0, 0],
        "intermediate.int_identity_identifiers": [0, 0],
        "intermediate.int_identity_identifier_checks": [0, 0],
        "intermediate.int_identity_edges": [0, 0],
        [PERSONS]: [0, 0],
        "intermediate.int_persons": [0, 0],
        "intermediate.int_customer_accounts": [0, 0],
        "intermediate.int_identity_person_history": [0, 0],
      });
      expect(Number(await wh.scalar(`select count(*) from daily.${PERSONS}`))).toBeGreaterThan(3000);
    } finally {
      await wh.close();
    }
  });
});

describe("the checks of the rows the daily run wrote", () => {
  let wh: Warehouse;
  let compiled: CompiledGraph;
  const check = async (assertion: string) => {
    const run = await runGraph(wh, compiled, { selectors: [assertion], concurrency: 1 });
    const result = run.results.find((r) => r.key === `slice_assertions.${assertion}`);
    expect(result, `${assertion} ran`).toBeDefined();
    return result!;
  };
  const written = (table: string) => `(select * from ${table} where computed_as_of_date = DATE '${NEXT_DAY}' order by 1 limit 1)`;

  beforeAll(async () => {
    wh = await Warehouse.open(dailyPath);
    compiled = await compileForDuckDb(REPO_ROOT, { as_of_date: NEXT_DAY });
  }, 120_000);
  afterAll(async () => wh?.close());

  it("pass after the daily run", async () => {
    for (const assertion of ["int_identity_persons_written_keys_unique", "int_identity_persons_written_rows_valid", "int_persons_written_keys_unique",
      "int_persons_written_rows_valid", "int_identity_persons_converged"]) {
      expect((await check(assertion)).status, assertion).toBe("succeeded");
    }
  }, 120_000);

  it("fail on a written duplicate, a written row without a person, and a written node left in another person", async () => {
    await wh.run(`insert into ${PERSONS} select * from ${written(PERSONS)}`);
    expect((await check("int_identity_persons_written_keys_unique")).status).toBe("assertion_failed");
    await wh.run(`insert into intermediate.int_persons select * from ${written("intermediate.int_persons")}`);
    expect((await check("int_persons_written_keys_unique")).status).toBe("assertion_failed");
    await wh.run(`update intermediate.int_persons set person_id = null where person_customer_id = (select person_customer_id from ${written("intermediate.int_persons")})`);
    expect((await check("int_persons_written_rows_valid")).status).toBe("assertion_failed");
    // a written node with a linking identifier moved to a person of its own: its identifier's nodes disagree
    await wh.run(`update ${PERSONS} set person_id = 'p_elsewhere' where node_key = (
      select min(persons.node_key) from ${PERSONS} persons join intermediate.int_identity_edges edges on edges.node_key = persons.node_key
      where persons.computed_as_of_date = DATE '${NEXT_DAY}')`);
    expect((await check("int_identity_persons_converged")).status).toBe("assertion_failed");
    await wh.run(`update ${PERSONS} set anchor_node_key = null where node_key = (select node_key from ${written(PERSONS)})`);
    expect((await check("int_identity_persons_written_rows_valid")).status).toBe("assertion_failed");
  }, 120_000);
});
