/**
 * functions/privacy through app.request(): API key and caller, zod-validated JSON bodies, problem details,
 * an erasure request written to the suppression list and the ledger (hashes only), its status, and an
 * access request. The person-level behaviour is covered end to end in erasure.test.ts.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPrivacyApiApp } from "../../functions/privacy/app.ts";
import { createApiKey, parseApiKeyRegistry } from "../../src/api/keys.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";

const sha = (value: string) => createHash("sha256").update(value, "utf8").digest("hex");
const backend = createApiKey("app_backend");
const partner = createApiKey("media_x");

let wh: Warehouse;
let app: ReturnType<typeof createPrivacyApiApp>;

function post(path: string, body: unknown, key = backend.key) {
  return app.request(path, {
    method: "POST",
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

beforeAll(async () => {
  wh = await Warehouse.open(":memory:");
  app = createPrivacyApiApp({ warehouse: wh, keys: parseApiKeyRegistry({ keys: [backend.entry, partner.entry] }), log: () => undefined });
});
afterAll(async () => wh?.close());

describe("privacy function", () => {
  it("refuses a request without a key, and a key of another caller", async () => {
    const anonymous = await app.request("/v1/erasure-requests", { method: "POST", body: "{}" });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("content-type")).toBe("application/problem+json");
    const wrongCaller = await post("/v1/erasure-requests", { identifier: { type: "email", value: "a@b.fi" } }, partner.key);
    expect(wrongCaller.status).toBe(401);
    expect(((await wrongCaller.json()) as { detail: string }).detail).toMatch(/may not make privacy requests/);
  });

  it.each([
    [{}, "identifier"],
    [{ identifier: { type: "passport", value: "X" } }, "identifier.type"],
    [{ identifier: { type: "email", value: "  " } }, "identifier.value"],
    [{ identifier: { type: "email", value: "a@b.fi" }, extra: 1 }, "extra"],
  ])("answers 400 with the field for %j", async (body, field) => {
    const response = await post("/v1/erasure-requests", body);
    expect(response.status).toBe(400);
    const problem = (await response.json()) as { type: string; errors: { in: string; name: string }[] };
    expect(problem.type).toBe("urn:slice:problem:invalid-request");
    expect(problem.errors.map((e) => [e.in, e.name])).toContainEqual(["body", field]);
  });

  it("records an erasure request: hashes on the suppression list, a ledger entry, no identifier in the answer", async () => {
    const response = await post("/v1/erasure-requests", { identifier: { type: "email", value: " Maija.M@Posti.FI " } });
    expect(response.status).toBe(202);
    const text = await response.text();
    expect(text).not.toMatch(/maija|posti/i);
    const body = JSON.parse(text) as { request_id: string; accounts: number; pending: string[]; status_url: string };
    expect(body).toMatchObject({ accounts: 0, pending: ["warehouse", "raw", "partner_api"] });
    expect(await wh.query("select identifier_type, identifier_sha256, request_id from raw.privacy_suppressions")).toEqual([
      { identifier_type: "email", identifier_sha256: sha("maija.m@posti.fi"), request_id: body.request_id },
    ]);
    expect(await wh.query("select received_via, status from privacy.privacy_requests")).toEqual([{ received_via: "http:app_backend", status: "received" }]);

    const status = await app.request(body.status_url, { headers: { Authorization: `Bearer ${backend.key}` } });
    expect(status.status).toBe(200);
    const ledger = (await status.json()) as { request: { status: string }; steps: { system: string; completed_at: string | null }[] };
    expect(ledger.request.status).toBe("received");
    expect(ledger.steps.map((s) => [s.system, s.completed_at])).toEqual([["partner_api", null], ["raw", null], ["warehouse", null]]);
  });

  it("answers 404 for an unknown request and 400 for a malformed id", async () => {
    const headers = { Authorization: `Bearer ${backend.key}` };
    expect((await app.request("/v1/erasure-requests/6f1d3c1e-0000-4000-8000-000000000000", { headers })).status).toBe(404);
    expect((await app.request("/v1/erasure-requests/not-a-uuid", { headers })).status).toBe(400);
  });

  it("answers an access request, and refuses identifiers in a GET", async () => {
    const response = await post("/v1/access-requests", { identifier: { type: "phone", value: "040 765 4321" } });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ found: false, about: "We hold no customer account under this identifier." });
    const get = await app.request("/v1/access-requests", { headers: { Authorization: `Bearer ${backend.key}` } });
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
  });
});
