/**
 * The local folder a drop writes its parts to before uploading them: hashed identifiers of a whole
 * audience (tens of MB), so it must not outlive the drop.
 *
 * Every drop gets its own folder under one Slice-owned root, `<tmp>/slice-drops/<sync_id>/`, with an
 * `owner.json` (pid, host, started_at). The drop removes it in `finally`; a drop that was killed cannot, so
 * every drop first removes the stale folders of earlier ones: older than a day and owned by no live
 * process. Both conditions, because the temp directory may be shared by containers whose pids are not
 * ours (a dead pid here may be a live drop there), while a day is far longer than any drop.
 */
import { hostname } from "node:os";
import { mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const STALE_AFTER_MS = 24 * 60 * 60 * 1000;
const OWNER_FILE = "owner.json";

export function defaultDropTempRoot(): string {
  return join(tmpdir(), "slice-drops");
}

export interface DropTempOwner {
  pid: number;
  host: string;
  started_at: string;
}

/** Whether a process with this pid runs on this machine (EPERM: it runs, as another user). */
export function processIsAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Whether an earlier drop's folder may be removed: older than a day and not owned by a live process of
 * this host. A folder without a readable owner file is judged by its age alone.
 */
export function isStaleDropTemp(
  folder: { owner?: DropTempOwner; modifiedAt: Date },
  now: Date,
  here: { host: string; isAlive: (pid: number) => boolean },
): boolean {
  const startedAt = folder.owner ? new Date(folder.owner.started_at) : folder.modifiedAt;
  const age = now.getTime() - (Number.isNaN(startedAt.getTime()) ? folder.modifiedAt.getTime() : startedAt.getTime());
  if (age <= STALE_AFTER_MS) return false;
  if (folder.owner && folder.owner.host === here.host && here.isAlive(folder.owner.pid)) return false;
  return true;
}

/** Removes the stale folders of earlier drops under `root`; returns the removed paths. */
export async function removeStaleDropTemps(root: string, now = new Date()): Promise<string[]> {
  const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
  const removed: string[] = [];
  const here = { host: hostname(), isAlive: processIsAlive };
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    const path = join(root, entry.name);
    const modifiedAt = await stat(path).then((s) => s.mtime, () => undefined);
    if (!modifiedAt) continue;
    const owner = await readFile(join(path, OWNER_FILE), "utf8").then((text) => JSON.parse(text) as DropTempOwner, () => undefined);
    if (!isStaleDropTemp({ owner, modifiedAt }, now, here)) continue;
    await rm(path, { recursive: true, force: true });
    removed.push(path);
  }
  return removed;
}

/** Creates this drop's folder (owner-only permissions: it holds hashed identifiers). */
export async function createDropTemp(root: string, syncId: string, now = new Date()): Promise<string> {
  await mkdir(root, { recursive: true, mode: 0o700 });
  const dir = join(root, syncId);
  await mkdir(dir, { mode: 0o700 });
  const owner: DropTempOwner = { pid: process.pid, host: hostname(), started_at: now.toISOString() };
  await writeFile(join(dir, OWNER_FILE), `${JSON.stringify(owner)}\n`);
  return dir;
}
