import { describe, expect, it } from "vitest";
import { canonicalTimestamp, checkValue, rawRowSchema, validateRawRow } from "../../src/raw/row-schema.ts";

const validOrder = {
  order_id: "O1",
  customer_id: "C0000001",
  store_id: "0339",
  channel: "app",
  fulfilment: "delivery",
  ordered_at: "2026-10-01 17:00:00",
  total_eur: "24.80",
  discount_eur: "0",
  coupon_code: null,
  status: "completed",
  updated_at: "2026-10-01 17:02:00",
  guest_email: null,
  guest_phone: null,
};

describe("rawRowSchema", () => {
  it("accepts a valid order and returns canonical text", () => {
    const result = validateRawRow("orders", { ...validOrder, ordered_at: "2026-10-01T20:00:00+03:00", total_eur: 24.8 });
    expect(result).toEqual({
      ok: true,
      row: { ...validOrder, ordered_at: "2026-10-01 17:00:00", total_eur: "24.8" },
    });
  });

  it("turns missing nullable values into null and ignores columns outside the contract", () => {
    const result = validateRawRow("orders", { order_id: "O2", updated_at: "2026-10-01 10:00:00", extra: "x" });
    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(result.row.customer_id).toBeNull();
      expect(result.row.total_eur).toBeNull();
      expect(result.row).not.toHaveProperty("extra");
    }
  });

  const failures: [string, Record<string, unknown>, RegExp][] = [
    ["missing required id", { order_id: null }, /^order_id: is required but missing$/],
    ["empty required id", { order_id: "  " }, /^order_id: is required but missing$/],
    ["enum value", { channel: "kiosk" }, /^channel: "kiosk" is not one of app, web, store, delivery_partner$/],
    ["status value", { status: "COMPLETED" }, /^status: "COMPLETED" is not one of completed, cancelled, refunded$/],
    ["money text", { total_eur: "12,50" }, /^total_eur: "12,50" is not a decimal number/],
    ["money too large", { total_eur: "99999999999999999" }, /^total_eur: .* is too large for a euro amount$/],
    ["timestamp format", { ordered_at: "01.10.2026 17:00" }, /^ordered_at: "01.10.2026 17:00" is not a timestamp/],
    ["impossible date", { ordered_at: "2026-02-30 10:00:00" }, /^ordered_at: "2026-02-30 10:00:00" does not exist \(February has 28 days\)/],
    ["two problems", { order_id: null, channel: "fax" }, /^order_id: is required but missing; channel: "fax" is not one of/],
  ];
  it.each(failures)("names the column and the problem: %s", (_name, change, reason) => {
    const result = validateRawRow("orders", { ...validOrder, ...change });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(reason);
  });

  it("validates every table of the contract", () => {
    expect(validateRawRow("order_lines", { order_id: "O1", line_number: "x" })).toMatchObject({
      ok: false,
      reason: 'line_number: "x" is not a whole number',
    });
    expect(validateRawRow("loyalty_events", { customer_id: "C1", occurred_at: "2026-01-01", kind: "slice_earned", slices: "-10" })).toMatchObject({
      ok: true,
      row: { occurred_at: "2026-01-01 00:00:00", slices: "-10" },
    });
    expect(validateRawRow("consent_events", { customer_id: "C1", purpose: "newsletter", granted: "yes", occurred_at: "2026-01-01 10:00:00" })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^purpose: "newsletter" is not one of email_marketing, /),
    });
    expect(() => rawRowSchema("refunds")).toThrow(/Unknown raw table/);
  });
});

describe("checkValue", () => {
  const cases: [Parameters<typeof checkValue>[0], unknown, unknown][] = [
    ["int64", "42", { value: "42" }],
    ["int64", " -7 ", { value: "-7" }],
    ["int64", 3, { value: "3" }],
    ["int64", "9223372036854775808", { problem: '"9223372036854775808" is out of the 64-bit integer range' }],
    ["int64", "1.5", { problem: '"1.5" is not a whole number' }],
    ["numeric", "+12.50", { value: "12.50" }],
    ["numeric", "1e3", { problem: '"1e3" is not a decimal number (use digits and a dot, e.g. 12.50)' }],
    ["bool", "TRUE", { value: true }],
    ["bool", "f", { value: false }],
    ["bool", 1, { value: true }],
    ["bool", "maybe", { problem: '"maybe" is not a boolean (use true or false)' }],
    ["date", "2024-02-29", { value: "2024-02-29" }],
    ["date", "2023-02-29", { problem: '"2023-02-29" does not exist (2023 has no February 29)' }],
    ["string", 5, { value: "5" }],
  ];
  it.each(cases)("%s %j", (type, input, expected) => {
    expect(checkValue(type, input)).toEqual(expected);
  });
});

describe("canonicalTimestamp", () => {
  const cases: [string, string | undefined][] = [
    ["2026-10-01 17:00:00", "2026-10-01 17:00:00"],
    ["2026-10-01T17:00:00Z", "2026-10-01 17:00:00"],
    ["2026-10-01 17:00", "2026-10-01 17:00:00"],
    ["2026-10-01", "2026-10-01 00:00:00"],
    ["2026-10-01 01:30:00+03:00", "2026-09-30 22:30:00"],
    ["2026-12-31 23:30:00-0130", "2027-01-01 01:00:00"],
    ["2026-10-01 17:00:00.5+00", "2026-10-01 17:00:00.500000"],
    ["2026-10-01 24:00:00", undefined],
    ["yesterday", undefined],
  ];
  it.each(cases)("%s", (input, expected) => {
    expect(canonicalTimestamp(input)).toBe(expected);
  });
});
