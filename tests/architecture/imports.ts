/**
 * The import graph of src/ and functions/, folded to top-level folders, and the rules it must keep
 * (tests/architecture/imports.test.ts). Pure functions over file texts, so the rules are tested on small
 * made-up trees as well as on the repository.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, sep } from "node:path";

/** A relative import of one file: `from` and `to` are repository paths with forward slashes. */
export interface Import {
  from: string;
  to: string;
}

// Static imports and re-exports (`import … from "x"`, `import "x"`, `export … from "x"`) and dynamic `import("x")`.
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)["']([^"']+)["']/gm;

/** The module specifiers a source text imports, in order (comments are not stripped: they hold none). */
export function importSpecifiers(source: string): string[] {
  return [...source.matchAll(SPECIFIER)].map((match) => match[1]);
}

/** The repository path a relative specifier names from `file`, or undefined for a package import. */
export function resolveImport(file: string, specifier: string): string | undefined {
  if (!specifier.startsWith(".")) return undefined;
  return normalize(join(dirname(file), specifier)).split(sep).join("/");
}

/**
 * The node a file belongs to: `src/<folder>` for a file in a folder of src/, the file itself for a file at
 * the top of src/ (src/cli.ts), `functions` for the Cloud Functions, the top folder otherwise (macros, includes).
 */
export function folderOf(path: string): string {
  const parts = path.split("/");
  if (parts[0] === "src") return parts.length > 2 ? `src/${parts[1]}` : path;
  return parts[0];
}

/** Every relative import of the source files under `roots` of the repository at `repoRoot`. */
export function readImports(repoRoot: string, roots: string[]): Import[] {
  const imports: Import[] = [];
  const visit = (dir: string) => {
    for (const entry of readdirSync(join(repoRoot, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) visit(path);
      else if (/\.(ts|tsx|mts|mjs|js)$/.test(entry.name)) {
        for (const specifier of importSpecifiers(readFileSync(join(repoRoot, path), "utf8"))) {
          const to = resolveImport(path, specifier);
          if (to) imports.push({ from: path, to });
        }
      }
    }
  };
  for (const root of roots) visit(root);
  return imports;
}

/**
 * The cycles between folders: each strongly connected set of two or more folders (Tarjan), with the imports
 * that join them, so a failure names the files to change.
 */
export function folderCycles(imports: Import[]): { folders: string[]; imports: Import[] }[] {
  const edges = new Map<string, Set<string>>();
  for (const { from, to } of imports) {
    const [a, b] = [folderOf(from), folderOf(to)];
    if (a === b) continue;
    if (!edges.has(a)) edges.set(a, new Set());
    if (!edges.has(b)) edges.set(b, new Set());
    edges.get(a)!.add(b);
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const connect = (node: string) => {
    index.set(node, index.size);
    low.set(node, index.get(node)!);
    stack.push(node);
    onStack.add(node);
    for (const next of edges.get(node) ?? []) {
      if (!index.has(next)) {
        connect(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) low.set(node, Math.min(low.get(node)!, index.get(next)!));
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1) components.push(component.sort());
    }
  };
  for (const node of [...edges.keys()].sort()) if (!index.has(node)) connect(node);
  return components.map((folders) => ({
    folders,
    imports: imports.filter(({ from, to }) => folderOf(from) !== folderOf(to) && folders.includes(folderOf(from)) && folders.includes(folderOf(to))),
  }));
}

/** `a.ts -> b.ts` lines for a failure message. */
export function describeImports(imports: Import[]): string[] {
  return imports.map(({ from, to }) => `${from} -> ${to}`);
}
