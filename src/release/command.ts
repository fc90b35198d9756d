/**
 * `slice release`: cut the Dataform release Google Cloud Dataform compiles (src/release/release.ts) from a
 * commit, onto a branch the release configuration points at (deploy/), and prove it compiles there.
 */
import { resolve } from "node:path";
import type { Command } from "commander";
import { z } from "zod";
import { checkRelease } from "./check.ts";
import { DATAFORM_COMPILATION_LIMITS } from "./limits.ts";
import { commitReleaseTree, releaseTreeAt, writeReleaseTree } from "./release.ts";

export const releaseOptionsSchema = z.object({
  ref: z.string().min(1, "--ref must name a commit, e.g. HEAD or a tag"),
  branch: z.string().optional(),
  out: z.string().optional(),
  check: z.boolean().default(false),
});
export type ReleaseOptions = z.infer<typeof releaseOptionsSchema>;

export async function runReleaseCommand(repoDir: string, options: ReleaseOptions, print: (line: string) => void = console.log): Promise<number> {
  const tree = await releaseTreeAt(repoDir, options.ref);
  print(`Release of ${tree.sourceCommit.slice(0, 12)}: ${tree.files.length} files, @dataform/core ${tree.dataformCoreVersion}`);
  if (options.out) {
    await writeReleaseTree(tree, resolve(options.out));
    print(`Written to ${resolve(options.out)}`);
  }
  if (options.check) {
    const check = await checkRelease(tree);
    const limits = DATAFORM_COMPILATION_LIMITS;
    print(`Installed ${check.installedPackages.join(", ")} in ${check.installSeconds.toFixed(1)} s (npm i --ignore-scripts)`);
    print(`Compiled in ${check.compileSeconds.toFixed(1)} s wall (limit ${limits.maxCompileWallSeconds} s wall, ${limits.maxCompileCpuSeconds} s CPU)`);
    print(
      `${check.limits.actions} actions (limit ${limits.maxActions}); most dependencies: ${check.limits.mostDependencies.action} ` +
        `with ${check.limits.mostDependencies.dependencies} (limit ${limits.maxDependenciesPerAction}); ` +
        `graph ${(check.limits.compiledGraphBytes / 1024 / 1024).toFixed(2)} MiB (limit 20 MiB)`,
    );
    const problems = [...check.compilationErrors.map((e) => `${e.fileName ?? "(project)"}: ${e.message}`), ...check.limits.problems];
    if (check.compileSeconds > limits.maxCompileWallSeconds) problems.push(`compilation took ${check.compileSeconds.toFixed(1)} s here; Google allows ${limits.maxCompileWallSeconds} s.`);
    if (problems.length > 0) {
      for (const problem of problems) print(`  problem: ${problem}`);
      return 1;
    }
    print("The release compiles as Google Cloud Dataform would compile it.");
  }
  if (options.branch) {
    const { commit, changed } = await commitReleaseTree(repoDir, tree, options.branch);
    print(changed ? `Committed ${commit.slice(0, 12)} on ${options.branch}; push it: git push origin ${options.branch}` : `${options.branch} already holds this release (${commit.slice(0, 12)}).`);
  }
  return 0;
}

export function registerReleaseCommand(program: Command): void {
  program
    .command("release")
    .description("cut the Dataform release (workflow_settings.yaml, definitions/, includes/ and a package.json with @dataform/core only) from a commit")
    .option("--ref <commit>", "the commit to release", "HEAD")
    .option("--branch <name>", "commit the release onto this branch (the Dataform release configuration's git commitish), e.g. dataform-release")
    .option("--out <dir>", "also write the release's files into this directory")
    .option("--check", "install and compile the release in a clean copy as Google Cloud Dataform would, and check its limits", false)
    .action(async (raw: Record<string, unknown>) => {
      const parsed = releaseOptionsSchema.safeParse(raw);
      if (!parsed.success) {
        console.error(parsed.error.issues.map((i) => i.message).join("\n"));
        process.exitCode = 2;
        return;
      }
      process.exitCode = await runReleaseCommand(process.cwd(), parsed.data);
    });
}
