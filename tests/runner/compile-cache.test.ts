import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { cachedCompile, compileCacheKey, effectiveVarsSetting } from "../../src/dataform/compile-cache.ts";
import { runDataformCompile } from "../../src/dataform/compile.ts";
import { tempProject } from "../support/dataform-project.ts";

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

  it("the official CLI compiles a default passed explicitly, or vars in another order, to the same graph, from one cache entry", async () => {
    const project = tempProject(FILES);
    try {
      const plain = await runDataformCompile({ projectDir: project.dir, vars: { engine: "duckdb" } });
      expect(readdirSync(cacheDir)).toHaveLength(1);
      expect(await runDataformCompile({ projectDir: project.dir, vars: { as_of_date: "2025-01-31", engine: "duckdb" } })).toEqual(plain);
      expect(readdirSync(cacheDir)).toHaveLength(1);
      process.env.SLICE_COMPILE_CACHE = "off";
      expect(await runDataformCompile({ projectDir: project.dir, vars: { as_of_date: "2025-01-31", engine: "duckdb" } })).toEqual(plain);
    } finally {
      project.cleanup();
    }
  }, 120_000);
});
