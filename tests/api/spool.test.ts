/**
 * Issue 22, item 7: concurrent NDJSON streams of one snapshot are served from one warehouse read through a
 * spool file (src/api/spool.ts), byte for byte what a stream straight from the warehouse sends.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MAX_MEMBER_LINE_BYTES, MemberSpool, parseSpoolSettings } from "../../src/api/spool.ts";
import { memberNdjsonLine } from "../../src/api/audiences.ts";
import { type AudienceReader, HASHED_IDENTIFIER_COLUMNS, type MemberRecord } from "../../src/warehouse/adapter.ts";
import { createTestApi, insertMembers, LATEST_DATE, type TestApi } from "./fixture.ts";

const MEMBERS = "/v1/audiences/passive_winback/members?format=ndjson";
let api: TestApi | undefined;
let spool: MemberSpool | undefined;
let base: string;

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), "slice-spool-test-"));
});

afterEach(async () => {
  await spool?.close();
  spool = undefined;
  await api?.close();
  api = undefined;
  rmSync(base, { recursive: true, force: true });
});

/** Counts warehouse streams opened and closed, and can fail or hold them. */
function countingReader(options: { failAfterBatches?: number } = {}) {
  const counts = { opened: 0, closed: 0 };
  const wrap = (reader: AudienceReader): AudienceReader => ({
    listAudiences: (partner) => reader.listAudiences(partner),
    findAudience: (partner, id) => reader.findAudience(partner, id),
    memberSnapshot: (partner, id) => reader.memberSnapshot(partner, id),
    memberPage: (request) => reader.memberPage(request),
    changePage: (request) => reader.changePage(request),
    close: () => reader.close(),
    streamMembers: (request, batchRows) =>
      (async function* (): AsyncGenerator<MemberRecord[]> {
        counts.opened += 1;
        try {
          let batches = 0;
          for await (const batch of reader.streamMembers(request, batchRows)) {
            if (options.failAfterBatches !== undefined && batches >= options.failAfterBatches) throw new Error("warehouse connection lost");
            batches += 1;
            yield batch;
          }
        } finally {
          counts.closed += 1;
        }
      })(),
  });
  return { counts, wrap };
}

/** Files in the spool folders under `base`, once the deletions in flight are done. */
/**
 * The spool's files once `expectedCount` of them end with `suffix` (all files when no suffix), or after a
 * second: a file is renamed from .partial after the warehouse read has ended, asynchronously.
 */
async function spoolFiles(expectedCount?: number, suffix = ""): Promise<string[]> {
  const list = () => readdirSync(base).flatMap((dir) => (existsSync(join(base, dir)) ? readdirSync(join(base, dir)) : []));
  const matching = () => list().filter((name) => name.endsWith(suffix)).length;
  for (let i = 0; i < 50 && matching() !== (expectedCount ?? 0); i += 1) await new Promise((resolve) => setTimeout(resolve, 20));
  return list();
}

async function directBody(): Promise<string> {
  const direct = await createTestApi({ spool: false });
  try {
    return await (await direct.app.request(MEMBERS, { headers: direct.auth("media_x") })).text();
  } finally {
    await direct.close();
  }
}

describe("the NDJSON spool", () => {
  it("serves concurrent streams of a snapshot from one warehouse read, byte for byte as the direct stream", async () => {
    const { counts, wrap } = countingReader();
    spool = new MemberSpool({ dir: base, max_bytes: 10 * 2 ** 20, retain_seconds: 0 });
    api = await createTestApi({ spool, wrapReader: wrap, streamPageRows: 50, streamLimits: { per_partner: 5, total: 5, retry_after_seconds: 1 } });
    const responses = await Promise.all([1, 2, 3].map(() => api!.app.request(MEMBERS, { headers: api!.auth("media_x") })));
    expect(responses.map((response) => response.headers.get("slice-member-count"))).toEqual(["270", "270", "270"]);
    const bodies = await Promise.all(responses.map((response) => response.text()));
    expect(counts).toEqual({ opened: 1, closed: 1 });
    const direct = await directBody();
    expect(direct.trimEnd().split("\n")).toHaveLength(270);
    for (const body of bodies) expect(body).toBe(direct);
    // Done and not retained: the file is gone, and the next stream reads the warehouse again.
    expect(spool.fileCount()).toBe(0);
    expect(await spoolFiles()).toEqual([]);
    // The folder went with its last file.
    for (let i = 0; i < 50 && readdirSync(base).length > 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(readdirSync(base)).toEqual([]);
    expect(await (await api.app.request(MEMBERS, { headers: api.auth("media_x") })).text()).toBe(direct);
    expect(counts).toEqual({ opened: 2, closed: 2 });
  });

  it("writes the file at the warehouse's pace, not the client's, and keeps a retained file for the next download", async () => {
    const { counts, wrap } = countingReader();
    spool = new MemberSpool({ dir: base, max_bytes: 100 * 2 ** 20, retain_seconds: 60 });
    api = await createTestApi({ spool, wrapReader: wrap, streamPageRows: 500 });
    await insertMembers(api.warehouse, "passive_winback", "media_x", 10_000, 19_999, LATEST_DATE);
    const slow = await api.app.request(MEMBERS, { headers: api.auth("media_x") });
    const reader = slow.body!.getReader();
    expect((await reader.read()).done).toBe(false);
    // The client has read one chunk; the writer finishes the whole file anyway.
    for (let i = 0; i < 200 && counts.closed < 1; i += 1) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(counts).toEqual({ opened: 1, closed: 1 });
    expect((await spoolFiles(1, ".ndjson")).filter((name) => name.endsWith(".ndjson"))).toHaveLength(1);
    let lines = 0;
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) lines += chunk.value.filter((byte) => byte === 10).length;
    expect(lines + 1).toBeGreaterThan(270 + 9_000 - 1_000);
    // Retained: a later download of the same snapshot reads no warehouse.
    const again = await (await api.app.request(MEMBERS, { headers: api.auth("media_x") })).text();
    expect(again.trimEnd().split("\n")).toHaveLength(270 + 9_000);
    expect(counts).toEqual({ opened: 1, closed: 1 });
    // A newer snapshot (here: more members) gets its own file and the outdated one is deleted.
    await insertMembers(api.warehouse, "passive_winback", "media_x", 20_000, 20_009, LATEST_DATE);
    const newer = await (await api.app.request(MEMBERS, { headers: api.auth("media_x") })).text();
    expect(newer.trimEnd().split("\n")).toHaveLength(270 + 9_000 + 9);
    expect(counts).toEqual({ opened: 2, closed: 2 });
    expect(spool.fileCount()).toBe(1);
    expect(await spoolFiles(1)).toHaveLength(1);
  });

  it("ends the warehouse read and deletes the partial file when every reader leaves", async () => {
    const { counts, wrap } = countingReader();
    const slowReader = (reader: AudienceReader): AudienceReader => {
      const wrapped = wrap(reader);
      return {
        ...wrapped,
        streamMembers: (request, batchRows) =>
          (async function* () {
            for await (const batch of wrapped.streamMembers(request, batchRows)) {
              yield batch;
              await new Promise((resolve) => setTimeout(resolve, 50));
            }
          })(),
      };
    };
    spool = new MemberSpool({ dir: base, max_bytes: 100 * 2 ** 20, retain_seconds: 60 });
    api = await createTestApi({ spool, wrapReader: slowReader, streamPageRows: 10 });
    const responses = await Promise.all([1, 2].map(() => api!.app.request(MEMBERS, { headers: api!.auth("media_x") })));
    const readers = responses.map((response) => response.body!.getReader());
    await Promise.all(readers.map((reader) => reader.read()));
    await readers[0]!.cancel();
    expect(counts.closed).toBe(0);
    await readers[1]!.cancel();
    expect(counts).toEqual({ opened: 1, closed: 1 });
    expect(spool.fileCount()).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await spoolFiles()).toEqual([]);
  });

  it("fails every stream of a failed read, keeps no file, and the next request reads afresh", async () => {
    const failing = countingReader({ failAfterBatches: 2 });
    spool = new MemberSpool({ dir: base, max_bytes: 100 * 2 ** 20, retain_seconds: 60 });
    let fail = true;
    api = await createTestApi({
      spool,
      streamPageRows: 20,
      wrapReader: (reader) => {
        const broken = failing.wrap(reader);
        return { ...broken, streamMembers: (request, rows) => (fail ? broken.streamMembers(request, rows) : reader.streamMembers(request, rows)) };
      },
    });
    // Several warehouse batches, so the read fails after part of the body is written.
    await insertMembers(api.warehouse, "passive_winback", "media_x", 10_000, 19_999, LATEST_DATE);
    const responses = await Promise.all([1, 2].map(() => api!.app.request(MEMBERS, { headers: api!.auth("media_x") })));
    for (const response of responses) await expect(response.text()).rejects.toThrow("warehouse connection lost");
    expect(failing.counts).toEqual({ opened: 1, closed: 1 });
    expect(api.logged.filter((line) => line.includes("warehouse connection lost"))).toHaveLength(2);
    expect(spool.fileCount()).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await spoolFiles()).toEqual([]);
    fail = false;
    expect((await (await api.app.request(MEMBERS, { headers: api.auth("media_x") })).text()).trimEnd().split("\n")).toHaveLength(270 + 9_000);
  });

  it("streams from the warehouse when the snapshot's largest body does not fit the disk budget", async () => {
    const { counts, wrap } = countingReader();
    spool = new MemberSpool({ dir: base, max_bytes: 269 * MAX_MEMBER_LINE_BYTES, retain_seconds: 0 });
    api = await createTestApi({ spool, wrapReader: wrap });
    const bodies = await Promise.all([1, 2].map(async () => (await api!.app.request(MEMBERS, { headers: api!.auth("media_x") })).text()));
    expect(counts).toEqual({ opened: 2, closed: 2 });
    const direct = await directBody();
    expect(bodies).toEqual([direct, direct]);
    expect(readdirSync(base)).toEqual([]);
  });

  it("streams from the warehouse when its folder cannot be made", async () => {
    const { counts, wrap } = countingReader();
    spool = new MemberSpool({ dir: join(base, "missing", "folder"), max_bytes: 100 * 2 ** 20, retain_seconds: 0 });
    api = await createTestApi({ spool, wrapReader: wrap });
    const body = await (await api.app.request(MEMBERS, { headers: api.auth("media_x") })).text();
    expect(body).toBe(await directBody());
    expect(counts).toEqual({ opened: 1, closed: 1 });
    expect(spool.fileCount()).toBe(0);
  });

  it("keeps partners apart: each gets its own snapshot's members", async () => {
    spool = new MemberSpool({ dir: base, max_bytes: 100 * 2 ** 20, retain_seconds: 60 });
    api = await createTestApi({ spool });
    const [media, meta] = await Promise.all(
      (["media_x", "meta"] as const).map(async (partner) => (await api!.app.request(MEMBERS, { headers: api!.auth(partner) })).text()),
    );
    expect(media).not.toBe(meta);
    expect(media.trimEnd().split("\n")).toHaveLength(270);
    expect(meta.trimEnd().split("\n")).toHaveLength(270);
    expect(spool.fileCount()).toBe(2);
  });

  it("close() deletes its folder; settings are validated", async () => {
    spool = new MemberSpool({ dir: base, max_bytes: 100 * 2 ** 20, retain_seconds: 60 });
    api = await createTestApi({ spool });
    await (await api.app.request(MEMBERS, { headers: api.auth("media_x") })).text();
    const [folder] = readdirSync(base);
    expect(existsSync(join(base, folder!))).toBe(true);
    await spool.close();
    expect(readdirSync(base)).toEqual([]);
    expect(() => parseSpoolSettings({ max_bytes: -1, retain_seconds: 0 }, "SLICE_API_SPOOL_MAX_MB")).toThrow(/SLICE_API_SPOOL_MAX_MB: max_bytes/);
    const fullest = { member_id: "a".repeat(64), ...Object.fromEntries(HASHED_IDENTIFIER_COLUMNS.map((column) => [column, "b".repeat(64)])) } as MemberRecord;
    expect(MAX_MEMBER_LINE_BYTES).toBe(memberNdjsonLine(fullest)!.length);
  });
});
