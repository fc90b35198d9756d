/**
 * The runner's scheduler without a warehouse (issue 23): start order, the concurrency cap, and what a failure
 * or a failing assertion holds back under each policy.
 */
import { describe, expect, it } from "vitest";
import {
  type ActionStatus,
  type AssertionPolicy,
  expectedSeconds,
  longestChainFirst,
  runsIncrementally,
  type SchedulableAction,
  scheduleActions,
  UNLOGGED_INCREMENTAL_SECONDS,
} from "../../src/runner/scheduler.ts";

interface TestResult {
  status: ActionStatus;
}

/** A small graph: raw (declaration) -> a -> b -> c; a's assertion a_check; d independent; e reads b. */
const GRAPH: SchedulableAction[] = [
  { key: "a", kind: "table", dependencies: ["raw"] },
  { key: "a_check", kind: "assertion", dependencies: ["a"], parent: "a" },
  { key: "b", kind: "table", dependencies: ["a"] },
  { key: "c", kind: "view", dependencies: ["b"] },
  { key: "d", kind: "table", dependencies: [] },
  { key: "e", kind: "table", dependencies: ["b", "a_check"] },
];

function dependentsOf(actions: SchedulableAction[]) {
  return (key: string) => actions.filter((a) => a.dependencies.includes(key)).map((a) => a.key);
}

async function schedule(options: { outcomes?: Record<string, ActionStatus>; policy?: AssertionPolicy; concurrency?: number; actions?: SchedulableAction[] }) {
  const actions = options.actions ?? GRAPH;
  const planned = new Set(actions.map((a) => a.key));
  const events: string[] = [];
  let runningNow = 0;
  let mostAtOnce = 0;
  const slotsInUse = new Set<number>();
  const results = await scheduleActions<SchedulableAction, TestResult>({
    planned: actions,
    waitsForKey: (key) => planned.has(key) || key === "missing",
    dependents: dependentsOf(actions),
    policy: options.policy ?? "block-dependents",
    concurrency: options.concurrency ?? 2,
    run: async (action, slot) => {
      expect(slotsInUse.has(slot), `slot ${slot} given twice`).toBe(false);
      slotsInUse.add(slot);
      runningNow += 1;
      mostAtOnce = Math.max(mostAtOnce, runningNow);
      events.push(`start ${action.key}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
      runningNow -= 1;
      slotsInUse.delete(slot);
      events.push(`end ${action.key}`);
      return { status: options.outcomes?.[action.key] ?? "succeeded" };
    },
    skipped: () => ({ status: "skipped" }),
  });
  const statuses = Object.fromEntries([...results].map(([key, r]) => [key, r.status]));
  return { statuses, events, mostAtOnce };
}

describe("scheduleActions", () => {
  it("starts an action only after every dependency in the run has finished, and never the declaration's", async () => {
    const { statuses, events } = await schedule({});
    expect(statuses).toEqual({ a: "succeeded", a_check: "succeeded", b: "succeeded", c: "succeeded", d: "succeeded", e: "succeeded" });
    const at = (event: string) => events.indexOf(event);
    for (const [before, after] of [["a", "b"], ["a", "a_check"], ["b", "c"], ["b", "e"], ["a_check", "e"]]) {
      expect(at(`end ${before}`), `${before} before ${after}`).toBeLessThan(at(`start ${after}`));
    }
  });

  it.each([1, 2, 3])("runs at most %i action(s) at once, each in its own slot", async (concurrency) => {
    const independent = Array.from({ length: 6 }, (_, i) => ({ key: `t${i}`, kind: "table", dependencies: [] }));
    const { mostAtOnce, statuses } = await schedule({ actions: independent, concurrency });
    expect(mostAtOnce).toBe(concurrency);
    expect(Object.values(statuses).every((s) => s === "succeeded")).toBe(true);
  });

  it.each<{ policy: AssertionPolicy; outcomes: Record<string, ActionStatus>; expected: Record<string, ActionStatus> }>([
    // A failed table holds back everything below it, nothing beside it.
    {
      policy: "block-dependents",
      outcomes: { a: "failed" },
      expected: { a: "failed", a_check: "skipped", b: "skipped", c: "skipped", d: "succeeded", e: "skipped" },
    },
    // A failing assertion holds back only what depends on the assertion itself.
    {
      policy: "block-dependents",
      outcomes: { a_check: "assertion_failed" },
      expected: { a: "succeeded", a_check: "assertion_failed", b: "succeeded", c: "succeeded", d: "succeeded", e: "skipped" },
    },
    // block-downstream: the checked table's readers wait for its assertions, and a failure holds them all back.
    {
      policy: "block-downstream",
      outcomes: { a_check: "assertion_failed" },
      expected: { a: "succeeded", a_check: "assertion_failed", b: "skipped", c: "skipped", d: "succeeded", e: "skipped" },
    },
    // warn: a failing assertion holds back nothing.
    {
      policy: "warn",
      outcomes: { a_check: "assertion_failed" },
      expected: { a: "succeeded", a_check: "assertion_failed", b: "succeeded", c: "succeeded", d: "succeeded", e: "succeeded" },
    },
    // A failure is never softened by the policy.
    {
      policy: "warn",
      outcomes: { b: "failed" },
      expected: { a: "succeeded", a_check: "succeeded", b: "failed", c: "skipped", d: "succeeded", e: "skipped" },
    },
  ])("$policy with $outcomes", async ({ policy, outcomes, expected }) => {
    const { statuses } = await schedule({ policy, outcomes });
    expect(statuses).toEqual(expected);
  });

  it("refuses a plan that can never finish, after what was running has settled", async () => {
    const actions = [
      { key: "x", kind: "table", dependencies: [] },
      { key: "y", kind: "table", dependencies: ["missing"] },
    ];
    await expect(schedule({ actions })).rejects.toThrow(/Runner stalled with 1 action\(s\) waiting/);
  });

  it.each([0, -1, 1.5, Number.NaN])("refuses concurrency %s", async (concurrency) => {
    await expect(schedule({ concurrency })).rejects.toThrow(/concurrency must be a whole number of at least 1/);
  });
});

describe("runsIncrementally", () => {
  it.each([
    { name: "an existing table without a rebuild", exists: true, rebuild: false, isProtected: false, expected: true },
    { name: "a missing table", exists: false, rebuild: false, isProtected: false, expected: false },
    { name: "a rebuild (--full-refresh or a new raw epoch)", exists: true, rebuild: true, isProtected: false, expected: false },
    { name: "a protected table asked to rebuild", exists: true, rebuild: true, isProtected: true, expected: true },
    { name: "a missing protected table", exists: false, rebuild: true, isProtected: true, expected: false },
  ])("$name: $expected", ({ exists, rebuild, isProtected, expected }) => {
    expect(runsIncrementally(exists, rebuild, isProtected)).toBe(expected);
  });
});

describe("expectedSeconds", () => {
  // a: an incremental table built once in full (40 s); b: the same, with one incremental run logged (2 s);
  // c: a table rebuilt every run; d: never run
  const logged = [
    { action: "a", incremental: false, seconds: 40 },
    { action: "b", incremental: false, seconds: 30 },
    { action: "b", incremental: true, seconds: 2 },
    { action: "c", incremental: false, seconds: 7 },
  ];
  it.each([
    { name: "an incremental run with none logged counts as a short step, not its full build", key: "a", incremental: true, expected: UNLOGGED_INCREMENTAL_SECONDS },
    { name: "an incremental run takes its latest incremental time", key: "b", incremental: true, expected: 2 },
    { name: "a full rebuild of an incremental table takes its full time", key: "b", incremental: false, expected: 30 },
    { name: "a table rebuilt every run takes its latest time", key: "c", incremental: false, expected: 7 },
    { name: "an action never logged is unknown", key: "d", incremental: false, expected: undefined },
  ])("$name", ({ key, incremental, expected }) => {
    expect(expectedSeconds(logged, new Set(incremental ? [key] : []))(key)).toBe(expected);
  });

  it("puts the chain of a long table before incremental actions whose full builds were longer", () => {
    // x (incremental, 60 s in its full build) and y (a table, 10 s) are both ready; y heads the longer chain today
    const actions: SchedulableAction[] = [
      { key: "x", kind: "incremental", dependencies: [] },
      { key: "y", kind: "table", dependencies: [] },
    ];
    const seconds = expectedSeconds([{ action: "x", incremental: false, seconds: 60 }, { action: "y", incremental: false, seconds: 10 }], new Set(["x"]));
    expect(longestChainFirst(actions, seconds).map((a) => a.key)).toEqual(["y", "x"]);
  });
});

describe("longestChainFirst", () => {
  const keys = (actions: SchedulableAction[]) => actions.map((a) => a.key);
  it.each([
    { name: "no known times keep the plan order", seconds: {}, expected: ["a", "a_check", "b", "c", "d", "e"] },
    // d alone (5 s) outweighs the chain a, b, e (3 s); a_check heads e (1 s) and ties with e: plan order
    { name: "a long independent action goes first", seconds: { a: 1, b: 1, e: 1, d: 5 }, expected: ["d", "a", "b", "a_check", "e", "c"] },
    { name: "a long chain goes before a longer single step beside it", seconds: { a: 1, b: 1, c: 4, d: 5 }, expected: ["a", "b", "d", "c", "a_check", "e"] },
    { name: "times of actions outside the plan and negative times change nothing", seconds: { raw: 100, a: -3 }, expected: ["a", "a_check", "b", "c", "d", "e"] },
  ])("$name", ({ seconds, expected }) => {
    const ordered = longestChainFirst(GRAPH, (key) => (seconds as Record<string, number>)[key]);
    expect(keys(ordered)).toEqual(expected);
    // still a valid order: every dependency in the plan comes before its reader
    const at = new Map(ordered.map((a, i) => [a.key, i]));
    for (const action of ordered) for (const d of action.dependencies) if (at.has(d)) expect(at.get(d)!).toBeLessThan(at.get(action.key)!);
  });

  it("under two slots, the long chain no longer waits behind a short branch", async () => {
    // planned order runs x (short side branch) before the chain's head would get its second slot
    const actions: SchedulableAction[] = [
      { key: "side1", kind: "table", dependencies: [] },
      { key: "side2", kind: "table", dependencies: [] },
      { key: "head", kind: "table", dependencies: [] },
      { key: "tail", kind: "table", dependencies: ["head"] },
    ];
    const time: Record<string, number> = { side1: 1, side2: 1, head: 3, tail: 3 };
    const started: string[] = [];
    await scheduleActions<SchedulableAction, TestResult>({
      planned: longestChainFirst(actions, (key) => time[key]),
      waitsForKey: () => true,
      dependents: dependentsOf(actions),
      policy: "block-dependents",
      concurrency: 2,
      run: async (action) => {
        started.push(action.key);
        return { status: "succeeded" };
      },
      skipped: () => ({ status: "skipped" }),
    });
    expect(started.slice(0, 2)).toEqual(["head", "side1"]);
  });
});
