/**
 * The runner's scheduling, apart from any warehouse: which planned action may start (its dependencies in the
 * run have finished), how many run at once (one slot each, e.g. a connection), and what a failure holds back
 * under the assertion policy. `runGraph` (execute.ts) gives it the work; tests/runner/scheduler.test.ts
 * drives it with plain promises.
 */

export type ActionStatus = "succeeded" | "failed" | "skipped" | "assertion_failed";

/** What a failing assertion holds back: only actions that depend on it, everything below its table, or nothing. */
export type AssertionPolicy = "block-dependents" | "block-downstream" | "warn";

export interface SchedulableAction {
  key: string;
  kind: string;
  /** Keys this action reads from. */
  dependencies: string[];
  /** For assertions: the key of the table they check. */
  parent?: string;
}

export interface ScheduleOptions<A extends SchedulableAction, R extends { status: ActionStatus }> {
  /** The actions to run, in a valid order (dependencies first); declarations left out. */
  planned: A[];
  /** Whether the run must wait for this dependency: false for declarations and actions outside the selection. */
  waitsForKey: (key: string) => boolean;
  /** The actions that read from `key` (directly). */
  dependents: (key: string) => readonly string[];
  policy: AssertionPolicy;
  /** Slots: at most this many actions run at once. */
  concurrency: number;
  /** Runs an action in a slot (0 .. concurrency-1). Should resolve with a failed result rather than throw. */
  run: (action: A, slot: number) => Promise<R>;
  /** The result of an action held back by a failure upstream. */
  skipped: (action: A) => R;
  onStart?: (action: A, index: number) => void;
  /** Called once per action, in the order they finish; `index` counts finished actions. */
  onFinish?: (action: A, result: R, index: number, startedMs: number) => void;
}

/**
 * Whether an incremental table's action runs incrementally: the table exists, and neither --full-refresh
 * nor a new raw epoch (`rebuild`) asks for a rebuild, which a protected table never gets. The runner builds
 * by it and the schedule times by it.
 */
export function runsIncrementally(tableExists: boolean, rebuild: boolean, isProtected: boolean): boolean {
  return tableExists && (!rebuild || isProtected);
}

/**
 * The expected time of an incremental run with none logged: a full build's time overstates it many times
 * over (at 1,000,000 customers the product history took 41 s in a full build and 0.7 s in the next day's
 * run), so until the first incremental run is logged it counts as a short step.
 */
export const UNLOGGED_INCREMENTAL_SECONDS = 1;

/** An action's latest successful time in the run log, per kind of run. */
export interface LoggedSeconds {
  action: string;
  incremental: boolean;
  seconds: number;
}

/**
 * The time longestChainFirst expects of each action: its latest time in a run of the same kind, because an
 * incremental table's full build and its daily run differ by orders of magnitude. `incrementalRuns` holds the
 * actions that run incrementally this time; one without a logged incremental run counts
 * UNLOGGED_INCREMENTAL_SECONDS; any other action its latest logged time outside incremental runs, or
 * undefined when there is none.
 */
export function expectedSeconds(logged: readonly LoggedSeconds[], incrementalRuns: ReadonlySet<string>): (key: string) => number | undefined {
  const times = new Map(logged.map((row) => [`${row.incremental ? "incremental" : "full"} ${row.action}`, row.seconds]));
  return (key) => (incrementalRuns.has(key) ? times.get(`incremental ${key}`) ?? UNLOGGED_INCREMENTAL_SECONDS : times.get(`full ${key}`));
}

/**
 * The planned actions reordered so that, of the actions ready at once, the one heading the longest remaining
 * chain of work starts first: its seconds plus the longest chain among the actions that read from it (in the
 * plan). A run that starts a short side branch while the long chain (identity stitching, say) waits for a slot
 * finishes later by the chain's wait. `seconds` gives an action's expected time (expectedSeconds, from the
 * run log), undefined when unknown: counted as 0, so without any known time the plan order stays as it is.
 * Still a valid order: an action's chain includes its readers' chains, ties keep the plan order.
 */
export function longestChainFirst<A extends SchedulableAction>(planned: readonly A[], seconds: (key: string) => number | undefined): A[] {
  const position = new Map(planned.map((action, index) => [action.key, index]));
  const readers = new Map<string, string[]>(planned.map((action) => [action.key, []]));
  for (const action of planned) {
    for (const dependency of action.dependencies) readers.get(dependency)?.push(action.key);
  }
  const chain = new Map<string, number>();
  for (const action of [...planned].reverse()) {
    const own = Math.max(0, seconds(action.key) ?? 0);
    chain.set(action.key, own + Math.max(0, ...readers.get(action.key)!.map((reader) => chain.get(reader) ?? 0)));
  }
  return [...planned].sort((a, b) => chain.get(b.key)! - chain.get(a.key)! || position.get(a.key)! - position.get(b.key)!);
}

/** Runs every planned action once (or skips it) and returns the results by key. */
export async function scheduleActions<A extends SchedulableAction, R extends { status: ActionStatus }>(options: ScheduleOptions<A, R>): Promise<Map<string, R>> {
  const { planned, policy, concurrency } = options;
  // NaN or 0 would open no slot and wait forever
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`concurrency must be a whole number of at least 1, got ${concurrency}.`);
  const results = new Map<string, R>();
  const blocked = new Set<string>();
  const pending = [...planned];
  const running = new Map<string, Promise<void>>();
  const free = Array.from({ length: concurrency }, (_, slot) => concurrency - 1 - slot);
  let index = 0;

  const block = (keys: Iterable<string>) => {
    const stack = [...keys];
    while (stack.length > 0) {
      const key = stack.pop()!;
      for (const dependent of options.dependents(key)) {
        if (!blocked.has(dependent)) {
          blocked.add(dependent);
          stack.push(dependent);
        }
      }
    }
  };

  // With block-downstream, a table's readers also wait for the table's assertions, so a failing check
  // can still hold them back.
  const assertionsOf = new Map<string, string[]>();
  if (policy === "block-downstream") {
    for (const action of planned) {
      if (action.kind === "assertion" && action.parent) assertionsOf.set(action.parent, [...(assertionsOf.get(action.parent) ?? []), action.key]);
    }
  }
  const waitsFor = (action: A) => (action.kind === "assertion" ? action.dependencies : action.dependencies.flatMap((d) => [d, ...(assertionsOf.get(d) ?? [])]));
  const ready = (action: A) => waitsFor(action).every((d) => !options.waitsForKey(d) || results.has(d));

  try {
    while (pending.length > 0 || running.size > 0) {
      for (let i = 0; i < pending.length && free.length > 0; ) {
        const action = pending[i];
        if (blocked.has(action.key)) {
          pending.splice(i, 1);
          const result = options.skipped(action);
          results.set(action.key, result);
          index++;
          options.onFinish?.(action, result, index, Date.now());
          continue;
        }
        if (!ready(action)) {
          i++;
          continue;
        }
        pending.splice(i, 1);
        const slot = free.pop()!;
        options.onStart?.(action, index);
        const t0 = Date.now();
        const job = options.run(action, slot).then((result) => {
          results.set(action.key, result);
          running.delete(action.key);
          free.push(slot);
          index++;
          if (result.status === "failed") block([action.key]);
          if (result.status === "assertion_failed") {
            if (policy === "block-dependents") block([action.key]);
            if (policy === "block-downstream") block([action.key, ...(action.parent ? [action.parent] : [])]);
          }
          options.onFinish?.(action, result, index, t0);
        });
        running.set(action.key, job);
      }
      if (running.size > 0) await Promise.race(running.values());
      else if (pending.length > 0 && pending.every((a) => !ready(a) && !blocked.has(a.key))) {
        throw new Error(`Runner stalled with ${pending.length} action(s) waiting; this is a bug in the plan.`);
      }
    }
  } catch (error) {
    // Whatever threw, nothing may still be running on a slot the caller is about to close.
    await Promise.allSettled(running.values());
    throw error;
  }
  return results;
}
