/** Which temp folders of earlier drops a new drop removes: older than a day and owned by no live process. */
import { mkdtempSync, rmSync, existsSync, readdirSync, mkdirSync, utimesSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createDropTemp, isStaleDropTemp, processIsAlive, removeStaleDropTemps } from "../../../src/activation/s3/temp.ts";

const NOW = new Date("2026-12-06T12:00:00Z");
const HOURS = (h: number) => new Date(NOW.getTime() - h * 3600_000);
const here = { host: "this-host", isAlive: (pid: number) => pid === 100 };

describe("isStaleDropTemp", () => {
  it.each([
    { case: "dead owner, 25 hours old", owner: { pid: 200, host: "this-host", started_at: HOURS(25).toISOString() }, stale: true },
    { case: "dead owner, 23 hours old (may still be a slow drop of another container)", owner: { pid: 200, host: "this-host", started_at: HOURS(23).toISOString() }, stale: false },
    { case: "live owner, 3 days old", owner: { pid: 100, host: "this-host", started_at: HOURS(72).toISOString() }, stale: false },
    { case: "pid alive here but owner on another host, 3 days old", owner: { pid: 100, host: "other-host", started_at: HOURS(72).toISOString() }, stale: true },
    { case: "no owner file, modified 2 days ago", owner: undefined, stale: true },
    { case: "unreadable start time, modified 2 days ago", owner: { pid: 200, host: "this-host", started_at: "garbage" }, stale: true },
  ])("$case -> $stale", ({ owner, stale }) => {
    expect(isStaleDropTemp({ owner, modifiedAt: HOURS(48) }, NOW, here)).toBe(stale);
  });

  it("a folder without owner file modified an hour ago stays", () => {
    expect(isStaleDropTemp({ modifiedAt: HOURS(1) }, NOW, here)).toBe(false);
  });
});

describe("removeStaleDropTemps", () => {
  const root = mkdtempSync(join(tmpdir(), "slice-drops-test-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("removes only the stale folders under the root", async () => {
    const mine = await createDropTemp(root, "mine", HOURS(48));
    const deadPid = 2 ** 22 + 12345; // above Linux's pid_max default, so no process has it
    expect(processIsAlive(deadPid)).toBe(false);
    const { writeFileSync } = await import("node:fs");
    const dead = join(root, "dead");
    mkdirSync(dead);
    writeFileSync(join(dead, "owner.json"), JSON.stringify({ pid: deadPid, host: hostname(), started_at: HOURS(48).toISOString() }));
    writeFileSync(join(dead, "part-00000.csv.gz"), "x");
    const young = join(root, "young");
    mkdirSync(young);
    writeFileSync(join(young, "owner.json"), JSON.stringify({ pid: deadPid, host: hostname(), started_at: HOURS(2).toISOString() }));
    const orphan = join(root, "orphan");
    mkdirSync(orphan);
    utimesSync(orphan, HOURS(30), HOURS(30));

    expect((await removeStaleDropTemps(root, NOW)).sort()).toEqual([dead, orphan].sort());
    expect(readdirSync(root).sort()).toEqual(["mine", "young"]);
    expect(existsSync(mine)).toBe(true);
  });
});
