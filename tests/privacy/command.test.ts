import { describe, expect, it } from "vitest";
import { bigQueryRawPurgeSql, identifierFromFlags } from "../../src/privacy/command.ts";

describe("slice privacy: the identifier flags", () => {
  it.each([
    [{ email: " a@b.fi " }, { type: "email", value: "a@b.fi" }],
    [{ phone: "040 123 4567" }, { type: "phone", value: "040 123 4567" }],
    [{ customerId: "C1" }, { type: "customer_id", value: "C1" }],
    [{ loyaltyCard: "card-1" }, { type: "loyalty_card", value: "card-1" }],
    [{ deviceId: "DEV-1" }, { type: "device_id", value: "DEV-1" }],
    [{ appId: "A-9" }, { type: "source_record", value: "app:A-9" }],
    [{ deliveryPartnerId: "W1" }, { type: "source_record", value: "delivery_partner:W1" }],
  ])("%j names %j", (opts, expected) => {
    expect(identifierFromFlags(opts)).toEqual(expected);
  });

  it.each([
    [{}, /no identifier given\. Fix: name the person by exactly one of --email, --phone/],
    [{ email: "a@b.fi", phone: "040" }, /--email and --phone given together/],
    [{ email: "   " }, /--email: .*Fix: give the e-mail address/],
  ])("%j is refused with the fix", (opts, message) => {
    expect(() => identifierFromFlags(opts)).toThrow(message);
  });

  it("prints the raw DML for a BigQuery project, suppression list included", () => {
    const sql = bigQueryRawPurgeSql("slice-prod");
    expect(sql).toContain("delete from `slice-prod.raw.customers` where");
    expect(sql).toContain("update `slice-prod.raw.orders` set customer_id = CAST(null AS STRING)");
    expect(sql).toContain("`slice-prod.raw.privacy_suppressions`");
    expect(sql).toContain("JSON_VALUE(raw_record, '$.customer_id')");
  });
});
