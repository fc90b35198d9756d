/**
 * A small activation warehouse for the partner API tests: three audience tables with the exact columns the
 * Dataform models build, a few hundred members for two partners (meta, media_x), holdouts, an older
 * snapshot, change events, and one row whose e-mail column wrongly holds a raw address.
 */
import { createHash } from "node:crypto";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import type { AudienceReader } from "../../src/warehouse/adapter.ts";
import { DuckDbAudienceReader } from "../../src/warehouse/duckdb-reader.ts";
import { createApiKey, type ApiKeyRegistry, type KeyVerificationLimits, type RateLimitSettings } from "../../src/api/keys.ts";
import type { StreamLimits } from "../../src/api/streams.ts";
import type { ClientThrottleSettings } from "../../src/api/rate-limit.ts";
import type { MemberSpool } from "../../src/api/spool.ts";
import { createPartnerApiApp } from "../../src/api/app.ts";
import { HASHED_IDENTIFIER_COLUMNS } from "../../macros/activation_state.ts";

export const LATEST_DATE = "2026-11-20";
export const OLDER_DATE = "2026-11-13";
export const CURSOR_SECRET = "test-cursor-secret-0123456789abcdef-0123456789";
/** The raw address planted in one row's email_sha256: it must never be served. */
export const PLANTED_RAW_EMAIL = "planted.person@example.fi";

const IDENTIFIER_COLUMNS_DDL = HASHED_IDENTIFIER_COLUMNS.map((column) => `${column} varchar`)
  .join(", ");

/** Identifier values of member i: every column a digest, the phone missing for every third member. */
function identifierSelect(i: string): string {
  return `sha256('ext-' || ${i}), sha256('person' || ${i} || '@example.fi'),
    case when ${i} % 3 = 0 then null else sha256('35840' || ${i}) end,
    sha256('fn' || ${i}), sha256('ln' || ${i}), sha256('f'), sha256('tampere'), sha256('33100'), sha256('fi'),
    sha256('1980'), sha256('05'), sha256('17'), sha256(case when ${i} % 2 = 0 then 'f' else 'm' end)`;
}

export async function createActivationTables(warehouse: Warehouse): Promise<void> {
  await warehouse.run("create schema if not exists activation");
  await warehouse.run(`create table activation.audiences (
    audience_id varchar, description varchar, destinations varchar[], required_purposes varchar[],
    holdout_percent integer, segment_rule varchar, as_of_date date)`);
  await warehouse.run(`create table activation.audience_members (
    audience_id varchar, destination varchar, member_id varchar, customer_id varchar, is_holdout boolean,
    as_of_date date, ${IDENTIFIER_COLUMNS_DDL})`);
  await warehouse.run(`create table activation.audience_member_events (
    audience_id varchar, destination varchar, member_id varchar, event varchar, event_date date,
    ${IDENTIFIER_COLUMNS_DDL})`);
}

/** Adds members from..to of an audience for a destination; every tenth member is holdout. */
export async function insertMembers(
  warehouse: Warehouse,
  audienceId: string,
  destination: string,
  from: number,
  to: number,
  asOfDate: string,
): Promise<void> {
  await warehouse.query(
    `insert into activation.audience_members
     select $audience_id, $destination, sha256('member-' || i), 'C' || lpad(cast(i as varchar), 6, '0'), i % 10 = 0,
       cast($as_of_date as date), ${identifierSelect("i")}
     from range($from, $to + 1) as t(i)`,
    { audience_id: audienceId, destination, as_of_date: asOfDate, from, to },
  );
}

async function insertEvents(warehouse: Warehouse, audienceId: string, destination: string, event: "add" | "remove", from: number, to: number, date: string) {
  const identifiers = event === "add" ? identifierSelect("i") : Array.from({ length: 13 }, () => "null").join(", ");
  await warehouse.query(
    `insert into activation.audience_member_events
     select $audience_id, $destination, sha256('member-' || i), $event, cast($event_date as date), ${identifiers}
     from range($from, $to + 1) as t(i)`,
    { audience_id: audienceId, destination, event, event_date: date, from, to },
  );
}

export async function seedActivationWarehouse(warehouse: Warehouse): Promise<void> {
  await createActivationTables(warehouse);
  await warehouse.run(`insert into activation.audiences values
    ('family_friday', 'Families ordering on Fridays.', ['meta', 'media_x'], ['profiling'], 10, 'segments.is_family_friday', '${OLDER_DATE}'),
    ('family_friday', 'Families ordering on Fridays.', ['media_x'], ['profiling'], 10, 'segments.is_family_friday', '${LATEST_DATE}'),
    ('passive_winback', 'Customers with no order for 3-12 months.', ['meta', 'media_x'], ['profiling'], 20, 'profile.lifecycle_stage = ''passive''', '${LATEST_DATE}'),
    ('sunday_training_crowd', 'Sunday regulars.', ['meta'], ['profiling'], 10, 'segments.is_sunday_regulars', '${LATEST_DATE}'),
    ('meta_only_empty', 'Defined but not built yet.', ['meta'], [], 0, 'false', '${LATEST_DATE}')`);

  // passive_winback: 300 members for each partner (30 of them holdout), plus an older snapshot of others.
  await insertMembers(warehouse, "passive_winback", "media_x", 1, 300, LATEST_DATE);
  await insertMembers(warehouse, "passive_winback", "meta", 1, 300, LATEST_DATE);
  await insertMembers(warehouse, "passive_winback", "media_x", 1000, 1049, OLDER_DATE);
  await insertMembers(warehouse, "family_friday", "media_x", 2000, 2199, LATEST_DATE);
  await insertMembers(warehouse, "sunday_training_crowd", "meta", 3000, 3119, LATEST_DATE);
  // A build bug: a raw address where a digest belongs. The API must send null instead.
  await warehouse.query(
    `update activation.audience_members set email_sha256 = $raw
     where audience_id = 'passive_winback' and destination = 'media_x' and member_id = sha256('member-7')`,
    { raw: PLANTED_RAW_EMAIL },
  );

  await insertEvents(warehouse, "passive_winback", "media_x", "add", 1000, 1049, OLDER_DATE);
  await insertEvents(warehouse, "passive_winback", "media_x", "add", 1, 280, OLDER_DATE);
  await insertEvents(warehouse, "passive_winback", "media_x", "add", 281, 300, LATEST_DATE);
  await insertEvents(warehouse, "passive_winback", "media_x", "remove", 1000, 1049, LATEST_DATE);
  await insertEvents(warehouse, "passive_winback", "meta", "add", 1, 300, LATEST_DATE);
}

export function sha256HexOf(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

export function memberIdOf(i: number): string {
  return sha256HexOf(`member-${i}`);
}

export interface TestApi {
  app: ReturnType<typeof createPartnerApiApp>;
  warehouse: Warehouse;
  reader: DuckDbAudienceReader;
  keys: { media_x: string; meta: string };
  registry: ApiKeyRegistry;
  logged: string[];
  /** Moves the rate limiter's clock. */
  advanceMs(ms: number): void;
  auth(partner: "media_x" | "meta"): { Authorization: string };
  close(): Promise<void>;
}

export function testKeyRegistry(rateLimits: Record<string, RateLimitSettings> = {}) {
  const media = createApiKey("media_x");
  const meta = createApiKey("meta", { algorithm: "scrypt" });
  const registry: ApiKeyRegistry = { keys: [media.entry, meta.entry], rate_limits: rateLimits };
  return { registry, keys: { media_x: media.key, meta: meta.key } };
}

export async function createTestApi(
  options: {
    rateLimit?: RateLimitSettings;
    rateLimits?: Record<string, RateLimitSettings>;
    streamPageRows?: number;
    warehouse?: Warehouse;
    streamLimits?: StreamLimits;
    keyVerification?: KeyVerificationLimits;
    /** Puts a reader around the DuckDB one (tests count or break its streams). */
    wrapReader?: (reader: AudienceReader) => AudienceReader;
    /** The NDJSON spool (default: the app's own); false streams every request from the warehouse. */
    spool?: MemberSpool | false;
    clientThrottle?: ClientThrottleSettings;
  } = {},
): Promise<TestApi> {
  const warehouse = options.warehouse ?? (await Warehouse.open(":memory:"));
  if (!options.warehouse) await seedActivationWarehouse(warehouse);
  const reader = await DuckDbAudienceReader.open(warehouse, { connections: 2 });
  const { registry, keys } = testKeyRegistry(options.rateLimits);
  let now = Date.parse("2026-11-21T08:00:00Z");
  const logged: string[] = [];
  const app = createPartnerApiApp({
    reader: options.wrapReader ? options.wrapReader(reader) : reader,
    keys: registry,
    streamLimits: options.streamLimits,
    keyVerification: options.keyVerification,
    cursorSecret: CURSOR_SECRET,
    rateLimit: options.rateLimit ?? { burst: 10_000, per_second: 1000 },
    nowMs: () => now,
    streamPageRows: options.streamPageRows,
    spool: options.spool,
    clientThrottle: options.clientThrottle,
    log: (message) => logged.push(message),
  });
  return {
    app,
    warehouse,
    reader,
    keys,
    registry,
    logged,
    advanceMs: (ms) => {
      now += ms;
    },
    auth: (partner) => ({ Authorization: `Bearer ${keys[partner]}` }),
    close: async () => {
      await reader.close();
      await warehouse.close();
    },
  };
}
