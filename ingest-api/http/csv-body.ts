import express, { type NextFunction, type Request, type Response } from "express";
import { AppError } from "../../common/errors.ts";
import { charsetOf, declaredLength } from "./json-body.ts";

const CSV_TYPE = /^text\/csv\s*(?:;|$)/i;

/**
 * A CSV body parser for one route: `req.body` becomes the raw bytes (a Buffer; whether they
 * are UTF-8 is the reader's to say, naming the line), 415 unless `Content-Type: text/csv`
 * (a charset, if named, must be UTF-8), 413 beyond `limitBytes` saying the limit and the
 * variable that sets it. A gzip or deflate body is inflated, the limit applying to what
 * it inflates to.
 */
export function csvBody(limitBytes: number, limitVariable: string) {
  const read = express.raw({ type: () => true, limit: limitBytes });
  const tooLarge = () =>
    new AppError(
      413,
      "body_too_large",
      `body is larger than ${limitBytes} bytes, the most a CSV body may be (${limitVariable})`,
      { details: { limitBytes } },
    );
  return (req: Request, res: Response, next: NextFunction) => {
    const type = req.headers["content-type"];
    if (type === undefined || !CSV_TYPE.test(type))
      return next(new AppError(415, "unsupported_media_type", "Content-Type must be text/csv"));
    const charset = charsetOf(type);
    if (charset !== undefined && charset !== "utf-8" && charset !== "utf8")
      return next(
        AppError.of("unsupported_charset", `charset "${charset.slice(0, 32)}": use UTF-8`),
      );
    // Refused before a byte is read: the error middleware closes the connection.
    if (declaredLength(req) > limitBytes) return next(tooLarge());
    read(req, res, (err?: unknown) => {
      if (typeof err === "object" && err !== null && "type" in err) {
        if (err.type === "entity.too.large") return next(tooLarge());
      }
      if (err !== undefined) return next(err);
      // No body at all (neither Content-Length nor chunked): an empty file.
      if (!Buffer.isBuffer(req.body)) req.body = Buffer.alloc(0);
      next();
    });
  };
}
