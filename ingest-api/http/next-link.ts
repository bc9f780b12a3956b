import type { Request, Response } from "express";

/**
 * A page's `next` as a Link header too (RFC 8288 `rel="next"`): the same path and query
 * with `after` replaced, so that a script may follow pages without reading the body. The
 * answer is returned as it is.
 */
export function withNextLink<T extends { next: string | null }>(
  req: Request,
  res: Response,
  page: T,
): T {
  if (page.next !== null) {
    const url = new URL(req.originalUrl, "http://x");
    url.searchParams.set("after", page.next);
    res.setHeader("Link", `<${url.pathname}${url.search}>; rel="next"`);
  }
  return page;
}
