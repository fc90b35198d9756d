/** Numeric options are parsed one way: a bad value is an error naming the option, never NaN. */
import { execFile } from "node:child_process";
import { describe, expect, it } from "vitest";
import { decimalNumber, oneOf, wholeNumber } from "../../src/cli-options.ts";
import { REPO_ROOT } from "../support/dataform-project.ts";

describe("option parsers", () => {
  const whole = wholeNumber("--concurrency", { min: 1, max: 64 });
  it.each([
    ["2", 2],
    [" 8 ", 8],
    ["64", 64],
  ])("takes %j", (text, expected) => expect(whole(text)).toBe(expected));
  it.each(["abc", "", "2.5", "1e3", "0x10", "0", "65", "-1", "3abc"])("refuses %j naming the option", (text) => {
    expect(() => whole(text)).toThrow(`--concurrency takes a whole number from 1 to 64, got "${text}".`);
  });
  it("reads decimals and choices", () => {
    expect(decimalNumber("--share", { min: 0, max: 1 })("0.5")).toBe(0.5);
    expect(() => decimalNumber("--share", { min: 0, max: 1 })("half")).toThrow('--share takes a number from 0 to 1, got "half".');
    expect(oneOf("--policy", ["warn", "block"] as const)("warn")).toBe("warn");
    expect(() => oneOf("--policy", ["warn", "block"] as const)("stop")).toThrow('--policy takes warn | block, got "stop".');
  });
});

describe("slice build --concurrency abc", () => {
  it("fails at once with an error naming the option (it used to hang)", async () => {
    const outcome = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(process.execPath, ["bin/slice.mjs", "build", "--concurrency", "abc", "--warehouse", "/nonexistent/never-opened.duckdb"], { cwd: REPO_ROOT, timeout: 60_000 }, (error, _out, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stderr: String(stderr) }),
      );
    });
    expect(outcome.code).toBe(1);
    expect(outcome.stderr).toContain('--concurrency takes a whole number from 1 to 64, got "abc".');
  });

  it("refuses an unknown --assertion-failures policy the same way", async () => {
    const outcome = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(process.execPath, ["bin/slice.mjs", "build", "--assertion-failures", "stop", "--warehouse", "/nonexistent/never-opened.duckdb"], { cwd: REPO_ROOT, timeout: 60_000 }, (error, _out, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stderr: String(stderr) }),
      );
    });
    expect(outcome.code).toBe(1);
    expect(outcome.stderr).toContain('--assertion-failures takes block-dependents | block-downstream | warn, got "stop".');
  });
});
