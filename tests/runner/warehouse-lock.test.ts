import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { describeProcess, lockConflictError, Warehouse } from "../../src/warehouse/duckdb.ts";

describe("describeProcess", () => {
  it.each([
    [["node", "/repo/bin/slice.mjs", "serve", "--warehouse", "w.duckdb"], "slice serve"],
    [["node", "bin/slice.mjs", "sync", "meta", "--audience", "x"], "slice sync meta"],
    [["/usr/bin/node", "/usr/lib/node_modules/slice/bin/slice", "explore"], "slice explore"],
    [["/usr/bin/python3", "notebook.py"], "/usr/bin/python3 notebook.py"],
    [[], "another process"],
  ])("%j -> %s", (cmdline, expected) => {
    expect(describeProcess(cmdline)).toBe(expected);
  });
});

describe("lockConflictError", () => {
  const byPid = () => ["node", "bin/slice.mjs", "serve"];
  it.each([
    [
      'IO Error: Could not set lock on file "w.duckdb": Conflicting lock is held in /usr/bin/node (PID 42). However, you would be able to open this database in read-only mode, e.g. by using the -readonly parameter in the CLI.',
      false,
      /in use by slice serve \(PID 42\), which holds it read-only; this command needs to write it\. Fix: stop slice serve \(PID 42\)/,
    ],
    ['IO Error: Could not set lock on file "w.duckdb": Conflicting lock is held in /usr/bin/node (PID 42).', true, /which is writing it; this command needs to read it\. Fix: wait for slice serve \(PID 42\)/],
  ])("%s", (message, readOnly, expected) => {
    const error = lockConflictError("w.duckdb", new Error(message), readOnly, byPid);
    expect(error?.message).toMatch(expected);
    expect(error?.message).not.toMatch(/-readonly parameter/);
  });
  it("leaves other errors alone", () => {
    expect(lockConflictError("w.duckdb", new Error("IO Error: disk full"), false, byPid)).toBeUndefined();
  });
});

describe("a warehouse file held by another Slice process", () => {
  const dir = mkdtempSync(join(tmpdir(), "slice-lock-"));
  const file = join(dir, "shared.duckdb");
  const children: ChildProcess[] = [];
  afterAll(() => {
    children.forEach((c) => c.kill("SIGKILL"));
    rmSync(dir, { recursive: true, force: true });
  });

  /** A child that opens the file through the CLI's own code and waits; argv mimics `slice serve`. */
  async function holdFile(readOnly: boolean): Promise<ChildProcess> {
    const script = `
      const { Warehouse } = await import(${JSON.stringify(resolve(import.meta.dirname, "../../src/warehouse/duckdb.ts"))});
      const wh = await Warehouse.open(${JSON.stringify(file)}, { readOnly: ${readOnly} });
      await wh.run("create table if not exists t as select 1 as x").catch(() => {});
      console.log("held");
      setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script, "bin/slice.mjs", "serve"], { cwd: resolve(import.meta.dirname, "../.."), stdio: ["ignore", "pipe", "inherit"] });
    children.push(child);
    await new Promise<void>((ok, fail) => {
      child.stdout!.on("data", (d) => String(d).includes("held") && ok());
      child.on("exit", (code) => fail(new Error(`holder exited with ${code}`)));
    });
    return child;
  }

  it("names the holder and the fix when a writer meets a reader, and lets readers share", async () => {
    // Create the file first (a read-only open needs an existing database).
    const seed = await Warehouse.open(file);
    await seed.run("create table t as select 1 as x");
    await seed.close();

    const reader = await holdFile(true);
    const second = await Warehouse.open(file, { readOnly: true });
    expect(await second.scalar("select count(*) from t")).toBe("1");
    await second.close();
    await expect(Warehouse.open(file)).rejects.toThrow(new RegExp(`in use by slice serve \\(PID ${reader.pid}\\), which holds it read-only`));
    reader.kill("SIGKILL");
    await new Promise((r) => reader.once("exit", r));

    const writer = await holdFile(false);
    await expect(Warehouse.open(file, { readOnly: true })).rejects.toThrow(new RegExp(`in use by slice serve \\(PID ${writer.pid}\\), which is writing it`));
  }, 60_000);
});
