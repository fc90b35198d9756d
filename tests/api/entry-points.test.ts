/**
 * The two ways the app is run outside tests: the Cloud Functions `(req, res)` handler and `slice serve`.
 * Both are exercised over real HTTP on 127.0.0.1.
 */
import { execFile } from "node:child_process";
import { createServer, type Server } from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { type AddressInfo, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPartnerApiHandler, type HttpFunction } from "../../functions/partner-api/index.ts";
import { partnerApiSettingsFromEnv } from "../../src/api/config.ts";
import { createApiKey } from "../../src/api/keys.ts";
import { servePartnerApi } from "../../src/api/serve.ts";
import { DuckDbAudienceReader } from "../../src/warehouse/duckdb-reader.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { CURSOR_SECRET, LATEST_DATE, seedActivationWarehouse } from "./fixture.ts";

const dir = mkdtempSync(join(tmpdir(), "slice-api-entry-"));
const warehousePath = join(dir, "warehouse.duckdb");
const media = createApiKey("media_x");
const registryYaml = `keys:\n${media.registryLine}\n`;

beforeAll(async () => {
  const warehouse = await Warehouse.open(warehousePath);
  await seedActivationWarehouse(warehouse);
  await warehouse.close();
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function listen(handler: HttpFunction): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe("Cloud Functions handler", () => {
  it("serves the API through (req, res), NDJSON included", async () => {
    const warehouse = await Warehouse.open(warehousePath);
    const reader = await DuckDbAudienceReader.open(warehouse, { connections: 2 });
    const handler = createPartnerApiHandler({ env: { SLICE_API_KEYS: registryYaml, SLICE_CURSOR_SECRET: CURSOR_SECRET }, reader });
    const { server, url } = await listen(handler);
    try {
      const headers = { Authorization: `Bearer ${media.key}` };
      const list = await fetch(`${url}/v1/audiences`, { headers });
      expect(list.status).toBe(200);
      expect((await list.json()).data.map((audience: { id: string }) => audience.id)).toEqual(["family_friday", "passive_winback"]);
      const stream = await fetch(`${url}/v1/audiences/passive_winback/members`, { headers: { ...headers, Accept: "application/x-ndjson" } });
      expect(stream.headers.get("transfer-encoding")).toBe("chunked");
      expect((await stream.text()).trimEnd().split("\n")).toHaveLength(270);
      const denied = await fetch(`${url}/v1/audiences`);
      expect(denied.status).toBe(401);
      expect(denied.headers.get("content-type")).toBe("application/problem+json");
    } finally {
      server.close();
      await reader.close();
      await warehouse.close();
    }
  });

  it("answers 500 problem and logs the variable to fix when misconfigured", async () => {
    const logged: string[] = [];
    const handler = createPartnerApiHandler({ env: { SLICE_API_KEYS: registryYaml }, log: (line) => logged.push(line) });
    const { server, url } = await listen(handler);
    try {
      const response = await fetch(`${url}/v1/audiences?x=1`);
      expect(response.status).toBe(500);
      expect(await response.json()).toMatchObject({ type: "urn:slice:problem:internal", instance: "/v1/audiences" });
      expect(logged.join("\n")).toContain("SLICE_CURSOR_SECRET: is not set. Fix:");
    } finally {
      server.close();
    }
  });
});

describe("JavaScript entry for the Cloud Functions runtime", () => {
  it("loads under plain node (no tsx CLI) and exports partnerApi as a working (req, res) handler", async () => {
    const mainFile = new URL("../../functions/partner-api/main.mjs", import.meta.url).href;
    const script = `
      import { createServer } from "node:http";
      const { partnerApi } = await import(${JSON.stringify(mainFile)});
      const server = createServer((req, res) => partnerApi(req, res));
      await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
      const response = await fetch("http://127.0.0.1:" + server.address().port + "/v1/audiences");
      console.log(JSON.stringify({ status: response.status, type: response.headers.get("content-type") }));
      server.close();`;
    const output = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        ["--input-type=module", "-e", script],
        { env: { PATH: process.env.PATH, SLICE_API_KEYS: registryYaml, SLICE_CURSOR_SECRET: CURSOR_SECRET, SLICE_BIGQUERY_PROJECT: "slice-prod" } },
        (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)),
      );
    });
    // No key: answered by the app before any BigQuery call, so this runs offline.
    expect(JSON.parse(output)).toEqual({ status: 401, type: "application/problem+json" });
  });
});

describe("environment settings", () => {
  it.each([
    [{ SLICE_CURSOR_SECRET: CURSOR_SECRET }, "SLICE_API_KEYS / SLICE_API_KEYS_FILE: set exactly one"],
    [{ SLICE_CURSOR_SECRET: "short", SLICE_API_KEYS: registryYaml }, "SLICE_CURSOR_SECRET: needs at least 32 characters"],
    [{ SLICE_CURSOR_SECRET: CURSOR_SECRET, SLICE_API_KEYS: registryYaml, SLICE_API_RATE_BURST: "lots" }, "SLICE_API_RATE_BURST"],
    [{ SLICE_CURSOR_SECRET: CURSOR_SECRET, SLICE_API_KEYS: registryYaml, SLICE_API_MAX_STREAMS: "0" }, "SLICE_API_MAX_STREAMS: Too small"],
    [{ SLICE_CURSOR_SECRET: CURSOR_SECRET, SLICE_API_KEYS: registryYaml, SLICE_API_MAX_STREAMS_PER_PARTNER: "two" }, "SLICE_API_MAX_STREAMS_PER_PARTNER"],
    [{ SLICE_CURSOR_SECRET: CURSOR_SECRET, SLICE_API_KEYS: registryYaml, SLICE_API_TRUSTED_PROXY_HOPS: "yes" }, "SLICE_API_TRUSTED_PROXY_HOPS: must be a whole number 0-10. Fix: set how many proxies"],
    [{ SLICE_CURSOR_SECRET: CURSOR_SECRET, SLICE_API_KEYS: registryYaml, SLICE_API_SPOOL_MAX_MB: "-1" }, "SLICE_API_SPOOL_MAX_MB: Too small"],
    [{ SLICE_CURSOR_SECRET: CURSOR_SECRET, SLICE_API_KEYS: registryYaml, SLICE_API_CLIENT_RATE_BURST: "many" }, "SLICE_API_CLIENT_RATE_BURST"],
    [{ SLICE_CURSOR_SECRET: CURSOR_SECRET, SLICE_API_KEYS: "keys: 3" }, "SLICE_API_KEYS: keys:"],
    [{ SLICE_CURSOR_SECRET: CURSOR_SECRET, SLICE_API_KEYS_FILE: join(dir, "none.yaml") }, "none.yaml: cannot read"],
  ])("names the variable and the fix (%#)", (env, message) => {
    expect(() => partnerApiSettingsFromEnv(env)).toThrow(message);
  });

  it("reads keys, secret, BigQuery target and rate limit", () => {
    const settings = partnerApiSettingsFromEnv({
      SLICE_API_KEYS: registryYaml,
      SLICE_CURSOR_SECRET: CURSOR_SECRET,
      GOOGLE_CLOUD_PROJECT: "slice-prod",
      SLICE_BIGQUERY_LOCATION: "EU",
      SLICE_API_RATE_BURST: "20",
      SLICE_API_RATE_PER_SECOND: "2.5",
    });
    expect(settings.keys.keys[0].partner).toBe("media_x");
    expect(settings.bigQuery).toEqual({ engine: "bigquery", projectId: "slice-prod", dataset: "activation", location: "EU" });
    expect(settings.rateLimit).toEqual({ burst: 20, per_second: 2.5 });
    expect(settings.streamLimits).toEqual({ per_partner: 2, total: 10, retry_after_seconds: 30 });
    const capped = partnerApiSettingsFromEnv({ SLICE_API_KEYS: registryYaml, SLICE_CURSOR_SECRET: CURSOR_SECRET, SLICE_API_MAX_STREAMS_PER_PARTNER: "3", SLICE_API_MAX_STREAMS: "6" });
    expect(capped.streamLimits).toMatchObject({ per_partner: 3, total: 6 });
    // Cloud Functions sits behind Google's front end, and its /tmp is memory: trust X-Forwarded-For, spool 512 MiB.
    expect(settings.clientThrottle).toEqual({ burst: 120, per_second: 20, trusted_proxy_hops: 1 });
    expect(settings.spool).toEqual({ max_bytes: 512 * 2 ** 20, retain_seconds: 0 });
    const tuned = partnerApiSettingsFromEnv({
      SLICE_API_KEYS: registryYaml,
      SLICE_CURSOR_SECRET: CURSOR_SECRET,
      SLICE_API_CLIENT_RATE_BURST: "30",
      SLICE_API_CLIENT_RATE_PER_SECOND: "1.5",
      SLICE_API_TRUSTED_PROXY_HOPS: "2",
      SLICE_API_SPOOL_MAX_MB: "0",
      SLICE_API_SPOOL_RETAIN_SECONDS: "60",
    });
    expect(tuned.clientThrottle).toEqual({ burst: 30, per_second: 1.5, trusted_proxy_hops: 2 });
    expect(tuned.spool).toEqual({ max_bytes: 0, retain_seconds: 60 });
  });
});

describe("servePartnerApi", () => {
  it("binds 127.0.0.1 by default, prints the URL and serves the warehouse file", async () => {
    const keysFile = join(dir, "api-keys.yaml");
    writeFileSync(keysFile, registryYaml);
    const printed: string[] = [];
    const running = await servePartnerApi({ warehousePath, port: 0, keysFile, cursorSecret: CURSOR_SECRET, print: (line) => printed.push(line) });
    try {
      expect(running.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(printed.join("\n")).toContain(`${running.url}/v1/audiences`);
      const response = await fetch(`${running.url}/v1/audiences/passive_winback`, { headers: { Authorization: `Bearer ${media.key}` } });
      expect(await response.json()).toMatchObject({ member_count: 270, members_as_of_date: LATEST_DATE });
      // Headers beyond Node's limit: 431 with a problem body, not Node's empty one.
      const { port } = new URL(running.url);
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(Number(port), "127.0.0.1", () => socket.write(`GET /v1/audiences HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`));
        let text = "";
        socket.on("data", (chunk) => (text += chunk.toString()));
        socket.on("end", () => resolve(text));
        socket.on("error", reject);
      });
      expect(answer).toMatch(/^HTTP\/1\.1 431 /);
      expect(JSON.parse(answer.split("\r\n\r\n")[1])).toMatchObject({ type: "urn:slice:problem:request-header-fields-too-large", status: 431 });
    } finally {
      await running.close();
    }
  });

  it("warns when no cursor secret is given and refuses a missing warehouse", async () => {
    await expect(servePartnerApi({ warehousePath: join(dir, "nope.duckdb"), port: 0 })).rejects.toThrow(/nope\.duckdb does not exist.*slice build/);
    const keysFile = join(dir, "api-keys-2.yaml");
    writeFileSync(keysFile, registryYaml);
    const printed: string[] = [];
    const running = await servePartnerApi({ warehousePath, port: 0, keysFile, print: (line) => printed.push(line) });
    await running.close();
    expect(printed[0]).toContain("SLICE_CURSOR_SECRET is not set");
  });

  it("refuses a warehouse without the activation tables", async () => {
    const emptyPath = join(dir, "empty.duckdb");
    const empty = await Warehouse.open(emptyPath);
    await empty.close();
    const keysFile = join(dir, "api-keys-3.yaml");
    writeFileSync(keysFile, registryYaml);
    await expect(servePartnerApi({ warehousePath: emptyPath, port: 0, keysFile, cursorSecret: CURSOR_SECRET })).rejects.toThrow(
      /has no activation\.audiences, activation\.audience_members, activation\.audience_member_events\. Fix: build/,
    );
  });
});
