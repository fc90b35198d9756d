/** @jsxRuntime automatic */
/** @jsxImportSource hono/jsx */
/**
 * The local explorer: customer search and profile cards, the KPI dashboard and the lineage of the Dataform
 * graph, server-rendered with hono/jsx over the embedded DuckDB warehouse. It is separate from the partner
 * API: it shows personal data to people who run the warehouse, so it is read-only and, off loopback, locked.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { zValidator } from "@hono/zod-validator";
import { type Context, Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { z } from "zod";
import { CompilationError, type CompiledGraph } from "../dataform/compile.ts";
import { NoBuildError, readHealth } from "../health/report.ts";
import { HealthPage } from "./views/health.tsx";
import type { Warehouse } from "../warehouse/duckdb.ts";
import { requireToken } from "./auth.ts";
import { ExplorerDb, MissingTableError, loadCustomer, loadDashboard, loadLastRuns, loadWarehouseColumns, searchCustomers } from "./data.ts";
import { buildLineage } from "./lineage.ts";
import { DashboardPage } from "./views/dashboard.tsx";
import { LineagePage } from "./views/lineage.tsx";
import { type Problem, ProblemPage } from "./views/problem.tsx";
import { ProfilePage } from "./views/profile.tsx";
import { SearchPage } from "./views/search.tsx";

export interface ExplorerDeps {
  warehouse: Warehouse;
  /** The compiled graph for the lineage page, or a loader run once on first use (compiling takes seconds). */
  graph: CompiledGraph | (() => Promise<CompiledGraph>);
  /** When set, every request must present it (bearer token or basic-auth password). */
  token?: string;
}

const PROBLEM_SLUGS = {
  "invalid-request": { status: 400, title: "Invalid request" },
  "customer-not-found": { status: 404, title: "Customer not found" },
  "not-found": { status: 404, title: "Page not found" },
  "warehouse-not-built": { status: 503, title: "Warehouse not built yet" },
  "lineage-unavailable": { status: 503, title: "Lineage unavailable" },
  internal: { status: 500, title: "Internal error" },
} as const satisfies Record<string, { status: ContentfulStatusCode; title: string }>;

type ProblemSlug = keyof typeof PROBLEM_SLUGS;

export class ExplorerProblem extends HTTPException {
  constructor(
    readonly slug: ProblemSlug,
    readonly detail: string,
  ) {
    super(PROBLEM_SLUGS[slug].status, { message: detail });
  }
}

export function problemTypeUri(slug: ProblemSlug): string {
  return `urn:slice:explorer:${slug}`;
}

function toProblem(error: unknown, instance: string): { problem: Problem; unexpected: boolean } {
  const build = (slug: ProblemSlug, detail: string): Problem => ({
    type: problemTypeUri(slug),
    title: PROBLEM_SLUGS[slug].title,
    status: PROBLEM_SLUGS[slug].status,
    detail,
    instance,
  });
  if (error instanceof ExplorerProblem) return { problem: build(error.slug, error.detail), unexpected: false };
  if (error instanceof MissingTableError) return { problem: build("warehouse-not-built", error.message), unexpected: false };
  if (error instanceof NoBuildError) return { problem: build("warehouse-not-built", error.message), unexpected: false };
  if (error instanceof CompilationError) {
    return { problem: build("lineage-unavailable", `The Dataform project does not compile: ${error.message}`), unexpected: false };
  }
  if (error instanceof HTTPException && error.status < 500) {
    return { problem: { ...build("invalid-request", error.message), status: error.status, title: "Request refused" }, unexpected: false };
  }
  return { problem: build("internal", "The page could not be rendered; the error is in the explorer's log."), unexpected: true };
}

/** Problem details as JSON for clients that ask for it, as an HTML page for everyone else. */
function respondWithProblem(c: Context, problem: Problem) {
  const accept = c.req.header("accept") ?? "";
  const status = problem.status as ContentfulStatusCode;
  if (/application\/(problem\+)?json/.test(accept) && !accept.includes("text/html")) {
    return c.body(JSON.stringify(problem), status, { "Content-Type": "application/problem+json" });
  }
  return c.html(<ProblemPage problem={problem} />, status);
}

function invalid(target: string) {
  return (result: { success: boolean; error?: { issues: readonly { path: PropertyKey[]; message: string }[] } }) => {
    if (!result.success) {
      const detail = (result.error?.issues ?? []).map((i) => `${target} ${i.path.map(String).join(".") || "(value)"}: ${i.message}`).join("; ");
      throw new ExplorerProblem("invalid-request", detail);
    }
  };
}

const searchQuery = z.object({ q: z.string().trim().max(200, "at most 200 characters").optional() });
const customerParam = z.object({ id: z.string().min(1).max(128, "at most 128 characters") });

/** The static files pages load; chart.js is served from its installed package, never from a CDN. */
function loadAssets(): Map<string, { body: string; type: string }> {
  const require = createRequire(import.meta.url);
  const chartDir = dirname(require.resolve("chart.js"));
  const here = join(import.meta.dirname, "assets");
  return new Map([
    ["/assets/explorer.css", { body: readFileSync(join(here, "explorer.css"), "utf8"), type: "text/css; charset=utf-8" }],
    ["/assets/dashboard.js", { body: readFileSync(join(here, "dashboard.js"), "utf8"), type: "text/javascript; charset=utf-8" }],
    ["/assets/favicon.svg", { body: readFileSync(join(here, "favicon.svg"), "utf8"), type: "image/svg+xml" }],
    ["/assets/chart.umd.min.js", { body: readFileSync(join(chartDir, "chart.umd.min.js"), "utf8"), type: "text/javascript; charset=utf-8" }],
  ]);
}

/** A graph the runner cannot order (an unknown ref, a cycle) is a project problem, not an explorer crash. */
function layOut(...args: Parameters<typeof buildLineage>): ReturnType<typeof buildLineage> {
  try {
    return buildLineage(...args);
  } catch (error) {
    throw new ExplorerProblem("lineage-unavailable", `The compiled graph cannot be laid out: ${error instanceof Error ? error.message : String(error)}`);
  }
}

// Scripts only from this server; inline styles are allowed for bar widths and heat-map colours, scripts never.
const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export function createExplorerApp(deps: ExplorerDeps): Hono {
  const db = new ExplorerDb(deps.warehouse);
  const assets = loadAssets();
  let graphPromise: Promise<CompiledGraph> | undefined;
  const graph = () => {
    if (typeof deps.graph !== "function") return Promise.resolve(deps.graph);
    // A failed compile is not cached: fix the SQLX and reload the page.
    graphPromise ??= deps.graph().catch((error) => {
      graphPromise = undefined;
      throw error;
    });
    return graphPromise;
  };

  const app = new Hono();

  app.use("*", async (c, next) => {
    await next();
    c.header("Content-Security-Policy", CONTENT_SECURITY_POLICY);
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Referrer-Policy", "no-referrer");
    c.header("X-Frame-Options", "DENY");
    if (!c.req.path.startsWith("/assets/")) c.header("Cache-Control", "no-store");
  });
  if (deps.token) app.use("*", requireToken(deps.token));

  app.get("/assets/:file", (c) => {
    const asset = assets.get(c.req.path);
    if (!asset) throw new ExplorerProblem("not-found", `No asset ${c.req.path}.`);
    return c.body(asset.body, 200, { "Content-Type": asset.type, "Cache-Control": "max-age=300" });
  });

  app.get("/healthz", (c) => c.text("ok\n"));

  app.get("/", (c) => c.redirect("/customers"));

  app.get("/customers", zValidator("query", searchQuery, invalid("query")), async (c) => {
    const { q } = c.req.valid("query");
    if (!q) return c.html(<SearchPage query="" />);
    return c.html(<SearchPage query={q} hits={await searchCustomers(db, q)} />);
  });

  app.get("/customers/:id", zValidator("param", customerParam, invalid("path")), async (c) => {
    const { id } = c.req.valid("param");
    const view = await loadCustomer(db, id);
    if (!view) throw new ExplorerProblem("customer-not-found", `No customer with id "${id}" is in marts.customer_profile.`);
    return c.html(<ProfilePage view={view} />);
  });

  app.get("/dashboard", async (c) => c.html(<DashboardPage data={await loadDashboard(db)} />));

  app.get("/health", async (c) => c.html(<HealthPage report={await readHealth(deps.warehouse)} />));

  app.get("/lineage", async (c) => {
    const compiled = await graph();
    const schemas = [
      ...new Set([...compiled.tables, ...compiled.operations, ...compiled.declarations].map((a) => a.target.schema).filter((s): s is string => !!s)),
    ];
    const lineage = layOut(compiled, await loadWarehouseColumns(db, schemas), await loadLastRuns(db));
    return c.html(<LineagePage lineage={lineage} />);
  });

  app.notFound((c) => respondWithProblem(c, toProblem(new ExplorerProblem("not-found", `Nothing at ${c.req.path}.`), c.req.path).problem));

  app.onError((error, c) => {
    const { problem, unexpected } = toProblem(error, c.req.path);
    if (unexpected) console.error(`explorer: ${c.req.method} ${c.req.path}:`, error);
    return respondWithProblem(c, problem);
  });

  return app;
}
