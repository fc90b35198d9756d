/**
 * Parsers for numeric command-line options, so every command validates a number the same way: a value that
 * is not a number in range fails with the option's name and what it takes (commander prints it and exits).
 */
import { InvalidArgumentError } from "commander";

export interface NumberBounds {
  min?: number;
  max?: number;
}

function range({ min, max }: NumberBounds): string {
  if (min !== undefined && max !== undefined) return ` from ${min} to ${max}`;
  if (min !== undefined) return ` of at least ${min}`;
  if (max !== undefined) return ` of at most ${max}`;
  return "";
}

/** A whole number written in decimal digits (an optional minus sign), within bounds. */
export function wholeNumber(option: string, bounds: NumberBounds = {}): (value: string) => number {
  return (value) => {
    const text = value.trim();
    const parsed = Number(text);
    if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(parsed) || (bounds.min !== undefined && parsed < bounds.min) || (bounds.max !== undefined && parsed > bounds.max)) {
      throw new InvalidArgumentError(`${option} takes a whole number${range(bounds)}, got "${value}".`);
    }
    return parsed;
  };
}

/** A decimal number (such as 0.5), within bounds. */
export function decimalNumber(option: string, bounds: NumberBounds = {}): (value: string) => number {
  return (value) => {
    const text = value.trim();
    const parsed = Number(text);
    if (!/^-?(\d+\.?\d*|\.\d+)$/.test(text) || !Number.isFinite(parsed) || (bounds.min !== undefined && parsed < bounds.min) || (bounds.max !== undefined && parsed > bounds.max)) {
      throw new InvalidArgumentError(`${option} takes a number${range(bounds)}, got "${value}".`);
    }
    return parsed;
  };
}

/** One of the listed values. */
export function oneOf<T extends string>(option: string, values: readonly T[]): (value: string) => T {
  return (value) => {
    if (!(values as readonly string[]).includes(value)) throw new InvalidArgumentError(`${option} takes ${values.join(" | ")}, got "${value}".`);
    return value as T;
  };
}

/** A repeatable option (`--vars a=1 --vars b=2`): each use adds its value to the list. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Parses repeated `--vars k=v` / `k=v,k2=v2` options. */
export function parseVars(values: string[] = []): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const value of values) {
    for (const pair of value.split(",")) {
      if (!pair.trim()) continue;
      const at = pair.indexOf("=");
      if (at <= 0) throw new Error(`--vars ${pair}: expected key=value, e.g. --vars as_of_date=2026-10-31`);
      vars[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
    }
  }
  return vars;
}
