import { describe, expect, it } from "vitest";
import { metaConfigFromEnv, parseMetaConfig } from "../../../src/activation/meta/config.ts";

describe("Meta settings", () => {
  it("reads the environment, strips act_ and applies defaults", () => {
    const config = metaConfigFromEnv({ META_ACCESS_TOKEN: "token", META_AD_ACCOUNT_ID: "act_1234567890" });
    expect(config.adAccountId).toBe("1234567890");
    expect(config.graphBaseUrl).toBe("https://graph.facebook.com");
    expect(config.graphVersion).toBe("v23.0");
    expect(config.maxRowsPerRequest).toBe(10_000);
    expect(config.retry.maxAttempts).toBeGreaterThan(1);
  });

  it("takes base URL and version overrides", () => {
    const config = metaConfigFromEnv({ META_ACCESS_TOKEN: "t", META_AD_ACCOUNT_ID: "42", META_GRAPH_BASE_URL: "http://127.0.0.1:9999/", META_GRAPH_VERSION: "v24.0" });
    expect(config.graphBaseUrl).toBe("http://127.0.0.1:9999");
    expect(config.graphVersion).toBe("v24.0");
  });

  const failures: [string, NodeJS.ProcessEnv, RegExp][] = [
    ["missing token", { META_AD_ACCOUNT_ID: "42" }, /META_ACCESS_TOKEN: .*Fix: set META_ACCESS_TOKEN/],
    ["account id with letters", { META_ACCESS_TOKEN: "t", META_AD_ACCOUNT_ID: "my-account" }, /META_AD_ACCOUNT_ID: use the numeric ad account id.*Fix:/],
    ["version without v", { META_ACCESS_TOKEN: "t", META_AD_ACCOUNT_ID: "42", META_GRAPH_VERSION: "23.0" }, /META_GRAPH_VERSION: use a Graph API version such as v23.0/],
    ["base URL that is not a URL", { META_ACCESS_TOKEN: "t", META_AD_ACCOUNT_ID: "42", META_GRAPH_BASE_URL: "graph" }, /META_GRAPH_BASE_URL: .*Fix:/],
  ];
  for (const [name, env, message] of failures) {
    it(`names the variable and the fix: ${name}`, () => expect(() => metaConfigFromEnv(env)).toThrow(message));
  }

  it("rejects a batch size above Meta's 10,000 rows", () => {
    expect(() => parseMetaConfig({ accessToken: "t", adAccountId: "42", maxRowsPerRequest: 20_000 })).toThrow(/maxRowsPerRequest.*between 1 and 10000/);
  });

  it("parses an already-parsed config to the same value", () => {
    const config = parseMetaConfig({ accessToken: "t", adAccountId: "act_42" });
    expect(parseMetaConfig(config)).toEqual(config);
  });
});
