/**
 * Value-based lookalike seeds and lookalike creation against the Meta contract server: the seed audience is
 * created value-based and every member arrives with its LOOKALIKE_VALUE; a lookalike (country, ratio) is
 * created once from it and recorded in the warehouse and the ledger; and the contract server refuses what
 * Meta refuses of both.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { afterEach, describe, expect, it, vi } from "vitest";
import { registerSyncCommands } from "../../../src/activation/meta/command.ts";
import { AUDIENCES, lookalikeProblems } from "../../../macros/audiences.ts";
import { asActivationWarehouse, readLedger } from "../../../src/activation/ledger.ts";
import { createLookalike, declaredLookalikes, lookalikeDestination } from "../../../src/activation/meta/lookalike.ts";
import { lookalikeValue, prepareBatch } from "../../../src/activation/meta/payload.ts";
import { declaresSeedValue, syncMeta } from "../../../src/activation/meta/sync.ts";
import { Warehouse } from "../../../src/warehouse/duckdb.ts";
import { type MetaContractServer, startMetaContractServer } from "../../support/meta-contract-server.ts";
import { customerIdOf, externIdOf, seedAudience, seedValueOf, sha256, withdrawMember } from "./fixtures.ts";

const TOKEN = "seed-token";
const SEED = "top_value_seed";
const open: { wh: Warehouse; server: MetaContractServer }[] = [];
afterEach(async () => {
  for (const setup of open.splice(0)) {
    await setup.server.close();
    await setup.wh.close();
  }
});

async function setup(count = 250) {
  const wh = await Warehouse.open(":memory:");
  await seedAudience(wh, { audienceId: SEED, destination: "meta", count, values: true });
  const server = await startMetaContractServer({ accessToken: TOKEN, adAccountId: "act_321" });
  open.push({ wh, server });
  const config = { accessToken: TOKEN, adAccountId: "act_321", graphBaseUrl: server.baseUrl, retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5, usagePauseMs: 0 } };
  return { wh, server, config };
}

/** extern id -> value of the non-holdout members still in the warehouse audience. */
async function expectedValues(wh: Warehouse): Promise<Map<string, number>> {
  const rows = await wh.query<{ customer_id: string; seed_value_eur: string }>(
    "select customer_id, cast(seed_value_eur as varchar) as seed_value_eur from activation.audience_members where audience_id = $a and not is_holdout",
    { a: SEED },
  );
  return new Map(rows.map((row) => [externIdOf(row.customer_id), Number(row.seed_value_eur)]));
}

/** extern id -> the value activation.synced_member_values holds for the member. */
async function syncedValues(wh: Warehouse): Promise<Map<string, number>> {
  const rows = await wh.query<{ extern_id_sha256: string; seed_value_eur: string }>(
    `select s.extern_id_sha256, cast(v.seed_value_eur as varchar) as seed_value_eur
     from activation.synced_members s join activation.synced_member_values v using (destination, audience_id, member_id)
     where s.audience_id = $a`,
    { a: SEED },
  );
  return new Map(rows.map((row) => [row.extern_id_sha256, Number(row.seed_value_eur)]));
}

describe("the audience config", () => {
  it("declares champions_lookalike_seed a value seed with a lookalike in Finland", () => {
    expect(declaresSeedValue("champions_lookalike_seed")).toBe(true);
    expect(declaresSeedValue("passive_winback")).toBe(false);
    expect(declaredLookalikes("champions_lookalike_seed")).toEqual([{ country: "FI", ratio: 0.01 }]);
    expect(AUDIENCES.find((audience) => audience.id === "champions_lookalike_seed")?.value).toBe("clv_12m_eur");
  });

  it.each([
    [{ country: "FI", ratio: 0.01 }, []],
    [{ country: "SE", ratio: 0.2 }, []],
    [{ country: "FI", ratio: 0.07 }, []],
    [{ country: "FI", ratio: 0.25 }, [/ratio 0.25 is outside/]],
    [{ country: "FI", ratio: 0.005 }, [/ratio 0.005 is outside/]],
    [{ country: "FI", ratio: 0.015 }, [/steps of 0.01/]],
    [{ country: "fi", ratio: 0.01 }, [/country "fi" is not an ISO 3166-1 alpha-2 code/]],
    [{ country: "FIN", ratio: 0.01 }, [/country "FIN"/]],
  ])("lookalike spec %j", (spec, expected) => {
    const problems = lookalikeProblems(spec);
    expect(problems).toHaveLength(expected.length);
    expected.forEach((pattern, index) => expect(problems[index]).toMatch(pattern));
  });
});

describe("LOOKALIKE_VALUE in the payload", () => {
  it.each([
    [12.5, 12.5],
    [0, 0],
    [1234.567, 1234.57],
    [-0.01, undefined],
    [Number.NaN, undefined],
    [null, undefined],
  ])("value %s is sent as %s", (value, expected) => {
    expect(lookalikeValue(value)).toBe(expected);
  });

  it("ends the schema with LOOKALIKE_VALUE as a number and leaves out a row without a value", () => {
    const row = { member_id: "m1", email_sha256: sha256("a@example.fi"), seed_value_eur: 42.1 };
    const prepared = prepareBatch([row, { member_id: "m2", email_sha256: sha256("b@example.fi"), seed_value_eur: null }], { values: true });
    expect(prepared.payload.schema.at(-1)).toBe("LOOKALIKE_VALUE");
    expect(prepared.payload.data).toEqual([[...Array(1).fill(""), sha256("a@example.fi"), ...Array(11).fill(""), 42.1]]);
    expect(prepared.invalid).toEqual([{ memberId: "m2", problem: "no_seed_value" }]);
    expect(prepareBatch([row]).payload.schema).not.toContain("LOOKALIKE_VALUE");
  });
});

describe("value-based seed sync", () => {
  it("creates a value-based audience and sends every member's value, incrementally and by replace", async () => {
    const { wh, server, config } = await setup();
    const first = await syncMeta(wh, { audienceId: SEED, config, batchSize: 100, valueBased: true });
    expect(first).toMatchObject({ rowsAdded: 250, rowsInvalid: 0, batchesSent: 3 });
    const metaId = first.externalAudienceId;
    expect(server.audience(metaId)).toMatchObject({ subtype: "CUSTOM", isValueBased: true, size: 250 });
    expect(server.audience(metaId).description).toContain(`[slice-audience meta/${SEED} value-based]`);
    const values = server.memberValues(metaId);
    expect(values).toEqual(await expectedValues(wh));
    expect(values.get(externIdOf(customerIdOf(2)))).toBe(seedValueOf(2));
    expect(values.get(externIdOf(customerIdOf(4)))).toBe(0);

    // A withdrawal and a new member: the removal needs no value, the add carries its own.
    await withdrawMember(wh, SEED, customerIdOf(3));
    await seedAudience(wh, { audienceId: SEED, destination: "meta", count: 1, firstIndex: 9_001, values: true });
    const second = await syncMeta(wh, { audienceId: SEED, config, batchSize: 100, valueBased: true });
    expect(second).toMatchObject({ rowsAdded: 1, rowsRemoved: 1, externalAudienceId: metaId });
    expect(server.memberValues(metaId)).toEqual(await expectedValues(wh));

    // A changed value is a change: the incremental sync removes the member and adds it with the new value.
    await wh.query("update activation.audience_members set seed_value_eur = 777.77 where customer_id = $c", { c: customerIdOf(5) });
    const changed = await syncMeta(wh, { audienceId: SEED, config, batchSize: 100, valueBased: true });
    expect(changed).toMatchObject({ rowsAdded: 1, rowsRemoved: 1, externalAudienceId: metaId });
    expect(server.memberValues(metaId).get(externIdOf(customerIdOf(5)))).toBe(777.77);
    expect(server.memberValues(metaId)).toEqual(await expectedValues(wh));
    expect(await syncedValues(wh)).toEqual(await expectedValues(wh));
    expect(await syncMeta(wh, { audienceId: SEED, config, batchSize: 100, valueBased: true })).toMatchObject({ rowsAdded: 0, rowsRemoved: 0, batchesSent: 0 });

    // A replace sends every value and leaves the synced values equal to them.
    await wh.run("update activation.audience_members set seed_value_eur = seed_value_eur + 1");
    const replace = await syncMeta(wh, { audienceId: SEED, config, batchSize: 100, valueBased: true, mode: "replace" });
    expect(replace).toMatchObject({ rowsAdded: 250, externalAudienceId: metaId });
    expect(server.memberValues(metaId).get(externIdOf(customerIdOf(5)))).toBe(778.77);
    expect(server.memberValues(metaId)).toEqual(await expectedValues(wh));
    expect(await syncedValues(wh)).toEqual(await expectedValues(wh));
    // The value snapshot is scratch: nothing is left once the runs end.
    expect(await wh.query("select count(*)::int as n from activation.sync_change_values")).toEqual([{ n: 0 }]);
  });

  it("refuses to send values to an audience Slice created before it was a value seed", async () => {
    const { wh, server, config } = await setup();
    const plain = await syncMeta(wh, { audienceId: SEED, config, batchSize: 100, valueBased: false });
    expect(server.audience(plain.externalAudienceId).isValueBased).toBe(false);
    await expect(syncMeta(wh, { audienceId: SEED, config, batchSize: 100, valueBased: true })).rejects.toThrow(
      /is not value-based .*Meta cannot make an existing audience value-based\. Fix: delete its row from activation.destination_audiences/,
    );
    // Following the fix: a new, value-based audience (the plain one's marker is not the seed's).
    await wh.query("delete from activation.destination_audiences where audience_id = $a", { a: SEED });
    const seed = await syncMeta(wh, { audienceId: SEED, config, batchSize: 100, valueBased: true, mode: "replace" });
    expect(seed.externalAudienceId).not.toBe(plain.externalAudienceId);
    expect(server.audience(seed.externalAudienceId)).toMatchObject({ isValueBased: true, size: 250 });
  });
});

describe("lookalike creation", () => {
  it("creates the lookalike once, records it, and finds it by its marker when the record is lost", async () => {
    const { wh, server, config } = await setup();
    const spec = { country: "FI", ratio: 0.01 };
    await expect(createLookalike(wh, { audienceId: SEED, spec, config })).rejects.toThrow(/has no Meta audience yet .*Fix: sync the seed first/);
    expect(server.audienceIds()).toHaveLength(0);

    const seed = await syncMeta(wh, { audienceId: SEED, config, batchSize: 100, valueBased: true });
    const created = await createLookalike(wh, { audienceId: SEED, spec, config });
    expect(created).toMatchObject({ source: "created", seedAudienceId: seed.externalAudienceId, destination: "meta:lookalike:FI:0.01" });
    expect(server.audience(created.lookalikeAudienceId)).toMatchObject({
      subtype: "LOOKALIKE",
      originAudienceId: seed.externalAudienceId,
      lookalikeSpec: { type: "custom_ratio", country: "FI", ratio: 0.01 },
      isValueBased: false,
    });
    expect(await readLedger(asActivationWarehouse(wh), created.syncId)).toMatchObject({
      destination: "meta:lookalike:FI:0.01",
      audience_id: SEED,
      mode: "lookalike",
      status: "succeeded",
      batches_sent: 1,
    });

    const creates = () => server.requests.filter((request) => request.method === "POST" && request.path.endsWith("/customaudiences")).length;
    const before = creates();
    expect(await createLookalike(wh, { audienceId: SEED, spec, config })).toMatchObject({ source: "warehouse", lookalikeAudienceId: created.lookalikeAudienceId, requests: 0 });
    await wh.query("delete from activation.destination_audiences where destination = $d", { d: lookalikeDestination("meta", spec) });
    expect(await createLookalike(wh, { audienceId: SEED, spec, config })).toMatchObject({ source: "adopted", lookalikeAudienceId: created.lookalikeAudienceId });
    expect(creates()).toBe(before);

    const wider = await createLookalike(wh, { audienceId: SEED, spec: { country: "FI", ratio: 0.05 }, config });
    expect(wider.source).toBe("created");
    expect(server.audienceIds()).toHaveLength(3);
    const ledger = await wh.query<{ status: string; mode: string }>("select status, mode from activation.sync_ledger where mode = 'lookalike' order by started_at");
    expect(ledger.map((row) => row.status)).toEqual(["failed", "succeeded", "succeeded", "succeeded", "succeeded"]);
  });

  it("closes a lookalike run a killed process left running, saying the marker prevents a second audience", async () => {
    const { wh, server, config } = await setup();
    await syncMeta(wh, { audienceId: SEED, config, batchSize: 100, valueBased: true });
    const spec = { country: "FI", ratio: 0.01 };
    await wh.query(
      `insert into activation.sync_ledger values ('killed-run', $d, $a, 'lookalike', current_timestamp, null, 'running', 0, 0, 0, 0, 0, null, 'test')`,
      { d: lookalikeDestination("meta", spec), a: SEED },
    );
    const result = await createLookalike(wh, { audienceId: SEED, spec, config });
    const [killed] = await wh.query<{ status: string; error: string }>("select status, error from activation.sync_ledger where sync_id = 'killed-run'");
    expect(killed.status).toBe("failed");
    expect(killed.error).toBe(`interrupted: the process stopped before the lookalike was recorded; if Meta created it, run ${result.syncId} found it by its marker instead of creating another`);
    expect(server.audienceIds().filter((id) => server.audience(id).subtype === "LOOKALIKE")).toHaveLength(1);
  });

  it("fails with Meta's refusal when the seed is too small, and says so in the ledger", async () => {
    const { wh, config } = await setup(60);
    await syncMeta(wh, { audienceId: SEED, config, batchSize: 100, valueBased: true });
    await expect(createLookalike(wh, { audienceId: SEED, spec: { country: "FI", ratio: 0.01 }, config })).rejects.toThrow(/holds 60 people; a lookalike needs at least 100/);
    const [row] = await wh.query<{ status: string; error: string }>("select status, error from activation.sync_ledger where mode = 'lookalike'");
    expect(row.status).toBe("failed");
    expect(row.error).toMatch(/at least 100/);
  });

  it("refuses a spec outside Meta's range before any request", async () => {
    const { wh, server, config } = await setup();
    await expect(createLookalike(wh, { audienceId: SEED, spec: { country: "FI", ratio: 0.3 }, config })).rejects.toThrow(/0.01 to 0.20/);
    expect(server.requests).toHaveLength(0);
  });
});

describe("the contract server refuses what Meta refuses of seeds and lookalikes", () => {
  let server: MetaContractServer;
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${server.baseUrl}/v23.0${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: response.status, json: (await response.json()) as Record<string, any> };
  };
  const create = (body: Record<string, unknown>) => call("POST", "/act_321/customaudiences", { name: "x", ...body });
  const rows = (count: number, value: (index: number) => unknown) =>
    Array.from({ length: count }, (_, index) => [sha256(`e${index}@example.fi`), value(index)]);

  it("enforces value-based and lookalike rules", async () => {
    server = await startMetaContractServer({ accessToken: TOKEN, adAccountId: "act_321" });
    open.push({ wh: await Warehouse.open(":memory:"), server });
    const customer = { subtype: "CUSTOM", customer_file_source: "USER_PROVIDED_ONLY" };
    const plain = (await create(customer)).json.id as string;
    const seed = (await create({ ...customer, is_value_based: true })).json.id as string;
    const small = (await create({ ...customer, is_value_based: 1 })).json.id as string;
    expect((await create({ ...customer, is_value_based: "yes" })).json.error).toMatchObject({ code: 100, message: expect.stringMatching(/is_value_based/) });

    const valuePayload = (count: number, value: (index: number) => unknown) => ({ payload: { schema: ["EMAIL", "LOOKALIKE_VALUE"], data: rows(count, value) } });
    expect((await call("POST", `/${plain}/users`, valuePayload(1, () => 1))).json.error.message).toMatch(/only be sent to a value-based custom audience/);
    expect((await call("POST", `/${seed}/users`, { payload: { schema: ["EMAIL"], data: [[sha256("a")]] } })).json.error.message).toMatch(/must include LOOKALIKE_VALUE/);
    expect((await call("POST", `/${seed}/users`, { payload: { schema: ["LOOKALIKE_VALUE"], data: [[1]] } })).json.error.message).toMatch(/at least one identifier/);
    const mixed = await call("POST", `/${seed}/users`, valuePayload(4, (index) => [10, -1, "12", 0][index]));
    expect(mixed.json).toMatchObject({ num_received: 4, num_invalid_entries: 2 });
    expect(Object.values(mixed.json.invalid_entry_samples)).toContain("LOOKALIKE_VALUE is not a non-negative number");
    expect(server.audience(seed).size).toBe(2);
    // Removing by identifiers alone is accepted.
    expect((await call("DELETE", `/${seed}/users`, { payload: { schema: ["EMAIL"], data: [[sha256("e0@example.fi")]] } })).status).toBe(200);
    await call("POST", `/${seed}/users`, valuePayload(150, (index) => index));
    await call("POST", `/${small}/users`, valuePayload(99, (index) => index));

    const lookalike = (spec: unknown, origin: unknown = seed, extra: Record<string, unknown> = {}) =>
      create({ subtype: "LOOKALIKE", origin_audience_id: origin, lookalike_spec: spec, ...extra });
    const refusals: [() => Promise<{ json: Record<string, any> }>, RegExp | number][] = [
      [() => lookalike({ country: "FI", ratio: 0.25 }), /ratio must be between 0.01 and 0.20/],
      [() => lookalike({ country: "FI", ratio: 0 }), /ratio must be between/],
      [() => lookalike({ country: "FI", ratio: 0.015 }), /steps of 0.01/],
      [() => lookalike({ country: "FI", ratio: "0.01" }), /ratio must be between/],
      [() => lookalike({ country: "XX", ratio: 0.01 }), /ISO 3166-1 alpha-2/],
      [() => lookalike({ country: "fi", ratio: 0.01 }), /ISO 3166-1 alpha-2/],
      [() => lookalike({ ratio: 0.01 }), /ISO 3166-1 alpha-2/],
      [() => lookalike({ country: "FI", ratio: 0.01, type: "best" }), /type must be custom_ratio, similarity or reach/],
      [() => lookalike(undefined), /lookalike_spec is required/],
      [() => lookalike({ country: "FI", ratio: 0.01 }, "424242"), 33],
      [() => lookalike({ country: "FI", ratio: 0.01 }, null), /origin_audience_id must be/],
      [() => lookalike({ country: "FI", ratio: 0.01 }, small), /holds 99 people; a lookalike needs at least 100/],
      [() => lookalike({ country: "FI", ratio: 0.01 }, seed, { is_value_based: true }), /is_value_based applies to a customer-file seed/],
    ];
    for (const [request, expected] of refusals) {
      const { json } = await request();
      expect(json.error?.code).toBe(100);
      if (typeof expected === "number") expect(json.error.error_subcode).toBe(expected);
      else expect(json.error.message).toMatch(expected);
    }
    const made = await lookalike(JSON.stringify({ type: "custom_ratio", country: "SE", ratio: 0.2 }));
    expect(server.audience(made.json.id)).toMatchObject({ subtype: "LOOKALIKE", originAudienceId: seed, lookalikeSpec: { country: "SE", ratio: 0.2 } });
    expect((await lookalike({ country: "FI", ratio: 0.01 }, made.json.id)).json.error.message).toMatch(/is a lookalike; a lookalike's seed must be a custom audience/);
    expect((await call("POST", `/${made.json.id}/users`, valuePayload(1, () => 1))).json.error.message).toMatch(/is a lookalike audience/);
    expect((await call("GET", `/${seed}`)).json).toMatchObject({ subtype: "CUSTOM", is_value_based: true });
  });
});

describe("slice sync meta-lookalike", () => {
  it("syncs the configured seed with its values and creates the lookalikes macros/audiences.ts declares", async () => {
    const dir = mkdtempSync(join(tmpdir(), "slice-lookalike-cli-"));
    const warehousePath = join(dir, "slice.duckdb");
    const seedWh = await Warehouse.open(warehousePath);
    await seedAudience(seedWh, { audienceId: "champions_lookalike_seed", destination: "meta", count: 120, values: true });
    await seedWh.close();
    const server = await startMetaContractServer({ accessToken: TOKEN, adAccountId: "act_321" });
    const saved = { ...process.env };
    Object.assign(process.env, { META_ACCESS_TOKEN: TOKEN, META_AD_ACCOUNT_ID: "act_321", META_GRAPH_BASE_URL: server.baseUrl });
    const run = async (args: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      vi.spyOn(console, "log").mockImplementation((...values) => void out.push(values.join(" ")));
      vi.spyOn(console, "error").mockImplementation((...values) => void err.push(values.join(" ")));
      const program = new Command().exitOverride();
      registerSyncCommands(program);
      await program.parseAsync(["node", "slice", ...args]);
      vi.restoreAllMocks();
      return { out: out.join("\n"), err: err.join("\n") };
    };
    try {
      await run(["sync", "meta", "--audience", "champions_lookalike_seed", "--warehouse", warehousePath]);
      const seedId = server.audienceIds()[0];
      expect(server.audience(seedId)).toMatchObject({ isValueBased: true, size: 120 });
      expect([...server.memberValues(seedId).values()].some((value) => value > 0)).toBe(true);

      const made = await run(["sync", "meta-lookalike", "--audience", "champions_lookalike_seed", "--warehouse", warehousePath]);
      expect(made.out).toMatch(/Lookalike FI 0\.01 of champions_lookalike_seed \(seed \d+\): Meta audience \d+ \(created\)/);
      const again = await run(["sync", "meta-lookalike", "--audience", "champions_lookalike_seed", "--warehouse", warehousePath]);
      expect(again.out).toMatch(/\(warehouse\)/);
      expect(server.audienceIds()).toHaveLength(2);
      expect(process.exitCode).toBeUndefined();

      const half = await run(["sync", "meta-lookalike", "--audience", "champions_lookalike_seed", "--warehouse", warehousePath, "--country", "FI"]);
      expect(half.err).toMatch(/--country and --ratio go together/);
      expect(process.exitCode).toBe(1);
    } finally {
      process.env = saved;
      process.exitCode = undefined;
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
