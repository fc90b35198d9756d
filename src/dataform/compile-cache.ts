/**
 * A cache of `dataform compile --json` output keyed by everything the compilation reads: the content of
 * workflow_settings.yaml, definitions/ and includes/, the project's @dataform/core version, the CLI's
 * version and the settings passed (vars, schema suffix, default database). The same inputs compile to the
 * same graph, so the runner, `slice test`, validate, the explorer, lookml and the test suite (which compiled
 * the same project dozens of times) pay for one compilation per distinct input.
 *
 * Entries are JSON files in $SLICE_COMPILE_CACHE_DIR (default: the system temp directory's
 * slice-compile-cache), written atomically; SLICE_COMPILE_CACHE=off turns the cache off.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { parse as parseYaml } from "yaml";

const PROJECT_INPUTS = ["workflow_settings.yaml", "definitions", "includes"];
const MAX_ENTRIES = 200;

export function compileCacheDir(): string | undefined {
  if ((process.env.SLICE_COMPILE_CACHE ?? "").toLowerCase() === "off") return undefined;
  return process.env.SLICE_COMPILE_CACHE_DIR || join(tmpdir(), "slice-compile-cache");
}

function filesUnder(root: string, path: string, out: string[]): void {
  if (!existsSync(path)) return;
  const stat = statSync(path);
  if (stat.isDirectory()) {
    for (const entry of readdirSync(path).sort()) filesUnder(root, join(path, entry), out);
  } else if (stat.isFile()) {
    out.push(path);
  }
}

function versionOf(packageJson: string): string {
  try {
    return String((JSON.parse(readFileSync(packageJson, "utf8")) as { version?: string }).version ?? "?");
  } catch {
    return "missing";
  }
}

/** The cache key of compiling `projectDir` with `settings` (the CLI arguments that change the graph). */
export function compileCacheKey(projectDir: string, settings: string[]): string {
  const hash = createHash("sha256");
  const cli = versionOf(createRequire(import.meta.url).resolve("@dataform/cli/package.json"));
  hash.update(`cli ${cli}\0core ${versionOf(join(projectDir, "node_modules/@dataform/core/package.json"))}\0`);
  for (const setting of settings) hash.update(`setting ${setting}\0`);
  const files: string[] = [];
  for (const input of PROJECT_INPUTS) filesUnder(projectDir, join(projectDir, input), files);
  for (const file of files) {
    hash.update(`file ${relative(projectDir, file)}\0`);
    hash.update(readFileSync(file));
    hash.update("\0");
  }
  return hash.digest("hex");
}

/**
 * The `--vars` setting as the cache key sees it: the vars Dataform compiles with, which are the
 * workflow_settings.yaml vars overridden by the ones passed, in that order. A var passed with its default
 * value, or vars passed in another order, compile to the same graph byte for byte, so they share an entry.
 * Without readable workflow settings the passed vars are kept as given.
 */
export function effectiveVarsSetting(projectDir: string, vars: Record<string, string>): string {
  let defaults: Record<string, unknown> = {};
  try {
    const settings = parseYaml(readFileSync(join(projectDir, "workflow_settings.yaml"), "utf8")) as { vars?: unknown } | null;
    // Values as YAML read them: a default that is not a string never equals a passed string, so only
    // quoted-or-plain string defaults can be matched (conservative where YAML and Dataform could differ).
    if (settings?.vars && typeof settings.vars === "object") defaults = { ...(settings.vars as Record<string, unknown>) };
  } catch {
    return `--vars ${JSON.stringify(vars)}`;
  }
  return `--effective-vars ${JSON.stringify({ ...defaults, ...vars })}`;
}

const inFlight = new Map<string, Promise<unknown>>();

/** Returns the cached graph for these inputs, or compiles, stores and returns it. */
export async function cachedCompile(projectDir: string, settings: string[], compile: () => Promise<unknown>): Promise<unknown> {
  const dir = compileCacheDir();
  if (!dir) return compile();
  const key = compileCacheKey(projectDir, settings);
  const file = join(dir, `${key}.json`);
  if (existsSync(file)) {
    try {
      return JSON.parse(readFileSync(file, "utf8"));
    } catch {
      // A damaged entry is compiled again and overwritten.
    }
  }
  const pending = inFlight.get(key);
  if (pending) return structuredClone(await pending);
  const job = compile().then((graph) => {
    mkdirSync(dir, { recursive: true });
    const partial = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    writeFileSync(partial, JSON.stringify(graph));
    renameSync(partial, file);
    prune(dir);
    return graph;
  });
  inFlight.set(key, job);
  try {
    return structuredClone(await job);
  } finally {
    inFlight.delete(key);
  }
}

function prune(dir: string): void {
  const entries = readdirSync(dir).filter((name) => name.endsWith(".json"));
  if (entries.length <= MAX_ENTRIES) return;
  const byAge = entries.map((name) => ({ name, at: statSync(join(dir, name)).mtimeMs })).sort((a, b) => a.at - b.at);
  for (const { name } of byAge.slice(0, entries.length - MAX_ENTRIES)) rmSync(join(dir, name), { force: true });
}
