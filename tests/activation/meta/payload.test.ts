import { describe, expect, it } from "vitest";
import { META_SCHEMA_KEYS, META_KEY_BY_COLUMN, prepareBatch, rowProblem, toMetaRow, type MemberIdentifiers } from "../../../src/activation/meta/payload.ts";
import { sha256 } from "./fixtures.ts";

const EMAIL = sha256("test@example.com");
const PHONE = sha256("358401234567");

describe("rowProblem", () => {
  const cases: [string, Omit<MemberIdentifiers, "member_id">, string | undefined][] = [
    ["email only", { email_sha256: EMAIL }, undefined],
    ["email and phone, blanks elsewhere", { email_sha256: EMAIL, phone_sha256: PHONE, fn_sha256: null, ln_sha256: "" }, undefined],
    ["no identifier at all", { email_sha256: null, phone_sha256: "" }, "no_identifiers"],
    ["upper-case hex", { email_sha256: EMAIL.toUpperCase() }, "not_sha256:email_sha256"],
    ["63 characters", { email_sha256: EMAIL.slice(1) }, "not_sha256:email_sha256"],
    ["raw e-mail address", { email_sha256: "test@example.com" }, "not_sha256:email_sha256"],
    ["valid email, raw phone", { email_sha256: EMAIL, phone_sha256: "+358 40 123 4567" }, "not_sha256:phone_sha256"],
  ];
  for (const [name, identifiers, expected] of cases) {
    it(name, () => expect(rowProblem({ member_id: "m", ...identifiers })).toBe(expected));
  }
});

describe("payload shape", () => {
  it("maps every hashed column to Meta's multi-key name in one fixed order", () => {
    expect(META_SCHEMA_KEYS).toEqual(["EXTERN_ID", "EMAIL", "PHONE", "FN", "LN", "FI", "CT", "ZIP", "COUNTRY", "DOBY", "DOBM", "DOBD", "GEN"]);
    expect(META_KEY_BY_COLUMN.email_sha256).toBe("EMAIL");
    expect(META_KEY_BY_COLUMN.doby_sha256).toBe("DOBY");
  });

  it("sends \"\" for a key the member lacks", () => {
    const row = toMetaRow({ member_id: "m", email_sha256: EMAIL, phone_sha256: null });
    expect(row).toHaveLength(13);
    expect(row[1]).toBe(EMAIL);
    expect(row.filter((value) => value === "")).toHaveLength(12);
  });

  it("leaves invalid rows out, counts them and keeps the order of the rest", () => {
    const batch = prepareBatch([
      { member_id: "a", email_sha256: EMAIL },
      { member_id: "b", email_sha256: "not-a-hash" },
      { member_id: "c", phone_sha256: PHONE },
      { member_id: "d" },
    ]);
    expect(batch.memberIds).toEqual(["a", "c"]);
    expect(batch.payload.data).toHaveLength(2);
    expect(batch.payload.data[1][2]).toBe(PHONE);
    expect(batch.invalid).toEqual([
      { memberId: "b", problem: "not_sha256:email_sha256" },
      { memberId: "d", problem: "no_identifiers" },
    ]);
  });
});
