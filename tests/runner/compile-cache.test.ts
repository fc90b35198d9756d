import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { cachedCompile, compileCacheKey, effectiveVarsSetting } from "../../src/dataform/compile-cache.ts";
import { extractJson, runDataformCompile } from "../../src/dataform/compile.ts";
import { REPO_ROOT, tempProject } from "../support/dataform-project.ts";

const cacheDir = mkdtempSync(join(tmpdir(), "slice-cc-"));
const saved = { dir: process.env.SLICE_COMPILE_CACHE_DIR, off: process.env.SLICE_COMPILE_CACHE };
beforeEach(() => {
  process.env.SLICE_COMPILE_CACHE_DIR = cacheDir;
  delete process.env.SLICE_COMPILE_CACHE;
  for (const f of readdirSync(cacheDir)) rmSync(join(cacheDir, f));
});
afterAll(() => {
  if (saved.dir === undefined) delete process.env.SLICE_COMPILE_CACHE_DIR;
  else process.env.SLICE_COMPILE_CACHE_DIR = saved.dir;
  if (saved.off === undefined) delete process.env.SLICE_COMPILE_CACHE;
  else process.env.SLICE_COMPILE_CACHE = saved.off;
  rmSync(cacheDir, { recursive: true, force: true });
});

const FILES = { "definitions/a.sqlx": `config { type: "table", schema: "s" }\nselect 1 as x` };

describe("compileCacheKey", () => {
  it("depends on content and settings, not on where the project is", () => {
    const one = tempProject(FILES);
    const two = tempProject(FILES);
    try {
      const key = compileCacheKey(one.dir, []);
      expect(compileCacheKey(two.dir, [])).toBe(key);
      expect(compileCacheKey(one.dir, ["--vars=as_of_date=2026-01-01"])).not.toBe(key);
      two.write("definitions/a.sqlx", `config { type: "table", schema: "s" }\nselect 2 as x`);
      expect(compileCacheKey(two.dir, [])).not.toBe(key);
      one.write("includes/helpers.js", "module.exports = {};");
      expect(compileCacheKey(one.dir, [])).not.toBe(key);
      one.write("workflow_settings.yaml", "defaultProject: other\ndefaultLocation: EU\ndefaultDataset: d\n");
      expect(compileCacheKey(one.dir, [])).not.toBe(compileCacheKey(two.dir, []));
    } finally {
      one.cleanup();
      two.cleanup();
    }
  });
});

describe("cachedCompile", () => {
  it("compiles once per distinct input and returns an equal, independent graph", async () => {
    const project = tempProject(FILES);
    try {
      let calls = 0;
      const compile = async () => ({ tables: [{ n: ++calls }] });
      const first = (await cachedCompile(project.dir, [], compile)) as { tables: { n: number }[] };
      first.tables[0].n = 99; // a caller mutating its graph must not change the cache
      const second = await cachedCompile(project.dir, [], compile);
      expect(second).toEqual({ tables: [{ n: 1 }] });
      expect(calls).toBe(1);
      await cachedCompile(project.dir, ["--schema-suffix=x"], compile);
      expect(calls).toBe(2);

      // A damaged entry is compiled again.
      writeFileSync(join(cacheDir, `${compileCacheKey(project.dir, [])}.json`), "{truncated");
      expect(await cachedCompile(project.dir, [], compile)).toEqual({ tables: [{ n: 3 }] });

      process.env.SLICE_COMPILE_CACHE = "off";
      await cachedCompile(project.dir, [], compile);
      await cachedCompile(project.dir, [], compile);
      expect(calls).toBe(5);
    } finally {
      project.cleanup();
    }
  });

  it("gives the official CLI's graph, and a changed model compiles anew", async () => {
    const project = tempProject(FILES);
    try {
      const first = (await runDataformCompile({ projectDir: project.dir })) as { tables: { query: string }[] };
      expect(readdirSync(cacheDir)).toHaveLength(1);
      expect((await runDataformCompile({ projectDir: project.dir })) as unknown).toEqual(first);
      project.write("definitions/a.sqlx", `config { type: "table", schema: "s" }\nselect 2 as x`);
      const changed = (await runDataformCompile({ projectDir: project.dir })) as { tables: { query: string }[] };
      expect(changed.tables[0].query).toContain("select 2 as x");
      expect(readdirSync(cacheDir)).toHaveLength(2);
    } finally {
      project.cleanup();
    }
  }, 120_000);
});

describe("effectiveVarsSetting", () => {
  it("keys on the vars the compilation uses: a default passed explicitly or vars in another order share a key", () => {
    const project = tempProject(FILES, { as_of_date: "2026-10-31", loyalty_card_slices: "10" });
    try {
      project.write("workflow_settings.yaml", `defaultProject: p\ndefaultLocation: EU\ndefaultDataset: d\nvars:\n  engine: bigquery\n  as_of_date: "2026-10-31"\n  slices: 10\n`);
      const none = effectiveVarsSetting(project.dir, {});
      expect(effectiveVarsSetting(project.dir, { as_of_date: "2026-10-31" })).toBe(none);
      expect(effectiveVarsSetting(project.dir, { engine: "bigquery", as_of_date: "2026-10-31" })).toBe(none);
      expect(effectiveVarsSetting(project.dir, { engine: "duckdb", as_of_date: "2025-01-31" })).toBe(effectiveVarsSetting(project.dir, { as_of_date: "2025-01-31", engine: "duckdb" }));
      expect(effectiveVarsSetting(project.dir, { as_of_date: "2025-01-31" })).not.toBe(none);
      expect(effectiveVarsSetting(project.dir, { extra: "x" })).not.toBe(none);
      // A YAML number is not matched by a passed string (Dataform's own reading of it decides).
      expect(effectiveVarsSetting(project.dir, { slices: "10" })).not.toBe(none);
    } finally {
      project.cleanup();
    }
  });

  it("the official CLI, run bare, compiles a default passed explicitly to the graph of the one cache entry", async () => {
    const project = tempProject(FILES);
    try {
      const plain = await runDataformCompile({ projectDir: project.dir, vars: { engine: "duckdb" } });
      expect(readdirSync(cacheDir)).toHaveLength(1);
      expect(await runDataformCompile({ projectDir: project.dir, vars: { as_of_date: "2025-01-31", engine: "duckdb" } })).toEqual(plain);
      expect(readdirSync(cacheDir)).toHaveLength(1);
      // The CLI without compile-once.mjs and with the default spelled out prints the same graph.
      const cli = join(dirname(createRequire(import.meta.url).resolve("@dataform/cli/package.json")), "bundle.js");
      const bare = execFileSync(process.execPath, [cli, "compile", project.dir, "--json", "--vars=as_of_date=2025-01-31,engine=duckdb"], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
      expect(JSON.parse(extractJson(bare)!)).toEqual(plain);
    } finally {
      project.cleanup();
    }
  }, 120_000);
});

describe("compile-once.mjs", () => {
  const preload = pathToFileURL(join(REPO_ROOT, "src/dataform/compile-once.mjs")).href;

  it("is needed: the pinned CLI's worker registers its compile-request listener twice", () => {
    const worker = readFileSync(join(dirname(createRequire(import.meta.url).resolve("@dataform/cli/package.json")), "worker_bundle.js"), "utf8");
    expect(worker.match(/^\s*listenForCompileRequest\(\);$/gm)).toHaveLength(2);
  });

  it("in a process named worker_bundle.js, adds a message listener once per source text and leaves other listeners alone", () => {
    const dir = mkdtempSync(join(tmpdir(), "slice-once-"));
    try {
      const script = join(dir, "worker_bundle.js");
      writeFileSync(
        script,
        `const exits = process.listenerCount("exit");
const listen = () => process.on("message", (m) => console.log("compile", m));
listen(); listen();
process.addListener("message", (m) => console.log("jit", m));
const bye = () => process.on("exit", () => {});
bye(); bye();
console.log(process.listenerCount("message"), process.listenerCount("exit") - exits);\n`,
      );
      const run = (args: string[]) => execFileSync(process.execPath, [...args, script], { encoding: "utf8", cwd: dir }).trim();
      expect(run(["--import", preload])).toBe("2 2");
      expect(run([])).toBe("3 2");
      // Elsewhere (the CLI's own process) nothing changes.
      writeFileSync(join(dir, "other.js"), readFileSync(script, "utf8"));
      expect(execFileSync(process.execPath, ["--import", preload, join(dir, "other.js")], { encoding: "utf8", cwd: dir }).trim()).toBe("3 2");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
