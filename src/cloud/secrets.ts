/**
 * Secrets for the functions: an environment variable holds the value itself (Cloud Functions fills it from
 * Secret Manager at instance start: `secret_environment_variables` in deploy/functions.tf), or a reference
 * `sm://projects/P/secrets/S/versions/V` that the function reads with the official Secret Manager client
 * when it builds its app (a rotated secret then reaches the next new instance with `versions/latest`
 * without a redeploy). Payloads are checked against their CRC32C, as Google recommends.
 */
import { v1 } from "@google-cloud/secret-manager";
import type { Env } from "./env.ts";

export const SECRET_REFERENCE_PREFIX = "sm://";
const REFERENCE = /^sm:\/\/(projects\/[a-z0-9-]+\/secrets\/[A-Za-z0-9_-]+\/versions\/(latest|\d+))$/;

/** The part of the official SecretManagerServiceClient the functions use. */
export interface SecretAccessor {
  accessSecretVersion(request: { name: string }): Promise<[{ payload?: { data?: Uint8Array | string | null; dataCrc32c?: unknown } | null }, ...unknown[]]>;
}

/** The official v1 client over REST; SLICE_SECRET_MANAGER_API_ENDPOINT only for tests (http://127.0.0.1:PORT). */
export function createSecretAccessor(env: Env): SecretAccessor {
  const endpoint = env.SLICE_SECRET_MANAGER_API_ENDPOINT;
  if (!endpoint) return new v1.SecretManagerServiceClient({ fallback: true }) as unknown as SecretAccessor;
  const url = new URL(endpoint);
  return new v1.SecretManagerServiceClient({
    fallback: true,
    apiEndpoint: url.hostname,
    port: Number(url.port || 80),
    protocol: url.protocol.replace(":", ""),
  } as ConstructorParameters<typeof v1.SecretManagerServiceClient>[0]) as unknown as SecretAccessor;
}

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC32C (Castagnoli), the checksum Secret Manager keeps with every payload. */
export function crc32c(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) crc = CRC32C_TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/**
 * The environment with every `sm://` reference replaced by the secret's value. Errors name the variable,
 * the reference and the fix; nothing is resolved unless a variable holds a reference.
 */
export async function resolveSecretReferences(env: Env, accessor: () => SecretAccessor = () => createSecretAccessor(env)): Promise<Env> {
  const references = Object.entries(env).filter(([, value]) => value?.startsWith(SECRET_REFERENCE_PREFIX));
  if (references.length === 0) return env;
  const client = accessor();
  const resolved: Env = { ...env };
  for (const [name, value] of references) {
    const match = REFERENCE.exec(value!);
    if (!match) {
      throw new Error(`${name}: ${value} is not a secret version reference. Fix: write sm://projects/PROJECT/secrets/SECRET/versions/latest (or a version number)`);
    }
    let payload: { data?: Uint8Array | string | null; dataCrc32c?: unknown } | null | undefined;
    try {
      [{ payload }] = await client.accessSecretVersion({ name: match[1] });
    } catch (error) {
      throw new Error(
        `${name}: cannot read ${match[1]} (${(error as Error).message}). Fix: add a version (gcloud secrets versions add) and grant the function's service account roles/secretmanager.secretAccessor on the secret`, { cause: error },
      );
    }
    const data = typeof payload?.data === "string" ? Buffer.from(payload.data, "base64") : Buffer.from(payload?.data ?? new Uint8Array());
    if (payload?.dataCrc32c !== undefined && payload?.dataCrc32c !== null && Number(String(payload.dataCrc32c)) !== crc32c(data)) {
      throw new Error(`${name}: the payload of ${match[1]} does not match its CRC32C checksum (corrupted in transit). Fix: retry; if it persists, add the secret version again`);
    }
    resolved[name] = data.toString("utf8");
  }
  return resolved;
}
