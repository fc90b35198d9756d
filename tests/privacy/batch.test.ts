/**
 * `slice privacy forget --file`: the requests file is validated line by line without echoing values, and a
 * file resolved in one pass writes, per person, the same suppression list and steps as one request by one
 * identifier does (src/privacy/forget.ts), on identity tables shaped like the build's.
 */
import { createHash } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { forgetMany, parseRequestsFile } from "../../src/privacy/batch.ts";
import { forget } from "../../src/privacy/forget.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { identityTables } from "./identity-fixture.ts";

const sha = (value: string) => createHash("sha256").update(value, "utf8").digest("hex");

describe("the requests file", () => {
  it.each([
    ["kind,value\nphone,+358 50 765 1122\n", [{ line: 2, identifier: { type: "phone", value: "+358 50 765 1122" } }]],
    ["value,kind\r\nA-9,app_id\r\n\r\nW1,delivery_partner_id\r\n", [
      { line: 2, identifier: { type: "source_record", value: "app:A-9" } },
      { line: 4, identifier: { type: "source_record", value: "delivery_partner:W1" } },
    ]],
    ['\uFEFFkind,value\nemail," Aino, V <a@b.fi> "\ncustomer_id,C1\n', [
      { line: 2, identifier: { type: "email", value: "Aino, V <a@b.fi>" } },
      { line: 3, identifier: { type: "customer_id", value: "C1" } },
    ]],
  ])("reads %j", (text, expected) => {
    expect(parseRequestsFile(text, "r.csv")).toEqual(expected);
  });

  it.each([
    ["", /r\.csv: the file is empty\. Fix:/],
    ["type,value\nphone,1\n", /r\.csv: line 1: the header must be "kind,value"/],
    ["kind,value\n", /no identifiers after the header/],
  ])("refuses %j", (text, message) => {
    expect(() => parseRequestsFile(text, "r.csv")).toThrow(message);
  });

  it("reports every bad line by number and reason, never by its value", () => {
    const text = "kind,value\nphone,+358 40 111 2233\npassport,XK-4411-SECRET\nemail,\nphone,\"+358 40 999\nemail,a@b.fi,extra-secret\n";
    let message = "";
    try {
      parseRequestsFile(text, "r.csv");
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message.split("\n").slice(0, 5)).toEqual([
      "r.csv: 4 bad line(s), nothing was recorded:",
      expect.stringMatching(/^line 3: kind must be one of customer_id, email, phone/),
      "line 4: value is empty",
      "line 5: has an unterminated quote",
      "line 6: has 3 fields, not 2",
    ]);
    for (const secret of ["XK-4411", "SECRET", "+358 40 999", "extra-secret", "a@b.fi"]) expect(message).not.toContain(secret);
  });
});

async function suppressions(wh: Warehouse, requestId: string): Promise<string[]> {
  const rows = await wh.query<{ t: string; h: string }>("select identifier_type as t, identifier_sha256 as h from raw.privacy_suppressions where request_id = $id order by 1, 2", { id: requestId });
  return rows.map((r) => `${r.t} ${r.h}`);
}

describe("forgetMany", () => {
  let batch: Warehouse;
  let single: Warehouse;
  beforeEach(async () => {
    batch = await Warehouse.open(":memory:");
    single = await Warehouse.open(":memory:");
    await identityTables(batch);
    await identityTables(single);
  });
  afterEach(async () => {
    await batch.close();
    await single.close();
  });

  it("makes one request per person, with what a single request by any of its identifiers writes", async () => {
    const rows = parseRequestsFile(
      "kind,value\nphone,+358 50 111 2233\nemail,Matti@X.fi\nloyalty_card,card-1\nemail,nobody@x.fi\nphone,12\nemail,NOBODY@x.fi\nsource_record,loyalty:C3\napp_id,A1\n",
      "r.csv",
    );
    const result = await forgetMany(batch, rows, { receivedVia: "cli:test" });
    // the guest phone, the card and the app record name p1 (one request), the e-mail and C3's loyalty record p2,
    // nobody@ twice is one request; "12" is no phone
    expect(result.requests.map((r) => [r.lines, r.accounts, r.records, r.steps])).toEqual([
      [[2, 4, 9], 2, 2, ["warehouse", "raw", "partner_api", "partner:meta"]],
      [[3, 8], 1, 0, ["warehouse", "raw", "partner_api", "partner:media_x"]],
      [[5, 7], 0, 0, ["warehouse", "raw", "partner_api"]],
    ]);
    expect(result.unusableLines).toEqual([6]);

    const p1 = await forget(single, { type: "phone", value: "+358 50 111 2233" }, { receivedVia: "cli:test" });
    const p2 = await forget(single, { type: "email", value: "Matti@X.fi" }, { receivedVia: "cli:test" });
    const nobody = await forget(single, { type: "email", value: "nobody@x.fi" }, { receivedVia: "cli:test" });
    const [r1, r2, r3] = result.requests;
    // (the card line 4 named is one of p1's identifiers, so the single request by the phone lists it too)
    expect(await suppressions(batch, r1.requestId)).toEqual(await suppressions(single, p1.requestId));
    // p2's list also holds the loyalty record line 8 named (folded into account C3, so no record of its own)
    expect(await suppressions(batch, r2.requestId)).toEqual([...(await suppressions(single, p2.requestId)), `source_record ${sha("loyalty:C3")}`].sort());
    expect(await suppressions(batch, r3.requestId)).toEqual(await suppressions(single, nobody.requestId));
    expect(await suppressions(batch, r1.requestId)).toContain(`customer_id ${sha("C2")}`);
    // the quarantined shared e-mail is nobody's to suppress
    expect((await suppressions(batch, r1.requestId)).join()).not.toContain(sha("family@x.fi"));

    const ledger = await batch.query<{ request_id: string; accounts: string; status: string; n: string }>(
      `select r.request_id, r.accounts, r.status, (select count(*) from privacy.privacy_request_steps s where s.request_id = r.request_id) as n
       from privacy.privacy_requests r order by r.accounts desc, n desc`);
    expect(ledger.map((r) => [r.request_id, Number(r.accounts), r.status, Number(r.n)])).toEqual([
      [r1.requestId, 2, "received", 4], [r2.requestId, 1, "received", 4], [r3.requestId, 0, "received", 3],
    ]);
  });

  it("without a build, suppresses each identifier as given", async () => {
    const empty = await Warehouse.open(":memory:");
    try {
      const result = await forgetMany(empty, parseRequestsFile("kind,value\ncustomer_id, C9 \n", "r.csv"), { receivedVia: "cli:test" });
      expect(result.requests).toHaveLength(1);
      expect(await suppressions(empty, result.requests[0].requestId)).toEqual([`customer_id ${sha("C9")}`]);
    } finally {
      await empty.close();
    }
  });
});
