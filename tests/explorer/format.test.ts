import { describe, expect, it } from "vitest";
import {
  consentLabel,
  consentPurposes,
  formatAgeBand,
  formatCount,
  formatDate,
  formatEur,
  formatPoints,
  formatShare,
  formatUtcTimestamp,
  humanize,
  toNumber,
} from "../../src/explorer/format.ts";
import { containsPattern } from "../../src/explorer/data.ts";
import { chartData, cohortHeatMap, permissionPurposes } from "../../src/explorer/dashboard-data.ts";

describe("formatting DuckDB values", () => {
  it.each([
    ["76.00", 76],
    ["3", 3],
    [0.8219, 0.8219],
    [null, undefined],
    ["", undefined],
    ["abc", undefined],
  ])("toNumber(%j) = %j", (value, expected) => expect(toNumber(value)).toBe(expected));

  it.each([
    ["76.00", "76.00 €"],
    ["25.333", "25.33 €"],
    ["1350", "1,350.00 €"],
    [0, "0.00 €"],
    [null, "–"],
  ])("formatEur(%j) = %s", (value, expected) => expect(formatEur(value)).toBe(expected));

  it.each([
    [0.8219, 0, "82 %"],
    [0.1096, 0, "11 %"],
    [1, 0, "100 %"],
    [0.25, 1, "25.0 %"],
    [null, 0, "–"],
  ])("formatShare(%j, %d) = %s", (value, digits, expected) => expect(formatShare(value, digits)).toBe(expected));

  it.each([
    ["2025-01-10 16:30:00", "2025-01-10 16:30 UTC"],
    ["2025-01-10T16:30:00.123", "2025-01-10 16:30 UTC"],
    [null, "–"],
  ])("formatUtcTimestamp(%j) = %s", (value, expected) => expect(formatUtcTimestamp(value)).toBe(expected));

  it.each([
    ["3", "3"],
    ["12345", "12,345"],
    [undefined, "–"],
  ])("formatCount(%j) = %s", (value, expected) => expect(formatCount(value)).toBe(expected));

  it("formats dates, words, age bands and percentage points", () => {
    expect(formatDate("2023-11-01")).toBe("2023-11-01");
    expect(humanize("one_off")).toBe("one off");
    expect(formatAgeBand("25_34")).toBe("25–34");
    expect(formatAgeBand("65_plus")).toBe("65+");
    expect(formatAgeBand("under_25")).toBe("under 25");
    expect(formatPoints(0.05)).toBe("+5.0 pp");
    expect(formatPoints(-0.031)).toBe("−3.1 pp");
    expect(formatPoints(0)).toBe("0.0 pp");
  });
});

describe("consents", () => {
  it.each([
    ["granted", "granted", "granted"],
    ["denied", "denied", "denied"],
    ["not_set", "not_set", "not set"],
    [null, "not_set", "not set"],
    ["odd", "unknown", "odd"],
  ])("consentLabel(%j) is %s, shown as %s", (value, status, label) => expect(consentLabel(value)).toEqual({ status, label }));

  it("finds the purposes among a profile's columns", () => {
    expect(consentPurposes(["customer_id", "consent_email_marketing", "consent_email_marketing_changed_at", "consent_partner_meta", "coupon_code"])).toEqual([
      "email_marketing",
      "partner_meta",
    ]);
  });
});

describe("search patterns", () => {
  it.each([
    ["Aino", "%aino%"],
    ["50%", "%50\\%%"],
    ["a_b", "%a\\_b%"],
    ["back\\slash", "%back\\\\slash%"],
  ])("containsPattern(%j) = %j", (text, expected) => expect(containsPattern(text)).toBe(expected));
});

describe("dashboard data", () => {
  it("lays cohorts out as rows and months since the first order as columns", () => {
    const heat = cohortHeatMap([
      { cohort_month: "2024-02-01", months_since_cohort: 0, cohort_customers: 4, retention_rate: 1 },
      { cohort_month: "2024-01-01", months_since_cohort: 0, cohort_customers: 10, retention_rate: 1 },
      { cohort_month: "2024-01-01", months_since_cohort: 2, cohort_customers: 10, retention_rate: 0.3 },
    ]);
    expect(heat.months).toEqual([0, 1, 2]);
    expect(heat.rows).toEqual([
      { cohortMonth: "2024-01", customers: 10, cells: [1, undefined, 0.3] },
      { cohortMonth: "2024-02", customers: 4, cells: [1, undefined, undefined] },
    ]);
    expect(cohortHeatMap([])).toEqual({ months: [0], rows: [] });
  });

  it("turns KPI rows into chart series, BIGINT strings into numbers", () => {
    const data = chartData({
      monthly: [
        { kpi_month: "2024-01-01", revenue_eur: "10.50", orders: "2", active_customers_12m: "5", customers_ordering: "2", new_customers: "1", passive_customers: null },
      ],
      snapshot: { email_marketing_granted_share: 0.5, email_marketing_denied_share: 0.25, email_marketing_not_set_share: 0.25 },
      cohorts: [],
    });
    expect(data).toEqual({
      months: ["2024-01"],
      revenueEur: [10.5],
      orders: [2],
      activeCustomers12m: [5],
      customersOrdering: [2],
      newCustomers: [1],
      passiveCustomers: [0],
      permissions: { purposes: ["email marketing"], granted: [0.5], denied: [0.25], notSet: [0.25] },
      campaigns: undefined,
    });
    expect(permissionPurposes({ a_granted_share: 1, b_granted_share: 0, a_denied_share: 0 })).toEqual(["a", "b"]);
  });
});
