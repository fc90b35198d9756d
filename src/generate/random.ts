/**
 * Deterministic pseudo-random numbers inside DuckDB SQL.
 *
 * DuckDB's random()/setseed are not reproducible under parallel execution, so every draw is a hash of
 * (seed, purpose, keys) mapped to [0, 1). The same seed and keys give the same number on every run and
 * thread count; a different purpose name gives an independent draw for the same keys.
 *
 * The multi-argument hash() only combines the argument hashes cheaply, so two purposes with the same keys
 * come out strongly correlated (their top bits even mirror each other); hashing the combination once more
 * mixes it into independent draws.
 */

/** 2^64: DuckDB's hash() returns a UBIGINT. */
const UBIGINT_RANGE = "18446744073709551616.0";

/** A stable 31-bit number for a purpose name (FNV-1a), so SQL carries numbers rather than strings. */
export function purposeSalt(purpose: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < purpose.length; i++) {
    h ^= purpose.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h & 0x7fffffff;
}

export interface Random {
  readonly seed: number;
  /** SQL for a uniform draw in [0, 1) keyed by `keys` (SQL expressions) for one purpose. */
  uniform(purpose: string, ...keys: string[]): string;
  /** SQL for an INTEGER draw in [0, n) (n is SQL or a number below 2^31). */
  below(n: string | number, purpose: string, ...keys: string[]): string;
  /** SQL for an exponential draw with the given mean (for gaps and lifetimes). */
  exponential(mean: number, purpose: string, ...keys: string[]): string;
  /**
   * Many draws for one row at a quarter of the hashing: two column layers (see model.ts `layered`) that add
   * `draw_<purpose>` columns in [0, 1) with 16-bit resolution, four cut from each 64-bit hash.
   */
  drawLayers(purposes: readonly string[], ...keys: string[]): string[][];
}

/** Draws cut from one 64-bit hash, 16 bits each. */
const DRAWS_PER_HASH = 4;

export function random(seed: number): Random {
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`seed must be a non-negative integer, got ${seed}.`);
  const uniform = (purpose: string, ...keys: string[]): string =>
    `(hash(hash(${seed}, ${purposeSalt(purpose)}, ${keys.join(", ")})) / ${UBIGINT_RANGE})`;
  return {
    seed,
    uniform,
    below: (n, purpose, ...keys) => `CAST(floor(${uniform(purpose, ...keys)} * (${n})) AS INTEGER)`,
    exponential: (mean, purpose, ...keys) => `(-ln(1 - ${uniform(purpose, ...keys)}) * ${mean})`,
    drawLayers(purposes, ...keys) {
      const hashes: string[] = [];
      const draws: string[] = [];
      purposes.forEach((purpose, i) => {
        const hashColumn = `draw_hash_${purposes[i - (i % DRAWS_PER_HASH)]}`;
        if (i % DRAWS_PER_HASH === 0) {
          hashes.push(`hash(hash(${seed}, ${purposeSalt(purposes.slice(i, i + DRAWS_PER_HASH).join("+"))}, ${keys.join(", ")})) AS ${hashColumn}`);
        }
        draws.push(`((${hashColumn} >> ${16 * (i % DRAWS_PER_HASH)}) & 65535) / 65536.0 AS draw_${purpose}`);
      });
      return [hashes, draws];
    },
  };
}

/** A DuckDB list literal of strings. */
export function stringList(values: readonly string[]): string {
  return `[${values.map((v) => `'${v.replace(/'/g, "''")}'`).join(", ")}]`;
}

/** A DuckDB list literal of numbers. */
export function numberList(values: readonly number[]): string {
  return `[${values.map((v) => String(v)).join(", ")}]`;
}

/**
 * A weighted choice among SQL values with one uniform draw `u`: a CASE over cumulative weights.
 * Weights need not sum to 1.
 */
export function weightedChoice(u: string, choices: readonly (readonly [string, number])[]): string {
  const total = choices.reduce((sum, [, w]) => sum + w, 0);
  let cumulative = 0;
  const arms = choices.slice(0, -1).map(([value, weight]) => {
    cumulative += weight / total;
    return `WHEN ${u} < ${cumulative.toFixed(6)} THEN ${value}`;
  });
  return `(CASE ${arms.join(" ")} ELSE ${choices[choices.length - 1][0]} END)`;
}

/**
 * A list in which each value appears in proportion to its weight, so `list[1 + floor(u × len)]` is a
 * weighted pick with a single list lookup (cheaper than a long CASE for menus of many products).
 */
export function weightedPool(values: readonly (readonly [number, number])[], resolution = 100): number[] {
  const total = values.reduce((sum, [, w]) => sum + w, 0);
  const pool: number[] = [];
  for (const [value, weight] of values) {
    const copies = Math.max(1, Math.round((weight / total) * resolution));
    for (let i = 0; i < copies; i++) pool.push(value);
  }
  return pool;
}

/** SQL that picks from a weighted pool with the uniform draw `u`. */
export function pickFromPool(pool: readonly number[], u: string): string {
  return `${numberList(pool)}[1 + CAST(floor(${u} * ${pool.length}) AS INTEGER)]`;
}

/**
 * Mulberry32: a small, seedable 32-bit generator for draws made in TypeScript (the master data, campaign
 * simulations, test data), the same on every run and machine. Uniforms in [0, 1).
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
