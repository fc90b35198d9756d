import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../support/dataform-project.ts";
import { describeImports, folderCycles, folderOf, type Import, importSpecifiers, readImports, resolveImport } from "./imports.ts";

describe("import parsing", () => {
  it.each([
    ['import { a } from "./a.ts";', ["./a.ts"]],
    ['import type { A } from "../b/a.ts";\nimport x from "hono";', ["../b/a.ts", "hono"]],
    ['export { a } from "./a.ts";\nexport * from "./b.ts";', ["./a.ts", "./b.ts"]],
    ['import "./side-effect.ts";', ["./side-effect.ts"]],
    ['const m = await import("./lazy.ts");', ["./lazy.ts"]],
    ["import {\n  a,\n  b,\n} from '../multi.ts';", ["../multi.ts"]],
    ['const sql = `select 1 from "slice_runs".runs`;', ["slice_runs"]],
  ])("%j imports %j", (source, expected) => {
    expect(importSpecifiers(source)).toEqual(expected);
  });

  it.each([
    ["src/api/serve.ts", "../../functions/partner-api/app.ts", "functions/partner-api/app.ts"],
    ["src/api/serve.ts", "./keys.ts", "src/api/keys.ts"],
    ["functions/meta-sync/index.ts", "../../src/warehouse/open.ts", "src/warehouse/open.ts"],
    ["src/api/serve.ts", "hono", undefined],
  ])("%s imports %s as %s", (file, specifier, expected) => {
    expect(resolveImport(file, specifier)).toBe(expected);
  });

  it.each([
    ["src/activation/s3/drop.ts", "src/activation"],
    ["src/cli.ts", "src/cli.ts"],
    ["functions/partner-api/index.ts", "functions"],
    ["macros/audiences.ts", "macros"],
  ])("%s belongs to %s", (path, folder) => {
    expect(folderOf(path)).toBe(folder);
  });
});

describe("folder cycles", () => {
  const imports = (...pairs: [string, string][]): Import[] => pairs.map(([from, to]) => ({ from, to }));

  it("finds none when imports point one way", () => {
    expect(folderCycles(imports(["src/api/a.ts", "src/warehouse/b.ts"], ["functions/x/index.ts", "src/api/a.ts"], ["src/api/a.ts", "src/api/c.ts"]))).toEqual([]);
  });

  it("finds a cycle through three folders and names its imports", () => {
    const cycle = imports(["src/a/x.ts", "src/b/y.ts"], ["src/b/y.ts", "src/c/z.ts"], ["src/c/z.ts", "src/a/w.ts"]);
    const found = folderCycles([...cycle, { from: "src/c/z.ts", to: "src/d/v.ts" }]);
    expect(found.map((c) => c.folders)).toEqual([["src/a", "src/b", "src/c"]]);
    expect(found[0].imports).toEqual(cycle);
  });

  it("finds two folders importing each other through different files", () => {
    const found = folderCycles(imports(["src/activation/preflight.ts", "src/schedule/dates.ts"], ["src/schedule/daily.ts", "src/activation/s3/drop.ts"]));
    expect(found.map((c) => c.folders)).toEqual([["src/activation", "src/schedule"]]);
  });
});

describe("the repository's imports", () => {
  const imports = readImports(REPO_ROOT, ["src", "functions"]);

  it("are read (the parser found the known ones)", () => {
    expect(imports.length).toBeGreaterThan(500);
    expect(imports).toContainEqual({ from: "functions/partner-api/index.ts", to: "src/api/app.ts" });
  });

  it("form no cycle between the top-level folders of src/ (and functions/)", () => {
    const cycles = folderCycles(imports).map((cycle) => [cycle.folders.join(" <-> "), ...describeImports(cycle.imports).map((line) => `  ${line}`)].join("\n"));
    expect(cycles).toEqual([]);
  });

  it("point from functions/ to src/, never back", () => {
    expect(describeImports(imports.filter(({ from, to }) => from.startsWith("src/") && to.startsWith("functions/")))).toEqual([]);
  });

  it("leave each Cloud Function to itself (only functions/main.mjs gathers them)", () => {
    const across = imports.filter(({ from, to }) => from.startsWith("functions/") && from !== "functions/main.mjs" && to.startsWith("functions/") && to.split("/")[1] !== from.split("/")[1]);
    expect(describeImports(across)).toEqual([]);
  });

  it("keep src/warehouse at the bottom: it imports no other folder of src/", () => {
    const up = imports.filter(({ from, to }) => folderOf(from) === "src/warehouse" && to.startsWith("src/") && folderOf(to) !== "src/warehouse");
    expect(describeImports(up)).toEqual([]);
  });

  it("reach a command.ts (CLI wiring) only from src/cli.ts or another command.ts", () => {
    const isCommand = (path: string) => path.endsWith("/command.ts");
    const intoCli = imports.filter(({ from, to }) => isCommand(to) && !isCommand(from) && from !== "src/cli.ts");
    expect(describeImports(intoCli)).toEqual([]);
  });
});
