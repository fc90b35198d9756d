/**
 * Mapping files: how a source file that does not follow the raw contract becomes contract rows.
 *
 *   table: orders                      # the raw table the file loads into
 *   format: csv                        # csv | parquet | ndjson (default: from the file extension)
 *   csv: { delimiter: whitespace, header: false, columns: [customer, date, quantity, amount] }
 *   columns: { customer_id: customer } # contract column: source column
 *   formats: { ordered_at: "%Y%m%d" }  # strptime format of a date/timestamp source column
 *   constants: { status: completed }   # contract column: fixed value
 *   derive: { order_id: row_number, updated_at: "copy:ordered_at" }
 *   prefixes: { order_id: "cdnow-" }   # text put before a (mapped, derived) value, to keep ids apart
 *   order_lines: { product_id: cdnow, quantity: quantity }  # also emit one order line per order
 *
 * Contract columns not named anywhere are read from a source column of the same name when there is one.
 */
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { RAW_TABLES, rawTable } from "../../macros/raw_contract.ts";

export const FILE_FORMATS = ["csv", "parquet", "ndjson"] as const;
export type FileFormat = (typeof FILE_FORMATS)[number];

const DERIVATION = /^(row_number|copy:[a-z_][a-z0-9_]*)$/;

const scalar = z.union([z.string(), z.number(), z.boolean()]).transform((v) => String(v));

export const mappingSchema = z
  .object({
    table: z.enum(RAW_TABLES.map((t) => t.name) as [string, ...string[]], {
      error: `must be one of ${RAW_TABLES.map((t) => t.name).join(", ")}`,
    }),
    format: z.enum(FILE_FORMATS, { error: `must be one of ${FILE_FORMATS.join(", ")}` }).optional(),
    csv: z
      .object({
        // absent: detected from the header (",", ";", tab or "|"); "tab" is a tab
        delimiter: z
          .string()
          .refine((d) => d === "whitespace" || d === "tab" || d.length === 1, { message: 'must be one character (such as "," or ";"), "tab" or "whitespace"' })
          .transform((d) => (d === "tab" ? "\t" : d))
          .optional(),
        header: z.boolean().default(true),
        columns: z.array(z.string().min(1)).min(1).optional(),
      })
      .strict()
      .optional(),
    columns: z.record(z.string(), z.string().min(1, { message: "must name a source column" })).default({}),
    formats: z.record(z.string(), z.string().min(1, { message: "must be a strptime format such as %Y%m%d" })).default({}),
    constants: z.record(z.string(), scalar).default({}),
    derive: z
      .record(z.string(), z.string().regex(DERIVATION, { message: 'must be "row_number" or "copy:<contract column>"' }))
      .default({}),
    prefixes: z.record(z.string(), z.string()).default({}),
    order_lines: z
      .object({
        product_id: scalar,
        quantity: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export type Mapping = z.infer<typeof mappingSchema>;

/** A mapping problem: names the file, the field and how to fix it. */
export class MappingError extends Error {}

/** Checks that the mapping's column names belong to the table, and that no column is given twice. */
export function checkMappingColumns(mapping: Mapping): string[] {
  const problems: string[] = [];
  const table = rawTable(mapping.table);
  const known = new Set(table.columns.map((c) => c.name));
  const knownList = table.columns.map((c) => c.name).join(", ");
  const sources: [string, Record<string, unknown>][] = [
    ["columns", mapping.columns],
    ["formats", mapping.formats],
    ["constants", mapping.constants],
    ["derive", mapping.derive],
    ["prefixes", mapping.prefixes],
  ];
  for (const [field, record] of sources) {
    for (const column of Object.keys(record)) {
      if (!known.has(column)) problems.push(`${field}.${column}: "${column}" is not a column of raw.${table.name}; use one of ${knownList}.`);
    }
  }
  const providers: [string, Record<string, unknown>][] = [
    ["columns", mapping.columns],
    ["constants", mapping.constants],
    ["derive", mapping.derive],
  ];
  const seen = new Map<string, string>();
  for (const [field, record] of providers) {
    for (const column of Object.keys(record)) {
      const earlier = seen.get(column);
      if (earlier) problems.push(`${field}.${column}: "${column}" is already given in ${earlier}; keep only one.`);
      else seen.set(column, field);
    }
  }
  for (const [column, derivation] of Object.entries(mapping.derive)) {
    if (derivation.startsWith("copy:")) {
      const from = derivation.slice("copy:".length);
      if (!known.has(from)) problems.push(`derive.${column}: "${from}" is not a column of raw.${table.name}; use one of ${knownList}.`);
      else if (mapping.derive[from]?.startsWith("copy:")) problems.push(`derive.${column}: copies "${from}", which is itself a copy; copy the original column.`);
    }
  }
  for (const column of Object.keys(mapping.formats)) {
    const type = table.columns.find((c) => c.name === column)?.type;
    if (type && type !== "date" && type !== "timestamp") problems.push(`formats.${column}: "${column}" is a ${type} column; formats apply to date and timestamp columns only.`);
  }
  if (mapping.order_lines && mapping.table !== "orders") {
    problems.push(`order_lines: emitting order lines needs table: orders (this mapping loads ${mapping.table}); remove order_lines or change table.`);
  }
  if (mapping.csv && mapping.csv.header === false && !mapping.csv.columns) {
    problems.push("csv.columns: a file without a header needs the list of its source column names, e.g. columns: [customer_id, date, amount].");
  }
  return problems;
}

function formatZodPath(path: readonly PropertyKey[]): string {
  return path.map((p) => String(p)).join(".") || "(top level)";
}

/** Parses and validates a mapping document; `source` names the file in error messages. */
export function parseMapping(text: string, source: string): Mapping {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new MappingError(`${source}: not valid YAML (${(error as Error).message.split("\n")[0]}); fix the syntax.`);
  }
  const result = mappingSchema.safeParse(document ?? {});
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      if (issue.code === "unrecognized_keys" && issue.path.length === 0) {
        return `unknown field(s) ${issue.keys.join(", ")}; allowed fields are table, format, csv, columns, formats, constants, derive, prefixes, order_lines.`;
      }
      if (issue.code === "unrecognized_keys") return `${formatZodPath(issue.path)}: unknown field(s) ${issue.keys.join(", ")}; remove them.`;
      return `${formatZodPath(issue.path)}: ${issue.message}`;
    });
    throw new MappingError(`${source}: ${problems.join(" ")}`);
  }
  const problems = checkMappingColumns(result.data);
  if (problems.length > 0) throw new MappingError(`${source}: ${problems.join(" ")}`);
  return result.data;
}

export function readMappingFile(path: string): Mapping {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new MappingError(`${path}: cannot read the mapping file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); check the path.`);
  }
  return parseMapping(text, path);
}
