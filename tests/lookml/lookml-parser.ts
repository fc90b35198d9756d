/**
 * A strict reader for the LookML subset `slice lookml` writes, so tests check structure rather than grep
 * text: `key: value` pairs, `key: name { ... }` blocks, "strings" with backslash escapes, [lists], bare words
 * (yes, no, types), and SQL parameters that run up to `;;`. Anything else is a syntax error with its line.
 */

export interface LookmlEntry {
  key: string;
  line: number;
  /** Block name (`view: customer_profile {`), when the entry is a block. */
  name?: string;
  children?: LookmlEntry[];
  /** Scalar value: the string's content, the bare word, or the SQL text (trimmed). */
  value?: string;
  list?: string[];
  kind: "block" | "string" | "word" | "list" | "sql";
}

export class LookmlSyntaxError extends Error {}

const IDENTIFIER = /[a-z_][a-z0-9_]*/y;

export function parseLookml(text: string): LookmlEntry[] {
  let at = 0;
  const lineAt = (position: number) => text.slice(0, position).split("\n").length;
  const fail = (message: string): never => {
    throw new LookmlSyntaxError(`line ${lineAt(at)}: ${message} near ${JSON.stringify(text.slice(at, at + 30))}`);
  };
  const skipSpace = () => {
    for (;;) {
      while (at < text.length && /\s/.test(text[at])) at++;
      if (text[at] === "#") {
        while (at < text.length && text[at] !== "\n") at++;
        continue;
      }
      return;
    }
  };
  const identifier = (): string => {
    IDENTIFIER.lastIndex = at;
    const match = IDENTIFIER.exec(text);
    if (!match) return fail("expected a name");
    at += match[0].length;
    return match[0];
  };
  const string = (): string => {
    if (text[at] !== '"') fail('expected "');
    at++;
    let value = "";
    while (at < text.length && text[at] !== '"') {
      if (text[at] === "\n") fail("line break inside a string");
      if (text[at] === "\\") {
        at++;
        if (!['"', "\\"].includes(text[at])) fail("unknown escape");
      }
      value += text[at++];
    }
    if (text[at] !== '"') fail("unterminated string");
    at++;
    return value;
  };
  const entries = (nested: boolean): LookmlEntry[] => {
    const list: LookmlEntry[] = [];
    for (;;) {
      skipSpace();
      if (at >= text.length) {
        if (nested) fail("missing }");
        return list;
      }
      if (text[at] === "}") {
        if (!nested) fail("unexpected }");
        at++;
        return list;
      }
      const line = lineAt(at);
      const key = identifier();
      if (text[at] !== ":") fail(`expected ":" after ${key}`);
      at++;
      skipSpace();
      if (key.startsWith("sql") || key === "html" || key === "expression") {
        const end = text.indexOf(";;", at);
        if (end < 0) fail(`${key} without a closing ;;`);
        list.push({ key, line, kind: "sql", value: text.slice(at, end).trim() });
        at = end + 2;
      } else if (text[at] === '"') {
        list.push({ key, line, kind: "string", value: string() });
      } else if (text[at] === "[") {
        at++;
        const items: string[] = [];
        for (;;) {
          skipSpace();
          if (text[at] === "]") {
            at++;
            break;
          }
          items.push(text[at] === '"' ? string() : identifier());
          skipSpace();
          if (text[at] === ",") at++;
          else if (text[at] !== "]") fail("expected , or ]");
        }
        list.push({ key, line, kind: "list", list: items });
      } else {
        const word = identifier();
        const save = at;
        skipSpace();
        if (text[at] === "{") {
          at++;
          list.push({ key, line, kind: "block", name: word, children: entries(true) });
        } else {
          at = save;
          list.push({ key, line, kind: "word", value: word });
        }
      }
    }
  };
  return entries(false);
}

/** The children of a block with the given key (and name). */
export function blocks(entries: LookmlEntry[] | undefined, key: string): LookmlEntry[] {
  return (entries ?? []).filter((e) => e.kind === "block" && e.key === key);
}

/** The value of a scalar parameter of a block, or undefined; throws when the parameter is repeated. */
export function param(block: LookmlEntry, key: string): string | undefined {
  const found = (block.children ?? []).filter((e) => e.key === key);
  if (found.length > 1) throw new Error(`${block.key} ${block.name}: ${key} appears ${found.length} times`);
  return found[0]?.value ?? found[0]?.list?.join(",");
}
