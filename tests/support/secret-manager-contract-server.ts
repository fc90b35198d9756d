/**
 * A local stand-in for Secret Manager's v1 REST `accessSecretVersion`, with the GCE metadata routes the
 * official client authenticates through. It enforces the contract: GET only, the path
 * /v1/projects/P/secrets/S/versions/V:access (V a number or latest), the bearer token the metadata route
 * issued (401), unknown secrets or versions 404 NOT_FOUND, a disabled version 400 FAILED_PRECONDITION;
 * answers {name, payload: {data: base64, dataCrc32c}} with the version number resolved for latest.
 * `upstreamMetadataHost`: take access tokens from another local metadata server (one token for every API,
 * as one service account's is in production).
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { crc32c } from "../../src/cloud/secrets.ts";

interface Version {
  data: Buffer;
  enabled: boolean;
  /** Corrupts the checksum sent, to show the client side check. */
  badChecksum?: boolean;
}

export class SecretManagerContractServer {
  readonly accessed: string[] = [];
  baseUrl = "";
  private server!: Server;
  private accessToken = `local-sm-${randomBytes(12).toString("base64url")}`;
  private readonly secrets = new Map<string, Version[]>();

  constructor(readonly options: { projectId: string; upstreamMetadataHost?: string }) {}

  /** Adds a version (numbered from 1, like gcloud secrets versions add). */
  addVersion(secret: string, value: string, options: { enabled?: boolean; badChecksum?: boolean } = {}): number {
    const versions = this.secrets.get(secret) ?? [];
    versions.push({ data: Buffer.from(value, "utf8"), enabled: options.enabled ?? true, badChecksum: options.badChecksum });
    this.secrets.set(secret, versions);
    return versions.length;
  }

  reference(secret: string, version: string | number = "latest"): string {
    return `sm://projects/${this.options.projectId}/secrets/${secret}/versions/${version}`;
  }

  get env(): Record<string, string> {
    return { GCE_METADATA_HOST: this.baseUrl.replace("http://", ""), SLICE_SECRET_MANAGER_API_ENDPOINT: this.baseUrl };
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://local");
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { "Content-Type": typeof body === "string" ? "text/plain" : "application/json", ...headers });
      res.end(typeof body === "string" ? body : JSON.stringify(body));
    };
    const error = (code: number, status: string, message: string) => send(code, { error: { code, message, status } });
    if (url.pathname.startsWith("/computeMetadata/")) {
      const flavor = { "Metadata-Flavor": "Google" };
      if (req.headers["metadata-flavor"] !== "Google") return send(403, "Missing Metadata-Flavor header", flavor);
      if (url.pathname === "/computeMetadata/v1/instance" || url.pathname === "/computeMetadata/v1/instance/") return send(200, "{}", flavor);
      if (url.pathname === "/computeMetadata/v1/project/project-id") return send(200, this.options.projectId, flavor);
      if (url.pathname === "/computeMetadata/v1/universe/universe-domain") return send(200, "googleapis.com", flavor);
      if (url.pathname === "/computeMetadata/v1/instance/service-accounts/default/token") {
        if (this.options.upstreamMetadataHost) {
          const upstream = await fetch(`http://${this.options.upstreamMetadataHost}${url.pathname}${url.search}`, { headers: flavor });
          const answer = (await upstream.json()) as { access_token: string };
          this.accessToken = answer.access_token;
          return send(upstream.status, answer, flavor);
        }
        return send(200, { access_token: this.accessToken, expires_in: 3600, token_type: "Bearer" }, flavor);
      }
      return send(404, "not found", flavor);
    }
    if (req.headers.authorization !== `Bearer ${this.accessToken}`) return error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.");
    for (const key of url.searchParams.keys()) if (key !== "$alt" && key !== "$prettyPrint") return error(400, "INVALID_ARGUMENT", `Unknown name "${key}": Cannot bind query parameter.`);
    const match = /^\/v1\/projects\/([^/]+)\/secrets\/([^/]+)\/versions\/([^/:]+):access$/.exec(url.pathname);
    if (!match) return error(404, "NOT_FOUND", `No route for ${req.method} ${url.pathname}.`);
    if (req.method !== "GET") return error(405, "METHOD_NOT_ALLOWED", `${req.method} is not allowed here.`);
    const [, project, secret, versionId] = match;
    const versions = project === this.options.projectId ? this.secrets.get(secret) : undefined;
    if (!versions) return error(404, "NOT_FOUND", `Secret [projects/${project}/secrets/${secret}] not found or has no versions.`);
    if (versionId !== "latest" && !/^[1-9]\d*$/.test(versionId)) return error(400, "INVALID_ARGUMENT", `Invalid version id ${versionId}.`);
    const number = versionId === "latest" ? versions.length : Number(versionId);
    const version = versions[number - 1];
    if (!version) return error(404, "NOT_FOUND", `Secret Version [projects/${project}/secrets/${secret}/versions/${versionId}] not found.`);
    if (!version.enabled) return error(400, "FAILED_PRECONDITION", `Secret Version [projects/${project}/secrets/${secret}/versions/${number}] is in DISABLED state.`);
    const name = `projects/${project}/secrets/${secret}/versions/${number}`;
    this.accessed.push(name);
    const checksum = crc32c(version.data) ^ (version.badChecksum ? 1 : 0);
    return send(200, { name, payload: { data: version.data.toString("base64"), dataCrc32c: String(checksum >>> 0) } });
  }
}

export async function startSecretManagerContractServer(options: { projectId: string; upstreamMetadataHost?: string }): Promise<SecretManagerContractServer> {
  return new SecretManagerContractServer(options).start();
}
