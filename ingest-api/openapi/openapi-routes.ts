import { createHash } from "node:crypto";
import { type Request, type Response, Router } from "express";
import { webSecurityHeaders } from "../web/web-routes.ts";
import {
  apiDocument,
  type DocumentLimits,
  OPENAPI_PATH,
  type OpenApiDocument,
  REFERENCE_PAGE_PATH,
} from "./openapi-document.ts";
import { referencePage } from "./reference-page.ts";

/** Public and the same for everyone until a deploy: any cache may keep it a while. */
const CACHE_CONTROL = "public, max-age=300";

interface Served {
  body: Buffer;
  etag: string;
}

function served(text: string): Served {
  const body = Buffer.from(text);
  return { body, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"` };
}

/**
 * `/openapi.json` and its reference page `/api`, each made once, on its first request
 * (building the document takes tens of milliseconds: no test's API pays it unless asked).
 */
export function openApiRoutes(limits: DocumentLimits): Router {
  const router = Router();
  let document: OpenApiDocument | undefined;
  const documentOf = () => (document ??= apiDocument(limits));
  let json: Served | undefined;
  let page: Served | undefined;

  const send = (req: Request, res: Response, made: Served, type: string) => {
    res.setHeader("Cache-Control", CACHE_CONTROL).setHeader("ETag", made.etag);
    if (req.fresh) return void res.status(304).end();
    res.type(type).send(made.body);
  };
  router.get(OPENAPI_PATH, (req, res) => {
    json ??= served(JSON.stringify(documentOf()));
    send(req, res, json, "application/json");
  });
  router.get(REFERENCE_PAGE_PATH, webSecurityHeaders, (req, res) => {
    page ??= served(referencePage(documentOf()));
    send(req, res, page, "html");
  });
  return router;
}
