/**
 * The NDJSON body of a member snapshot, written once to a file on local disk and served from there to every
 * stream that asks for the same snapshot while it is being served.
 *
 * Why: a warehouse read per stream costs memory per stream (ten DuckDB readers alone held 404-433 MiB, see
 * BENCHMARKS.md), while a file read costs a small buffer (the file's pages sit in the OS page cache, not in the
 * process). So one reader writes the body of a (partner, audience, snapshot) to a spool file as fast as the
 * warehouse gives it, and every stream of that snapshot (the first one too) reads the file behind the writer
 * at its client's pace, waiting at the written end until more is there. The writer is not paced by any client.
 *
 * A snapshot is identified by partner, audience, as_of_date and member count; a request that finds a different
 * snapshot gets its own file, and the old one is deleted once its last reader is done. The file is written
 * under a `.partial` name and renamed when complete. Disk is bounded: a snapshot whose largest possible body
 * does not fit in what is left of `max_bytes` is streamed from the warehouse directly, as without a spool.
 * When every reader of a snapshot being written has gone, the warehouse read is ended and the file deleted.
 *
 * On Cloud Functions the spool lives in the function's /tmp, which is memory: see docs/api.md.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { type FileHandle, open, rename, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { HASHED_IDENTIFIER_COLUMNS, type MemberRecord } from "../warehouse/adapter.ts";

export const spoolSettingsSchema = z
  .object({
    /** Folder the spool makes its own folder in (os.tmpdir() when left out). */
    dir: z.string().min(1).optional(),
    /** Disk the spool files may take together; 0 turns the spool off. */
    max_bytes: z.number().int().min(0),
    /** How long a complete file is kept after its last reader, for the next download of the same snapshot. */
    retain_seconds: z.number().min(0).max(86_400),
  })
  .strict();

export type SpoolSettings = z.infer<typeof spoolSettingsSchema>;

/** 4 GiB holds the bodies of three 1,000,000-member snapshots at their largest (1.13 GB each). */
export const DEFAULT_SPOOL_SETTINGS: SpoolSettings = { max_bytes: 4 * 2 ** 30, retain_seconds: 0 };

export function parseSpoolSettings(value: unknown, source: string): SpoolSettings {
  const parsed = spoolSettingsSchema.safeParse(value);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `${source}: ${issue.path.join(".") || "(top level)"}: ${issue.message}`);
    throw new Error(`Invalid NDJSON spool settings:\n${lines.join("\n")}\nFix: max_bytes a whole number of bytes (0 turns the spool off), retain_seconds 0-86400`);
  }
  return parsed.data;
}

/** The longest line `memberNdjsonLine` writes: every identifier a 64-digit hex digest. */
export const MAX_MEMBER_LINE_BYTES = `{"member_id":"${"0".repeat(64)}"${HASHED_IDENTIFIER_COLUMNS.map((column) => `,"${column}":"${"0".repeat(64)}"`).join("")}}\n`.length;

/** Bytes read from the file per chunk sent to the client. */
export const SPOOL_READ_BYTES = 256 * 1024;

export interface SnapshotKey {
  partner: string;
  audienceId: string;
  asOfDate: string;
  memberCount: number;
}

/** Spool folders of this process, removed when it exits even if nobody closed their spool. */
const liveDirs = new Set<string>();
let exitHookInstalled = false;
function removeLiveDirsOnExit(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
  });
}

function ownerOf(key: SnapshotKey): string {
  return JSON.stringify([key.partner, key.audienceId]);
}

type EntryState = "writing" | "complete" | "failed";

class SpoolEntry {
  state: EntryState = "writing";
  error: unknown;
  written = 0;
  readers = 0;
  aborted = false;
  writer: Promise<void> = Promise.resolve();
  retainTimer: NodeJS.Timeout | undefined;
  private waiting: (() => void)[] = [];

  constructor(
    readonly name: string,
    /** Partner and audience: a newer snapshot of the same owner makes this one outdated. */
    readonly owner: string,
    readonly path: string,
    /** Disk reserved: the largest possible body while writing, the real size once complete. */
    public reservedBytes: number,
  ) {}

  get partialPath(): string {
    return `${this.path}.partial`;
  }

  /** Resolves when more is written, or the write ends. */
  changed(): Promise<void> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  notify(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const wake of waiting) wake();
  }
}

export class MemberSpool {
  private readonly entries = new Map<string, SpoolEntry>();
  private dir: string | undefined;
  private closed = false;

  constructor(readonly settings: SpoolSettings = DEFAULT_SPOOL_SETTINGS) {}

  get enabled(): boolean {
    return this.settings.max_bytes > 0 && !this.closed;
  }

  /** Disk the spool's files take or have reserved now. */
  reservedBytes(): number {
    let total = 0;
    for (const entry of this.entries.values()) total += entry.reservedBytes;
    for (const entry of this.orphans) total += entry.reservedBytes;
    return total;
  }

  /** Snapshots with a file now (being written or kept). */
  fileCount(): number {
    return this.entries.size;
  }

  private folder(): string {
    if (!this.dir) {
      this.dir = mkdtempSync(join(this.settings.dir ?? tmpdir(), "slice-api-spool-"));
      liveDirs.add(this.dir);
      removeLiveDirsOnExit();
    }
    return this.dir;
  }

  /**
   * A stream of the snapshot's NDJSON body read from its spool file, starting the file with `openBatches`
   * when no stream of this snapshot is being served; undefined when the spool is off or its body would not fit
   * on disk (the caller then streams from the warehouse). `onFinish` runs once when the stream ends, fails
   * or is cancelled; `onError` gets the failure of the warehouse read or of the file.
   */
  stream(
    key: SnapshotKey,
    openBatches: () => AsyncIterable<MemberRecord[]>,
    toLine: (record: MemberRecord) => string | undefined,
    options: { writeRows: number; onError?: (error: unknown) => void; onFinish?: () => void },
  ): ReadableStream<Uint8Array> | undefined {
    if (!this.enabled) return undefined;
    const name = createHash("sha256").update(JSON.stringify([key.partner, key.audienceId, key.asOfDate, key.memberCount])).digest("hex");
    let entry = this.entries.get(name);
    if (!entry) {
      // Another snapshot of the same partner and audience is outdated now: no new stream will join it.
      this.dropOutdated(key, name);
      const largest = key.memberCount * MAX_MEMBER_LINE_BYTES;
      if (this.reservedBytes() + largest > this.settings.max_bytes) return undefined;
      let folder: string;
      try {
        folder = this.folder();
      } catch {
        // No spool folder (a missing or read-only --spool-dir): the stream reads the warehouse as without a spool.
        return undefined;
      }
      entry = new SpoolEntry(name, ownerOf(key), join(folder, `${name}.ndjson`), largest);
      this.entries.set(name, entry);
      entry.writer = this.write(entry, openBatches, toLine, options.writeRows);
    }
    return this.reader(entry, options);
  }

  private dropOutdated(key: SnapshotKey, current: string): void {
    const owner = ownerOf(key);
    for (const entry of [...this.entries.values()]) {
      if (entry.owner !== owner || entry.name === current) continue;
      // Readers of it keep their open file; it is deleted when the last one is done.
      if (entry.readers === 0 && entry.state !== "writing") this.remove(entry);
      else this.forget(entry);
    }
  }

  /** No new stream joins the entry; its file goes when its readers are done. */
  private forget(entry: SpoolEntry): void {
    if (this.entries.get(entry.name) === entry) this.entries.delete(entry.name);
    entry.reservedBytes = entry.state === "complete" ? entry.written : entry.reservedBytes;
    this.orphans.add(entry);
  }

  /** Entries no new stream joins, still read by some; they count against the disk budget until removed. */
  private readonly orphans = new Set<SpoolEntry>();

  private remove(entry: SpoolEntry): void {
    if (entry.retainTimer) clearTimeout(entry.retainTimer);
    if (this.entries.get(entry.name) === entry) this.entries.delete(entry.name);
    this.orphans.delete(entry);
    // The folder goes with its last file (a new one is made for the next), so nothing is left behind even
    // by a process that never closes its spool or ends without running its exit handlers.
    const emptied = this.entries.size === 0 && this.orphans.size === 0 ? this.dir : undefined;
    if (emptied) {
      liveDirs.delete(emptied);
      this.dir = undefined;
    }
    if (emptied) {
      // At once: a test process often exits right after its last stream, before an asynchronous delete ran.
      rmSync(emptied, { recursive: true, force: true });
      return;
    }
    void rm(entry.path, { force: true }).catch(() => undefined);
    void rm(entry.partialPath, { force: true }).catch(() => undefined);
  }

  private async write(
    entry: SpoolEntry,
    openBatches: () => AsyncIterable<MemberRecord[]>,
    toLine: (record: MemberRecord) => string | undefined,
    writeRows: number,
  ): Promise<void> {
    let file: FileHandle | undefined;
    try {
      file = await open(entry.partialPath, "w");
      for await (const batch of openBatches()) {
        // Every reader has gone: leaving the loop ends the warehouse read.
        if (entry.aborted) break;
        for (let offset = 0; offset < batch.length && !entry.aborted; offset += writeRows) {
          let text = "";
          const end = Math.min(batch.length, offset + writeRows);
          for (let row = offset; row < end; row += 1) text += toLine(batch[row]) ?? "";
          const bytes = Buffer.from(text);
          await file.write(bytes, 0, bytes.length, entry.written);
          entry.written += bytes.length;
          entry.notify();
        }
      }
      await file.close();
      file = undefined;
      if (entry.aborted) throw new Error("every reader of the spool file left");
      await rename(entry.partialPath, entry.path);
      entry.state = "complete";
      entry.reservedBytes = entry.written;
    } catch (error) {
      entry.state = "failed";
      entry.error = error;
      await file?.close().catch(() => undefined);
      // Streams already reading see the failure; new ones start a file of their own.
      this.forget(entry);
      if (entry.readers === 0) this.remove(entry);
    } finally {
      entry.notify();
    }
  }

  private async openForReading(entry: SpoolEntry): Promise<FileHandle> {
    try {
      return await open(entry.state === "complete" ? entry.path : entry.partialPath, "r");
    } catch (error) {
      // Renamed between the state check and the open.
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return await open(entry.path, "r");
      throw error;
    }
  }

  private reader(entry: SpoolEntry, options: { onError?: (error: unknown) => void; onFinish?: () => void }): ReadableStream<Uint8Array> {
    entry.readers += 1;
    if (entry.retainTimer) {
      clearTimeout(entry.retainTimer);
      entry.retainTimer = undefined;
    }
    let file: FileHandle | undefined;
    let position = 0;
    let detached = false;
    const detach = async (): Promise<void> => {
      if (detached) return;
      detached = true;
      // The slot goes back at once, as the client sees the end: the file is closed after.
      entry.readers -= 1;
      options.onFinish?.();
      const closing = file;
      file = undefined;
      await closing?.close().catch(() => undefined);
      if (entry.readers > 0) return;
      if (entry.state === "writing") {
        entry.aborted = true;
        // The warehouse read is over when this resolves (a read left running would outlive its warehouse).
        await entry.writer;
        return;
      }
      const kept = this.entries.get(entry.name) === entry && entry.state === "complete";
      if (kept && this.settings.retain_seconds > 0 && !this.closed) {
        entry.retainTimer = setTimeout(() => {
          if (entry.readers === 0) this.remove(entry);
        }, this.settings.retain_seconds * 1000);
        entry.retainTimer.unref();
      } else this.remove(entry);
    };
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        try {
          for (;;) {
            if (detached) return;
            if (entry.state === "failed") throw entry.error;
            if (position < entry.written) {
              file ??= await this.openForReading(entry);
              const buffer = new Uint8Array(Math.min(SPOOL_READ_BYTES, entry.written - position));
              const { bytesRead } = await file.read(buffer, 0, buffer.length, position);
              if (detached) return;
              if (bytesRead === 0) throw new Error(`the spool file ${entry.path} ended at ${position} of ${entry.written} bytes`);
              position += bytesRead;
              controller.enqueue(bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead));
              return;
            }
            if (entry.state === "complete") {
              controller.close();
              await detach();
              return;
            }
            await entry.changed();
          }
        } catch (error) {
          if (detached) return;
          await detach();
          // Headers are gone by now: aborting the body is the only signal left (a truncated chunked response).
          options.onError?.(error);
          controller.error(error);
        }
      },
      cancel: async () => {
        await detach();
      },
    });
  }

  /** Ends the writes and deletes the spool's folder (streams still reading fail). */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.entries.values(), ...this.orphans];
    for (const entry of all) entry.aborted = true;
    await Promise.all(all.map((entry) => entry.writer));
    const dir = this.dir;
    for (const entry of all) this.remove(entry);
    if (dir) {
      rmSync(dir, { recursive: true, force: true });
      liveDirs.delete(dir);
      this.dir = undefined;
    }
  }
}
