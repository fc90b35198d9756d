/**
 * `slice serve`: the partner API on the configured warehouse (the local DuckDB file by default, or BigQuery),
 * for development, demos and trying a BigQuery dataset before deploying the function.
 *
 * Binds 127.0.0.1 unless told otherwise: the warehouse holds hashed personal data, so exposing it on a
 * network is a decision to take on purpose (--host 0.0.0.0).
 */
import { randomBytes } from "node:crypto";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { createPartnerApiApp } from "./app.ts";
import type { WarehouseConfig } from "../warehouse/config.ts";
import { DEFAULT_WAREHOUSE_PATH } from "../warehouse/duckdb.ts";
import { openAudienceReader } from "../warehouse/open.ts";
import { DEFAULT_API_KEYS_FILE, loadApiKeyRegistry, type RateLimitSettings } from "./keys.ts";
import { answerClientErrorsWithProblems } from "./node-server.ts";
import type { ClientThrottleSettings } from "./rate-limit.ts";
import { DEFAULT_SPOOL_SETTINGS, MemberSpool, type SpoolSettings } from "./spool.ts";
import type { StreamLimits } from "./streams.ts";

export const DEFAULT_API_PORT = 8787;
export const DEFAULT_API_HOST = "127.0.0.1";

export interface ServePartnerApiOptions {
  /** The warehouse to read; defaults to the DuckDB file `warehousePath`. */
  warehouse?: WarehouseConfig;
  /** Shorthand for `warehouse: { engine: "duckdb", path }` (default warehouse/slice.duckdb). */
  warehousePath?: string;
  port?: number;
  host?: string;
  keysFile?: string;
  /** HMAC secret for cursors; when missing a random one is made and cursors die with the process. */
  cursorSecret?: string;
  rateLimit?: RateLimitSettings;
  /** Concurrent NDJSON streams per partner and in total. */
  streamLimits?: StreamLimits;
  /** Requests per client address before key verification. */
  clientThrottle?: ClientThrottleSettings;
  /** Where concurrent NDJSON streams of a snapshot are spooled (default DEFAULT_SPOOL_SETTINGS: os.tmpdir(), 4 GiB). */
  spool?: SpoolSettings;
  /** Where the URL and warnings go. */
  print?: (line: string) => void;
}

export interface RunningPartnerApi {
  url: string;
  close(): Promise<void>;
}

export async function servePartnerApi(options: ServePartnerApiOptions = {}): Promise<RunningPartnerApi> {
  const print = options.print ?? console.log;
  const warehouse: WarehouseConfig = options.warehouse ?? { engine: "duckdb", path: options.warehousePath ?? DEFAULT_WAREHOUSE_PATH };
  let cursorSecret = options.cursorSecret;
  if (!cursorSecret) {
    cursorSecret = randomBytes(48).toString("base64url");
    print("warning: SLICE_CURSOR_SECRET is not set; using a random cursor secret, so cursors stop working when this server restarts");
  }
  const opened = await openAudienceReader(warehouse);
  const reader = opened.reader;
  let keys: ReturnType<typeof loadApiKeyRegistry>;
  try {
    keys = loadApiKeyRegistry(options.keysFile ?? DEFAULT_API_KEYS_FILE);
  } catch (error) {
    await opened.close();
    throw error;
  }
  const spool = new MemberSpool(options.spool ?? DEFAULT_SPOOL_SETTINGS);
  const app = createPartnerApiApp({ reader, keys, cursorSecret, rateLimit: options.rateLimit, streamLimits: options.streamLimits, clientThrottle: options.clientThrottle, spool });
  const host = options.host ?? DEFAULT_API_HOST;
  const { server, address } = await new Promise<{ server: ReturnType<typeof serve>; address: AddressInfo }>((resolve, reject) => {
    const started = serve({ fetch: app.fetch, port: options.port ?? DEFAULT_API_PORT, hostname: host }, (info) => resolve({ server: started, address: info }));
    started.once("error", reject);
    answerClientErrorsWithProblems(started as Server);
  });
  const shownHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `http://${shownHost}:${address.port}`;
  print(`Partner API on ${url}/v1/audiences (warehouse ${opened.description}, ${keys.keys.length} key(s)). Ctrl-C stops it.`);
  return {
    url,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await spool.close();
      await opened.close();
    },
  };
}
