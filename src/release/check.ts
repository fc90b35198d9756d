/**
 * Compiles a release the way Google Cloud Dataform does: from a copy holding only the release's files, after
 * installing its package.json with `npm i --ignore-scripts` (what the open-source CLI's `dataform install`
 * runs; Google does not document its hosted command, see docs/deploy.md), with the official Dataform CLI.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runDataformCompile } from "../dataform/compile.ts";
import { checkCompilationLimits, type GraphLimitReport } from "./limits.ts";
import { writeReleaseTree, type ReleaseTree } from "./release.ts";

export interface ReleaseCheck {
  dir: string;
  installedPackages: string[];
  installSeconds: number;
  compileSeconds: number;
  compilationErrors: { fileName?: string; message: string }[];
  graph: Record<string, unknown>;
  limits: GraphLimitReport;
}

function npmInstall(dir: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      "npm",
      ["install", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"],
      { cwd: dir, timeout: 300_000, env: { ...process.env, npm_config_workspaces: "false" } },
      (error, _stdout, stderr) => {
        if (error) reject(new Error(`npm install in the release copy ${dir} failed: ${String(stderr).trim() || error.message}`));
        else resolvePromise();
      },
    );
  });
}

/** Top-level packages in node_modules (scoped ones as @scope/name). */
async function installedPackages(dir: string): Promise<string[]> {
  const root = join(dir, "node_modules");
  const names: string[] = [];
  for (const entry of await readdir(root).catch(() => [] as string[])) {
    if (entry.startsWith(".")) continue;
    if (entry.startsWith("@")) {
      for (const scoped of await readdir(join(root, entry))) names.push(`${entry}/${scoped}`);
    } else names.push(entry);
  }
  return names.sort();
}

export async function checkRelease(tree: ReleaseTree, options: { dir?: string; keep?: boolean; vars?: Record<string, string> } = {}): Promise<ReleaseCheck> {
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), "slice-release-")));
  try {
    await writeReleaseTree(tree, dir);
    const installStarted = performance.now();
    await npmInstall(dir);
    const installSeconds = (performance.now() - installStarted) / 1000;
    const compileStarted = performance.now();
    const graph = (await runDataformCompile({ projectDir: dir, vars: options.vars })) as Record<string, unknown>;
    const compileSeconds = (performance.now() - compileStarted) / 1000;
    const errors = ((graph.graphErrors as { compilationErrors?: { fileName?: string; message: string }[] } | undefined)?.compilationErrors ?? []);
    return {
      dir,
      installedPackages: await installedPackages(dir),
      installSeconds,
      compileSeconds,
      compilationErrors: errors,
      graph,
      limits: checkCompilationLimits(graph),
    };
  } finally {
    if (!options.keep && !options.dir) await rm(dir, { recursive: true, force: true });
  }
}
