/**
 * The explorer in a real headless Chromium (Debian package `chromium`) over a real loopback server and the
 * real models built on the fixture. Screenshots land in tests/artifacts/ for a person to look at.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningExplorer, startExplorer } from "../../src/explorer/command.ts";
import { REPO_ROOT } from "../support/dataform-project.ts";
import { type BuiltWarehouse, buildFixtureWarehouse } from "./built-warehouse.ts";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = join(REPO_ROOT, "tests/artifacts");
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

let built: BuiltWarehouse | undefined;
let explorer: RunningExplorer | undefined;
let browser: BrowserContext | undefined;
let userDataDir: string | undefined;
let page: Page;
const pageErrors: string[] = [];
const externalRequests: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: the explorer's end-to-end tests need Debian's Chromium. Install it with \`apt-get install -y chromium\`.`,
    );
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  built = await buildFixtureWarehouse();
  explorer = await startExplorer({ warehouse: built.warehouse, graph: built.graph, host: "127.0.0.1", port: 0, token: "" });
  // A fresh profile per run: nothing cached or remembered from an earlier run can make a test pass.
  userDataDir = mkdtempSync(join(tmpdir(), "slice-explorer-chromium-"));
  browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1366, height: 900 },
  });
  page = browser.pages()[0] ?? (await browser.newPage());
  page.on("pageerror", (error) => pageErrors.push(error.message));
  page.on("console", (message) => {
    // Failed loads are reported with their URL by the response listener below.
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) pageErrors.push(message.text());
  });
  page.on("response", (response) => {
    if (response.status() >= 400) pageErrors.push(`${response.status()} ${response.url()}`);
  });
  page.on("request", (request) => {
    if (!request.url().startsWith(explorer!.url) && !request.url().startsWith("data:")) externalRequests.push(request.url());
  });
});

afterAll(async () => {
  await browser?.close();
  await explorer?.close();
  await built?.warehouse.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

describe("explorer in headless Chromium", () => {
  it("finds C1 by name and opens the profile card with the hand-known values", async () => {
    await page.goto(`${explorer!.url}/`);
    await page.getByRole("searchbox", { name: "Search customers" }).fill("virtanen");
    await page.getByRole("button", { name: "Search" }).click();
    await page.getByRole("link", { name: "C1", exact: true }).click();
    await page.waitForURL(`${explorer!.url}/customers/C1`);

    await expect.poll(() => page.getByTestId("customer-name").textContent()).toBe("Aino Virtanen");
    expect(await page.getByTestId("customer-since").textContent()).toBe("2023-11-01");
    expect(await page.getByTestId("lifetime-orders").textContent()).toBe("3");
    expect(await page.getByTestId("lifetime-spend").textContent()).toBe("76.00 €");
    expect(await page.getByTestId("consent-sms_marketing").locator(".consent").textContent()).toBe("denied");
    expect(await page.getByTestId("consent-push_marketing").locator(".consent").textContent()).toBe("not set");
    expect(await page.getByTestId("household-type").textContent()).toBe("family");
    expect(await page.getByTestId("category-pizzas").locator(".share-value").textContent()).toBe("82 %");
    // The bar is drawn as wide as the share: 82 % of its track.
    const track = await page.getByTestId("category-pizzas").locator(".share-track").boundingBox();
    const fill = await page.getByTestId("category-pizzas").locator(".share-fill").boundingBox();
    expect(fill!.width / track!.width).toBeCloseTo(0.8219, 2);
    expect(await page.getByTestId("loyalty-slices").textContent()).toBe("1 slice on the card, 9 missing to a full card");
    expect(await page.locator(".pip.on").count()).toBe(1);
    expect(await page.locator(".pip").count()).toBe(10);
    expect(await page.getByTestId("coupon-code").textContent()).toBe("VIP10");
    // C1 is scored (marts.customer_scores): a churn-risk band is shown, not the "not scored yet" note.
    expect(await page.getByTestId("churn-risk").textContent()).toMatch(/^(low|medium|high|churned)$/);
    expect(await page.getByTestId("scores-missing").count()).toBe(0);

    await page.screenshot({ path: join(ARTIFACTS, "explorer-card-C1.png"), fullPage: true });
  });

  it("draws the dashboard's charts with chart.js served by the explorer", async () => {
    await page.goto(`${explorer!.url}/dashboard`);
    await page.waitForFunction(() => document.documentElement.dataset.chartsReady !== undefined, undefined, { timeout: 15_000 });
    // Every canvas on the page got its chart (campaign lift adds one when a campaign has a holdout to compare).
    const canvases = await page.locator("canvas").count();
    expect(canvases).toBeGreaterThanOrEqual(3);
    expect(await page.evaluate(() => document.documentElement.dataset.chartsReady)).toBe(String(canvases));
    expect(await page.evaluate(() => typeof (window as unknown as { Chart?: unknown }).Chart)).toBe("function");
    for (const id of ["chart-revenue", "chart-customers", "chart-permissions"]) {
      const canvas = page.locator(`#${id}`);
      expect(await canvas.count()).toBe(1);
      // chart.js registers every chart it draws; a canvas it never touched has no instance.
      expect(await page.evaluate((canvasId) => {
        const Chart = (window as unknown as { Chart: { getChart(c: HTMLCanvasElement): { data: { labels: unknown[] } } | undefined } }).Chart;
        return Chart.getChart(document.getElementById(canvasId) as HTMLCanvasElement)?.data.labels.length ?? -1;
      }, id)).toBeGreaterThan(0);
      expect((await canvas.boundingBox())!.height).toBeGreaterThan(100);
    }
    expect(await page.getByTestId("cohort-heatmap").locator("tbody tr").count()).toBe(1);
    expect(await page.getByTestId("tile-known_customers").locator(".tile-value").textContent()).toBe("3");
    await page.screenshot({ path: join(ARTIFACTS, "explorer-dashboard.png"), fullPage: true });
  });

  it("shows the lineage in layers, with a table's columns and assertions", async () => {
    await page.goto(`${explorer!.url}/lineage`);
    const layers = page.getByTestId("lineage-layers").locator("section.layer");
    expect(await layers.count()).toBeGreaterThan(3);
    // Sources (the raw declarations) sit in the first layer, the marts further right.
    expect(await layers.first().locator('a.node[data-action="raw.orders"]').count()).toBe(1);
    expect(await layers.first().locator('a.node[data-action="marts.customer_profile"]').count()).toBe(0);
    await page.screenshot({ path: join(ARTIFACTS, "explorer-lineage-layers.png"), fullPage: false });
    await page.locator('a.node[data-action="marts.customer_profile"]').click();
    const profile = page.getByTestId("action-marts.customer_profile");
    expect(await profile.evaluate((el) => el.matches(":target"))).toBe(true);
    expect(await profile.locator('tr[data-column="lifetime_spend_eur"] td').nth(2).textContent()).toBe(
      "Amount paid on completed orders, euros (0 when none).",
    );
    expect(await profile.locator(".status").first().textContent()).toBe("succeeded");
    await page.screenshot({ path: join(ARTIFACTS, "explorer-lineage-action.png"), fullPage: false });
  });

  it("loaded nothing from outside the explorer and raised no script errors", () => {
    expect(externalRequests).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
