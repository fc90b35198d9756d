/**
 * A fault-injecting HTTP proxy on 127.0.0.1, put between a client (the Meta sync, the S3 client) and a
 * local server (the Meta contract server, s3rver). Every request is read whole, matched against the
 * injected rules, and then either forwarded unchanged (Host header included, so S3 signatures still
 * verify) or met with a fault:
 *
 * - drop_before: the connection is closed before anything is forwarded (the server never sees it);
 * - drop_after: forwarded, the server acts and answers, and the answer is lost (the connection is closed);
 * - http500: answered 500 without forwarding; http500_after: forwarded, then the answer replaced by a 500;
 * - throttle: answered 429 with one of Meta's throttling bodies (codes 17/2446079, 613/1487742, 4, 80003)
 *   and the usage headers Meta sends with them, without forwarding;
 * - s3_slowdown: answered 503 with S3's SlowDown error, without forwarding.
 *
 * Rules match on the request (method, path, query, body); `skip` lets the first matches through and
 * `times` says how many faults a rule injects. The log lists every request with what happened to it.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, request as httpRequest, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export type FaultKind = "drop_before" | "drop_after" | "http500" | "http500_after" | "throttle" | "s3_slowdown";
export const FAULT_KINDS: readonly FaultKind[] = ["drop_before", "drop_after", "http500", "http500_after", "throttle", "s3_slowdown"];

/** Whether the server acted on a request that met this fault. */
export const FORWARDED: Record<FaultKind, boolean> = {
  drop_before: false,
  drop_after: true,
  http500: false,
  http500_after: true,
  throttle: false,
  s3_slowdown: false,
};

export interface ProxiedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The body as JSON, or undefined when it is not JSON. */
  json(): unknown;
}

export interface FaultRule {
  /** Shown in the log. */
  name: string;
  match: (request: ProxiedRequest) => boolean;
  fault: FaultKind;
  /** Matching requests let through before the first fault (default 0). */
  skip?: number;
  /** Faults to inject (default 1). */
  times?: number;
  /** For throttle: the Graph error code of the body (default 80003). */
  throttleCode?: 4 | 17 | 613 | 80003;
}

export interface ProxyLogEntry {
  method: string;
  path: string;
  query: string;
  rule?: string;
  fault?: FaultKind;
  status: number | "dropped";
}

/** Meta's throttling answers, as the Graph API sends them (error codes and subcodes of the custom-audience budget). */
export const META_THROTTLE_BODIES: Record<4 | 17 | 613 | 80003, object> = {
  4: { error: { message: "(#4) Application request limit reached", type: "OAuthException", is_transient: true, code: 4, fbtrace_id: "proxy" } },
  17: { error: { message: "(#17) User request limit reached", type: "OAuthException", is_transient: true, code: 17, error_subcode: 2446079, fbtrace_id: "proxy" } },
  613: { error: { message: "(#613) Calls to this api have exceeded the rate limit.", type: "OAuthException", code: 613, error_subcode: 1487742, fbtrace_id: "proxy" } },
  80003: { error: { message: "(#80003) There have been too many calls to this ad-account. Wait a bit and try again.", type: "OAuthException", code: 80003, fbtrace_id: "proxy" } },
};

const S3_SLOWDOWN = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>proxy</RequestId></Error>`;

interface ActiveRule extends FaultRule {
  seen: number;
  injected: number;
}

async function readAll(stream: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export class FaultProxy {
  readonly log: ProxyLogEntry[] = [];
  private readonly rules: ActiveRule[] = [];
  private readonly sockets = new Set<Socket>();
  private server!: Server;
  private readonly target: URL;
  baseUrl = "";

  constructor(target: string) {
    this.target = new URL(target);
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error) => {
        if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
        res.end(`fault proxy: ${String(error)}`);
      });
    });
    this.server.on("connection", (socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  inject(rule: FaultRule): void {
    this.rules.push({ ...rule, seen: 0, injected: 0 });
  }

  clear(): void {
    this.rules.length = 0;
  }

  /** Faults injected so far by the rule of this name. */
  injected(name: string): number {
    return this.rules.filter((rule) => rule.name === name).reduce((sum, rule) => sum + rule.injected, 0);
  }

  private pick(request: ProxiedRequest): ActiveRule | undefined {
    for (const rule of this.rules) {
      if (rule.injected >= (rule.times ?? 1) || !rule.match(request)) continue;
      rule.seen += 1;
      if (rule.seen <= (rule.skip ?? 0)) continue;
      rule.injected += 1;
      return rule;
    }
    return undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://proxy");
    const body = await readAll(req);
    const request: ProxiedRequest = {
      method: req.method ?? "GET",
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body,
      json: () => {
        try {
          return JSON.parse(body.toString("utf8"));
        } catch {
          return undefined;
        }
      },
    };
    const rule = this.pick(request);
    const entry: ProxyLogEntry = { method: request.method, path: request.path, query: url.search, rule: rule?.name, fault: rule?.fault, status: 200 };
    this.log.push(entry);
    const drop = () => {
      entry.status = "dropped";
      req.socket.destroy();
    };

    switch (rule?.fault) {
      case "drop_before":
        return drop();
      case "http500":
        entry.status = 500;
        res.writeHead(500, { "content-type": "text/plain" });
        res.end("Internal Server Error");
        return;
      case "throttle": {
        entry.status = 429;
        const text = JSON.stringify(META_THROTTLE_BODIES[rule.throttleCode ?? 80003]);
        const usage = { "555": [{ type: "custom_audience", call_count: 100, total_cputime: 12, total_time: 14, estimated_time_to_regain_access: 1 }] };
        res.writeHead(429, {
          "content-type": "application/json; charset=UTF-8",
          "content-length": Buffer.byteLength(text),
          "x-business-use-case-usage": JSON.stringify(usage),
          "x-app-usage": JSON.stringify({ call_count: 100, total_cputime: 10, total_time: 10 }),
        });
        res.end(text);
        return;
      }
      case "s3_slowdown":
        entry.status = 503;
        res.writeHead(503, { "content-type": "application/xml", "content-length": Buffer.byteLength(S3_SLOWDOWN) });
        res.end(S3_SLOWDOWN);
        return;
    }

    const upstream = await this.forward(req, body);
    if (rule?.fault === "drop_after") return drop();
    if (rule?.fault === "http500_after") {
      entry.status = 500;
      res.writeHead(500, { "content-type": "text/plain" });
      res.end("Internal Server Error");
      return;
    }
    entry.status = upstream.status;
    res.writeHead(upstream.status, upstream.headers);
    res.end(upstream.body);
  }

  private forward(req: IncomingMessage, body: Buffer): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const headers = { ...req.headers };
      // The body was read whole: send it with its length, not re-chunked, and without waiting for 100-continue.
      delete headers["transfer-encoding"];
      delete headers.expect;
      headers["content-length"] = String(body.length);
      const outgoing = httpRequest(
        { host: this.target.hostname, port: this.target.port, method: req.method, path: req.url, headers },
        (incoming) => {
          readAll(incoming).then((answer) => {
            const answerHeaders = { ...incoming.headers };
            delete answerHeaders["transfer-encoding"];
            // A HEAD answer's content-length is the object's, not the (empty) body's.
            if (req.method !== "HEAD") answerHeaders["content-length"] = String(answer.length);
            resolve({ status: incoming.statusCode ?? 502, headers: answerHeaders, body: answer });
          }, reject);
        },
      );
      outgoing.on("error", reject);
      outgoing.end(body);
    });
  }
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  return new FaultProxy(target).start();
}
