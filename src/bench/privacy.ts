/**
 * `npm run bench -- --only privacy [--customers N] [--warehouse built.duckdb]`: erasure and access at scale
 * (docs/privacy.md), on a built warehouse: a copy of the one given, else N customers generated and built.
 *
 * 1. an access export of one person;
 * 2. a Meta sync of the smallest Meta audience and an S3 drop of the smallest S3 audience, against the
 *    sandbox's local servers (the Meta contract server, s3rver), so partners hold the persons;
 * 3. `slice privacy forget --file` of 1,000 persons (half of them audience members, named by e-mail or
 *    phone when they have one, else by customer id), resolved in one pass;
 * 4. the next run (slice build as of the same date), which keeps them out of staging and purges history;
 * 5. the next Meta sync (removes by the hashes last sent) and S3 drop (the deletions file).
 *
 * Mutates its copy of the warehouse; writes bench/results/<date>-privacy-<N>.json.
 */
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { syncMeta } from "../activation/meta/sync.ts";
import { dropToS3 } from "../activation/s3/drop.ts";
import type { S3PartnerSettings } from "../activation/partners.ts";
import { forgetMany, type FileRequest } from "../privacy/batch.ts";
import { exportPerson } from "../privacy/export.ts";
import { build } from "../runner/build.ts";
import { SANDBOX_DEFAULTS, startSandbox } from "../sandbox/sandbox.ts";
import { Warehouse } from "../warehouse/duckdb.ts";

export interface PrivacyBenchOptions {
  customers: number;
  seed: number;
  /** A built warehouse to copy (never written); else one is generated and built. */
  warehouse?: string;
  persons?: number;
  runStep: (step: string, args: string[]) => Promise<Record<string, unknown> & { seconds: number; peak_rss_mb?: number }>;
}

const seconds = (t0: number) => (performance.now() - t0) / 1000;

/** The audience of `kind` with the fewest members (>0), so the bench measures erasure, not a bulk upload. */
async function smallestAudience(wh: Warehouse, destination: string): Promise<{ audience_id: string; members: number } | null> {
  const rows = await wh.query<{ audience_id: string; members: string }>(
    `select audience_id, count(*) as members from activation.audience_members where destination = $d and not is_holdout group by 1 having count(*) > 0 order by 2, 1 limit 1`,
    { d: destination },
  );
  return rows[0] ? { audience_id: rows[0].audience_id, members: Number(rows[0].members) } : null;
}

export async function runPrivacyBench(options: PrivacyBenchOptions): Promise<Record<string, unknown>> {
  const work = resolve("bench/work");
  mkdirSync(work, { recursive: true });
  // not privacy.duckdb: DuckDB names the catalog after the file, which would clash with the privacy schema
  const db = join(work, `erasure-bench-${options.customers}.duckdb`);
  rmSync(db, { force: true });
  rmSync(`${db}.wal`, { force: true });
  const log = (text: string) => console.log(text);
  const common = ["--customers", String(options.customers), "--seed", String(options.seed)];
  const result: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: { cores: cpus().length, cpu: cpus()[0]?.model, memory_gib: Math.round(totalmem() / 2 ** 30), node: process.version },
    customers: options.customers,
  };
  let t = performance.now();
  if (options.warehouse) {
    if (!existsSync(options.warehouse)) throw new Error(`--warehouse ${options.warehouse} does not exist. Fix: give a built warehouse file, or leave it out to generate and build --customers`);
    copyFileSync(options.warehouse, db);
    if (existsSync(`${options.warehouse}.wal`)) copyFileSync(`${options.warehouse}.wal`, `${db}.wal`);
    log(`Privacy benchmark on a copy of ${options.warehouse}  (copy ${seconds(t).toFixed(1)} s)`);
    result.source = `copy of ${options.warehouse}`;
  } else {
    log(`Privacy benchmark: ${options.customers.toLocaleString("en-US")} customers, generate and build`);
    const generated = await options.runStep("generate", ["--warehouse", db, ...common]);
    const built = await options.runStep("build", ["--warehouse", db, ...common]);
    log(`  generate ${generated.seconds.toFixed(1)} s, build ${built.seconds.toFixed(1)} s (peak ${built.peak_rss_mb} MB)`);
    result.source = "generated";
    result.build_before_seconds = built.seconds;
  }

  const wh = await Warehouse.open(db);
  const sandbox = await startSandbox({ dir: join(work, `privacy-sandbox-${options.customers}`), metaPort: 0, s3Port: 0 });
  try {
    const asOf = String(await wh.scalar("select max(as_of_date) from marts.customer_profile")).slice(0, 10);
    result.persons_in_warehouse = Number(await wh.scalar("select count(*) from intermediate.int_persons"));
    const metaConfig = { accessToken: SANDBOX_DEFAULTS.accessToken, adAccountId: SANDBOX_DEFAULTS.adAccountId, graphBaseUrl: sandbox.metaUrl };
    const partner: S3PartnerSettings = {
      id: SANDBOX_DEFAULTS.partnerId, kind: "s3", bucket: SANDBOX_DEFAULTS.bucket, prefix: "slice/audiences", region: SANDBOX_DEFAULTS.region,
      endpoint: sandbox.s3Url, forcePathStyle: true, format: "csv_gzip",
      credentials: { source: "env", accessKeyIdEnv: "BENCH_S3_KEY", secretAccessKeyEnv: "BENCH_S3_SECRET" },
      columns: ["extern_id_sha256", "email_sha256", "phone_sha256"], rowsPerPart: 1_000_000,
    } as S3PartnerSettings;
    const s3Env = { BENCH_S3_KEY: SANDBOX_DEFAULTS.s3Key, BENCH_S3_SECRET: SANDBOX_DEFAULTS.s3Key };

    // 1. access
    const [someone] = await wh.query<{ customer_id: string }>("select person_customer_id as customer_id from intermediate.int_persons order by hash(person_customer_id) limit 1");
    t = performance.now();
    const exported = await exportPerson(wh, { type: "customer_id", value: someone.customer_id });
    result.export_seconds = seconds(t);
    result.export_found = exported.found;
    log(`  export of one person  ${Number(result.export_seconds).toFixed(2)} s (found: ${exported.found})`);

    // 2. partners hold the audiences
    const metaAudience = await smallestAudience(wh, "meta");
    const s3Audience = await smallestAudience(wh, SANDBOX_DEFAULTS.partnerId);
    if (metaAudience) {
      t = performance.now();
      const first = await syncMeta(wh, { audienceId: metaAudience.audience_id, config: metaConfig });
      result.meta_first_sync = { audience: metaAudience.audience_id, members: metaAudience.members, rows_added: first.rowsAdded, seconds: seconds(t) };
      log(`  Meta sync of ${metaAudience.audience_id} (${first.rowsAdded} added)  ${seconds(t).toFixed(1)} s`);
    }
    if (s3Audience) {
      t = performance.now();
      const drop = await dropToS3(wh, { audienceId: s3Audience.audience_id, partner, env: s3Env });
      result.s3_first_drop = { audience: s3Audience.audience_id, rows: drop.rows, seconds: seconds(t) };
      log(`  S3 drop of ${s3Audience.audience_id} (${drop.rows} rows)  ${seconds(t).toFixed(1)} s`);
    }

    // 3. 1,000 persons, half from the synced audiences, named as a person would name themselves
    const persons = Math.min(options.persons ?? 1000, Number(result.persons_in_warehouse));
    const inAudiences = [metaAudience, s3Audience].filter(Boolean).map((a) => `'${a!.audience_id}'`).join(", ") || "''";
    const chosen = await wh.query<{ line_kind: string; value: string; person_customer_id: string }>(
      `with members as (
         select distinct a.person_customer_id from activation.audience_members m
         join intermediate.int_customer_accounts a on a.customer_id = m.customer_id
         where m.audience_id in (${inAudiences}) and not m.is_holdout
         order by hash(a.person_customer_id) limit ${Math.floor(persons / 2)}
       ),
       others as (
         select person_customer_id from intermediate.int_persons where person_customer_id not in (select person_customer_id from members)
         order by hash(person_customer_id) limit ${persons} - (select count(*) from members)
       ),
       picked as (select person_customer_id from members union all select person_customer_id from others)
       select case when c.email is not null and hash(p.person_customer_id) % 3 = 0 then 'email'
                   when c.phone is not null and hash(p.person_customer_id) % 3 = 1 then 'phone' else 'customer_id' end as line_kind,
              case when c.email is not null and hash(p.person_customer_id) % 3 = 0 then c.email
                   when c.phone is not null and hash(p.person_customer_id) % 3 = 1 then c.phone else p.person_customer_id end as value,
              p.person_customer_id
       from picked p left join staging.stg_crm__customers c on c.customer_id = p.person_customer_id
       order by hash(p.person_customer_id)`,
    );
    const rows: FileRequest[] = chosen.map((c, i) => ({ line: i + 2, identifier: { type: c.line_kind as FileRequest["identifier"]["type"], value: c.value } }));
    const ids = chosen.map((c) => `'${c.person_customer_id.replace(/'/g, "''")}'`).join(", ");
    const membersBefore = Number(await wh.scalar(
      `select count(*) from activation.audience_members where not is_holdout and customer_id in (select customer_id from intermediate.int_customer_accounts where person_customer_id in (${ids}))`,
    ));
    t = performance.now();
    const forgotten = await forgetMany(wh, rows, { receivedVia: "bench" });
    result.forget_batch = {
      lines: rows.length,
      kinds: Object.fromEntries(["email", "phone", "customer_id"].map((k) => [k, chosen.filter((c) => c.line_kind === k).length])),
      requests: forgotten.requests.length,
      identifiers_suppressed: forgotten.identifiers,
      unusable_lines: forgotten.unusableLines.length,
      seconds: seconds(t),
    };
    log(`  forget --file of ${rows.length} lines -> ${forgotten.requests.length} requests, ${forgotten.identifiers} hashed identifiers  ${seconds(t).toFixed(1)} s`);

    // 4. the next run
    const run = await build({ concurrency: 2, quiet: true, vars: { as_of_date: asOf } }, wh);
    const failed = run.results.filter((r) => r.status !== "succeeded");
    const purge = run.results.find((r) => r.key.endsWith("privacy_purge"));
    const leftIds = new Set((await wh.query<{ customer_id: string }>(`select customer_id from marts.customer_profile where customer_id in (${ids})`)).map((r) => r.customer_id));
    const left = leftIds.size;
    // who stays, by how the file named them (a shared or placeholder e-mail names nobody: its owner stays)
    result.left_by_kind = Object.fromEntries(["email", "phone", "customer_id"].map((k) => [k, chosen.filter((c) => c.line_kind === k && leftIds.has(c.person_customer_id)).length]));
    result.next_run = { seconds: run.seconds, failed_actions: failed.length, purge_seconds: purge?.seconds ?? null, audience_rows_to_remove: membersBefore, persons_left_in_customer_profile: left };
    log(`  next run  ${run.seconds.toFixed(1)} s (purge ${purge?.seconds?.toFixed(1) ?? "?"} s, ${failed.length} failed), ${left} left in customer_profile`);

    // 5. partners told
    if (metaAudience) {
      t = performance.now();
      const next = await syncMeta(wh, { audienceId: metaAudience.audience_id, config: metaConfig });
      const metaDone = Number(await wh.scalar("select count(*) from privacy.privacy_request_steps where system = 'partner:meta' and completed_at is not null"));
      result.meta_next_sync = { rows_removed: next.rowsRemoved, rows_added: next.rowsAdded, seconds: seconds(t), ledger_steps_completed: metaDone };
      log(`  next Meta sync: ${next.rowsRemoved} removed, ${next.rowsAdded} added  ${seconds(t).toFixed(1)} s; partner:meta steps completed ${metaDone}`);
    }
    if (s3Audience) {
      t = performance.now();
      // the same as-of date (the next run rebuilt it): the drop is written again, with the deletions file
      const drop = await dropToS3(wh, { audienceId: s3Audience.audience_id, asOfDate: asOf, partner, env: s3Env, allowEmpty: true });
      const s3Done = Number(await wh.scalar(`select count(*) from privacy.privacy_request_steps where system = 'partner:${SANDBOX_DEFAULTS.partnerId}' and completed_at is not null`));
      result.s3_next_drop = { status: drop.status, rows: drop.rows, seconds: seconds(t), ledger_steps_completed: s3Done };
      log(`  next S3 drop: ${drop.status}, ${drop.rows} rows  ${seconds(t).toFixed(1)} s; partner:${SANDBOX_DEFAULTS.partnerId} steps completed ${s3Done}`);
    }
    const pending = await wh.query<{ system: string; n: string }>("select system, count(*) as n from privacy.privacy_request_steps where completed_at is null group by 1 order by 1");
    result.steps_pending = Object.fromEntries(pending.map((p) => [p.system, Number(p.n)]));
    result.requests_completed = Number(await wh.scalar("select count(*) from privacy.privacy_requests where status = 'completed'"));
  } finally {
    await sandbox.close();
    await wh.close();
  }
  mkdirSync("bench/results", { recursive: true });
  const file = join("bench/results", `${new Date().toISOString().slice(0, 10)}-privacy-${options.customers}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  log(`JSON: ${file}`);
  rmSync(db, { force: true });
  rmSync(`${db}.wal`, { force: true });
  return result;
}
