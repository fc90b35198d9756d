/**
 * `slice privacy forget | export | status | purge-raw`: erasure and access requests from the command line
 * (docs/privacy.md). A request names the person by exactly one identifier.
 */
import { readFile, writeFile } from "node:fs/promises";
import type { Command } from "commander";
import * as privacy from "../../macros/privacy.ts";
import { RAW_SCHEMA } from "../../macros/raw_contract.ts";
import { dialect } from "../../macros/sql.ts";
import { addWarehouseOptions, warehouseConfigFromFlags, type WarehouseFlags } from "../warehouse/config.ts";
import { forgetMany, parseRequestsFile } from "./batch.ts";
import { exportPerson } from "./export.ts";
import { callerRequestIdSchema, forget, type RequestIdentifier, requestIdentifierSchema, requestStatus } from "./forget.ts";
import { openPrivacyWarehouse, type PrivacyWarehouse } from "./warehouse.ts";

/** Command-line flags that name a person, and what each becomes. */
export const IDENTIFIER_FLAGS: { flag: string; option: string; type: RequestIdentifier["type"]; prefix?: string; help: string }[] = [
  { flag: "--email <address>", option: "email", type: "email", help: "e-mail address as the person gives it" },
  { flag: "--phone <number>", option: "phone", type: "phone", help: "phone number, national (040 …) or international (+358 …)" },
  { flag: "--customer-id <id>", option: "customerId", type: "customer_id", help: "customer account id" },
  { flag: "--loyalty-card <number>", option: "loyaltyCard", type: "loyalty_card", help: "loyalty card number" },
  { flag: "--device-id <id>", option: "deviceId", type: "device_id", help: "app installation or browser id" },
  { flag: "--app-id <id>", option: "appId", type: "source_record", prefix: "app:", help: "id of the person's record in the app" },
  { flag: "--delivery-partner-id <id>", option: "deliveryPartnerId", type: "source_record", prefix: "delivery_partner:", help: "id of the person's record at a delivery partner" },
];

/** Exactly one identifier flag, validated; errors name the flags and the fix. */
export function identifierFromFlags(opts: Record<string, unknown>): RequestIdentifier {
  const given = IDENTIFIER_FLAGS.filter((f) => typeof opts[f.option] === "string");
  const names = IDENTIFIER_FLAGS.map((f) => f.flag.split(" ")[0]).join(", ");
  if (given.length !== 1) {
    throw new Error(`${given.length === 0 ? "no identifier given" : `${given.map((f) => f.flag.split(" ")[0]).join(" and ")} given together`}. Fix: name the person by exactly one of ${names}.`);
  }
  const [flag] = given;
  const parsed = requestIdentifierSchema.safeParse({ type: flag.type, value: `${flag.prefix ?? ""}${String(opts[flag.option]).trim()}` });
  if (!parsed.success || String(opts[flag.option]).trim() === "") {
    throw new Error(`${flag.flag.split(" ")[0]}: ${parsed.success ? "is empty" : parsed.error.issues[0].message}. Fix: give the ${flag.help}.`);
  }
  return parsed.data;
}

function addIdentifierFlags(command: Command): Command {
  for (const f of IDENTIFIER_FLAGS) command.option(f.flag, f.help);
  return addWarehouseOptions(command);
}

/** The DuckDB file (default) or BigQuery (--bigquery-project …, --warehouse-config), as the syncs take it. */
async function withWarehouse<T>(flags: WarehouseFlags, work: (wh: PrivacyWarehouse) => Promise<T>): Promise<T> {
  const opened = await openPrivacyWarehouse(warehouseConfigFromFlags(flags));
  try {
    return await work(opened.warehouse);
  } finally {
    await opened.close();
  }
}

function fail(command: string, error: unknown): void {
  console.error(`slice privacy ${command} failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}

/** The documented DML that deletes suppressed persons from raw on BigQuery (docs/privacy.md). */
export function bigQueryRawPurgeSql(project: string): string {
  const name = (dataset: string, table: string) => `\`${project}.${dataset}.${table}\``;
  const statements = privacy.rawPurgeStatements((table) => name(RAW_SCHEMA, table), name(RAW_SCHEMA, "privacy_suppressions"), dialect("bigquery"));
  return `${statements.join(";\n\n")};\n`;
}

export function registerPrivacyCommands(program: Command): void {
  const privacyCommand = program.command("privacy").description("Erasure and access requests: forget a person, export what is held about them (docs/privacy.md)");

  addIdentifierFlags(
    privacyCommand
      .command("forget")
      .description("Record an erasure request: resolve the person, put their hashed identifiers on the suppression list, open the ledger entry. The next build, sync and drop carry it out.")
      .option("--file <requests.csv>", "many requests at once: a CSV with header kind,value, one identifier per line (kind: email, phone, customer_id, loyalty_card, device_id, app_id, delivery_partner_id, source_record); running the same file again adds nothing for persons whose request is still open")
      .option("--request-id <uuid>", "your idempotency key, which becomes the request id: give the same UUID again to retry a request whose answer was lost (without it, the person's open request is found)"),
  ).action(async (opts) => {
    try {
      const receivedVia = `cli:${process.env.USER ?? "unknown"}`;
      if (opts.file !== undefined) {
        const given = IDENTIFIER_FLAGS.filter((f) => typeof opts[f.option] === "string").map((f) => f.flag.split(" ")[0]);
        if (given.length > 0) throw new Error(`--file and ${given.join(", ")} given together. Fix: put every identifier in the file, or leave --file out`);
        if (opts.requestId !== undefined) throw new Error("--file and --request-id given together. Fix: leave --request-id out; a file's requests are recognized by person, so running the file again adds nothing twice");
        const text = await readFile(opts.file, "utf8").catch((error: Error) => {
          throw new Error(`${opts.file}: cannot read the requests file (${error.message}). Fix: check the --file path`);
        });
        const rows = parseRequestsFile(text, opts.file);
        const t0 = performance.now();
        const result = await withWarehouse(opts, (wh) => forgetMany(wh, rows, { receivedVia }));
        const created = result.requests.filter((r) => r.created);
        const accounts = created.reduce((sum, r) => sum + r.accounts, 0);
        const existing = result.requests.length - created.length;
        console.log(
          `${created.length} erasure request(s) recorded ${result.receivedAt} UTC from ${rows.length} line(s) of ${opts.file} ` +
            `${existing > 0 ? `(${existing} more already in the ledger and still open, unchanged) ` : ""}` +
            `in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${accounts} account(s), ${result.identifiers} hashed identifier(s) on the suppression list` +
            `${result.unusableLines.length > 0 ? `; not usable (normalize to nothing), not recorded: line(s) ${result.unusableLines.join(", ")}` : ""}.\n` +
            `Request ids by line: ${result.requests.map((r) => `${r.lines.join("+")}=${r.requestId}`).join(" ")}\n` +
            "Next: slice build (removes them everywhere), then the syncs and drops; slice privacy status <request-id> shows the progress.",
        );
        if (result.unusableLines.length > 0) process.exitCode = 1;
        return;
      }
      const identifier = identifierFromFlags(opts);
      const key = opts.requestId === undefined ? undefined : callerRequestIdSchema.safeParse(opts.requestId);
      if (key && !key.success) throw new Error(`--request-id: ${key.error.issues[0].message}. Fix: generate one (uuidgen) per request and give the same one to retry it`);
      const result = await withWarehouse(opts, (wh) => forget(wh, identifier, { receivedVia, requestId: opts.requestId }));
      console.log(
        `Erasure request ${result.requestId} ${result.created ? "recorded" : "was already in the ledger (nothing written again), received"} ${result.receivedAt} UTC: ${result.accounts} account(s), ${result.records} other record(s), ` +
          `${result.identifiers.length} hashed identifier(s) on the suppression list.\n` +
          `Pending: ${result.steps.join(", ")}. Next: slice build (removes the person everywhere), then the syncs and drops; ` +
          `slice privacy status ${result.requestId} shows the progress.`,
      );
    } catch (error) {
      fail("forget", error);
    }
  });

  addIdentifierFlags(
    privacyCommand.command("export").description("Everything held about a person, as JSON in plain words (access and portability)"),
  )
    .option("--out <file>", "write the JSON here instead of printing it")
    .action(async (opts) => {
      try {
        const identifier = identifierFromFlags(opts);
        const document = await withWarehouse(opts, (wh) => exportPerson(wh, identifier));
        const text = `${JSON.stringify(document, null, 2)}\n`;
        if (opts.out) {
          await writeFile(opts.out, text);
          console.log(`Wrote ${opts.out} (${document.found ? "person found" : "nobody found"}).`);
        } else process.stdout.write(text);
      } catch (error) {
        fail("export", error);
      }
    });

  addWarehouseOptions(
    privacyCommand
      .command("status <requestId>")
      .description("An erasure request and when each system and partner completed it"),
  )
    .action(async (requestId: string, opts) => {
      try {
        const status = await withWarehouse(opts, (wh) => requestStatus(wh, requestId));
        if (!status) throw new Error(`no erasure request ${requestId} in the ledger (privacy.privacy_requests). Fix: use the id slice privacy forget printed.`);
        console.log(JSON.stringify(status, null, 2));
      } catch (error) {
        fail("status", error);
      }
    });

  privacyCommand
    .command("purge-raw")
    .description("Print the DML that deletes suppressed persons from the raw dataset on BigQuery (on DuckDB slice build runs it)")
    .requiredOption("--bigquery-project <id>", "project holding the raw dataset")
    .action((opts) => {
      try {
        if (!/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/.test(opts.bigqueryProject)) {
          throw new Error(`--bigquery-project: "${opts.bigqueryProject}" is not a BigQuery project id. Fix: use the project id (6-30 lower-case letters, digits or -), e.g. slice-prod.`);
        }
        process.stdout.write(bigQueryRawPurgeSql(opts.bigqueryProject));
      } catch (error) {
        fail("purge-raw", error);
      }
    });
}
