/**
 * `slice sandbox`: starts the local Meta contract server and S3 server, prints what to export and the
 * commands to run, then logs the requests they receive until Ctrl-C.
 */
import { relative } from "node:path";
import type { Command } from "commander";
import { wholeNumber } from "../cli-options.ts";
import { SANDBOX_DEFAULTS, sandboxCommands, startSandbox } from "./sandbox.ts";

export function registerSandboxCommand(program: Command): void {
  program
    .command("sandbox")
    .description("Start a local Meta Graph API contract server and an S3-compatible server (s3rver) on 127.0.0.1 to try slice sync meta / s3 end to end.")
    .option("--dir <path>", "where the partners file, the env file and the S3 objects go", SANDBOX_DEFAULTS.dir)
    .option("--meta-port <n>", "port of the Meta contract server (0: any free port)", wholeNumber("--meta-port", { min: 0, max: 65535 }), SANDBOX_DEFAULTS.metaPort)
    .option("--s3-port <n>", "port of the S3 server (0: any free port)", wholeNumber("--s3-port", { min: 0, max: 65535 }), SANDBOX_DEFAULTS.s3Port)
    .action(async (opts: { dir: string; metaPort: number; s3Port: number }) => {
      let sandbox;
      try {
        sandbox = await startSandbox({
          dir: opts.dir,
          metaPort: opts.metaPort,
          s3Port: opts.s3Port,
          onMetaRequest: (r) => console.log(`  meta  ${r.method} ${r.path} ${r.status}${r.rows !== undefined ? ` (${r.rows} rows)` : ""}${r.code !== undefined ? ` Graph error ${r.code}` : ""}`),
          onS3Event: (event) => console.log(`  s3    ${event.name} ${event.key}`),
        });
      } catch (error) {
        const e = error as NodeJS.ErrnoException;
        console.error(
          e.code === "EADDRINUSE"
            ? `slice sandbox failed: a port is already in use (${e.message}). Fix: stop the other sandbox, or pass --meta-port / --s3-port (0 picks a free one)`
            : `slice sandbox failed: ${e.message}`,
        );
        process.exitCode = 1;
        return;
      }
      const shown = (path: string) => relative(process.cwd(), path) || ".";
      const lines = [
        "Slice sandbox: local stand-ins for Meta and S3 on 127.0.0.1 (nothing leaves this machine)",
        `  Meta Graph API contract server  ${sandbox.metaUrl}  (ad account ${SANDBOX_DEFAULTS.adAccountId}, token ${SANDBOX_DEFAULTS.accessToken}; audiences kept in ${shown(sandbox.dir)}/meta-audiences.json)`,
        `  S3-compatible server (s3rver)   ${sandbox.s3Url}  (bucket ${SANDBOX_DEFAULTS.bucket}, objects under ${shown(sandbox.dir)}/s3)`,
        `  partners file                   ${shown(sandbox.partnersFile)}`,
        "",
        `In another shell, export these (or: source ${shown(sandbox.envFile)}):`,
        ...Object.entries(sandbox.env).map(([name, value]) => `  export ${name}=${value}`),
        "then, after npm start (or slice demo) has built warehouse/slice.duckdb:",
        ...sandboxCommands(shown(sandbox.partnersFile)).map((command) => `  ${command}`),
        "",
        "Requests as they arrive (Ctrl-C stops the sandbox):",
      ];
      console.log(lines.join("\n"));
      const stop = async () => {
        console.log("Stopping the sandbox.");
        await sandbox.close();
        process.exit(0);
      };
      process.once("SIGINT", () => void stop());
      process.once("SIGTERM", () => void stop());
    });
}
