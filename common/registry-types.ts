// The registry as every service sees it (API responses, the ingest cache, the publisher).

export type ResultsVisibility = "live" | "after_close";

export interface PollOption {
  id: string;
  label: string;
  position: number;
}

/** Who may vote in a poll: any voter id, or only the active people of its school's roster. */
export type PollVoters = "any" | "roster";

/**
 * A poll's kind: a `vote` (its own options), or an `attendance` register (options `in` and
 * `out`, voters the school's roster, events may carry a temperature), or a lesson `register`
 * (one group's lesson: options `absent` and `present`, completed by its teacher;
 * docs/registers.md).
 */
export type PollKind = "vote" | "attendance" | "register";

/** The options every attendance register has, in this order. */
export const ATTENDANCE_OPTIONS = [
  { id: "in", label: "Check in" },
  { id: "out", label: "Check out" },
] as const;

/** The options every lesson register has: an absence, and its taking back. */
export const REGISTER_OPTIONS = [
  { id: "absent", label: "Absent" },
  { id: "present", label: "Present" },
] as const;

export interface Poll {
  /** Globally unique: what every URL, NATS subject and Redis key of the poll takes. */
  id: string;
  schoolId: string;
  /** The name the school gave it, unique within the school (in `default`: the id). */
  slug: string;
  kind: PollKind;
  /** The groups an attendance register is for; null = the whole school. A lesson register's one group. */
  groupIds: string[] | null;
  /** A lesson register's group, its start and its end (registers only). */
  groupId?: string;
  startsAt?: string;
  endsAt?: string;
  title: string;
  timeZone: string;
  opensAt: string | null;
  closesAt: string | null;
  resultsVisibility: ResultsVisibility;
  oneVotePerVoter: boolean;
  /** The pause a kiosk page keeps between two votes (0 = none); the API does not enforce it. */
  voteCooldownMs: number;
  voters: PollVoters;
  archived: boolean;
  archivedAt: string | null;
  createdAt: string;
  updatedAt: string;
  options: PollOption[];
}

export interface Kiosk {
  id: string;
  schoolId: string;
  slug: string;
  name: string;
  /** The polls this kiosk may vote in; null = any poll. */
  pollIds: string[] | null;
  createdAt: string;
  revokedAt: string | null;
}

/** The unit of the deployment: its polls, kiosks, people and admins are its own. */
export interface School {
  id: string;
  name: string;
  /** The time zone a new poll of the school takes when its create names none, and its days. */
  timeZone: string;
  attendance: AttendanceSettings;
  createdAt: string;
  updatedAt: string;
}

/** A school's presence rules (migration 019; docs/attendance.md). Times are school-local. */
export interface AttendanceSettings {
  /** "HH:MM": a check-in still open then is closed there (`autoClosed`). */
  dayEndsAt: string;
  minPresentMinutes: number;
  /** "HH:MM" or null: a first check-in after it is late. */
  lateAfter: string | null;
  minPresentDaysPct: number;
  /** ISO weekdays (1 = Monday … 7 = Sunday) the school is open. */
  weekdays: number[];
  feverThresholdC: number;
  /** Temperatures outside [min, max] are refused (422). */
  temperatureMinC: number;
  temperatureMaxC: number;
  /** Whether a counts-only day document (no person) is public, for wall screens. */
  publicCounts: boolean;
}

/** The school everything that predates schools belongs to (migration 017). */
export const DEFAULT_SCHOOL_ID = "default";
