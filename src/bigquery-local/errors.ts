/**
 * Errors in BigQuery's own shape. The official clients read `error.errors[0].reason` (Dataform treats
 * `notFound` from tables.get as "the table does not exist yet") and print `message`, so the local
 * endpoint answers with the same codes, statuses and reasons BigQuery uses.
 */

const STATUS_BY_CODE: Record<number, string> = {
  400: "INVALID_ARGUMENT",
  401: "UNAUTHENTICATED",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
  405: "METHOD_NOT_ALLOWED",
  409: "ALREADY_EXISTS",
  500: "INTERNAL",
  501: "UNIMPLEMENTED",
};

export class BigQueryError extends Error {
  constructor(
    readonly code: number,
    /** BigQuery's reason: invalidQuery, invalid, notFound, duplicate, stopped, notImplemented… */
    readonly reason: string,
    message: string,
    readonly location?: string,
  ) {
    super(message);
    this.name = "BigQueryError";
  }

  toJson(): Record<string, unknown> {
    const detail: Record<string, unknown> = { message: this.message, domain: "global", reason: this.reason };
    if (this.location) {
      detail.location = this.location;
      detail.locationType = "other";
    }
    return { error: { code: this.code, message: this.message, errors: [detail], status: STATUS_BY_CODE[this.code] ?? "UNKNOWN" } };
  }

  /** The job's `status.errorResult` form. */
  toErrorProto(): Record<string, unknown> {
    return { reason: this.reason, message: this.message, ...(this.location ? { location: this.location } : {}) };
  }
}

export const invalidQuery = (message: string) => new BigQueryError(400, "invalidQuery", message, "query");
export const invalid = (message: string) => new BigQueryError(400, "invalid", message);
export const notFound = (message: string) => new BigQueryError(404, "notFound", `Not found: ${message}`);
export const duplicate = (message: string) => new BigQueryError(409, "duplicate", `Already Exists: ${message}`);
/**
 * What BigQuery does but this endpoint cannot (the reference evaluator's limits, scripting): said by
 * name, never accepted and ignored. docs/validation.md lists these gaps.
 */
export const notImplemented = (what: string) =>
  new BigQueryError(501, "notImplemented", `The local BigQuery endpoint does not run ${what} (see docs/validation.md: what the local endpoint cannot prove).`);
