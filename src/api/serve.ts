/**
 * `slice serve`: the partner API on the local DuckDB warehouse, for development and demos.
 *
 * Binds 127.0.0.1 unless told otherwise: the warehouse holds hashed personal data, so exposing it on a
 * network is a decision to take on purpose (--host 0.0.0.0).
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { createPartnerApiApp } from "../../functions/partner-api/app.ts";
import { DuckDbAudienceReader } from "../warehouse/adapter.ts";
import { DEFAULT_WAREHOUSE_PATH, Warehouse } from "../warehouse/duckdb.ts";
import { DEFAULT_API_KEYS_FILE, loadApiKeyRegistry, type RateLimitSettings } from "./keys.ts";

export const DEFAULT_API_PORT = 8787;
export const DEFAULT_API_HOST = "127.0.0.1";
const ACTIVATION_TABLES = ["audiences", "audience_members", "audience_member_events"] as const;

export interface ServePartnerApiOptions {
  warehousePath?: string;
  port?: number;
  host?: string;
  keysFile?: string;
  /** HMAC secret for cursors; when missing a random one is made and cursors die with the process. */
  cursorSecret?: string;
  rateLimit?: RateLimitSettings;
  /** Where the URL and warnings go. */
  print?: (line: string) => void;
}

export interface RunningPartnerApi {
  url: string;
  close(): Promise<void>;
}

export async function servePartnerApi(options: ServePartnerApiOptions = {}): Promise<RunningPartnerApi> {
  const print = options.print ?? console.log;
  const warehousePath = options.warehousePath ?? DEFAULT_WAREHOUSE_PATH;
  if (warehousePath !== ":memory:" && !existsSync(warehousePath)) {
    throw new Error(`warehouse file ${warehousePath} does not exist. Fix: run slice build first or pass --warehouse`);
  }
  const keys = loadApiKeyRegistry(options.keysFile ?? DEFAULT_API_KEYS_FILE);
  let cursorSecret = options.cursorSecret;
  if (!cursorSecret) {
    cursorSecret = randomBytes(48).toString("base64url");
    print("warning: SLICE_CURSOR_SECRET is not set; using a random cursor secret, so cursors stop working when this server restarts");
  }
  const warehouse = await Warehouse.open(warehousePath, { readOnly: true });
  const missing: string[] = [];
  for (const table of ACTIVATION_TABLES) if (!(await warehouse.tableExists("activation", table))) missing.push(`activation.${table}`);
  if (missing.length > 0) {
    await warehouse.close();
    throw new Error(`${warehousePath} has no ${missing.join(", ")}. Fix: build the activation models first (slice build) or pass --warehouse`);
  }
  const reader = await DuckDbAudienceReader.open(warehouse);
  const app = createPartnerApiApp({ reader, keys, cursorSecret, rateLimit: options.rateLimit });
  const host = options.host ?? DEFAULT_API_HOST;
  const { server, address } = await new Promise<{ server: ReturnType<typeof serve>; address: AddressInfo }>((resolve, reject) => {
    const started = serve({ fetch: app.fetch, port: options.port ?? DEFAULT_API_PORT, hostname: host }, (info) => resolve({ server: started, address: info }));
    started.once("error", reject);
  });
  const shownHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `http://${shownHost}:${address.port}`;
  print(`Partner API on ${url}/v1/audiences (warehouse ${warehousePath}, ${keys.keys.length} key(s)). Ctrl-C stops it.`);
  return {
    url,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await reader.close();
      await warehouse.close();
    },
  };
}
