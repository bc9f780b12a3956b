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
  archived: boolean;
  archivedAt: string | null;
  createdAt: string;
  updatedAt: string;
  options: PollOption[];
}

export interface Kiosk {
  id: string;
  name: string;
  createdAt: string;
  revokedAt: string | null;
}
