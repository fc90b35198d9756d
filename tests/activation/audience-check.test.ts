/**
 * The refusal of an unknown audience (pure parts) and, on a warehouse, what counts as known: rows in
 * activation.audience_members for the destination, or Meta state of an audience everyone has left.
 */
import { describe, expect, it } from "vitest";
import { closestName, readAudienceCatalog, unknownAudienceMessage } from "../../src/activation/audience-check.ts";
import { asActivationWarehouse, ensureLedgerTable, finishLedger, startLedger } from "../../src/activation/ledger.ts";
import { ensureMetaStateTables } from "../../src/activation/meta/state.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { seedAudience } from "./meta/fixtures.ts";

const KNOWN = ["family_friday", "passive_winback", "sunday_training_crowd"];

describe("closestName", () => {
  it.each([
    ["passive_winbakc", "passive_winback"],
    ["Passive_Winback", "passive_winback"],
    ["family_fridya", "family_friday"],
    ["sunday_crowd", undefined],
    ["lapsed_pizza_fans", undefined],
    ["x", undefined],
  ])("%s -> %s", (name, expected) => {
    expect(closestName(name, KNOWN)).toBe(expected);
  });
});

describe("unknownAudienceMessage", () => {
  it.each([
    { audience: "passive_winback", known: KNOWN, elsewhere: {}, expected: undefined },
    {
      audience: "passive_winbakc", known: KNOWN, elsewhere: {},
      expected: "unknown audience passive_winbakc: activation.audience_members has no rows of it for meta. Did you mean passive_winback? " +
        "Known audiences for meta: family_friday, passive_winback, sunday_training_crowd. Fix: pass one of these with --audience (--audience passive_winback); " +
        "a new audience is added in macros/audiences.ts and built with slice build",
    },
    {
      audience: "lapsed_pizza_fans", known: ["passive_winback"], elsewhere: {},
      expected: "unknown audience lapsed_pizza_fans: activation.audience_members has no rows of it for meta. Known audiences for meta: passive_winback. " +
        "Fix: pass one of these with --audience; a new audience is added in macros/audiences.ts and built with slice build",
    },
    {
      audience: "family_friday", known: ["passive_winback"], elsewhere: { family_friday: ["media_x"] },
      expected: "audience family_friday is not sent to meta: activation.audience_members has it for media_x only. " +
        "Fix: add meta to the audience's destinations in macros/audiences.ts and run slice build, or sync it to media_x",
    },
    {
      audience: "passive_winback", known: [], elsewhere: {},
      expected: "unknown audience passive_winback: activation.audience_members has no audience for destination meta. " +
        "Fix: check the destination (the partner id in macros/audiences.ts) and run slice build so the audiences have members",
    },
  ])("$audience among $known", ({ audience, known, elsewhere, expected }) => {
    expect(unknownAudienceMessage(audience, "meta", { known, elsewhere: elsewhere as Record<string, string[]> })).toBe(expected);
  });
});

describe("readAudienceCatalog", () => {
  it("knows the defined audiences, those with members, those synced before and, for Meta, those only Meta state remembers", async () => {
    const wh = await Warehouse.open(":memory:");
    try {
      await seedAudience(wh, { audienceId: "weekday_lunch", destination: "meta", count: 3 });
      await seedAudience(wh, { audienceId: "weekday_dinner", destination: "media_x", count: 3 });
      const aw = asActivationWarehouse(wh);
      await ensureMetaStateTables(aw);
      await ensureLedgerTable(aw);
      await startLedger(aw, { destination: "meta", audienceId: "dropped_before", mode: "incremental", syncId: "s1" });
      await finishLedger(aw, "s1", "succeeded");
      await startLedger(aw, { destination: "meta", audienceId: "failed_typo", mode: "incremental", syncId: "s2" });
      await finishLedger(aw, "s2", "failed", "unknown audience failed_typo");
      // an audience everyone left: no rows any more, but Meta still holds members the next sync must remove
      await wh.run("insert into activation.destination_audiences (destination, audience_id, external_audience_id, created_at) values ('meta', 'emptied_out', '123', current_timestamp)");
      // macros/audiences.ts sends champions_lookalike_seed, passive_winback and sunday_training_crowd to Meta, family_friday to media_x
      const defined = ["champions_lookalike_seed", "passive_winback", "sunday_training_crowd"];
      expect(await readAudienceCatalog(aw, "meta")).toEqual({
        known: ["champions_lookalike_seed", "dropped_before", "passive_winback", "sunday_training_crowd", "weekday_lunch"],
        elsewhere: { family_friday: ["media_x"], weekday_dinner: ["media_x"] },
      });
      expect((await readAudienceCatalog(aw, "meta", { withMetaState: true })).known).toEqual([...defined.slice(0, 1), "dropped_before", "emptied_out", ...defined.slice(1), "weekday_lunch"]);
    } finally {
      await wh.close();
    }
  });
});
