/**
 * Caps on concurrent NDJSON member streams, per partner and in total.
 *
 * A stream holds a warehouse connection (DuckDB) or a walk of queries (BigQuery) and a batch of members in
 * memory for as long as the client reads, which for a large audience is minutes; the token bucket counts it
 * as one request. So streams get their own limit: beyond it a partner gets 429 `too-many-streams` with
 * Retry-After, and the server's memory stays at about `total` batches whatever the clients do. A slot is
 * released when its stream ends, fails or the client disconnects.
 */
import { z } from "zod";
import { ProblemError } from "./problem.ts";

export const streamLimitsSchema = z
  .object({
    /** Streams one partner may have open at once. */
    per_partner: z.number().int().min(1).max(1000),
    /** Streams open at once in this process, all partners together. */
    total: z.number().int().min(1).max(10_000),
    /** Retry-After of the 429: about how long a large stream takes. */
    retry_after_seconds: z.number().int().min(1).max(3600),
  })
  .strict();

export type StreamLimits = z.infer<typeof streamLimitsSchema>;

export const DEFAULT_STREAM_LIMITS: StreamLimits = { per_partner: 2, total: 10, retry_after_seconds: 30 };

/** Validated limits; the error names the source (flag, variable) and the fix. */
export function parseStreamLimits(value: unknown, source: string): StreamLimits {
  const parsed = streamLimitsSchema.safeParse(value);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `${source}: ${issue.path.join(".") || "(top level)"}: ${issue.message}`);
    throw new Error(`Invalid NDJSON stream limits:\n${lines.join("\n")}\nFix: use whole numbers of at least 1 (per_partner <= total makes sense)`);
  }
  return parsed.data;
}

export class StreamSlots {
  private readonly open = new Map<string, number>();
  private openTotal = 0;

  constructor(readonly limits: StreamLimits = DEFAULT_STREAM_LIMITS) {}

  /** Takes a slot for the partner, or throws 429. The returned release may be called any number of times. */
  acquire(partner: string): () => void {
    const partnerOpen = this.open.get(partner) ?? 0;
    const headers = { "Retry-After": String(this.limits.retry_after_seconds) };
    if (partnerOpen >= this.limits.per_partner) {
      throw new ProblemError(
        "too-many-streams",
        `This API key already has ${partnerOpen} NDJSON stream(s) open, the most allowed at once. Finish or close one, or retry after ${this.limits.retry_after_seconds} s.`,
        { headers },
      );
    }
    if (this.openTotal >= this.limits.total) {
      throw new ProblemError("too-many-streams", `The server is serving as many NDJSON streams as it allows at once. Retry after ${this.limits.retry_after_seconds} s.`, { headers });
    }
    this.open.set(partner, partnerOpen + 1);
    this.openTotal += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.openTotal -= 1;
      const left = (this.open.get(partner) ?? 1) - 1;
      if (left > 0) this.open.set(partner, left);
      else this.open.delete(partner);
    };
  }

  /** Streams open now, for a partner or in total. */
  count(partner?: string): number {
    return partner === undefined ? this.openTotal : (this.open.get(partner) ?? 0);
  }
}
