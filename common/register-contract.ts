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
 * The register publisher's cursor (a snapshot, result-publisher/change-cursor.ts) of the
 * rosters' changes: a new leader reads the changes since it (the registers' own come from
 * register_change_log, migration 050). Also its sentinel: gone while documents were
 * published, Redis lost them (restarted empty), and every kept register is rebuilt. Named
 * anew by 050 (it was `register-cursor`, a cursor of every change): a publisher upgraded
 * from before finds none and rebuilds the kept window once, since which register states
 * its predecessor had not published is known only from that old cursor.
 */
export function registerCursorKey(prefix: string): string {
  return `${prefix}register-roster-cursor`;
}

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
