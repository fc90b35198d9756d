/** @jsxRuntime automatic */
/** @jsxImportSource hono/jsx */
/**
 * The page frame shared by every explorer page: navigation, the search box, and the stylesheet.
 */
import type { Child } from "hono/jsx";
import { html } from "hono/html";

export type Section = "customers" | "dashboard" | "lineage" | "health" | "none";

export interface LayoutProps {
  title: string;
  section: Section;
  query?: string;
  scripts?: string[];
  children?: Child;
}

export function Layout(props: LayoutProps) {
  const link = (section: Section, href: string, label: string) => (
    <a href={href} class={props.section === section ? "nav-link active" : "nav-link"} aria-current={props.section === section ? "page" : undefined}>
      {label}
    </a>
  );
  return html`<!DOCTYPE html>${(
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${props.title} · Slice explorer`}</title>
        <link rel="icon" href="/assets/favicon.svg" type="image/svg+xml" />
        <link rel="stylesheet" href="/assets/explorer.css" />
        {(props.scripts ?? []).map((src) => (
          <script src={src} defer></script>
        ))}
      </head>
      <body>
        <header class="topbar">
          <a class="brand" href="/">
            Slice <span>explorer</span>
          </a>
          <nav>
            {link("customers", "/customers", "Customers")}
            {link("dashboard", "/dashboard", "KPI dashboard")}
            {link("lineage", "/lineage", "Lineage")}
            {link("health", "/health", "Data health")}
          </nav>
          <form class="search" method="get" action="/customers" role="search">
            <input type="search" name="q" value={props.query ?? ""} placeholder="Customer id, name or e-mail" aria-label="Search customers" />
            <button type="submit">Search</button>
          </form>
        </header>
        <main>{props.children}</main>
      </body>
    </html>
  )}`;
}

/** A titled panel of the card or the dashboard. */
export function Panel(props: { title: string; id?: string; class?: string; children?: Child }) {
  return (
    <section class={`panel ${props.class ?? ""}`.trim()} id={props.id} aria-labelledby={props.id ? `${props.id}-title` : undefined}>
      <h2 id={props.id ? `${props.id}-title` : undefined}>{props.title}</h2>
      {props.children}
    </section>
  );
}

/** Label/value pairs as a definition list; `testid` lets tests find one value without parsing the layout. */
export function Facts(props: { items: { label: string; value: Child; testid?: string }[] }) {
  return (
    <dl class="facts">
      {props.items.map((item) => (
        <div class="fact">
          <dt>{item.label}</dt>
          <dd data-testid={item.testid}>{item.value}</dd>
        </div>
      ))}
    </dl>
  );
}

/** A horizontal bar for a share in 0..1, with the share written next to it. */
export function ShareBar(props: { label: Child; share: number; text: string; testid?: string }) {
  const width = Math.max(0, Math.min(1, props.share)) * 100;
  return (
    <li class="share-row" data-testid={props.testid}>
      <span class="share-label">{props.label}</span>
      <span class="share-track" aria-hidden="true">
        <span class="share-fill" style={`width: ${width.toFixed(1)}%`}></span>
      </span>
      <span class="share-value">{props.text}</span>
    </li>
  );
}

/** JSON for a `<script type="application/json">` block: "<" escaped so the data can never close the tag. */
export function jsonForScript(data: unknown): string {
  return JSON.stringify(data).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}
