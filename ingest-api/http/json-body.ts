import type { IncomingMessage } from "node:http";
import express, { type NextFunction, type Request, type Response } from "express";
import { AppError } from "../../common/errors.ts";

// `application/json`, optionally with a UTF-8 charset: the only type the fast path reads.
const PLAIN_JSON = /^application\/json\s*(?:;\s*charset\s*=\s*("?)utf-8\1\s*)?$/i;

/**
 * A JSON body parser for one route: 415 unless the body is JSON, 413 beyond `limitBytes`,
 * saying the limit and, when given, the variable that sets it (`limitVariable`).
 *
 * A kiosk's vote is a plain UTF-8 JSON body with a Content-Length, and for that one case
 * the body is read and parsed here directly: body-parser's general machinery (type-is,
 * raw-body, iconv, its error objects) measured 20–35 µs of CPU per vote, a sixth of the
 * API's cost per request. Everything else (another charset, a Content-Encoding, chunked,
 * empty or too large a body) goes through `express.json`, which answers it as before, so
 * the two paths give the same errors.
 */
export function jsonBody(limitBytes: number, limitVariable?: string) {
  const read = express.json({ limit: limitBytes, strict: false });
  const tooLarge = () =>
    new AppError(
      413,
      "body_too_large",
      `body is larger than ${limitBytes} bytes${limitVariable ? ` (${limitVariable})` : ""}`,
      { details: { limitBytes } },
    );
  // A chunked or compressed body over the limit is found by express.json while it reads:
  // the same answer as a declared one.
  const parse = (req: Request, res: Response, next: NextFunction) =>
    read(req, res, (err?: unknown) => {
      const overLimit =
        typeof err === "object" && err !== null && "type" in err && err.type === "entity.too.large";
      next(overLimit ? tooLarge() : err);
    });
  return (req: Request, res: Response, next: NextFunction) => {
    // A declared oversize body is refused before a byte of it is read: express.json would
    // read it all (to drop it) before answering. The error middleware closes the connection.
    if (declaredLength(req) > limitBytes) return next(tooLarge());
    const length = plainJsonLength(req, limitBytes);
    if (length !== undefined) return readJson(req, length, next);
    // A JSON request without a body (no Content-Length, not chunked): express.json leaves
    // req.body unset and the route names what is missing. req.is() is null for any bodiless
    // request, which made it a 415 "Content-Type must be application/json" that it already is.
    if (!hasBody(req) && JSON_TYPE.test(req.headers["content-type"] ?? ""))
      return parse(req, res, next);
    if (!req.is("application/json"))
      return next(
        new AppError(415, "unsupported_media_type", "Content-Type must be application/json"),
      );
    // body-parser takes any "utf-*" charset (utf-16, utf-32) and then fails to parse a body
    // the client meant in it: 415 as for every charset other than UTF-8.
    const charset = charsetOf(req.headers["content-type"]);
    if (charset !== undefined && charset !== "utf-8")
      return next(
        AppError.of("unsupported_charset", `charset "${charset.slice(0, 32)}": use UTF-8`),
      );
    parse(req, res, next);
  };
}

const JSON_TYPE = /^application\/json\s*(?:;|$)/i;
// The charset parameter of a Content-Type, quoted or not.
const CHARSET = /;\s*charset\s*=\s*"?([^";\s]*)/i;

/** The charset a Content-Type names, lower case; undefined when it names none. */
export function charsetOf(contentType: string | undefined): string | undefined {
  return CHARSET.exec(contentType ?? "")?.[1]?.toLowerCase();
}

/** As type-is's hasBody: chunked, or a Content-Length (0 included). */
function hasBody(req: IncomingMessage): boolean {
  return (
    req.headers["transfer-encoding"] !== undefined || req.headers["content-length"] !== undefined
  );
}

/** The Content-Length header as a number; 0 when absent or not a number (the parser decides then). */
export function declaredLength(req: IncomingMessage): number {
  const header = req.headers["content-length"];
  return header !== undefined && /^\d{1,15}$/.test(header) ? Number(header) : 0;
}

/** The body's length when the fast path can take it, else undefined. */
function plainJsonLength(req: IncomingMessage, limitBytes: number): number | undefined {
  const type = req.headers["content-type"];
  if (type === undefined || !PLAIN_JSON.test(type)) return undefined;
  const encoding = req.headers["content-encoding"];
  if (encoding !== undefined && encoding.toLowerCase() !== "identity") return undefined;
  const header = req.headers["content-length"];
  if (header === undefined || !/^\d{1,15}$/.test(header)) return undefined;
  const length = Number(header);
  return length > 0 && length <= limitBytes ? length : undefined;
}

function readJson(req: Request, length: number, next: NextFunction): void {
  const chunks: Buffer[] = [];
  let received = 0;
  let done = false;
  const finish = (err?: AppError) => {
    if (done) return;
    done = true;
    req.off("data", onData).off("end", onEnd).off("error", onAborted).off("close", onAborted);
    if (err) {
      // Stop reading what is left of a body we refuse (as raw-body does).
      req.unpipe();
      req.resume();
    }
    next(err);
  };
  const onData = (chunk: Buffer) => {
    received += chunk.length;
    if (received > length)
      return finish(new AppError(400, "bad_length", "content-length mismatch"));
    chunks.push(chunk);
  };
  const onEnd = () => {
    if (received !== length)
      return finish(new AppError(400, "bad_length", "content-length mismatch"));
    try {
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received);
      // A leading byte order mark is allowed, as body-parser allows it.
      const text = body.toString("utf8");
      req.body = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
    } catch {
      return finish(new AppError(400, "malformed_json", "body is not valid JSON"));
    }
    finish();
  };
  // An error or a close before the end: the client went away mid-body.
  const onAborted = () => finish(new AppError(400, "request_aborted", "request aborted"));
  req.on("data", onData).on("end", onEnd).on("error", onAborted).on("close", onAborted);
}
