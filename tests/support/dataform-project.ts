/**
 * Throw-away Dataform projects for tests: a real directory the official CLI compiles, with its own
 * package.json and a copy of @dataform/core (the CLI's sandbox does not follow symlinks out of the project).
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";

export const REPO_ROOT = resolve(import.meta.dirname, "../..");

export interface TempProject {
  dir: string;
  write(path: string, content: string): void;
  remove(path: string): void;
  cleanup(): void;
}

export function tempProject(files: Record<string, string>, vars: Record<string, string> = {}): TempProject {
  const dir = mkdtempSync(join(tmpdir(), "slice-project-"));
  const write = (path: string, content: string) => {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  };
  write("package.json", JSON.stringify({ name: "fixture", private: true, dependencies: { "@dataform/core": "3.0.62" } }));
  const varLines = Object.entries({ engine: "bigquery", as_of_date: "2025-01-31", ...vars })
    .map(([k, v]) => `  ${k}: "${v}"`)
    .join("\n");
  write(
    "workflow_settings.yaml",
    `defaultProject: fixture-project\ndefaultLocation: EU\ndefaultDataset: fixture\ndefaultAssertionDataset: fixture_assertions\nvars:\n${varLines}\n`,
  );
  cpSync(join(REPO_ROOT, "node_modules/@dataform/core"), join(dir, "node_modules/@dataform/core"), { recursive: true });
  for (const [path, content] of Object.entries(files)) write(path, content);
  return {
    dir,
    write,
    remove: (path) => rmSync(join(dir, path), { force: true }),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
