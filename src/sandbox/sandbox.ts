/**
 * `slice sandbox`: the destinations of the syncs, locally. The Meta contract server (the Graph API calls
 * the Meta sync makes, with Meta's rules and error shapes) and an S3-compatible server (s3rver) on
 * 127.0.0.1, a partners file pointing at the latter, and the environment the syncs read, so a newcomer can
 * run `slice sync meta` and `slice sync s3` end to end without an ad account or a bucket.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import S3rver, { type S3rverEvent } from "s3rver";
import { validAudiences } from "../../macros/audiences.ts";
import { type MetaContractServer, type RequestRecord, startMetaContractServer } from "./meta-contract-server.ts";

export const SANDBOX_DEFAULTS = {
  dir: "warehouse/sandbox",
  metaPort: 8710,
  s3Port: 8720,
  accessToken: "sandbox-token",
  adAccountId: "act_1000000001",
  bucket: "media-x-drops",
  partnerId: "media_x",
  region: "eu-north-1",
  /** s3rver accepts these and no others. */
  s3Key: "S3RVER",
} as const;

export interface SandboxOptions {
  dir?: string;
  metaPort?: number;
  s3Port?: number;
  onMetaRequest?: (record: RequestRecord) => void;
  onS3Event?: (event: { name: string; key: string }) => void;
}

export interface Sandbox {
  meta: MetaContractServer;
  metaUrl: string;
  s3Url: string;
  dir: string;
  partnersFile: string;
  envFile: string;
  env: Record<string, string>;
  close(): Promise<void>;
}

/** The partners file of the sandbox: the S3 partner of macros/audiences.ts, on the local server. */
export function sandboxPartnersYaml(s3Url: string): string {
  const d = SANDBOX_DEFAULTS;
  return `# Written by slice sandbox: the partner ${d.partnerId} drops into the local S3 server.
partners:
  - id: ${d.partnerId}
    kind: s3
    bucket: ${d.bucket}
    prefix: slice/audiences
    region: ${d.region}
    endpoint: ${s3Url}
    forcePathStyle: true
    format: csv_gzip
    credentials: { source: aws_chain }
  - id: meta
    kind: meta
`;
}

/** The variables the syncs (and the aws CLI) read, pointing at the sandbox. */
export function sandboxEnv(metaUrl: string, s3Url: string): Record<string, string> {
  const d = SANDBOX_DEFAULTS;
  return {
    META_GRAPH_BASE_URL: metaUrl,
    META_ACCESS_TOKEN: d.accessToken,
    META_AD_ACCOUNT_ID: d.adAccountId,
    AWS_ACCESS_KEY_ID: d.s3Key,
    AWS_SECRET_ACCESS_KEY: d.s3Key,
    AWS_REGION: d.region,
    AWS_ENDPOINT_URL_S3: s3Url,
  };
}

/** One example audience per destination kind, from the audience definitions. */
export function exampleAudiences(): { meta?: string; s3?: string } {
  const audiences = validAudiences();
  return {
    meta: audiences.find((audience) => audience.destinations.includes("meta"))?.id,
    s3: audiences.find((audience) => audience.destinations.includes(SANDBOX_DEFAULTS.partnerId))?.id,
  };
}

export function sandboxCommands(partnersFile: string): string[] {
  const examples = exampleAudiences();
  return [
    ...(examples.meta ? [`npx slice sync meta --audience ${examples.meta}`] : []),
    ...(examples.s3 ? [`npx slice sync s3 --audience ${examples.s3} --partner ${SANDBOX_DEFAULTS.partnerId} --partners-file ${partnersFile}`] : []),
    `aws s3 ls s3://${SANDBOX_DEFAULTS.bucket} --recursive   # what the partner sees (the aws CLI reads AWS_ENDPOINT_URL_S3)`,
  ];
}

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const dir = resolve(options.dir ?? SANDBOX_DEFAULTS.dir);
  const s3Directory = join(dir, "s3");
  mkdirSync(s3Directory, { recursive: true });
  const meta = await startMetaContractServer({
    accessToken: SANDBOX_DEFAULTS.accessToken,
    adAccountId: SANDBOX_DEFAULTS.adAccountId,
    port: options.metaPort ?? SANDBOX_DEFAULTS.metaPort,
    onRequest: options.onMetaRequest,
    // the warehouse remembers the Meta audience ids it created, so the sandbox's Meta must too
    stateFile: join(dir, "meta-audiences.json"),
  });
  let s3: S3rver;
  let s3Url: string;
  try {
    s3 = new S3rver({
      address: "127.0.0.1",
      port: options.s3Port ?? SANDBOX_DEFAULTS.s3Port,
      directory: s3Directory,
      silent: true,
      configureBuckets: [{ name: SANDBOX_DEFAULTS.bucket }],
    });
    s3.on("event", (event: S3rverEvent) => {
      for (const record of event.Records) options.onS3Event?.({ name: record.eventName, key: decodeURIComponent(record.s3.object.key) });
    });
    const address = await s3.run();
    s3Url = `http://127.0.0.1:${address.port}`;
  } catch (error) {
    await meta.close();
    throw error;
  }
  const partnersFile = join(dir, "partners.yaml");
  writeFileSync(partnersFile, sandboxPartnersYaml(s3Url));
  const env = sandboxEnv(meta.baseUrl, s3Url);
  const envFile = join(dir, "sandbox.env");
  writeFileSync(envFile, `# Written by slice sandbox: source this file in the shell that runs the syncs.\n${Object.entries(env).map(([name, value]) => `export ${name}=${value}`).join("\n")}\n`);
  return {
    meta, metaUrl: meta.baseUrl, s3Url, dir, partnersFile, envFile, env,
    async close() {
      s3.httpServer?.closeAllConnections();
      await s3.close();
      await meta.close();
    },
  };
}
