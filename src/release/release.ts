/**
 * The Dataform release: the part of this repository Google Cloud Dataform compiles, and nothing else.
 *
 * Google Cloud Dataform installs the packages of the repository's package.json before every compilation
 * (the open-source CLI's `dataform install` runs `npm i --ignore-scripts`, which includes devDependencies).
 * This repository's package.json also carries the laptop toolchain (DuckDB's native bindings, the Google and
 * AWS clients, tsx, Playwright: about 740 MiB installed), none of which compilation needs, while a
 * compilation has 30 s of wall time and 8 s of CPU (cloud.google.com/dataform/docs/quotas). So a release is
 * a commit of its own, on a branch the release configuration points at, holding only
 * `workflow_settings.yaml`, `definitions/`, `includes/` and a package.json whose one dependency is
 * `@dataform/core`, pinned to the version the toolchain compiles with. The top-level layout of the
 * development repository stays as it is (docs/deploy.md, "The Dataform release").
 */
import { execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";

/** What a release holds besides its generated package.json, .gitignore and release.json. */
export const RELEASE_SOURCE_PATHS = ["workflow_settings.yaml", "definitions", "includes"] as const;

export interface ReleaseFile {
  path: string;
  content: Buffer;
}

export interface ReleaseTree {
  sourceCommit: string;
  dataformCoreVersion: string;
  files: ReleaseFile[];
}

function git(repoDir: string, args: string[], input?: Buffer, env?: NodeJS.ProcessEnv): Promise<Buffer> {
  return new Promise((resolvePromise, reject) => {
    const child = execFile(
      "git",
      args,
      { cwd: repoDir, encoding: "buffer", maxBuffer: 256 * 1024 * 1024, env: env ?? process.env },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`git ${args.join(" ")} failed in ${repoDir}: ${String(stderr).trim() || error.message}`));
        else resolvePromise(stdout);
      },
    );
    if (input) child.stdin?.end(input);
  });
}

/** The exact `@dataform/core` version pinned in package.json at `ref`; a range is refused, as Google advises. */
export function pinnedDataformCoreVersion(packageJsonText: string, where: string): string {
  let parsed: { dependencies?: Record<string, string>; devDependencies?: Record<string, string> };
  try {
    parsed = JSON.parse(packageJsonText) as typeof parsed;
  } catch (error) {
    throw new Error(`${where}: not valid JSON (${(error as Error).message}).`, { cause: error });
  }
  const version = parsed.dependencies?.["@dataform/core"] ?? parsed.devDependencies?.["@dataform/core"];
  if (!version) {
    throw new Error(`${where}: no "@dataform/core" dependency. Fix: add it, pinned, e.g. "@dataform/core": "3.0.62".`);
  }
  if (!/^\d+\.\d+\.\d+$/.test(version)) {
    throw new Error(
      `${where}: "@dataform/core" is "${version}"; a release pins an exact version (Google Cloud Dataform installs ` +
        `what package.json says at each compilation). Fix: write the exact version, e.g. "3.0.62".`,
    );
  }
  return version;
}

/** Reads the release's files from a commit (never from the work tree, so uncommitted edits cannot ship). */
export async function releaseTreeAt(repoDir: string, ref = "HEAD"): Promise<ReleaseTree> {
  const sourceCommit = (await git(repoDir, ["rev-parse", "--verify", `${ref}^{commit}`])).toString().trim();
  const packageJson = (await git(repoDir, ["show", `${sourceCommit}:package.json`])).toString();
  const dataformCoreVersion = pinnedDataformCoreVersion(packageJson, `package.json at ${sourceCommit.slice(0, 12)}`);
  const listing = (await git(repoDir, ["ls-tree", "-r", "-z", "--full-tree", sourceCommit, "--", ...RELEASE_SOURCE_PATHS]))
    .toString()
    .split("\0")
    .filter(Boolean);
  const files: ReleaseFile[] = [];
  for (const entry of listing) {
    // "<mode> <type> <object>\t<path>"
    const [meta, path] = entry.split("\t");
    const [mode, type, object] = meta.split(" ");
    if (type !== "blob") continue;
    if (mode === "120000") throw new Error(`${path} is a symbolic link; a Dataform release holds regular files only.`);
    files.push({ path, content: await git(repoDir, ["cat-file", "blob", object]) });
  }
  if (!files.some((f) => f.path === "workflow_settings.yaml")) {
    throw new Error(`No workflow_settings.yaml at ${sourceCommit.slice(0, 12)}: this is not a Dataform project.`);
  }
  files.push(...generatedReleaseFiles(sourceCommit, dataformCoreVersion));
  files.sort((a, b) => a.path.localeCompare(b.path));
  return { sourceCommit, dataformCoreVersion, files };
}

/** package.json, .gitignore and release.json, the three files a release adds. */
export function generatedReleaseFiles(sourceCommit: string, dataformCoreVersion: string): ReleaseFile[] {
  const packageJson = {
    name: "slice-dataform-release",
    private: true,
    description: `The Dataform project of Slice at ${sourceCommit}, as Google Cloud Dataform compiles it.`,
    dependencies: { "@dataform/core": dataformCoreVersion },
  };
  return [
    { path: "package.json", content: Buffer.from(`${JSON.stringify(packageJson, null, 2)}\n`) },
    { path: ".gitignore", content: Buffer.from("node_modules/\n") },
    { path: "release.json", content: Buffer.from(`${JSON.stringify({ source_commit: sourceCommit, dataform_core_version: dataformCoreVersion }, null, 2)}\n`) },
  ];
}

export async function writeReleaseTree(tree: ReleaseTree, outDir: string): Promise<void> {
  for (const file of tree.files) {
    const target = join(resolve(outDir), file.path);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, file.content);
  }
}

/**
 * Commits the release as the next commit of `branch` (created on first use) with git plumbing, so the work
 * tree, the index and the current branch are untouched. Returns the new commit, or the branch's head when
 * the release's tree is unchanged (releasing twice is a no-op).
 */
export async function commitReleaseTree(repoDir: string, tree: ReleaseTree, branch: string): Promise<{ commit: string; changed: boolean }> {
  if (!/^[A-Za-z0-9._/-]+$/.test(branch) || branch.includes("..")) throw new Error(`--branch ${branch}: not a valid branch name.`);
  const blobs: string[] = [];
  for (const file of tree.files) {
    const object = (await git(repoDir, ["hash-object", "-w", "--stdin"], file.content)).toString().trim();
    blobs.push(`100644 blob ${object}\t${file.path}`);
  }
  // mktree takes one directory level; build the nested trees bottom-up.
  const treeId = await writeNestedTree(repoDir, tree.files.map((f, i) => ({ path: f.path, line: blobs[i] })));
  const parent = await git(repoDir, ["rev-parse", "--verify", "--quiet", `refs/heads/${branch}`]).then(
    (out) => out.toString().trim(),
    () => undefined,
  );
  if (parent) {
    const parentTree = (await git(repoDir, ["rev-parse", `${parent}^{tree}`])).toString().trim();
    if (parentTree === treeId) return { commit: parent, changed: false };
  }
  const message = `Dataform release of ${tree.sourceCommit}\n\n@dataform/core ${tree.dataformCoreVersion}; made by slice release.\n`;
  const args = ["commit-tree", treeId, ...(parent ? ["-p", parent] : []), "-F", "-"];
  const env = {
    ...process.env,
    GIT_AUTHOR_NAME: process.env.GIT_AUTHOR_NAME ?? "slice release",
    GIT_AUTHOR_EMAIL: process.env.GIT_AUTHOR_EMAIL ?? "release@slice.invalid",
    GIT_COMMITTER_NAME: process.env.GIT_COMMITTER_NAME ?? "slice release",
    GIT_COMMITTER_EMAIL: process.env.GIT_COMMITTER_EMAIL ?? "release@slice.invalid",
  };
  const commit = (await git(repoDir, args, Buffer.from(message), env)).toString().trim();
  await git(repoDir, ["update-ref", `refs/heads/${branch}`, commit, ...(parent ? [parent] : [])]);
  return { commit, changed: true };
}

async function writeNestedTree(repoDir: string, entries: { path: string; line: string }[]): Promise<string> {
  const here = new Map<string, string>();
  const below = new Map<string, { path: string; line: string }[]>();
  for (const entry of entries) {
    const slash = entry.path.indexOf("/");
    if (slash < 0) {
      here.set(entry.path, entry.line.replace(/\t.*$/, `\t${entry.path}`));
    } else {
      const dir = entry.path.slice(0, slash);
      const rest = { path: entry.path.slice(slash + 1), line: entry.line };
      below.set(dir, [...(below.get(dir) ?? []), rest]);
    }
  }
  for (const [dir, children] of below) {
    const sub = await writeNestedTree(repoDir, children);
    here.set(dir, `040000 tree ${sub}\t${dir}`);
  }
  const input = [...here.values()].join("\n") + "\n";
  return (await git(repoDir, ["mktree"], Buffer.from(input))).toString().trim();
}
