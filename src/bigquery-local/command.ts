/**
 * `slice bigquery-local`: the local BigQuery endpoint as a long-running server, so a person can point the
 * official Dataform CLI (or any BigQuery client) at it and try a change on BigQuery semantics offline.
 *
 * Loaded only when the command runs: it needs the dev dependency @fivetrandevelopers/zetasql.
 */
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Command } from "commander";
import { RAW_SCHEMA, RAW_TABLES } from "../../macros/raw_contract.ts";
import { dialect } from "../../macros/sql.ts";

interface Options {
  project: string;
  location: string;
  port: string;
  rawTables: boolean;
  log?: string;
  credentials: string;
}

export function registerBigQueryLocalCommand(program: Command): void {
  program
    .command("bigquery-local")
    .description("Serve a local BigQuery endpoint (ZetaSQL underneath) for the official clients and `dataform run`, until interrupted.")
    .option("--project <id>", "Google Cloud project id the endpoint answers for", "slice-demo")
    .option("--location <location>", "dataset location", "EU")
    .option("--port <port>", "port on 127.0.0.1 (0: any free port)", "0")
    .option("--raw-tables", "create the raw contract's empty tables (dataset raw), ready for `slice load`-shaped data", false)
    .option("--log <file>", "append every job's statements to this NDJSON file")
    .option("--credentials <file>", "where to write the Dataform credentials file", ".df-credentials.local.json")
    .action(async (opts: Options) => {
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port ${opts.port} is not a port number (0-65535).`);
      let server: typeof import("./server.ts");
      try {
        server = await import("./server.ts");
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") {
          throw new Error("slice bigquery-local needs the dev dependency @fivetrandevelopers/zetasql; install the project with its dev dependencies (npm ci).", { cause: error });
        }
        throw error;
      }
      const bq = await server.startLocalBigQuery({ projectId: opts.project, location: opts.location, port, statementLog: opts.log });
      if (opts.rawTables) {
        bq.engine.createDataset(opts.project, RAW_SCHEMA, { location: opts.location });
        const d = dialect("bigquery");
        const sql = RAW_TABLES.map((t) => `CREATE TABLE \`${opts.project}.${RAW_SCHEMA}.${t.name}\` (${t.columns.map((c) => `${c.name} ${d.typeName(c.type)}`).join(", ")})`).join(";\n");
        await bq.engine.run(sql);
      }
      const credentials = resolve(opts.credentials);
      writeFileSync(credentials, `${JSON.stringify({ projectId: opts.project, location: opts.location }, null, 2)}\n`);
      console.log(`Local BigQuery endpoint on ${bq.url} (project ${opts.project}, location ${opts.location}).`);
      console.log("In another shell:");
      for (const [k, v] of Object.entries(bq.env)) if (v) console.log(`  export ${k}=${v}`);
      console.log(`  npx dataform run . --credentials ${opts.credentials} --vars=engine=bigquery`);
      console.log("Ctrl-C stops it; everything it holds is in memory.");
      await new Promise<void>((resolveStop) => {
        const stop = () => resolveStop();
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
      await bq.close();
    });
}
