/**
 * The master data as SQL constants: lists indexed by a 1-based product key or store index, and weighted pools
 * so that a product pick is one list lookup per row instead of a join.
 */
import {
  CAMPAIGNS_BY_MONTH,
  CATEGORIES,
  type Category,
  EMAIL_DOMAINS,
  FIRST_NAMES_FEMALE,
  FIRST_NAMES_MALE,
  LAST_NAMES,
  MOBILE_PREFIXES,
  PRICE_INDEX_BY_YEAR,
  PRODUCTS,
  SEASONALITY_BY_MONTH,
  STORES,
  CITIES,
  TASTE_GROUP_DIPS,
  TASTE_GROUPS,
  TASTE_GROUP_SHARES,
  isPizzaCategory,
} from "./reference-data.ts";
import { numberList, stringList, weightedPool } from "./random.ts";

/** 1-based product key of each product, as used in SQL list lookups. */
const productKey = (productId: string): number => PRODUCTS.findIndex((p) => p.productId === productId) + 1;

function poolOf(predicate: (p: (typeof PRODUCTS)[number]) => boolean, resolution = 100): number[] {
  return weightedPool(
    PRODUCTS.filter(predicate).map((p) => [productKey(p.productId), p.popularity] as const),
    resolution,
  );
}

export const CATALOG_SQL = {
  productIds: stringList(PRODUCTS.map((p) => p.productId)),
  listPrices: numberList(PRODUCTS.map((p) => p.listPriceEur)),
  pool: Object.fromEntries(CATEGORIES.map((c) => [c, poolOf((p) => p.category === c)])) as Record<Category, number[]>,
  /** One pizza pool per taste group, in TASTE_GROUPS order (index = taste_group). */
  pizzaPoolsByGroup: TASTE_GROUPS.map((g) => poolOf((p) => p.category === "pizzas" && p.tasteGroup === g, 40)),
  dipsByGroup: TASTE_GROUPS.map((g) =>
    TASTE_GROUP_DIPS[g].map((name) => {
      const product = PRODUCTS.find((p) => p.name === name && p.category === "dips");
      if (!product) throw new Error(`TASTE_GROUP_DIPS names an unknown dip "${name}".`);
      return productKey(product.productId);
    }),
  ),
  tasteGroupShares: TASTE_GROUPS.map((g) => TASTE_GROUP_SHARES[g]),
  storeIds: stringList(STORES.map((s) => s.storeId)),
  storeCount: STORES.length,
  storeCityIndex: numberList(STORES.map((s) => s.cityIndex + 1)),
  cityNames: stringList(CITIES.map((c) => c.name)),
  cityPostalBase: numberList(CITIES.map((c) => c.postalBase)),
  cityPostalDistricts: numberList(CITIES.map((c) => c.postalDistricts)),
  firstNamesMale: stringList(FIRST_NAMES_MALE),
  firstNamesFemale: stringList(FIRST_NAMES_FEMALE),
  lastNames: stringList(LAST_NAMES),
  emailDomainPool: stringList(
    EMAIL_DOMAINS.flatMap(([domain, weight]) => Array.from({ length: weight }, () => domain)),
  ),
  mobilePrefixes: stringList(MOBILE_PREFIXES),
  /** Month 1..12 → campaign code prefix ('' when none), kind and value. */
  campaignCode: stringList(Array.from({ length: 12 }, (_, i) => CAMPAIGNS_BY_MONTH[i + 1]?.code ?? "")),
  campaignIsPercent: `[${Array.from({ length: 12 }, (_, i) => (CAMPAIGNS_BY_MONTH[i + 1]?.kind === "percent" ? "true" : "false")).join(", ")}]`,
  campaignValue: numberList(Array.from({ length: 12 }, (_, i) => CAMPAIGNS_BY_MONTH[i + 1]?.value ?? 0)),
  /** Probability of keeping an order planned in a month (seasonality by thinning). */
  seasonKeep: numberList(SEASONALITY_BY_MONTH.map((v) => Number((v / Math.max(...SEASONALITY_BY_MONTH)).toFixed(4)))),
  seasonMeanKeep:
    SEASONALITY_BY_MONTH.reduce((sum, v) => sum + v / Math.max(...SEASONALITY_BY_MONTH), 0) / SEASONALITY_BY_MONTH.length,
  isPizzaByKey: PRODUCTS.map((p) => isPizzaCategory(p.category)),
} as const;

export const PRICE_INDEX_FIRST_YEAR = 2000;
const PRICE_INDEX_LAST_YEAR = 2100;

/**
 * Price index by calendar year as a list starting at PRICE_INDEX_FIRST_YEAR; years outside the table take the
 * nearest known index.
 */
export const PRICE_INDEX_LIST = (() => {
  const knownYears = Object.keys(PRICE_INDEX_BY_YEAR).map(Number).sort((a, b) => a - b);
  const indexFor = (year: number): number => PRICE_INDEX_BY_YEAR[knownYears.filter((k) => k <= year).pop() ?? knownYears[0]];
  return numberList(Array.from({ length: PRICE_INDEX_LAST_YEAR - PRICE_INDEX_FIRST_YEAR + 1 }, (_, i) => indexFor(PRICE_INDEX_FIRST_YEAR + i)));
})();

/** Days since 1970-01-01 of a UTC date. */
function epochDay(year: number, month: number, day: number): number {
  return Date.UTC(year, month - 1, day) / 86_400_000;
}

/** The last Sunday of a month, as days since 1970-01-01: EU summer time starts/ends on these Sundays. */
export function lastSundayEpochDay(year: number, month: number): number {
  const last = new Date(Date.UTC(year, month, 0));
  return epochDay(year, month, last.getUTCDate() - last.getUTCDay());
}

export const DST_FIRST_YEAR = 2000;
/** Start (inclusive) and end (exclusive) of Finnish summer time per year, as epoch days, from DST_FIRST_YEAR. */
export const DST_STARTS = numberList(Array.from({ length: 101 }, (_, i) => lastSundayEpochDay(DST_FIRST_YEAR + i, 3)));
export const DST_ENDS = numberList(Array.from({ length: 101 }, (_, i) => lastSundayEpochDay(DST_FIRST_YEAR + i, 10)));
