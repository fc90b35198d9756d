/**
 * `slice sandbox` through the real CLI: it starts the Meta contract server and s3rver, writes the partners
 * and env files and prints the commands; the printed commands, run through the CLI with the printed
 * environment, sync an audience to the sandbox's Meta and drop one into its bucket.
 */
import { type ChildProcessWithoutNullStreams, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, expect, it } from "vitest";
import { loadPartners } from "../../src/activation/partners.ts";
import { exampleAudiences, sandboxPartnersYaml } from "../../src/sandbox/sandbox.ts";
import { Warehouse } from "../../src/warehouse/duckdb.ts";
import { seedAudience } from "../activation/meta/fixtures.ts";

const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "slice-sandbox-test-"));
let sandbox: ChildProcessWithoutNullStreams | undefined;
afterAll(() => {
  if (sandbox && sandbox.exitCode === null) sandbox.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

function slice(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["bin/slice.mjs", ...args], { cwd: REPO_ROOT, env, timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, out: stdout, err: stderr });
    });
  });
}

it("the partners file it writes is a valid partners file for the S3 partner of the audiences", () => {
  const path = join(dir, "partners-check.yaml");
  writeFileSync(path, sandboxPartnersYaml("http://127.0.0.1:8720"));
  const partners = loadPartners(path);
  expect(partners.find((partner) => partner.id === "media_x")).toMatchObject({ kind: "s3", bucket: "media-x-drops", endpoint: "http://127.0.0.1:8720", forcePathStyle: true });
});

it("slice sandbox serves Meta and S3 locally, and the printed commands sync to them through the CLI", async () => {
  const { meta: metaAudience, s3: s3Audience } = exampleAudiences();
  expect(metaAudience && s3Audience).toBeTruthy();
  const warehousePath = join(dir, "slice.duckdb");
  const wh = await Warehouse.open(warehousePath);
  await seedAudience(wh, { audienceId: metaAudience!, destination: "meta", count: 40, holdoutEvery: 0 });
  await seedAudience(wh, { audienceId: s3Audience!, destination: "media_x", count: 25, holdoutEvery: 0 });
  await wh.close();

  const sandboxDir = join(dir, "sandbox");
  sandbox = spawn(process.execPath, ["bin/slice.mjs", "sandbox", "--dir", sandboxDir, "--meta-port", "0", "--s3-port", "0"], { cwd: REPO_ROOT });
  let output = "";
  sandbox.stdout.on("data", (chunk) => (output += chunk));
  sandbox.stderr.on("data", (chunk) => (output += chunk));
  const deadline = Date.now() + 60_000;
  while (!output.includes("Requests as they arrive") && Date.now() < deadline && sandbox.exitCode === null) await new Promise((r) => setTimeout(r, 100));
  expect(output).toContain("Requests as they arrive");

  // the printed environment, exactly as the env file has it
  const exported = Object.fromEntries([...output.matchAll(/^ {2}export (\w+)=(\S+)$/gm)].map((m) => [m[1], m[2]]));
  const envFile = Object.fromEntries([...readFileSync(join(sandboxDir, "sandbox.env"), "utf8").matchAll(/^export (\w+)=(\S+)$/gm)].map((m) => [m[1], m[2]]));
  expect(exported).toEqual(envFile);
  expect(Object.keys(exported)).toEqual(["META_GRAPH_BASE_URL", "META_ACCESS_TOKEN", "META_AD_ACCOUNT_ID", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_ENDPOINT_URL_S3"]);
  expect(exported.META_GRAPH_BASE_URL).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

  // the printed sync commands, run as printed (plus the warehouse of this test)
  const commands = [...output.matchAll(/^ {2}npx slice (sync .+)$/gm)].map((m) => m[1].split(" "));
  expect(commands.map((command) => command.slice(0, 2).join(" "))).toEqual(["sync meta", "sync s3"]);
  const env = { ...process.env, ...exported };
  const metaRun = await slice([...commands[0], "--warehouse", warehousePath], env);
  expect(metaRun.err).toBe("");
  expect(metaRun.code).toBe(0);
  expect(metaRun.out).toMatch(/audience (\d+) \(created\): 0 to remove, 40 to add/);
  expect(metaRun.out).toMatch(/Done: 1 batch\(es\), \+40 -0, 0 invalid left out, 40 received by Meta/);
  const s3Run = await slice([...commands[1], "--warehouse", warehousePath], env);
  expect(s3Run.code, s3Run.err).toBe(0);
  expect(s3Run.out).toMatch(new RegExp(`manifest slice/audiences/audience=${s3Audience}/date=2026-11-20/manifest.json: 25 rows in 1 part`));

  // what the sandbox saw, and what its bucket holds
  await new Promise((r) => setTimeout(r, 300));
  expect(output).toMatch(/ {2}meta {2}POST \/v\d+\.\d+\/act_1000000001\/customaudiences 200/);
  expect(output).toMatch(/ {2}meta {2}POST \/v\d+\.\d+\/\d+\/users 200 \(40 rows\)/);
  expect(output).toMatch(new RegExp(`  s3    ObjectCreated:Put slice/audiences/audience=${s3Audience}/date=2026-11-20/manifest.json`));
  const client = new S3Client({ region: exported.AWS_REGION, endpoint: exported.AWS_ENDPOINT_URL_S3, forcePathStyle: true, credentials: { accessKeyId: exported.AWS_ACCESS_KEY_ID, secretAccessKey: exported.AWS_SECRET_ACCESS_KEY } });
  try {
    const manifest = await client.send(new GetObjectCommand({ Bucket: "media-x-drops", Key: `slice/audiences/audience=${s3Audience}/date=2026-11-20/manifest.json` }));
    expect(JSON.parse(await manifest.Body!.transformToString())).toMatchObject({ audience_id: s3Audience, partner_id: "media_x", rows: 25 });
  } finally {
    client.destroy();
  }

  sandbox.kill("SIGINT");
  const [code] = (await once(sandbox, "exit")) as [number | null];
  expect(code).toBe(0);
  expect(output).toContain("Stopping the sandbox.");

  // Restarted (new ports), the sandbox's Meta still holds the audience the warehouse remembers: a member
  // leaving the audience is removed from it, instead of Meta answering that the audience does not exist.
  const withdrawn = await Warehouse.open(warehousePath);
  await withdrawn.run(`delete from activation.audience_members where audience_id = '${metaAudience}' and customer_id = 'C0000007'`);
  await withdrawn.close();
  sandbox = spawn(process.execPath, ["bin/slice.mjs", "sandbox", "--dir", sandboxDir, "--meta-port", "0", "--s3-port", "0"], { cwd: REPO_ROOT });
  let again = "";
  sandbox.stdout.on("data", (chunk) => (again += chunk));
  sandbox.stderr.on("data", (chunk) => (again += chunk));
  while (!again.includes("Requests as they arrive") && Date.now() < deadline + 60_000 && sandbox.exitCode === null) await new Promise((r) => setTimeout(r, 100));
  const reexported = Object.fromEntries([...again.matchAll(/^ {2}export (\w+)=(\S+)$/gm)].map((m) => [m[1], m[2]]));
  const resync = await slice([...commands[0], "--warehouse", warehousePath], { ...process.env, ...reexported });
  expect(resync.err).toBe("");
  expect(resync.out).toMatch(/\(warehouse\): 1 to remove, 0 to add/);
  expect(resync.out).toMatch(/Done: 1 batch\(es\), \+0 -1/);
  sandbox.kill("SIGINT");
  await once(sandbox, "exit");
}, 240_000);
