import { Router } from "express";
import {
  type DeadLetter,
  findDeadLetter,
  listDeadLetters,
  type PublishMessage,
  type Replayed,
  replayDeadLetter,
  replayPending,
} from "../../common/dead-letters.ts";
import { NotFoundError } from "../../common/errors.ts";
import type { Pool } from "../../common/postgres.ts";
import { voteSubject } from "../../common/votes-stream.ts";
import { requireDeploymentAdmin } from "../auth/bearer-auth.ts";
import { parseBody } from "../http/parse-body.ts";
import type { RegistryCache } from "../registry/registry-cache.ts";
import type { PublishVotes } from "../votes/vote-service.ts";
import type { DeadLetterConfig } from "./dead-letter-config.ts";
import {
  deadLetterParamsSchema,
  deadLetterQuerySchema,
  RAW_PREVIEW_CHARS,
  replayAllQuerySchema,
} from "./dead-letter-schemas.ts";

export interface DeadLetterRouteDeps {
  pool: Pool;
  cache: RegistryCache;
  adminToken: string;
  /** The API's own vote publisher: its retries, and 503 `nats_unavailable` when NATS is away. */
  publisher: PublishVotes;
  subjectPrefix: string;
  config: DeadLetterConfig;
}

/**
 * The writer's dead letters for the deployment admin (they hold any school's votes; a school
 * admin is refused with 403 `deployment_admin_required`): a page of them with why each is
 * there, and their replay to the votes stream (common/dead-letters.ts, which `npm run dlq`
 * uses too). A replay is recorded in the audit log like every admin change.
 */
export function deadLetterRoutes(deps: DeadLetterRouteDeps) {
  const { pool, config, subjectPrefix } = deps;
  const router = Router();
  const deployment = requireDeploymentAdmin(deps.adminToken, deps.cache);
  const pageQuery = deadLetterQuerySchema(config);
  const prefix = `${subjectPrefix}.`;
  const pollOf = (subject: string) =>
    subject.startsWith(prefix) ? subject.slice(prefix.length) : null;
  // Republished on the current prefix's subject of the same poll: the stream the writers
  // read now, even if SUBJECT_PREFIX changed since the message was dead-lettered.
  const publish: PublishMessage = (subject, data, msgId) =>
    deps.publisher.publish(pollOf(subject) ?? subject.slice(subject.indexOf(".") + 1), data, msgId);

  const answerOf = (d: DeadLetter) => ({
    id: String(d.id),
    pollId: pollOf(d.subject),
    subject: d.subject,
    stream: d.stream,
    streamSeq: d.streamSeq,
    itemIndex: d.itemIndex,
    reason: d.reason,
    error: d.error,
    deliveries: d.deliveries,
    firstSeen: d.firstSeen.toISOString(),
    lastSeen: d.lastSeen.toISOString(),
    replayedAt: d.replayedAt?.toISOString() ?? null,
    raw: d.raw.toString("utf8").slice(0, RAW_PREVIEW_CHARS),
    rawBytes: d.raw.byteLength,
  });
  const replayedOf = (r: Replayed) => ({
    id: String(r.id),
    seq: r.seq,
    duplicate: r.duplicate,
    replayedAt: r.replayedAt.toISOString(),
  });
  const subjectOf = (pollId: string | undefined) =>
    pollId === undefined ? undefined : voteSubject(subjectPrefix, pollId);

  router.get("/v1/dead-letters", deployment, async (req, res) => {
    const q = parseBody(pageQuery, req.query);
    const limit = q.limit ?? config.pageDefault;
    const page = await listDeadLetters(
      pool,
      { state: q.state, reason: q.reason, subject: subjectOf(q.pollId), after: q.after },
      limit,
    );
    res.setHeader("Cache-Control", "no-store").json({
      deadLetters: page.map(answerOf),
      next: page.length === limit ? String(page[page.length - 1]!.id) : null,
    });
  });

  router.post("/v1/dead-letters/replay", deployment, async (req, res) => {
    const q = parseBody(replayAllQuerySchema, req.query);
    const filter = { reason: q.reason, subject: subjectOf(q.pollId) };
    const replayed = await replayPending(pool, publish, filter, config.replayMax);
    const left = await listDeadLetters(pool, { ...filter, state: "pending" }, 1);
    res.json({ replayed: replayed.map(replayedOf), more: left.length > 0 });
  });

  router.post("/v1/dead-letters/:id/replay", deployment, async (req, res) => {
    const { id } = parseBody(deadLetterParamsSchema, req.params);
    const letter = await findDeadLetter(pool, id);
    if (letter === undefined)
      throw new NotFoundError("dead_letter_not_found", `no dead letter has the id ${id}`);
    res.json(replayedOf(await replayDeadLetter(pool, publish, letter)));
  });
  return router;
}
