/**
 * Opaque, tamper-proof pagination cursors.
 *
 * A cursor is `<payload>.<mac>`: the payload is base64url JSON naming the query (kind, audience, partner,
 * the snapshot or `since` it belongs to) and the keyset position; the mac is HMAC-SHA256 over the encoded
 * payload with the server's cursor secret. A cursor that was edited, signed with another secret, or issued
 * for another partner, audience or query is rejected with one 400 "invalid cursor" that says no more.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import { ProblemError } from "./problem.ts";

export const MIN_CURSOR_SECRET_LENGTH = 32;

const memberCursorSchema = z
  .object({
    v: z.literal(1),
    kind: z.literal("members"),
    audience: z.string(),
    partner: z.string(),
    as_of_date: z.string(),
    after_member_id: z.string(),
  })
  .strict();

const changeCursorSchema = z
  .object({
    v: z.literal(1),
    kind: z.literal("changes"),
    audience: z.string(),
    partner: z.string(),
    since: z.string(),
    after_event_date: z.string(),
    after_member_id: z.string(),
    after_event: z.string(),
  })
  .strict();

const cursorSchema = z.discriminatedUnion("kind", [memberCursorSchema, changeCursorSchema]);

export type MemberCursor = z.infer<typeof memberCursorSchema>;
export type ChangeCursor = z.infer<typeof changeCursorSchema>;
export type Cursor = z.infer<typeof cursorSchema>;

export function assertCursorSecret(secret: string, source = "cursor secret"): void {
  if (secret.length < MIN_CURSOR_SECRET_LENGTH) {
    throw new Error(
      `${source} is ${secret.length} characters; it needs at least ${MIN_CURSOR_SECRET_LENGTH}. ` +
        "Fix: set SLICE_CURSOR_SECRET to a long random value, e.g. `openssl rand -base64 48`",
    );
  }
}

function mac(secret: string, encodedPayload: string): Buffer {
  return createHmac("sha256", secret).update(`slice-cursor.${encodedPayload}`).digest();
}

export function signCursor(secret: string, cursor: Cursor): string {
  const encoded = Buffer.from(JSON.stringify(cursor), "utf8").toString("base64url");
  return `${encoded}.${mac(secret, encoded).toString("base64url")}`;
}

function invalidCursor(): ProblemError {
  return new ProblemError("invalid-cursor", "The cursor is not valid for this request. Use next_cursor exactly as returned, with the same audience and parameters.", {
    errors: [{ in: "query", name: "cursor", detail: "not a cursor this API issued for this request" }],
  });
}

/** The cursor's content when its signature holds, otherwise undefined. */
export function readCursor(secret: string, token: string): Cursor | undefined {
  const [encoded, signature, extra] = token.split(".");
  if (!encoded || !signature || extra !== undefined) return undefined;
  const expected = mac(secret, encoded);
  const given = Buffer.from(signature, "base64url");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  try {
    const parsed = cursorSchema.safeParse(JSON.parse(Buffer.from(encoded, "base64url").toString("utf8")));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** The member cursor, checked to belong to this partner and audience; a 400 problem otherwise. */
export function verifyMemberCursor(secret: string, token: string, expected: { partner: string; audience: string }): MemberCursor {
  const cursor = readCursor(secret, token);
  if (!cursor || cursor.kind !== "members" || cursor.partner !== expected.partner || cursor.audience !== expected.audience) throw invalidCursor();
  return cursor;
}

export function verifyChangeCursor(secret: string, token: string, expected: { partner: string; audience: string; since: string }): ChangeCursor {
  const cursor = readCursor(secret, token);
  if (
    !cursor ||
    cursor.kind !== "changes" ||
    cursor.partner !== expected.partner ||
    cursor.audience !== expected.audience ||
    cursor.since !== expected.since
  ) {
    throw invalidCursor();
  }
  return cursor;
}
