// The registry as every service sees it (API responses, the ingest cache, the publisher).

export type ResultsVisibility = "live" | "after_close";

export interface PollOption {
  id: string;
  label: string;
  position: number;
}

export interface Poll {
  id: string;
  title: string;
  timeZone: string;
  opensAt: string | null;
  closesAt: string | null;
  resultsVisibility: ResultsVisibility;
  oneVotePerVoter: boolean;
  /** The pause a kiosk page keeps between two votes (0 = none); the API does not enforce it. */
  voteCooldownMs: number;
  archived: boolean;
  archivedAt: string | null;
  createdAt: string;
  updatedAt: string;
  options: PollOption[];
}

export interface Kiosk {
  id: string;
  name: string;
  /** The polls this kiosk may vote in; null = any poll. */
  pollIds: string[] | null;
  createdAt: string;
  revokedAt: string | null;
}
