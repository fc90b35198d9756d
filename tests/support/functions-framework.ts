/**
 * A Cloud Function run the way Cloud Run functions run it: the official Functions Framework CLI in a child
 * process, loading the package's main (package.json "main": functions/main.mjs) from the repository root
 * with `--target=<entry point>`, configured by environment variables only.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:http";
import { join } from "node:path";
import { REPO_ROOT } from "./dataform-project.ts";

export interface RunningFunction {
  url: string;
  output(): string;
  stop(): Promise<void>;
}

/** A free loopback port (the Functions Framework takes --port, not 0). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function startFunction(target: string, env: Record<string, string>): Promise<RunningFunction> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    join(REPO_ROOT, "node_modules/.bin/functions-framework"),
    [`--target=${target}`, "--source=.", "--signature-type=http", `--port=${port}`],
    { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? "", ...env }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  const deadline = Date.now() + 60_000;
  while (!output.includes("Serving function")) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGTERM");
      throw new Error(`functions-framework --target=${target} did not start (exit ${child.exitCode}):\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url: `http://127.0.0.1:${port}/`,
    output: () => output,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    },
  };
}
