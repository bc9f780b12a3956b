import { createHash } from "node:crypto";
import type { RegisterDocument } from "../common/register-contract.ts";

// A lesson register's published document (common/register-contract.ts), built from the
// writer's state (register_states with the completion's roster, register_people: a row for
// each person with an event only, migration 037) and, before the completion, the group's
// active members (who is still to be said). The version is a hash of the content: a rebuilt
// document found unchanged is not written again.

/** What the store reads of one register. */
export interface RegisterRows {
  pollId: string;
  schoolId: string;
  groupId: string;
  title: string;
  startsAt: Date;
  endsAt: Date;
  completedAt: Date | null;
  changedAfterCompletion: boolean;
  events: number;
  /** The completion's roster (empty before it): present unless they have a row in `people`. */
  roster: string[];
  /** register_people: each person with an event (their latest's status). */
  people: {
    personId: string;
    status: "present" | "absent" | "pending";
    afterCompletion: boolean;
  }[];
  /** The group's active members now (read for a register not completed only). */
  members: string[];
}

export interface BuiltRegister {
  version: string;
  json: string;
}

const byId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export function buildRegisterDocument(r: RegisterRows, nowMs: number): BuiltRegister {
  const completed = r.completedAt !== null;
  const absent = r.people.filter((p) => p.status === "absent").map((p) => p.personId);
  // Once completed, present: those whose latest event says so, and every member of the
  // completion's roster with no event (the completion implies them, no row is stored).
  const withEvent = new Set(r.people.map((p) => p.personId));
  const present = completed
    ? [
        ...r.people.filter((p) => p.status === "present").map((p) => p.personId),
        ...r.roster.filter((id) => !withEvent.has(id)),
      ]
    : [];
  // Before the completion nobody is present: the group's members not reported absent (and
  // anyone whose absence was taken back) are still to be said.
  const absentSet = new Set(absent);
  const pending = completed
    ? []
    : [
        ...new Set([
          ...r.members,
          ...r.people.filter((p) => p.status === "pending").map((p) => p.personId),
        ]),
      ].filter((id) => !absentSet.has(id));
  absent.sort(byId);
  present.sort(byId);
  pending.sort(byId);
  const content = {
    pollId: r.pollId,
    schoolId: r.schoolId,
    groupId: r.groupId,
    title: r.title,
    startsAt: r.startsAt.toISOString(),
    endsAt: r.endsAt.toISOString(),
    completed,
    completedAt: r.completedAt?.toISOString() ?? null,
    changedAfterCompletion: r.changedAfterCompletion,
    counts: {
      present: present.length,
      absent: absent.length,
      pending: pending.length,
      events: r.events,
    },
    lists: { present, absent, pending },
    changedAfter: r.people
      .filter((p) => p.afterCompletion)
      .map((p) => p.personId)
      .sort(byId),
  };
  const version = createHash("sha256").update(JSON.stringify(content)).digest("hex").slice(0, 16);
  const doc: RegisterDocument = { version, publishedAt: new Date(nowMs).toISOString(), ...content };
  return { version, json: JSON.stringify(doc) };
}
