import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runDataformCompile } from "../../src/dataform/compile.ts";
import { checkRelease } from "../../src/release/check.ts";
import { checkCompilationLimits } from "../../src/release/limits.ts";
import { commitReleaseTree, pinnedDataformCoreVersion, releaseTreeAt } from "../../src/release/release.ts";

const repo = resolve(import.meta.dirname, "../..");
const scratch: string[] = [];
const tempDir = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratch.push(dir);
  return dir;
};
afterAll(() => scratch.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

const git = (cwd: string, ...args: string[]) => execFileSync("git", args, { cwd, encoding: "utf8" }).trim();

describe("pinnedDataformCoreVersion", () => {
  it.each([
    ['{"dependencies":{"@dataform/core":"3.0.62"}}', "3.0.62", undefined],
    ['{"devDependencies":{"@dataform/core":"3.1.0"}}', "3.1.0", undefined],
    ['{"dependencies":{"@dataform/core":"^3.0.62"}}', undefined, /pins an exact version/],
    ['{"dependencies":{"@dataform/core":"latest"}}', undefined, /pins an exact version/],
    ['{"dependencies":{"hono":"4.0.0"}}', undefined, /no "@dataform\/core" dependency/],
    ["{not json", undefined, /not valid JSON/],
  ])("%s", (text, version, error) => {
    if (error) expect(() => pinnedDataformCoreVersion(text, "package.json")).toThrow(error);
    else expect(pinnedDataformCoreVersion(text, "package.json")).toBe(version);
  });
});

describe("checkCompilationLimits", () => {
  const action = (name: string, deps: number) => ({
    target: { schema: "s", name },
    dependencyTargets: Array.from({ length: deps }, (_, i) => ({ schema: "s", name: `d${i}` })),
  });
  it.each([
    ["a small graph", { tables: [action("a", 3)], assertions: [action("b", 50)] }, []],
    ["51 dependencies", { tables: [action("wide", 51)] }, [/s\.wide depends on 51 actions; the limit is 50/]],
    ["5001 actions", { operations: Array.from({ length: 5001 }, (_, i) => action(`o${i}`, 0)) }, [/5001 actions/]],
  ])("%s", (_name, graph, expected) => {
    const report = checkCompilationLimits(graph as Record<string, unknown>);
    expect(report.problems).toHaveLength(expected.length);
    expected.forEach((pattern, i) => expect(report.problems[i]).toMatch(pattern));
  });
});

// CI runs on a clean clone; a developer with uncommitted model edits gets the install and limit checks only.
const releasePathsDirty = git(repo, "status", "--porcelain", "--", "workflow_settings.yaml", "definitions", "includes") !== "";

describe("the Dataform release of HEAD", () => {
  it("holds only the Dataform project and a package.json whose one dependency is @dataform/core", async () => {
    const tree = await releaseTreeAt(repo, "HEAD");
    const tracked = git(repo, "ls-tree", "-r", "--name-only", "HEAD", "--", "workflow_settings.yaml", "definitions", "includes").split("\n");
    expect(tree.files.map((f) => f.path).sort()).toEqual([...tracked, ".gitignore", "package.json", "release.json"].sort());
    const pkg = JSON.parse(tree.files.find((f) => f.path === "package.json")!.content.toString());
    const devPkg = JSON.parse(git(repo, "show", "HEAD:package.json"));
    expect(pkg.dependencies).toEqual({ "@dataform/core": devPkg.dependencies["@dataform/core"] });
    expect(pkg.devDependencies).toBeUndefined();
    expect(pkg.scripts).toBeUndefined();
  });

  it(
    "installs one package and compiles, from a clean copy, the same graph as the development repository, within Google's limits",
    async () => {
      const tree = await releaseTreeAt(repo, "HEAD");
      const check = await checkRelease(tree);
      expect(check.installedPackages).toEqual(["@dataform/core"]);
      expect(check.compilationErrors).toEqual([]);
      expect(check.limits.problems).toEqual([]);

      // The development repository, compiled in place with its full toolchain installed. (A symlinked
      // node_modules is refused by the CLI's sandbox, so the comparison needs the work tree to equal HEAD.)
      if (releasePathsDirty) return;
      const fullGraph = (await runDataformCompile({ projectDir: repo })) as Record<string, unknown>;
      const shape = (graph: Record<string, unknown>) =>
        ["tables", "operations", "assertions", "declarations"].map((kind) =>
          ((graph[kind] as Record<string, unknown>[] | undefined) ?? []).map((a) => ({
            target: a.target,
            query: a.query ?? a.queries,
            incrementalQuery: a.incrementalQuery,
            dependencyTargets: a.dependencyTargets,
          })),
        );
      expect(shape(check.graph)).toEqual(shape(fullGraph));
      expect((check.graph.tables as unknown[]).length).toBeGreaterThan(20);
    },
    240_000,
  );
});

describe("commitReleaseTree", () => {
  it("commits the release onto its branch without touching the work tree, and does nothing when released twice", async () => {
    const clone = tempDir("slice-release-clone-");
    execFileSync("git", ["clone", "--quiet", "--no-hardlinks", repo, clone]);
    const headBefore = git(clone, "rev-parse", "HEAD");
    const tree = await releaseTreeAt(clone, "HEAD");

    const first = await commitReleaseTree(clone, tree, "dataform-release");
    expect(first.changed).toBe(true);
    expect(git(clone, "ls-tree", "-r", "--name-only", "dataform-release").split("\n").sort()).toEqual(tree.files.map((f) => f.path).sort());
    expect(git(clone, "show", "dataform-release:release.json")).toContain(tree.sourceCommit);
    expect(git(clone, "rev-parse", "HEAD")).toBe(headBefore);
    expect(git(clone, "status", "--porcelain")).toBe("");

    const second = await commitReleaseTree(clone, tree, "dataform-release");
    expect(second).toEqual({ commit: first.commit, changed: false });
    await expect(commitReleaseTree(clone, tree, "bad..name")).rejects.toThrow(/not a valid branch name/);
  });
});
