import { describe, expect, it } from "vitest";
import { addDays, backfillDates, buildAgeDays, isIsoDate, localDate, scheduledAsOfDate } from "../../src/schedule/dates.ts";

describe("scheduledAsOfDate: yesterday in the chain's time zone", () => {
  // Europe/Helsinki: UTC+2 in winter, UTC+3 in summer; DST 2026-03-29 03:00 -> 04:00, 2026-10-25 04:00 -> 03:00.
  const cases: [string, string, string, number | undefined, string][] = [
    ["just after local midnight (winter)", "2026-11-20T22:00:00Z", "Europe/Helsinki", undefined, "2026-11-20"],
    ["half an hour after local midnight, still the 20th in UTC", "2026-11-20T22:30:00Z", "Europe/Helsinki", undefined, "2026-11-20"],
    ["one minute before local midnight", "2026-11-20T21:59:00Z", "Europe/Helsinki", undefined, "2026-11-19"],
    ["just after local midnight (summer, UTC+3)", "2026-07-01T21:00:00Z", "Europe/Helsinki", undefined, "2026-07-01"],
    ["summer, one minute before", "2026-07-01T20:59:00Z", "Europe/Helsinki", undefined, "2026-06-30"],
    ["DST starts: 02:30 local on the 23-hour day", "2026-03-29T00:30:00Z", "Europe/Helsinki", undefined, "2026-03-28"],
    ["after the 23-hour day", "2026-03-29T21:30:00Z", "Europe/Helsinki", undefined, "2026-03-29"],
    ["DST ends: 00:30 local on the 25-hour day", "2026-10-24T21:30:00Z", "Europe/Helsinki", undefined, "2026-10-24"],
    ["after the 25-hour day", "2026-10-25T22:30:00Z", "Europe/Helsinki", undefined, "2026-10-25"],
    ["new year", "2026-12-31T22:10:00Z", "Europe/Helsinki", undefined, "2026-12-31"],
    ["leap day", "2028-03-01T10:00:00Z", "Europe/Helsinki", undefined, "2028-02-29"],
    ["UTC", "2026-11-21T00:30:00Z", "UTC", undefined, "2026-11-20"],
    ["west of UTC: still the 20th in Los Angeles", "2026-11-21T07:30:00Z", "America/Los_Angeles", undefined, "2026-11-19"],
    ["offset 0: today so far", "2026-11-20T22:30:00Z", "Europe/Helsinki", 0, "2026-11-21"],
    ["offset 2", "2026-11-20T22:30:00Z", "Europe/Helsinki", 2, "2026-11-19"],
  ];
  it.each(cases)("%s", (_name, now, timeZone, offsetDays, expected) => {
    expect(scheduledAsOfDate(new Date(now), { timeZone, offsetDays })).toBe(expected);
  });

  it("refuses an unknown zone and an offset out of range, naming the fix", () => {
    expect(() => scheduledAsOfDate(new Date(), { timeZone: "Europe/Helsingfors" })).toThrow(/Europe\/Helsingfors.*IANA/);
    expect(() => scheduledAsOfDate(new Date(), { timeZone: "UTC", offsetDays: -1 })).toThrow(/from 0 .* to 31/);
    expect(() => scheduledAsOfDate(new Date(), { timeZone: "UTC", offsetDays: 1.5 })).toThrow(/whole number/);
  });
});

describe("date helpers", () => {
  it.each([
    ["2026-11-20", true], ["2026-02-29", false], ["2028-02-29", true], ["2026-13-01", false], ["2026-1-01", false], ["20261120", false], ["", false],
  ] as const)("isIsoDate(%s) = %s", (value, ok) => expect(isIsoDate(value)).toBe(ok));

  it.each([
    ["2026-10-25", 1, "2026-10-26"], ["2026-03-29", 1, "2026-03-30"], ["2026-03-01", -1, "2026-02-28"], ["2026-12-31", 1, "2027-01-01"], ["2026-11-20", -30, "2026-10-21"],
  ] as const)("addDays(%s, %d) = %s", (date, days, expected) => expect(addDays(date, days)).toBe(expected));

  it("localDate reads the calendar date in the zone", () => {
    expect(localDate(new Date("2026-11-20T22:00:00Z"), "Europe/Helsinki")).toBe("2026-11-21");
    expect(localDate(new Date("2026-11-20T22:00:00Z"), "UTC")).toBe("2026-11-20");
  });

  it.each([
    ["2026-11-20", "2026-11-20", 0], ["2026-11-18", "2026-11-20", 2], ["2026-10-24", "2026-10-26", 2], ["2026-11-21", "2026-11-20", -1],
  ] as const)("buildAgeDays(%s, %s) = %d", (last, expected, age) => expect(buildAgeDays(last, expected)).toBe(age));
});

describe("backfillDates: inclusive, in order, validated", () => {
  it.each([
    ["one date", { date: "2026-11-17" }, ["2026-11-17"]],
    ["a range across a month end", { from: "2026-10-30", to: "2026-11-02" }, ["2026-10-30", "2026-10-31", "2026-11-01", "2026-11-02"]],
    ["a range of one day", { from: "2026-11-17", to: "2026-11-17" }, ["2026-11-17"]],
    ["across the DST change", { from: "2026-10-24", to: "2026-10-26" }, ["2026-10-24", "2026-10-25", "2026-10-26"]],
  ] as const)("%s", (_name, request, expected) => {
    expect(backfillDates(request, "2026-11-20")).toEqual(expected);
  });

  it.each([
    ["not a date", { date: "2026-11-31" }, /--date "2026-11-31" is not a date.*YYYY-MM-DD/],
    ["bad --from", { from: "17.11.2026", to: "2026-11-20" }, /--from "17.11.2026" is not a date/],
    ["backwards", { from: "2026-11-20", to: "2026-11-17" }, /--from 2026-11-20 is after --to 2026-11-17.*earlier date as --from/],
    ["too long", { from: "2025-01-01", to: "2026-11-20" }, /at most 366 days/],
    ["a day that has not ended", { date: "2026-11-21" }, /2026-11-21 has not ended yet.*latest date to build is 2026-11-20/],
    ["a range into the future", { from: "2026-11-19", to: "2026-11-22" }, /2026-11-22 has not ended yet/],
  ] as const)("refuses %s", (_name, request, message) => {
    expect(() => backfillDates(request, "2026-11-20")).toThrow(message);
  });
});
