/**
 * slice fit before any build explains the missing build; a fit made for another as-of date is not used to
 * score a build (the fallback rule is, and the build says why).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { runFitCommand } from "../../src/scores/command.ts";
import { DEFAULT_MIN_REPEAT_CUSTOMERS, DEFAULT_ORDERS_RELATION, MODEL_FITS_DDL } from "../../src/scores/fit.ts";
import { FIT_VALID_DAYS, scoreVarsForBuild } from "../../src/scores/vars.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { createEmptyRawTables } from "../models/fixture.ts";

const scratch = mkdtempSync(join(tmpdir(), "slice-fit-guards-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("slice fit before a build", () => {
  it("says that slice build creates the staged orders it reads, instead of a catalog error", async () => {
    const warehouse = join(scratch, "loaded-not-built.duckdb");
    const wh = await Warehouse.open(warehouse);
    await createEmptyRawTables(wh);
    await wh.close();
    await expect(
      runFitCommand({ asOfDate: "1998-06-30", unit: "weeks", warehouse, ordersRelation: DEFAULT_ORDERS_RELATION, minRepeatCustomers: DEFAULT_MIN_REPEAT_CUSTOMERS }, () => {}),
    ).rejects.toThrow(
      "slice fit: the warehouse has no staging.stg_pos__orders yet; the fit reads the staged orders, which slice build creates. Run slice build --vars as_of_date=1998-06-30 first (after loading raw data with slice load or slice generate).",
    );
  });
});

describe("a fit and a build with other as-of dates", () => {
  let wh: Warehouse;
  beforeEach(async () => {
    wh = await Warehouse.open(":memory:");
    for (const statement of MODEL_FITS_DDL.split(";\n")) await wh.run(statement);
    await wh.run(`
      insert into scores.model_fits (model, unit, r, alpha, a, b, p, q, gamma, converged, customers, as_of_date, fitted_at) values
        ('bgnbd', 'weeks', 0.24, 4.4, 0.79, 2.4, null, null, null, true, 2357, '1998-06-30', '2026-12-01 10:00:00'),
        ('gamma_gamma', 'weeks', null, null, null, null, 6.2, 3.7, 15.4, true, 946, '1998-06-30', '2026-12-01 10:00:00')`);
  });
  afterEach(async () => wh.close());

  it.each([
    ["the fit's own date", "1998-06-30", true],
    [`up to ${FIT_VALID_DAYS} days after it`, "1998-09-30", true],
    ["before the fit", "1998-06-29", false],
    ["years after it (the default as-of date with a 1997 log)", "2026-10-31", false],
  ])("%s", async (_name, buildAsOf, used) => {
    const scoring = await scoreVarsForBuild(wh, buildAsOf);
    if (used) {
      expect(scoring).toEqual({ vars: expect.objectContaining({ bgnbd_r: "0.24", scores_time_unit: "weeks" }) });
    } else {
      expect(scoring.vars).toEqual({});
      expect(scoring.notice).toContain(`The latest fit (scores.model_fits) is as of 1998-06-30, this build as of ${buildAsOf}`);
      expect(scoring.notice).toContain(`slice fit --as-of-date ${buildAsOf}`);
    }
  });
});
