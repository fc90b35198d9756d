/**
 * ZetaSQL types as plain values, their BigQuery names, and the catalog of tables the analyzer resolves
 * names against.
 */
import zetasql from "@fivetrandevelopers/zetasql";
import { RAW_SCHEMA, RAW_TABLES, type RawType } from "../../macros/raw_contract.ts";
import { dialect } from "../../macros/sql.ts";
import type { LanguageOptionsProto } from "./zetasql.ts";

const { TypeKind } = zetasql;

export type ScalarKind =
  | "INT64"
  | "BOOL"
  | "DOUBLE"
  | "STRING"
  | "BYTES"
  | "DATE"
  | "TIMESTAMP"
  | "TIME"
  | "DATETIME"
  | "GEOGRAPHY"
  | "NUMERIC"
  | "BIGNUMERIC"
  | "JSON"
  | "INTERVAL"
  | "RANGE";

export type ZetaType =
  | { kind: ScalarKind }
  | { kind: "ARRAY"; element: ZetaType }
  | { kind: "STRUCT"; fields: { name: string; type: ZetaType }[] }
  /** Anything else ZetaSQL may hand back (PROTO, ENUM, INT32 …); BigQuery tables cannot hold these. */
  | { kind: "OTHER"; name: string };

export interface Column {
  name: string;
  type: ZetaType;
}

export const scalar = (kind: ScalarKind): ZetaType => ({ kind });

const KIND_BY_NUMBER = new Map<number, string>(
  Object.entries(TypeKind as Record<string, number>).map(([name, value]) => [value, name.replace(/^TYPE_/, "")]),
);

/** TypeProto as the server sends it back (enums as numbers, protobuf defaults filled in). */
export interface TypeProtoOut {
  typeKind?: number | string;
  arrayType?: { elementType?: TypeProtoOut | null } | null;
  structType?: { field?: { fieldName?: string; fieldType?: TypeProtoOut | null }[] } | null;
}

export function fromTypeProto(proto: TypeProtoOut | null | undefined): ZetaType {
  const raw = proto?.typeKind;
  const name = typeof raw === "number" ? KIND_BY_NUMBER.get(raw) ?? `KIND_${raw}` : String(raw ?? "UNKNOWN").replace(/^TYPE_/, "");
  if (name === "ARRAY") return { kind: "ARRAY", element: fromTypeProto(proto?.arrayType?.elementType) };
  if (name === "STRUCT") {
    return {
      kind: "STRUCT",
      fields: (proto?.structType?.field ?? []).map((f) => ({ name: f.fieldName ?? "", type: fromTypeProto(f.fieldType) })),
    };
  }
  const scalars: readonly string[] = ["INT64", "BOOL", "DOUBLE", "STRING", "BYTES", "DATE", "TIMESTAMP", "TIME", "DATETIME", "GEOGRAPHY", "NUMERIC", "BIGNUMERIC", "JSON", "INTERVAL", "RANGE"];
  return scalars.includes(name) ? { kind: name as ScalarKind } : { kind: "OTHER", name };
}

/** TypeProto for a request. */
export function toTypeProto(type: ZetaType): Record<string, unknown> {
  if (type.kind === "ARRAY") return { typeKind: "TYPE_ARRAY", arrayType: { elementType: toTypeProto(type.element) } };
  if (type.kind === "STRUCT") {
    return { typeKind: "TYPE_STRUCT", structType: { field: type.fields.map((f) => ({ fieldName: f.name, fieldType: toTypeProto(f.type) })) } };
  }
  if (type.kind === "OTHER") throw new Error(`Type ${type.name} cannot be put into a BigQuery catalog.`);
  return { typeKind: `TYPE_${type.kind}` };
}

/** The type as BigQuery writes it: FLOAT64, ARRAY<STRUCT<k STRING>> … */
export function bigQueryTypeName(type: ZetaType): string {
  switch (type.kind) {
    case "ARRAY":
      return `ARRAY<${bigQueryTypeName(type.element)}>`;
    case "STRUCT":
      return `STRUCT<${type.fields.map((f) => `${f.name} ${bigQueryTypeName(f.type)}`).join(", ")}>`;
    case "DOUBLE":
      return "FLOAT64";
    case "OTHER":
      return type.name;
    default:
      return type.kind;
  }
}

export function sameType(a: ZetaType, b: ZetaType): boolean {
  return bigQueryTypeName(a) === bigQueryTypeName(b);
}

/** Parses a BigQuery scalar type name (as macros/sql.ts writes them) into a type. */
export function parseBigQueryScalar(name: string): ZetaType {
  const upper = name.trim().toUpperCase();
  const aliases: Record<string, ScalarKind> = { FLOAT64: "DOUBLE", BOOLEAN: "BOOL", INTEGER: "INT64", INT: "INT64", BIGINT: "INT64", DECIMAL: "NUMERIC", BIGDECIMAL: "BIGNUMERIC" };
  const kind = aliases[upper] ?? upper;
  const known = fromTypeProto({ typeKind: `TYPE_${kind}` });
  if (known.kind === "OTHER") throw new Error(`Unknown BigQuery type "${name}".`);
  return known;
}

/** A raw contract type on BigQuery; the dialect layer is the one place that names it. */
export function rawContractType(type: RawType): ZetaType {
  return parseBigQueryScalar(dialect("bigquery").typeName(type));
}

export interface CatalogTable {
  /** Full BigQuery name, `project.dataset.table`. */
  name: string;
  columns: Column[];
}

/**
 * Tables by full name. A table is also reachable as `dataset.table`, as BigQuery resolves a name without
 * a project against the default project.
 */
export class Catalog {
  private readonly tables = new Map<string, CatalogTable>();

  constructor(readonly defaultProject?: string) {}

  add(name: string, columns: Column[]): void {
    this.tables.set(name, { name, columns });
  }

  get(name: string): CatalogTable | undefined {
    return this.tables.get(name);
  }

  has(name: string): boolean {
    return this.tables.has(name);
  }

  names(): string[] {
    return [...this.tables.keys()];
  }

  /**
   * SimpleCatalogProto with every table. A compiled reference `` `project.dataset.table` `` is one quoted
   * identifier, which ZetaSQL looks up as one name; `dataset.table` and `` `project`.dataset.table `` are
   * paths, looked up through nested catalogs. The default project's datasets are also top-level, as
   * BigQuery resolves `dataset.table` in the default project.
   */
  toProto(languageOptions: LanguageOptionsProto, name = "slice", options: { nested?: boolean } = {}): Record<string, unknown> {
    type Nested = { tables: Record<string, unknown>[]; children: Map<string, Nested> };
    const root: Nested = { tables: [], children: new Map() };
    const child = (parent: Nested, key: string): Nested => {
      let found = parent.children.get(key);
      if (!found) parent.children.set(key, (found = { tables: [], children: new Map() }));
      return found;
    };
    for (const t of this.tables.values()) {
      const column = t.columns.map((c) => ({ name: c.name, type: toTypeProto(c.type) }));
      root.tables.push({ name: t.name, column });
      const parts = t.name.split(".");
      // The evaluator matches table contents by name, so it gets the full names only.
      if (parts.length !== 3 || options.nested === false) continue;
      const [project, dataset, table] = parts;
      child(child(root, project), dataset).tables.push({ name: table, column });
      if (project === this.defaultProject) child(root, dataset).tables.push({ name: table, column });
    }
    const toProto = (catalogName: string, node: Nested): Record<string, unknown> => ({
      name: catalogName,
      table: node.tables,
      catalog: [...node.children.entries()].map(([key, nested]) => toProto(key, nested)),
    });
    return { ...toProto(name, root), builtinFunctionOptions: { languageOptions } };
  }
}

/** The raw tables of the contract, as BigQuery would hold them in `project.raw`. */
export function rawContractTables(project: string): CatalogTable[] {
  return RAW_TABLES.map((t) => ({
    name: `${project}.${RAW_SCHEMA}.${t.name}`,
    columns: t.columns.map((c) => ({ name: c.name, type: rawContractType(c.type) })),
  }));
}
