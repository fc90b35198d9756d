import { describe, expect, it } from "vitest";
import { memberNdjsonLine, toChangeResource, toMemberResource } from "../../src/api/audiences.ts";
import { HASHED_IDENTIFIER_COLUMNS, type MemberRecord } from "../../src/warehouse/adapter.ts";

const hex = (char: string) => char.repeat(64);

function member(overrides: Partial<MemberRecord> = {}): MemberRecord {
  const record = { member_id: hex("a") } as MemberRecord;
  for (const column of HASHED_IDENTIFIER_COLUMNS) record[column] = hex("b");
  return { ...record, ...overrides };
}

describe("member resources", () => {
  it.each([
    ["all identifiers present", member(), "all digests"],
    ["missing identifiers", member({ phone_sha256: null, gen_sha256: null }), "nulls kept"],
    ["a raw e-mail in a digest column", member({ email_sha256: 'x"@example.fi' }), "sent as null"],
    ["upper-case hex", member({ fn_sha256: hex("B") }), "sent as null"],
    ["a digest one character short", member({ ln_sha256: "c".repeat(63) }), "sent as null"],
  ])("with %s: the NDJSON line is the JSON of the resource (%s)", (_name, record) => {
    const resource = toMemberResource(record)!;
    expect(memberNdjsonLine(record)).toBe(`${JSON.stringify(resource)}\n`);
    for (const column of HASHED_IDENTIFIER_COLUMNS) expect(resource[column] === null || /^[0-9a-f]{64}$/.test(resource[column]!)).toBe(true);
  });

  it.each([["C000123"], [""], [hex("g")]])("leaves out a row whose member_id %j is not a digest", (memberId) => {
    expect(toMemberResource(member({ member_id: memberId }))).toBeUndefined();
    expect(memberNdjsonLine(member({ member_id: memberId }))).toBeUndefined();
  });

  it("leaves out change rows with an unknown event", () => {
    const base = { ...member(), event_date: "2026-11-20" };
    expect(toChangeResource({ ...base, event: "add" })?.event).toBe("add");
    expect(toChangeResource({ ...base, event: "remove" })?.event).toBe("remove");
    expect(toChangeResource({ ...base, event: "update" })).toBeUndefined();
  });
});
