// The registry as every service sees it (API responses, the ingest cache, the publisher).

export type ResultsVisibility = "live" | "after_close";

export interface PollOption {
  id: string;
  label: string;
  position: number;
}

/** Who may vote in a poll: any voter id, or only the active people of its school's roster. */
export type PollVoters = "any" | "roster";

export interface Poll {
  /** Globally unique: what every URL, NATS subject and Redis key of the poll takes. */
  id: string;
  schoolId: string;
  /** The name the school gave it, unique within the school (in `default`: the id). */
  slug: string;
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
  /** The time zone a new poll of the school takes when its create names none. */
  timeZone: string;
  createdAt: string;
  updatedAt: string;
}

/** The school everything that predates schools belongs to (migration 017). */
export const DEFAULT_SCHOOL_ID = "default";
