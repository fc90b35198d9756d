/**
 * deploy/*.tf, checked structurally (Terraform and Google Cloud are out of reach here): the HCL is parsed
 * with @cdktf/hcl2json (HashiCorp's HCL parser compiled to WebAssembly) and held to
 * - every variable declared with a description and used, every reference (var., local., data., module.,
 *   resources) resolving to a declaration;
 * - every Cloud Function setting the variables its zod settings in src/ require, and only variables it reads
 *   (src/cloud/sync-functions.ts CLOUD_FUNCTION_ENVIRONMENTS, derived from the schemas);
 * - secrets only from Secret Manager secrets declared here, and no secret value in the code;
 * - every IAM grant listed in the role table of docs/deploy.md, and every row of that table granted;
 * - a BigQuery dataset in the EU location for every dataset the compiled graph writes.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { getReferencesInExpression, parse } from "@cdktf/hcl2json";
import { beforeAll, describe, expect, it } from "vitest";
import { CLOUD_FUNCTION_ENVIRONMENTS } from "../../src/cloud/sync-functions.ts";
import { compileProject } from "../../src/dataform/compile.ts";
import { loadScheduleSettings } from "../../src/schedule/settings.ts";
import { REPO_ROOT } from "../support/dataform-project.ts";

type Block = Record<string, unknown>;
interface Config {
  variable: Record<string, Block>;
  locals: Record<string, unknown>;
  resource: Map<string, Block>; // "type.name" -> body
  data: Map<string, Block>;
  output: Record<string, Block>;
  module: Record<string, Block>;
  providers: Set<string>;
}

const DEPLOY = join(REPO_ROOT, "deploy");
let config: Config;
/** Every reference in the configuration: where it is and what it names. */
let references: { where: string; attribute: string; value: string }[];

/** hcl2json wraps each block body in a one-element array. */
const body = (value: unknown): Block => (Array.isArray(value) ? (value[0] as Block) : (value as Block));

async function load(): Promise<Config> {
  const merged: Config = { variable: {}, locals: {}, resource: new Map(), data: new Map(), output: {}, module: {}, providers: new Set() };
  for (const file of readdirSync(DEPLOY).filter((name) => name.endsWith(".tf")).sort()) {
    const parsed = (await parse(file, readFileSync(join(DEPLOY, file), "utf8"))) as Record<string, any>;
    for (const [name, value] of Object.entries(parsed.variable ?? {})) merged.variable[name] = body(value);
    for (const locals of parsed.locals ?? []) Object.assign(merged.locals, locals);
    for (const [type, byName] of Object.entries(parsed.resource ?? {})) for (const [name, value] of Object.entries(byName as object)) merged.resource.set(`${type}.${name}`, body(value));
    for (const [type, byName] of Object.entries(parsed.data ?? {})) for (const [name, value] of Object.entries(byName as object)) merged.data.set(`${type}.${name}`, body(value));
    for (const [name, value] of Object.entries(parsed.output ?? {})) merged.output[name] = body(value);
    for (const [name, value] of Object.entries(parsed.module ?? {})) merged.module[name] = body(value);
    for (const terraform of parsed.terraform ?? []) for (const required of terraform.required_providers ?? []) for (const name of Object.keys(required)) merged.providers.add(name);
  }
  return merged;
}

/** Every string in a block with the attribute path that holds it, and the labels of its dynamic blocks. */
function strings(value: unknown, path: string, out: { attribute: string; text: string }[], dynamicLabels: Set<string>): void {
  if (typeof value === "string") out.push({ attribute: path, text: value });
  else if (Array.isArray(value)) value.forEach((item) => strings(item, path, out, dynamicLabels));
  else if (value && typeof value === "object") {
    for (const [key, child] of Object.entries(value)) {
      if (key === "dynamic") for (const label of Object.keys(child as object)) dynamicLabels.add(label);
      strings(child, path ? `${path}.${key}` : key, out, dynamicLabels);
    }
  }
}

async function collectReferences(cfg: Config): Promise<{ where: string; attribute: string; value: string }[]> {
  const blocks: [string, unknown][] = [
    ...[...cfg.resource].map(([address, block]) => [address, block] as [string, unknown]),
    ...[...cfg.data].map(([address, block]) => [`data.${address}`, block] as [string, unknown]),
    ...Object.entries(cfg.output).map(([name, block]) => [`output.${name}`, block] as [string, unknown]),
    ["locals", cfg.locals],
    ...Object.entries(cfg.module).map(([name, block]) => [`module.${name}`, block] as [string, unknown]),
  ];
  const found: { where: string; attribute: string; value: string }[] = [];
  for (const [where, block] of blocks) {
    const texts: { attribute: string; text: string }[] = [];
    const dynamicLabels = new Set<string>();
    strings(block, "", texts, dynamicLabels);
    for (const { attribute, text } of texts) {
      if (!text.includes("${") || attribute === "provider") continue;
      for (const reference of await getReferencesInExpression(`${where}.tf`, text)) {
        if (dynamicLabels.has(reference.value.split(".")[0])) continue; // a dynamic block's iterator
        found.push({ where, attribute, value: reference.value });
      }
    }
  }
  return found;
}

beforeAll(async () => {
  config = await load();
  references = await collectReferences(config);
});

/** The resource address a reference names (type.name), or undefined for var./local./each./... */
function resourceOf(reference: string): string | undefined {
  const parts = reference.split(".");
  if (["var", "local", "each", "count", "path", "self", "terraform", "module"].includes(parts[0])) return undefined;
  if (parts[0] === "data") return `data.${parts[1]}.${parts[2]}`;
  return `${parts[0]}.${parts[1]?.replace(/\[.*$/, "")}`;
}

describe("deploy/ Terraform: declarations and references", () => {
  it("parses every file and declares the footprint", () => {
    const types = new Set([...config.resource.keys()].map((address) => address.split(".")[0]));
    for (const type of [
      "google_bigquery_dataset", "google_dataform_repository", "google_dataform_repository_release_config", "google_cloudfunctions2_function",
      "google_cloud_scheduler_job", "google_secret_manager_secret", "google_service_account",
    ]) {
      expect(types, type).toContain(type);
    }
    expect(config.resource.size).toBeGreaterThan(40);
  });

  it("every variable has a description and a type, and is used", () => {
    const used = new Set(references.filter((reference) => reference.value.startsWith("var.")).map((reference) => reference.value.split(".")[1]));
    for (const [name, variable] of Object.entries(config.variable)) {
      expect(String(variable.description ?? ""), `variable ${name} description`).not.toBe("");
      expect(variable.type, `variable ${name} type`).toBeDefined();
      expect(used, `variable ${name} is declared but never used`).toContain(name);
    }
  });

  it("every reference resolves", () => {
    const unresolved: string[] = [];
    for (const reference of references) {
      const [head, name] = reference.value.split(".");
      const address = resourceOf(reference.value);
      const ok =
        head === "var" ? name in config.variable
        : head === "local" ? name in config.locals
        : head === "module" ? name in config.module
        : address === undefined ? true // each., count., path., self., terraform.
        : head === "data" ? config.data.has(address.slice("data.".length))
        : config.resource.has(address);
      if (!ok) unresolved.push(`${reference.where} ${reference.attribute}: ${reference.value}`);
    }
    expect(unresolved).toEqual([]);
    expect(references.length).toBeGreaterThan(100);
  });

  it("names only declared providers", () => {
    for (const [address, block] of config.resource) {
      if (block.provider !== undefined) expect(config.providers, address).toContain(String(block.provider).replace(/^\$\{(.*)\}$/, "$1"));
    }
  });
});

/** Static environment of a function: plain variables and secret variables (dynamic blocks listed apart). */
function functionEnvironment(fn: Block): { plain: string[]; secrets: { key: string; secret: string }[]; dynamicSecretKeys: string[] } {
  const service = body(fn.service_config);
  const plain = Object.keys((service.environment_variables as object) ?? {});
  const secrets = ((service.secret_environment_variables as Block[]) ?? []).map((entry) => ({ key: String(entry.key), secret: String(entry.secret) }));
  const dynamic = (service.dynamic as Record<string, Block[]> | undefined)?.secret_environment_variables ?? [];
  const dynamicSecretKeys = dynamic.map((entry) => String(body(entry.content).key));
  return { plain, secrets, dynamicSecretKeys };
}

describe("deploy/ Terraform: Cloud Functions", () => {
  const functions = () => [...config.resource].filter(([address]) => address.startsWith("google_cloudfunctions2_function."));

  it("deploys every entry point once", () => {
    const entryPoints = functions().map(([, fn]) => String(body(fn.build_config).entry_point)).sort();
    expect(entryPoints).toEqual(Object.values(CLOUD_FUNCTION_ENVIRONMENTS).map((environment) => environment.entryPoint).sort());
  });

  it("sets every variable each function requires, exactly one of each alternative, and nothing it does not read", () => {
    for (const [address, fn] of functions()) {
      const entryPoint = String(body(fn.build_config).entry_point);
      const spec = Object.values(CLOUD_FUNCTION_ENVIRONMENTS).find((environment) => environment.entryPoint === entryPoint)!;
      const { plain, secrets } = functionEnvironment(fn);
      const set = [...plain, ...secrets.map((secret) => secret.key)];
      expect(new Set(set).size, `${address}: a variable set twice`).toBe(set.length);
      for (const name of spec.required) expect(set, `${address} must set ${name}`).toContain(name);
      for (const group of spec.exactlyOneOf) expect(group.filter((name) => set.includes(name)), `${address}: exactly one of ${group.join(", ")}`).toHaveLength(1);
      for (const name of set) expect(spec.reads, `${address} sets ${name}, which ${entryPoint} never reads`).toContain(name);
    }
  });

  it("takes every secret from a Secret Manager secret declared here, and holds no secret value", () => {
    for (const [address, fn] of functions()) {
      for (const { key, secret } of functionEnvironment(fn).secrets) {
        const match = /^\$\{google_secret_manager_secret\.([a-z0-9_]+)\.secret_id\}$/.exec(secret);
        expect(match, `${address} ${key}: secret must reference google_secret_manager_secret.<name>.secret_id`).not.toBeNull();
        expect(config.resource.has(`google_secret_manager_secret.${match![1]}`), `${address} ${key}`).toBe(true);
      }
      // Sensitive values never travel as plain variables.
      for (const name of functionEnvironment(fn).plain) expect(name, address).not.toMatch(/TOKEN|SECRET|KEYS$|PASSWORD/);
    }
    const versions = [...config.resource.keys()].filter((address) => address.startsWith("google_secret_manager_secret_version."));
    expect(versions, "secret values belong in Secret Manager, not in Terraform").toEqual([]);
  });

  it("exposes partner S3 keys under the names the partners file points to", () => {
    const drop = config.resource.get("google_cloudfunctions2_function.s3_drop")!;
    expect(functionEnvironment(drop).dynamicSecretKeys.sort()).toEqual([
      "${upper(secret_environment_variables.key)}_AWS_ACCESS_KEY_ID",
      "${upper(secret_environment_variables.key)}_AWS_SECRET_ACCESS_KEY",
    ]);
  });

  it("has a URL output for every function", () => {
    const outputs = Object.values(config.output).map((output) => String(output.value));
    for (const [address] of functions()) expect(outputs, address).toContain(`\${${address}.service_config[0].uri}`);
  });
});

/** principal | role | on: the grant an IAM member resource makes, in the doc table's words. */
function grantOf(address: string, block: Block): string {
  const type = address.split(".")[0];
  const member = String(block.member);
  const principal =
    /^serviceAccount:\$\{google_service_account\.([a-z0-9_]+)\.email\}$/.exec(member)?.[1] ??
    (member === "${local.dataform_service_agent}" ? "Dataform service agent" : member === "allUsers" ? "allUsers" : `unknown member ${member}`);
  const targetAttribute: Record<string, string> = {
    google_project_iam_member: "project",
    google_bigquery_dataset_iam_member: "dataset_id",
    google_secret_manager_secret_iam_member: "secret_id",
    google_cloud_run_service_iam_member: "service",
    google_dataform_repository_iam_member: "repository",
    google_service_account_iam_member: "service_account_id",
  };
  const attribute = targetAttribute[type];
  if (!attribute) return `unknown IAM resource type ${type}`;
  let target = String(block[attribute]);
  if (type === "google_project_iam_member") target = target === "${var.project_id}" ? "project" : `project ${target}`;
  else {
    // each.value.id of a for_each over a resource: the grant is on that resource.
    if (target.startsWith("${each.")) target = String(block.for_each);
    const match = /^\$\{([a-z0-9_]+\.[a-z0-9_]+)/.exec(target);
    target = match ? match[1] : `unknown target ${target}`;
  }
  return `${principal} | ${block.role} | ${target}`;
}

/** The rows of the role table in docs/deploy.md, as `principal | role | on` (backticks dropped). */
function docRoleTable(): string[] {
  const doc = readFileSync(join(REPO_ROOT, "docs/deploy.md"), "utf8");
  const section = doc.slice(doc.indexOf("## Service accounts and roles")).split("\n");
  // The first table of the section: its consecutive | lines, header and separator skipped.
  const start = section.findIndex((line) => line.startsWith("|"));
  const end = section.findIndex((line, index) => index > start && !line.startsWith("|"));
  const rows = section.slice(start + 2, end).map((line) => line.split("|").slice(1, -1).map((cell) => cell.trim().replace(/`/g, "")));
  return rows.map((row) => `${row[0]} | ${row[1]} | ${row[2]}`);
}

describe("deploy/ Terraform: least privilege", () => {
  const grants = () => [...config.resource].filter(([address]) => /_iam_(member|binding|policy)\./.test(address));

  it("grants only with *_iam_member (never a binding or policy that would replace others' grants)", () => {
    for (const [address] of grants()) expect(address).toMatch(/_iam_member\./);
  });

  it("grants exactly the roles of the table in docs/deploy.md", () => {
    const table = docRoleTable();
    expect(table.length).toBeGreaterThan(20);
    const granted = grants().map(([address, block]) => grantOf(address, block));
    for (const grant of granted) expect(table, `deploy/ grants ${grant}, which docs/deploy.md does not list`).toContain(grant);
    for (const row of table) expect(granted, `docs/deploy.md lists ${row}, which deploy/ does not grant`).toContain(row);
  });

  it("lets the partner API read the activation dataset only", () => {
    const partnerGrants = grants().map(([address, block]) => grantOf(address, block)).filter((grant) => grant.startsWith("partner_api |"));
    const datasetGrants = partnerGrants.filter((grant) => grant.includes("google_bigquery_dataset."));
    expect(datasetGrants).toEqual(["partner_api | roles/bigquery.dataViewer | google_bigquery_dataset.activation"]);
    expect(partnerGrants.filter((grant) => !/secretAccessor|jobUser|dataViewer/.test(grant))).toEqual([]);
  });
});

describe("deploy/ Terraform: schedule", () => {
  it("runs the cron in the time zone whose calendar decides yesterday (workflow_settings.yaml vars.local_time_zone)", () => {
    expect(config.variable.schedule_time_zone.default).toBe(loadScheduleSettings(REPO_ROOT).timeZone);
    expect(config.resource.get("google_cloud_scheduler_job.daily_build")!.time_zone).toBe("${var.schedule_time_zone}");
  });

  it("gives every sync target the kind the scheduler needs for its not-run ledger row", () => {
    const targets = String(config.locals.sync_targets);
    expect(targets.match(/kind = "meta"/g)).toHaveLength(1);
    expect(targets.match(/kind = "s3"/g)).toHaveLength(1);
  });
});

describe("deploy/ Terraform: datasets", () => {
  it("declares an EU dataset for every dataset the compiled BigQuery graph writes (enabled actions)", async () => {
    const graph = (await compileProject({ projectDir: REPO_ROOT, vars: { engine: "bigquery" } })) as Record<string, { target?: { schema: string }; disabled?: boolean }[] | undefined>;
    const written = new Set<string>();
    // Disabled actions (the model-run tests of docs/testing.md, in the default dataset) never run on Google Cloud.
    for (const kind of ["tables", "operations", "assertions"]) for (const action of graph[kind] ?? []) if (action.target && !action.disabled) written.add(action.target.schema);
    const declared = [...config.resource].filter(([address]) => address.startsWith("google_bigquery_dataset.")).map(([, block]) => block);
    for (const block of declared) expect(block.location).toBe("${var.bigquery_location}");
    expect(config.variable.bigquery_location.default).toBe("EU");
    const ids = declared.map((block) => String(block.dataset_id));
    for (const schema of written) expect(ids, `the graph writes ${schema}`).toContain(schema);
    expect(ids).toEqual(expect.arrayContaining(["raw", "staging", "intermediate", "marts", "activation", "slice_assertions"]));
  }, 180_000);
});
