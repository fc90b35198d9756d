/**
 * includes/*.js are generated from macros/*.ts and committed (Google Cloud Dataform compiles the repo as
 * is and cannot run tsc). This compares them with a fresh compile so stale output is caught.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export interface IncludesDrift {
  missing: string[];
  stale: string[];
  extra: string[];
}

export function checkIncludes(projectDir = "."): IncludesDrift {
  const root = resolve(projectDir);
  const out = mkdtempSync(join(tmpdir(), "slice-includes-"));
  try {
    const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
    execFileSync(process.execPath, [tsc, "-p", join(root, "tsconfig.macros.json"), "--outDir", out], { cwd: root, stdio: "pipe" });
    const fresh = readdirSync(out).filter((f) => f.endsWith(".js"));
    const committed = readdirSync(join(root, "includes")).filter((f) => f.endsWith(".js"));
    return {
      missing: fresh.filter((f) => !committed.includes(f)),
      stale: fresh.filter((f) => committed.includes(f) && readFileSync(join(out, f), "utf8") !== readFileSync(join(root, "includes", f), "utf8")),
      extra: committed.filter((f) => !fresh.includes(f)),
    };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

export function describeDrift(drift: IncludesDrift): string | undefined {
  const problems = [
    ...drift.missing.map((f) => `includes/${f} is missing`),
    ...drift.stale.map((f) => `includes/${f} differs from macros/${f.replace(/\.js$/, ".ts")}`),
    ...drift.extra.map((f) => `includes/${f} has no macros/${f.replace(/\.js$/, ".ts")} source`),
  ];
  return problems.length ? `${problems.join("\n")}\nRun \`npm run build:macros\` and commit includes/.` : undefined;
}
