/**
 * `sm://` secret references read with the official Secret Manager client (REST, credentials from the
 * metadata server) against the local contract server: values, latest vs a version number, CRC32C, and the
 * errors naming the variable and the fix.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { crc32c, resolveSecretReferences } from "../../src/cloud/secrets.ts";
import { type SecretManagerContractServer, startSecretManagerContractServer } from "../support/secret-manager-contract-server.ts";

let sm: SecretManagerContractServer;
let savedMetadataHost: string | undefined;

beforeAll(async () => {
  sm = await startSecretManagerContractServer({ projectId: "slice-prod" });
  savedMetadataHost = process.env.GCE_METADATA_HOST;
  process.env.GCE_METADATA_HOST = sm.env.GCE_METADATA_HOST;
  sm.addVersion("slice-meta-access-token", "old-token");
  sm.addVersion("slice-meta-access-token", "EAAB-current-token");
  sm.addVersion("slice-partners-config", "partners:\n  - id: média_x\n");
  sm.addVersion("slice-disabled", "x", { enabled: false });
  sm.addVersion("slice-corrupted", "secret", { badChecksum: true });
});

afterAll(async () => {
  if (savedMetadataHost === undefined) delete process.env.GCE_METADATA_HOST;
  else process.env.GCE_METADATA_HOST = savedMetadataHost;
  await sm.close();
});

describe("crc32c", () => {
  it.each([
    ["", 0x00000000],
    ["a", 0xc1d04330],
    ["123456789", 0xe3069283],
  ])("%j", (text, expected) => {
    expect(crc32c(Buffer.from(text))).toBe(expected);
  });
});

describe("resolveSecretReferences", () => {
  it("replaces references with the secret values and leaves other variables alone", async () => {
    const env = await resolveSecretReferences({
      ...sm.env,
      META_ACCESS_TOKEN: sm.reference("slice-meta-access-token"),
      OLD_TOKEN: sm.reference("slice-meta-access-token", 1),
      SLICE_PARTNERS: sm.reference("slice-partners-config"),
      META_AD_ACCOUNT_ID: "act_1",
    });
    expect(env).toMatchObject({ META_ACCESS_TOKEN: "EAAB-current-token", OLD_TOKEN: "old-token", SLICE_PARTNERS: "partners:\n  - id: média_x\n", META_AD_ACCOUNT_ID: "act_1" });
    expect(sm.accessed).toEqual(expect.arrayContaining(["projects/slice-prod/secrets/slice-meta-access-token/versions/2", "projects/slice-prod/secrets/slice-meta-access-token/versions/1"]));
  });

  it("makes no call when no variable holds a reference", async () => {
    const before = sm.accessed.length;
    const env = { META_ACCESS_TOKEN: "plain" };
    expect(await resolveSecretReferences(env, () => { throw new Error("must not be called"); })).toBe(env);
    expect(sm.accessed.length).toBe(before);
  });

  it.each([
    ["META_ACCESS_TOKEN", "sm://slice-meta-access-token", "META_ACCESS_TOKEN: sm://slice-meta-access-token is not a secret version reference. Fix:"],
    ["META_ACCESS_TOKEN", "sm://projects/slice-prod/secrets/nope/versions/latest", "META_ACCESS_TOKEN: cannot read projects/slice-prod/secrets/nope/versions/latest (Secret [projects/slice-prod/secrets/nope] not found"],
    ["SLICE_CURSOR_SECRET", "sm://projects/slice-prod/secrets/slice-disabled/versions/latest", "is in DISABLED state.). Fix: add a version"],
    ["SLICE_API_KEYS", "sm://projects/slice-prod/secrets/slice-corrupted/versions/1", "SLICE_API_KEYS: the payload of projects/slice-prod/secrets/slice-corrupted/versions/1 does not match its CRC32C"],
  ])("%s=%s fails naming the variable and the fix", async (name, value, message) => {
    await expect(resolveSecretReferences({ ...sm.env, [name]: value })).rejects.toThrow(message);
  });
});
