/**
 * Access to the explorer. It shows personal data (names, e-mails, consents), so it listens on loopback by
 * default; bound to any other address it must be given a token (env SLICE_EXPLORER_TOKEN) and every request
 * must carry it, as a bearer token (scripts) or as the password of HTTP basic auth (browsers prompt for it).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";

export const TOKEN_ENV = "SLICE_EXPLORER_TOKEN";

/** The minimum token length: anything shorter is guessable over a network. */
export const MIN_TOKEN_LENGTH = 16;

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "::1", "localhost", "[::1]"]);

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOSTS.has(host.trim().toLowerCase()) || /^127(\.\d{1,3}){3}$/.test(host.trim());
}

/**
 * The token the server must enforce for a host, or an error saying how to fix the setup. On loopback a token
 * is optional (enforced when set); elsewhere it is required.
 */
export function tokenForHost(host: string, token: string | undefined): { token?: string; error?: string } {
  const value = token?.trim() || undefined;
  if (value !== undefined && value.length < MIN_TOKEN_LENGTH) {
    return { error: `${TOKEN_ENV} is ${value.length} characters long; use at least ${MIN_TOKEN_LENGTH} (e.g. \`openssl rand -hex 24\`).` };
  }
  if (!isLoopbackHost(host) && value === undefined) {
    return {
      error:
        `Refusing to listen on ${host} without a token: the explorer shows personal data. ` +
        `Set ${TOKEN_ENV} (at least ${MIN_TOKEN_LENGTH} characters) or bind to 127.0.0.1.`,
    };
  }
  return { token: value };
}

/** Compares digests so the time taken says nothing about how much of the token matched. */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The secret an Authorization header carries: a bearer token, or the password of basic auth (any user). */
export function presentedSecret(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const [scheme, ...rest] = header.trim().split(/\s+/);
  const value = rest.join(" ");
  if (!scheme || !value) return undefined;
  if (scheme.toLowerCase() === "bearer") return value;
  if (scheme.toLowerCase() === "basic") {
    const decoded = Buffer.from(value, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    return colon >= 0 ? decoded.slice(colon + 1) : undefined;
  }
  return undefined;
}

/** Rejects requests without the token with 401 and a basic-auth challenge, so a browser asks for it. */
export function requireToken(token: string): MiddlewareHandler {
  return async (c, next) => {
    const secret = presentedSecret(c.req.header("authorization"));
    if (secret === undefined || !sameSecret(secret, token)) {
      return c.text("Authentication required: send the explorer token as a bearer token or as the basic-auth password.\n", 401, {
        "WWW-Authenticate": 'Basic realm="Slice explorer", charset="UTF-8"',
        "Cache-Control": "no-store",
      });
    }
    await next();
  };
}
