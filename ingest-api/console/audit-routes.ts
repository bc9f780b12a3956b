import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { stringify } from "csv-stringify";
import { type Request, Router } from "express";
import { ValidationError } from "../../common/errors.ts";
import type { Pool } from "../../common/postgres.ts";
import { toFieldIssues } from "../../common/vote.ts";
import { listScope } from "../auth/actor.ts";
import { requireAdmin } from "../auth/bearer-auth.ts";
import type { RegistryCache } from "../registry/registry-cache.ts";
import { type AuditEntry, type AuditFilter, listAudit } from "./audit-store.ts";
import type { ConsoleConfig } from "./console-config.ts";
import { AUDIT_CSV_COLUMNS, auditQuerySchema } from "./console-schemas.ts";

export interface AuditRouteDeps {
  pool: Pool;
  cache: RegistryCache;
  adminToken: string;
  config: ConsoleConfig;
}

/**
 * The audit log, read only: `GET /v1/audit` pages newest first (by time, then id; `next` is
 * the last entry's id, the cursor for `before=`), `GET /v1/audit.csv` streams every entry the filters keep. The deployment
 * admin sees every school (narrowed by `?schoolId=`), a school admin its own.
 */
export function auditRoutes(deps: AuditRouteDeps) {
  const { config } = deps;
  const router = Router();
  const admin = requireAdmin(deps.adminToken, deps.cache);

  const filterOf = (req: Request): { filter: AuditFilter; limit: number | undefined } => {
    const parsed = auditQuerySchema.safeParse(req.query, { reportInput: true });
    if (!parsed.success) throw new ValidationError(toFieldIssues(parsed.error));
    const { limit, ...rest } = parsed.data;
    if (limit !== undefined && limit > config.auditPageMax)
      throw new ValidationError([
        { field: "limit", message: `must be at most ${config.auditPageMax} (AUDIT_PAGE_MAX)` },
      ]);
    return { filter: { ...rest, schoolId: listScope(req) }, limit };
  };

  router.get("/v1/audit", admin, async (req, res) => {
    const { filter, limit = config.auditPageDefault } = filterOf(req);
    const entries = await listAudit(deps.pool, filter, limit);
    res.setHeader("Cache-Control", "no-store").json({
      entries,
      next: entries.length === limit ? entries[entries.length - 1]!.id : null,
    });
  });

  router.get("/v1/audit.csv", admin, async (req, res) => {
    const { filter } = filterOf(req);
    const chunk = config.auditExportChunkRows;
    async function* rows(): AsyncGenerator<string[]> {
      let before = filter.before;
      for (;;) {
        const page: AuditEntry[] = await listAudit(deps.pool, { ...filter, before }, chunk);
        for (const e of page)
          yield AUDIT_CSV_COLUMNS.map((c) =>
            c === "changes"
              ? e.changes === null
                ? ""
                : JSON.stringify(e.changes)
              : String(e[c] ?? ""),
          );
        if (page.length < chunk) return;
        before = page[page.length - 1]!.id;
      }
    }
    res
      .status(200)
      .setHeader("Cache-Control", "no-store")
      .type("text/csv; charset=utf-8")
      .setHeader("Content-Disposition", 'attachment; filename="audit.csv"');
    // Page by page with backpressure: any number of entries in bounded memory. A failure
    // midway cuts the connection: a client sees no complete-looking file.
    await pipeline(
      Readable.from(rows()),
      stringify({ header: true, columns: [...AUDIT_CSV_COLUMNS], record_delimiter: "windows" }),
      res,
    );
  });
  return router;
}
