/**
 * What Node's HTTP server answers before the Hono app sees a request: a request whose header block is larger
 * than Node's limit (16 KiB by default, `--max-http-header-size`) or that is not valid HTTP. Node would send a
 * bare `431` or `400` with an empty body; here they get a problem body like every other error of the API.
 *
 * Used by `slice serve`. Behind Cloud Functions the Google front end refuses oversized headers itself.
 */
import type { Server } from "node:http";
import type { Duplex } from "node:stream";
import { PROBLEM_CONTENT_TYPE, PROBLEM_TYPES, type ProblemBody, problemTypeUri } from "./problem.ts";

/** The path of the request line in the bytes Node had read, if it got that far. */
function requestPath(rawPacket: unknown): string {
  if (!Buffer.isBuffer(rawPacket)) return "/";
  const requestLine = rawPacket.subarray(0, 2048).toString("latin1").split("\r\n")[0] ?? "";
  const target = requestLine.split(" ")[1] ?? "";
  return target.startsWith("/") ? (target.split("?")[0] ?? "/") : "/";
}

/** The raw HTTP/1.1 response for a request Node refused while parsing it. */
export function clientErrorResponse(code: string | undefined, rawPacket?: unknown): string {
  const tooLarge = code === "HPE_HEADER_OVERFLOW";
  const slug = tooLarge ? "request-header-fields-too-large" : "invalid-request";
  const status = tooLarge ? 431 : 400;
  const body: ProblemBody = {
    type: problemTypeUri(slug),
    title: tooLarge ? PROBLEM_TYPES[slug].title : "Malformed HTTP request",
    status,
    detail: tooLarge
      ? "The request's header fields are larger than this server accepts (16 KiB in all). Send only Authorization, Accept and the usual headers."
      : "The request is not valid HTTP/1.1 and could not be read.",
    instance: requestPath(rawPacket),
  };
  const text = JSON.stringify(body);
  return (
    `HTTP/1.1 ${status} ${tooLarge ? "Request Header Fields Too Large" : "Bad Request"}\r\n` +
    `Content-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(text)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${text}`
  );
}

export function answerClientErrorsWithProblems(server: Server): void {
  server.on("clientError", (error: NodeJS.ErrnoException & { rawPacket?: unknown }, socket: Duplex) => {
    // A client that reset the connection, or a socket already answered, gets nothing (as Node does).
    if (error.code === "ECONNRESET" || !socket.writable) {
      socket.destroy();
      return;
    }
    socket.end(clientErrorResponse(error.code, error.rawPacket));
  });
}
