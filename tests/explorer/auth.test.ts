import { describe, expect, it } from "vitest";
import { MIN_TOKEN_LENGTH, isLoopbackHost, presentedSecret, sameSecret, tokenForHost } from "../../src/explorer/auth.ts";
import { startExplorer } from "../../src/explorer/command.ts";

describe("who may reach the explorer", () => {
  it.each([
    ["127.0.0.1", true],
    ["127.8.9.10", true],
    ["localhost", true],
    ["::1", true],
    ["0.0.0.0", false],
    ["192.168.1.20", false],
    ["::", false],
    ["example.com", false],
  ])("isLoopbackHost(%s) = %s", (host, expected) => expect(isLoopbackHost(host)).toBe(expected));

  const longToken = "x".repeat(MIN_TOKEN_LENGTH);
  it.each([
    ["127.0.0.1", undefined, {}],
    ["127.0.0.1", longToken, { token: longToken }],
    ["0.0.0.0", longToken, { token: longToken }],
  ])("tokenForHost(%s, %j) = %j", (host, token, expected) => expect(tokenForHost(host, token)).toEqual({ token: undefined, ...expected }));

  it("refuses another host without a token, and any host with a short token", () => {
    expect(tokenForHost("0.0.0.0", undefined).error).toMatch(/^Refusing to listen on 0\.0\.0\.0 without a token.*Set SLICE_EXPLORER_TOKEN/);
    expect(tokenForHost("0.0.0.0", "   ").error).toMatch(/^Refusing/);
    expect(tokenForHost("127.0.0.1", "short").error).toMatch(/^SLICE_EXPLORER_TOKEN is 5 characters long; use at least 16/);
  });

  it("will not start on another host without a token", async () => {
    await expect(startExplorer({ host: "0.0.0.0", port: 0, token: "", warehousePath: "/nonexistent/slice.duckdb" })).rejects.toThrow(
      /Refusing to listen on 0\.0\.0\.0 without a token/,
    );
  });

  it("will not create an empty warehouse where none is", async () => {
    await expect(startExplorer({ host: "127.0.0.1", port: 0, token: "", warehousePath: "/nonexistent/slice.duckdb" })).rejects.toThrow(
      "No warehouse at /nonexistent/slice.duckdb: run `slice build`",
    );
  });
});

describe("reading the token from a request", () => {
  const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
  it.each([
    [undefined, undefined],
    ["Bearer abc", "abc"],
    ["bearer  abc", "abc"],
    [basic("me", "pass:word"), "pass:word"],
    [basic("", "secret"), "secret"],
    ["Basic bm9jb2xvbg==", undefined],
    ["Token abc", undefined],
    ["Bearer", undefined],
  ])("presentedSecret(%j) = %j", (header, expected) => expect(presentedSecret(header)).toBe(expected));

  it("compares secrets exactly", () => {
    expect(sameSecret("abc", "abc")).toBe(true);
    expect(sameSecret("abc", "abd")).toBe(false);
    expect(sameSecret("abc", "abcd")).toBe(false);
  });
});
