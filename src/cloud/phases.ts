/**
 * The two phases of a scheduled build on Google Cloud, as `slice daily` runs them (src/daily/daily.ts
 * buildPhases): the chain first, then the publish phase (every action in the activation dataset and
 * everything downstream of one) only when the chain succeeded, so a build that fails a check never
 * rewrites what partners read. Computed from the compilation result's actions as the Dataform API lists
 * them (queryCompilationResultActions); each phase is one workflow invocation of its includedTargets.
 */
/** src/daily/daily.ts PUBLISH_SCHEMA (not imported: that module loads the DuckDB runner). */
export const PUBLISH_SCHEMA = "activation";

export interface ApiTarget {
  database?: string | null;
  schema?: string | null;
  name?: string | null;
}

interface Compiled {
  dependencyTargets?: ApiTarget[] | null;
  disabled?: boolean | null;
}

/** A CompilationResultAction of the v1 API: one of relation, operations, assertion, declaration, … */
export interface ApiAction {
  target?: ApiTarget | null;
  relation?: Compiled | null;
  operations?: Compiled | null;
  assertion?: Compiled | null;
  declaration?: object | null;
  notebook?: Compiled | null;
  dataPreparation?: Compiled | null;
}

export interface BuildPhaseTargets {
  chain: ApiTarget[];
  publish: ApiTarget[];
}

const keyOf = (target: ApiTarget | null | undefined) => `${target?.schema ?? ""}.${target?.name ?? ""}`;

/** Runnable actions split into the chain and the publish phase; declarations and disabled actions left out. */
export function buildPhaseTargets(actions: readonly ApiAction[]): BuildPhaseTargets {
  const runnable = new Map<string, { target: ApiTarget; dependencies: string[] }>();
  for (const action of actions) {
    const compiled = action.relation ?? action.operations ?? action.assertion ?? action.notebook ?? action.dataPreparation;
    if (!compiled || compiled.disabled || !action.target) continue;
    runnable.set(keyOf(action.target), { target: action.target, dependencies: (compiled.dependencyTargets ?? []).map(keyOf) });
  }
  const dependents = new Map<string, string[]>();
  for (const [key, action] of runnable) for (const dependency of action.dependencies) dependents.set(dependency, [...(dependents.get(dependency) ?? []), key]);
  const publish = new Set<string>();
  const stack = [...runnable.values()].filter((action) => action.target.schema === PUBLISH_SCHEMA).map((action) => keyOf(action.target));
  while (stack.length > 0) {
    const key = stack.pop()!;
    if (publish.has(key)) continue;
    publish.add(key);
    stack.push(...(dependents.get(key) ?? []).filter((dependent) => runnable.has(dependent)));
  }
  const chain: ApiTarget[] = [];
  const published: ApiTarget[] = [];
  for (const [key, action] of runnable) (publish.has(key) ? published : chain).push(action.target);
  return { chain, publish: published };
}
