/**
 * Google Cloud Dataform's compilation limits (cloud.google.com/dataform/docs/quotas, "Dataform compilation
 * resource limits"), checked on the graph the official CLI compiles from a release. CPU and wall time are
 * measured and reported by `slice release --check`, not asserted in tests: they depend on the machine.
 */
export const DATAFORM_COMPILATION_LIMITS = {
  maxActions: 5000,
  maxDependenciesPerAction: 50,
  maxCompiledGraphBytes: 20 * 1024 * 1024,
  maxCompileCpuSeconds: 8,
  maxCompileWallSeconds: 30,
} as const;

interface GraphAction {
  target?: { schema?: string; name?: string };
  dependencyTargets?: unknown[];
}

export interface GraphLimitReport {
  actions: number;
  mostDependencies: { action: string; dependencies: number };
  compiledGraphBytes: number;
  problems: string[];
}

function actionsOf(graph: Record<string, unknown>): GraphAction[] {
  // Declarations are not actions Dataform executes, but they count toward the graph's size only.
  return ["tables", "operations", "assertions"].flatMap((kind) => (Array.isArray(graph[kind]) ? (graph[kind] as GraphAction[]) : []));
}

/** Checks a compiled graph (the JSON `dataform compile --json` prints) against the fixed limits. */
export function checkCompilationLimits(graph: Record<string, unknown>, limits = DATAFORM_COMPILATION_LIMITS): GraphLimitReport {
  const actions = actionsOf(graph);
  const problems: string[] = [];
  if (actions.length > limits.maxActions) {
    problems.push(`${actions.length} actions; Google Cloud Dataform compiles at most ${limits.maxActions} per repository. Fix: split the repository.`);
  }
  let mostDependencies = { action: "(none)", dependencies: 0 };
  for (const action of actions) {
    const count = action.dependencyTargets?.length ?? 0;
    const name = `${action.target?.schema ?? "?"}.${action.target?.name ?? "?"}`;
    if (count > mostDependencies.dependencies) mostDependencies = { action: name, dependencies: count };
    if (count > limits.maxDependenciesPerAction) {
      problems.push(`${name} depends on ${count} actions; the limit is ${limits.maxDependenciesPerAction}. Fix: depend on an intermediate action that gathers them.`);
    }
  }
  const compiledGraphBytes = Buffer.byteLength(JSON.stringify(graph));
  if (compiledGraphBytes > limits.maxCompiledGraphBytes) {
    problems.push(`the compiled graph is ${compiledGraphBytes} bytes; the limit is ${limits.maxCompiledGraphBytes}.`);
  }
  return { actions: actions.length, mostDependencies, compiledGraphBytes, problems };
}
