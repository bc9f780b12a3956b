// The Redis contract for published lesson registers, shared by the publisher (writes,
// result-publisher/register-publisher.ts) and the read API (reads, ingest-api/registers/):
// one document per register, versioned as the attendance day documents are. The documents
// name people by id (never by name), so they are not for the read-only `results` Redis user.

import { type Env, readInt } from "./env.ts";

export interface RegisterKeys {
  /** The register's document (`RegisterDocument`), UTF-8 JSON. */
  json: string;
  /** The version alone. */
  version: string;
}

export function registerKeys(prefix: string, pollId: string): RegisterKeys {
  const base = `${prefix}register:${pollId}`;
  return { json: `${base}:json`, version: `${base}:version` };
}

/**
 * The register publisher's sentinel: written at every run, REGISTER_SENTINEL once every
 * change not yet published is in Postgres (register_change_log, register_roster_change_log:
 * a new leader reads them there), "" while documents of a full rebuild are still owed (held
 * in the leader's memory only: a new leader rebuilds). Found missing after a run wrote it,
 * Redis lost the documents (restarted empty), and every kept register is rebuilt. Named
 * for its former role, a snapshot cursor of the rosters' changes (migrations 050–055): the
 * Redis ACL keeps its key. Any other value than these two (such a snapshot, after an
 * upgrade to 056) says nothing of the roster changes not yet published, so a rebuild too.
 */
export function registerSentinelKey(prefix: string): string {
  return `${prefix}register-roster-cursor`;
}

/**
 * The register publishers' leadership epoch: each leader takes a new one (INCR) as it
 * starts leading, and writes a document only while the key still holds its own, in the
 * same script, so a deposed leader's late write cannot land over its successor's
 * (result-publisher/register-writes.ts).
 */
export function registerEpochKey(prefix: string): string {
  return `${prefix}register-epoch`;
}

/** The sentinel's value when nothing is owed but what Postgres's logs hold. */
export const REGISTER_SENTINEL = "logged";

/** Pub/sub channel: one message `{"pollId","version"}` per publication. */
export function registerChannel(prefix: string): string {
  return `${prefix}registers`;
}

/**
 * REGISTER_COMPLETION_GRACE_MS: a register not completed by its `endsAt` plus this is
 * overdue (the API's list, the publisher's gauge). One reader, so both services agree.
 */
export function readRegisterCompletionGraceMs(env: Env): number {
  return readInt(env, "REGISTER_COMPLETION_GRACE_MS", 600_000, { min: 0, max: 7 * 86_400_000 });
}

export type RegisterStatus = "present" | "absent" | "pending";

/** A register's published document: who is present, absent, not yet known. */
export interface RegisterDocument {
  version: string;
  publishedAt: string;
  pollId: string;
  schoolId: string;
  groupId: string;
  title: string;
  startsAt: string;
  endsAt: string;
  completed: boolean;
  completedAt: string | null;
  changedAfterCompletion: boolean;
  counts: { present: number; absent: number; pending: number; events: number };
  /** Person ids in id order. Before completion, `pending` is the group's active members not absent. */
  lists: { present: string[]; absent: string[]; pending: string[] };
  /** The people whose latest event was cast after the completion (corrections). */
  changedAfter: string[];
}
