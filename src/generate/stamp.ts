/**
 * The generation stamp: what `slice generate` produced (seed, customers, window), kept as the comment of
 * raw.orders so the warehouse file carries it without an extra table. `generateNextDay()` reads the last
 * generated day from it: with dirt, some orders are dated in the future on purpose, so max(ordered_at) is not it.
 */
import { z } from "zod";
import { RAW_SCHEMA } from "../../macros/raw_contract.ts";
import { quoteLiteral, type Warehouse } from "../warehouse/duckdb.ts";

export const generationStampSchema = z.object({
  generator: z.literal("slice generate"),
  seed: z.number().int(),
  customers: z.number().int(),
  startDate: z.string(),
  /** The last day with generated activity (moves forward with each generated day). */
  endDate: z.string(),
});

export type GenerationStamp = z.infer<typeof generationStampSchema>;

export async function writeGenerationStamp(wh: Warehouse, stamp: GenerationStamp): Promise<void> {
  await wh.run(`COMMENT ON TABLE ${RAW_SCHEMA}.orders IS ${quoteLiteral(JSON.stringify(stamp))}`);
}

/** The stamp, or undefined when raw.orders was not made by the generator (or its comment was changed). */
export async function readGenerationStamp(wh: Warehouse): Promise<GenerationStamp | undefined> {
  const rows = await wh.query<{ comment: string | null }>(
    "select comment from duckdb_tables() where schema_name = $schema and table_name = 'orders'",
    { schema: RAW_SCHEMA },
  );
  const comment = rows[0]?.comment;
  if (!comment) return undefined;
  try {
    const parsed = generationStampSchema.safeParse(JSON.parse(comment));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
