/**
 * The CLI wiring: `slice sync meta` and `slice sync s3` read their settings, print progress and leave the
 * destination in the expected state; bad settings end with exit code 1 and a message naming the fix.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { afterAll, afterEach, beforeAll, expect, it, vi } from "vitest";
import { registerSyncCommands } from "../../../src/activation/meta/command.ts";
import { Warehouse } from "../../../src/warehouse/duckdb.ts";
import { type MetaContractServer, startMetaContractServer } from "../../support/meta-contract-server.ts";
import { LocalS3 } from "../s3/local-s3.ts";
import { seedAudience } from "./fixtures.ts";

const dir = mkdtempSync(join(tmpdir(), "slice-sync-cli-"));
const warehousePath = join(dir, "slice.duckdb");
let meta: MetaContractServer;
let s3: LocalS3;
const savedEnv = { ...process.env };

beforeAll(async () => {
  const wh = await Warehouse.open(warehousePath);
  await seedAudience(wh, { audienceId: "cli_audience", destination: "meta", count: 120, holdoutEvery: 0 });
  await seedAudience(wh, { audienceId: "cli_audience", destination: "media_x", count: 30, holdoutEvery: 0 });
  await wh.close();
  meta = await startMetaContractServer({ accessToken: "cli-token", adAccountId: "act_31" });
  s3 = await new LocalS3().start();
});
afterEach(() => {
  process.env = { ...savedEnv };
  process.exitCode = undefined;
  vi.restoreAllMocks();
});
afterAll(async () => {
  await meta.close();
  await s3.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function run(args: string[]): Promise<{ out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(console, "log").mockImplementation((...values) => void out.push(values.join(" ")));
  vi.spyOn(console, "error").mockImplementation((...values) => void err.push(values.join(" ")));
  const program = new Command().exitOverride();
  program.command("sync").description("already registered elsewhere");
  registerSyncCommands(program);
  await program.parseAsync(["node", "slice", ...args]);
  vi.restoreAllMocks();
  return { out: out.join("\n"), err: err.join("\n") };
}

it("slice sync meta syncs with settings from META_* variables and prints one line per batch", async () => {
  Object.assign(process.env, { META_ACCESS_TOKEN: "cli-token", META_AD_ACCOUNT_ID: "act_31", META_GRAPH_BASE_URL: meta.baseUrl });
  const { out } = await run(["sync", "meta", "--audience", "cli_audience", "--warehouse", warehousePath, "--batch-size", "50"]);
  expect(out).toMatch(/add {5}batch {4}1: {5}50 rows sent/);
  expect(out).toMatch(/add {5}batch {4}3: {5}20 rows sent/);
  expect(out).toMatch(/Done: 3 batch\(es\), \+120 -0/);
  expect(meta.audience(meta.audienceIds()[0]).size).toBe(120);
  expect(process.exitCode).toBeUndefined();

  const replaced = await run(["sync", "meta", "--audience", "cli_audience", "--warehouse", warehousePath, "--replace"]);
  expect(replaced.out).toMatch(/\(replace\).*120 members to send/);
  expect(replaced.out).toMatch(/replace batch {4}1: {4}120 rows sent/);
});

it("slice sync meta explains a missing token and exits with 1", async () => {
  delete process.env.META_ACCESS_TOKEN;
  process.env.META_AD_ACCOUNT_ID = "31";
  const { err } = await run(["sync", "meta", "--audience", "cli_audience", "--warehouse", warehousePath]);
  expect(err).toMatch(/META_ACCESS_TOKEN: .*Fix: set META_ACCESS_TOKEN/);
  expect(process.exitCode).toBe(1);
});

it("slice sync meta refuses a typo of an audience before any call to Meta, naming the known audiences", async () => {
  Object.assign(process.env, { META_ACCESS_TOKEN: "cli-token", META_AD_ACCOUNT_ID: "act_31", META_GRAPH_BASE_URL: meta.baseUrl });
  const requestsBefore = meta.requests.length;
  const audiencesBefore = meta.audienceIds().length;
  const { err } = await run(["sync", "meta", "--audience", "cli_audeince", "--warehouse", warehousePath]);
  expect(err).toBe(
    "slice sync meta failed: unknown audience cli_audeince: activation.audience_members has no rows of it for meta. Did you mean cli_audience? " +
      "Known audiences for meta: champions_lookalike_seed, cli_audience, passive_winback, sunday_training_crowd. Fix: pass one of these with --audience (--audience cli_audience); a new audience is added in macros/audiences.ts and built with slice build",
  );
  expect(process.exitCode).toBe(1);
  expect(meta.requests.length).toBe(requestsBefore);
  expect(meta.audienceIds().length).toBe(audiencesBefore);
});

it("slice sync s3 drops to the partner named in the partners file", async () => {
  const partnersFile = join(dir, "partners.yaml");
  writeFileSync(partnersFile, `partners:
  - id: media_x
    kind: s3
    bucket: media-x-drops
    prefix: cli
    region: eu-north-1
    endpoint: ${s3.endpoint}
    forcePathStyle: true
    columns: [extern_id_sha256, email_sha256]
    credentials: { source: env, accessKeyIdEnv: CLI_S3_KEY, secretAccessKeyEnv: CLI_S3_SECRET }
`);
  Object.assign(process.env, { CLI_S3_KEY: "S3RVER", CLI_S3_SECRET: "S3RVER" });
  const { out } = await run(["sync", "s3", "--audience", "cli_audience", "--partner", "media_x", "--partners-file", partnersFile, "--warehouse", warehousePath]);
  expect(out).toMatch(/manifest cli\/audience=cli_audience\/date=2026-11-20\/manifest.json: 30 rows in 1 part/);
  expect(await s3.keys("cli/")).toEqual([
    expect.stringMatching(/^cli\/audience=cli_audience\/date=2026-11-20\/drop=[0-9a-f]{16}\/part-00000\.csv\.gz$/),
    "cli/audience=cli_audience/date=2026-11-20/manifest.json",
  ]);

  // a day without a snapshot would write a valid manifest of 0 rows, emptying the partner's list: refused
  const before = await s3.keys("cli/");
  const empty = await run(["sync", "s3", "--audience", "cli_audience", "--partner", "media_x", "--partners-file", partnersFile, "--warehouse", warehousePath, "--date", "2026-11-21"]);
  expect(empty.err).toContain(
    "slice sync s3 failed: refused: the drop of cli_audience to media_x for 2026-11-21 would hold 0 rows: activation.audience_members has no snapshot of cli_audience for media_x on 2026-11-21 (the latest is 2026-11-20). " +
      "A partner that treats each drop as the full list would empty the audience. Fix: drop a date that has a snapshot (--date 2026-11-20, or leave --date out for the latest), or pass --allow-empty if the audience is meant to be empty",
  );
  expect(process.exitCode).toBe(1);
  expect(await s3.keys("cli/")).toEqual(before);
  const ledgerRow = async () => {
    const wh = await Warehouse.open(warehousePath);
    try {
      return (await wh.query("select status, error from activation.sync_ledger where destination = 'media_x' order by started_at desc limit 1"))[0];
    } finally {
      await wh.close();
    }
  };
  expect(await ledgerRow()).toEqual({ status: "failed", error: expect.stringMatching(/^refused: the drop of cli_audience to media_x for 2026-11-21 would hold 0 rows/) });

  process.exitCode = undefined;
  const allowed = await run(["sync", "s3", "--audience", "cli_audience", "--partner", "media_x", "--partners-file", partnersFile, "--warehouse", warehousePath, "--date", "2026-11-21", "--allow-empty"]);
  expect(allowed.out).toMatch(/manifest cli\/audience=cli_audience\/date=2026-11-21\/manifest.json: 0 rows in 1 part/);
  expect(process.exitCode).toBeUndefined();
  expect(await ledgerRow()).toEqual({ status: "succeeded", error: null });

  const unknown = await run(["sync", "s3", "--audience", "cli_audience", "--partner", "media_q", "--partners-file", partnersFile, "--warehouse", warehousePath]);
  expect(unknown.err).toMatch(/no partner with id "media_q" \(known: media_x\)/);
  expect(process.exitCode).toBe(1);
});
