import { describe, expect, it } from "vitest";
import { rewriteBigQueryReferences } from "../../src/runner/rewrite.ts";

describe("rewriteBigQueryReferences", () => {
  it.each([
    ["select * from `p-1.marts.customer_profile`", 'select * from "marts"."customer_profile"'],
    ["select * from `marts.t` join `x`", 'select * from "marts"."t" join "x"'],
    ["select '`not.a.ref`' as s, 'it''s `a.b`' as t from `d.s.t`", `select '\`not.a.ref\`' as s, 'it''s \`a.b\`' as t from "s"."t"`],
    ["select 1 -- `p.d.t` in a comment\nfrom `p.d.t`", 'select 1 -- `p.d.t` in a comment\nfrom "d"."t"'],
    ["/* `p.d.t` */ select 'a\\'b' from `p.d.t`", `/* \`p.d.t\` */ select 'a''b' from "d"."t"`],
    ["select regexp_replace(x, '\\s', '') from t", "select regexp_replace(x, '\\s', '') from t"],
    ["select 'x in (\\'a\\', \\'b\\')' as c", "select 'x in (''a'', ''b'')' as c"],
  ])("%s", (input, expected) => {
    expect(rewriteBigQueryReferences(input)).toBe(expected);
  });
});
