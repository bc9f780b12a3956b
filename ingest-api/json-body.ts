import express, { type NextFunction, type Request, type Response } from "express";
import { AppError } from "../common/errors.ts";

/** A JSON body parser for one route: 415 unless the body is JSON, 413 beyond `limitBytes`. */
export function jsonBody(limitBytes: number) {
  const parse = express.json({ limit: limitBytes, strict: false });
  return (req: Request, res: Response, next: NextFunction) => {
    if (!req.is("application/json"))
      return next(
        new AppError(415, "unsupported_media_type", "Content-Type must be application/json"),
      );
    parse(req, res, next);
  };
}
