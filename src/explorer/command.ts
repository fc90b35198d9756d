/**
 * `slice explore`: serves the explorer over the local warehouse file.
 */
import { wholeNumber } from "../cli-options.ts";
import { existsSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import { serve } from "@hono/node-server";
import type { Command } from "commander";
import type { CompiledGraph } from "../dataform/compile.ts";
import { compileForDuckDb } from "../dataform/compile.ts";
import { DEFAULT_WAREHOUSE_PATH, Warehouse } from "../warehouse/duckdb.ts";
import { createExplorerApp } from "./app.tsx";
import { TOKEN_ENV, tokenForHost } from "./auth.ts";

export const DEFAULT_EXPLORER_HOST = "127.0.0.1";
export const DEFAULT_EXPLORER_PORT = 4318;

export interface ExplorerOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  warehousePath?: string;
  /** An open warehouse to serve instead of opening warehousePath (tests). */
  warehouse?: Warehouse;
  projectDir?: string;
  /** The compiled graph, or leave it to be compiled on the first lineage request. */
  graph?: CompiledGraph;
  /** Defaults to env SLICE_EXPLORER_TOKEN. */
  token?: string;
}

export interface RunningExplorer {
  url: string;
  host: string;
  port: number;
  /** True when requests must carry the token. */
  authenticated: boolean;
  close(): Promise<void>;
}

export async function startExplorer(options: ExplorerOptions = {}): Promise<RunningExplorer> {
  const host = options.host ?? DEFAULT_EXPLORER_HOST;
  const access = tokenForHost(host, options.token ?? process.env[TOKEN_ENV]);
  if (access.error) throw new Error(access.error);

  let warehouse = options.warehouse;
  const ownWarehouse = !warehouse;
  if (!warehouse) {
    const path = resolve(options.warehousePath ?? DEFAULT_WAREHOUSE_PATH);
    // Opening a missing file would create an empty warehouse and show nothing; say what to do instead.
    if (!existsSync(path)) throw new Error(`No warehouse at ${path}: run \`slice build\` (or pass --warehouse <file>).`);
    warehouse = await Warehouse.open(path, { readOnly: true });
  }
  const projectDir = options.projectDir ?? ".";
  const app = createExplorerApp({
    warehouse,
    graph: options.graph ?? (() => compileForDuckDb(projectDir)),
    token: access.token,
  });

  const server = await new Promise<ReturnType<typeof serve>>((resolvePromise, reject) => {
    const created = serve({ fetch: app.fetch, hostname: host, port: options.port ?? DEFAULT_EXPLORER_PORT }, () => resolvePromise(created));
    created.once("error", reject);
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}`,
    host,
    port: address.port,
    authenticated: access.token !== undefined,
    close: async () => {
      const closed = new Promise<void>((done) => server.close(() => done()));
      // Browsers keep connections alive; without this, close() waits for them to time out.
      if ("closeAllConnections" in server) server.closeAllConnections();
      await closed;
      if (ownWarehouse) await warehouse.close();
    },
  };
}

export function registerExplorerCommands(program: Command): void {
  program
    .command("explore")
    .description("Serve the local explorer: customer profile cards, KPI dashboard and lineage over the DuckDB warehouse.")
    .option("--port <n>", "port to listen on (0 picks a free one)", wholeNumber("--port", { min: 0, max: 65535 }), DEFAULT_EXPLORER_PORT)
    .option("--host <address>", `address to bind; anything but loopback needs ${TOKEN_ENV}`, DEFAULT_EXPLORER_HOST)
    .option("--warehouse <path>", "DuckDB warehouse file", DEFAULT_WAREHOUSE_PATH)
    .option("--project <dir>", "Dataform project directory (for the lineage page)", ".")
    .action(async (opts) => {
      if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
        throw new Error(`--port ${opts.port}: use a port number from 0 to 65535.`);
      }
      const explorer = await startExplorer({ host: opts.host, port: opts.port, warehousePath: opts.warehouse, projectDir: opts.project });
      console.log(`Slice explorer on ${explorer.url} (warehouse ${resolve(opts.warehouse)})`);
      console.log(explorer.authenticated ? `  requests need ${TOKEN_ENV}: bearer token, or any user name with the token as basic-auth password` : "  loopback only, no token");
      console.log("  Ctrl-C to stop");
      await new Promise<void>((done) => {
        const stop = () => {
          process.off("SIGINT", stop);
          process.off("SIGTERM", stop);
          void explorer.close().then(done);
        };
        process.on("SIGINT", stop);
        process.on("SIGTERM", stop);
      });
    });
}
