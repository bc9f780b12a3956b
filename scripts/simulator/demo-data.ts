import type { SeededPoll } from "./kiosk-file.ts";

// What the seed creates in a school: four demo polls (one live, one after_close, one
// check-in, one with one vote per voter), the same names in every school, and how the
// seeded schools are named and spread over time zones. The check-in poll is one as report
// 10 (attendance) defines it: people check in every day, so it cannot be
// one-vote-per-voter (a voter could then be present only once). The simulator's "voters
// who try twice" (409 already_voted) happen on the one-vote poll, the council election.

export interface PollDefinition
  extends Omit<SeededPoll, "id" | "schoolId" | "voters" | "opensAt" | "closesAt"> {
  /** closesAt relative to the seed time (ms), rounded up to the hour; null = never closes. */
  closesInMs: number | null;
  /** In a school with a roster, only its people vote (`voters: "roster"`). */
  rosterOnly: boolean;
}

const DAY_MS = 86_400_000;

/**
 * The time zones are the default school's demo (`--schools 0`), as before schools; in a
 * seeded school every poll takes the school's time zone.
 */
export const DEMO_POLLS: readonly PollDefinition[] = [
  {
    slug: "demo-lunch",
    title: "What should be on tomorrow's lunch menu?",
    timeZone: "Europe/London",
    resultsVisibility: "live",
    oneVotePerVoter: false,
    rosterOnly: false,
    closesInMs: null,
    kioskShare: 6,
    options: [
      { id: "pizza", label: "Pizza", weight: 9 },
      { id: "pasta", label: "Pasta bake", weight: 6 },
      { id: "curry", label: "Vegetable curry", weight: 5 },
      { id: "salad", label: "Salad bar", weight: 3 },
      { id: "soup", label: "Soup and bread", weight: 2 },
    ],
  },
  {
    slug: "demo-fair-feedback",
    title: "How was the science fair?",
    timeZone: "America/New_York",
    resultsVisibility: "after_close",
    oneVotePerVoter: false,
    rosterOnly: false,
    closesInMs: 30 * DAY_MS,
    kioskShare: 1,
    options: [
      { id: "loved-it", label: "Loved it", weight: 5 },
      { id: "liked-it", label: "Liked it", weight: 7 },
      { id: "so-so", label: "So-so", weight: 3 },
      { id: "not-for-me", label: "Not for me", weight: 1 },
    ],
  },
  {
    slug: "demo-checkin",
    title: "Morning check-in",
    timeZone: "Asia/Tokyo",
    resultsVisibility: "live",
    oneVotePerVoter: false,
    rosterOnly: true,
    checkIn: true,
    closesInMs: null,
    kioskShare: 3,
    options: [
      { id: "on-time", label: "On time", weight: 20 },
      { id: "late", label: "Late", weight: 3 },
      { id: "early-pickup", label: "Leaving early today", weight: 1 },
    ],
  },
  {
    slug: "demo-council",
    title: "Student council election",
    timeZone: "Europe/London",
    resultsVisibility: "after_close",
    oneVotePerVoter: true,
    rosterOnly: true,
    closesInMs: 14 * DAY_MS,
    kioskShare: 3,
    options: [
      { id: "amara", label: "Amara Okafor", weight: 6 },
      { id: "jonas", label: "Jonas Berg", weight: 5 },
      { id: "priya", label: "Priya Nair", weight: 4 },
    ],
  },
];

export const KIOSK_SLUG_PREFIX = "demo-kiosk-";
const KIOSK_PLACES = ["Main hall", "Canteen", "Library", "Gym", "Front desk", "Science wing"];

/** Kiosk n (1-based, numbered over all schools): its name in its school and its display name. */
export function demoKiosk(n: number): { slug: string; name: string } {
  return {
    slug: `${KIOSK_SLUG_PREFIX}${String(n).padStart(4, "0")}`,
    name: `Kiosk ${n} (${KIOSK_PLACES[n % KIOSK_PLACES.length]})`,
  };
}

// Spread around the world: at any hour some schools are at their busiest and some asleep.
const SCHOOL_TIME_ZONES = [
  "Europe/London",
  "America/New_York",
  "Asia/Tokyo",
  "Europe/Berlin",
  "America/Los_Angeles",
  "Australia/Sydney",
  "Asia/Kolkata",
  "America/Sao_Paulo",
  "Africa/Lagos",
  "Asia/Singapore",
  "Europe/Madrid",
  "America/Chicago",
  "Pacific/Auckland",
  "Asia/Dubai",
  "Africa/Nairobi",
  "America/Mexico_City",
];

/** School n (1-based) of a seed: `school-0001`, "School 1", its time zone. */
export function demoSchool(n: number): { id: string; name: string; timeZone: string } {
  return {
    id: `school-${String(n).padStart(4, "0")}`,
    name: `School ${n}`,
    timeZone: SCHOOL_TIME_ZONES[(n - 1) % SCHOOL_TIME_ZONES.length]!,
  };
}
