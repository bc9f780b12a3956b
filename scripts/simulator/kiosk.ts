import { v7 as uuidv7 } from "uuid";
import type { Outbox } from "../../kiosk-client/outbox.ts";
import type { SeededKiosk, SeededPoll, SeededSchool } from "./kiosk-file.ts";
import { hourFactor, localHour, WeightedPicker } from "./pacing.ts";
import { personId, type RosterScheme, unknownPersonId } from "./roster.ts";

// How simulated kiosks behave: each sits at one poll of its school (placed by the polls'
// kiosk shares), has its own activity level and token, picks options with the poll's
// popularity mix, names people of its school's roster as voters, and is busier at its
// local lunch time. Some go offline for a while, queue what is cast meanwhile with the
// real castAt, and send the queue as batches when they are back.

export interface VoteBody {
  eventId: string;
  pollId: string;
  optionId: string;
  castAt: string;
  voterId?: string;
}

export interface SimPoll {
  poll: SeededPoll;
  options: WeightedPicker;
  /**
   * Share of votes carrying a voterId: 1 on a roster poll (it takes no vote without one);
   * with --voters, 1 on one-vote-per-voter and check-in polls and 0.3 on the others; else 0.
   */
  voterShare: number;
  /** A check-in poll (report 10): its voters come back, again and again. */
  checkIn: boolean;
  /** Where its voter ids come from: its school's roster, or the free-text population. */
  voters: Voters | undefined;
  /** Its school's roster, when it has one (the source of deliberately unknown ids too). */
  roster: RosterScheme | null;
}

export interface SimKiosk {
  id: string;
  index: number;
  /** Request headers (its own bearer token), built once. */
  headers: Record<string, string>;
  poll: SimPoll;
  /** Relative activity (some kiosks are in busier places). */
  activity: number;
  /** Which API URL this kiosk talks to (several = a load balancer's spread). */
  urlIndex: number;
  /** Offline from/until this elapsed time (ms, from may be negative: offline before the run). */
  offline: { fromMs: number; untilMs: number } | undefined;
  /** Votes waiting to be sent (offline queue, or a --batch buffer). */
  queue: VoteBody[];
  firstQueuedAt: number;
  sending: boolean;
  /** Offline kiosks: every vote goes through the kiosk-client outbox (see kiosk-outbox.ts). */
  outbox: Outbox | undefined;
  /** Votes in the outbox not yet answered. */
  outboxPending: number;
}

/**
 * The file's open polls as the simulator votes in them. Votes that carry a voterId name a
 * person of the poll's school when the school has a roster (people 1 … count of the seed's
 * id scheme), else one of the free-text population `voter-<i>` of --voters. A roster poll
 * of a school the file has no roster for cannot be voted in: skipped, and said why.
 */
export function simPolls(
  file: { schools: SeededSchool[]; polls: SeededPoll[] },
  o: { voters: number; nowMs: number },
): { polls: SimPoll[]; skipped: string[] } {
  const free = o.voters > 0 ? new Voters(o.voters, (i) => `voter-${i}`) : undefined;
  const rosters = new Map<string, { scheme: RosterScheme; voters: Voters }>();
  for (const school of file.schools)
    if (school.people && school.people.count > 0) {
      const scheme = school.people;
      rosters.set(school.id, {
        scheme,
        voters: new Voters(scheme.count, (i) => personId(scheme, i + 1)),
      });
    }
  const skipped: string[] = [];
  const polls: SimPoll[] = [];
  for (const poll of file.polls) {
    if (poll.closesAt !== null && Date.parse(poll.closesAt) <= o.nowMs + 60_000) continue;
    if (poll.opensAt !== null && Date.parse(poll.opensAt) > o.nowMs) continue;
    const roster = rosters.get(poll.schoolId);
    if (poll.voters === "roster" && !roster) {
      skipped.push(
        `poll ${poll.id} takes votes from the roster of school ${poll.schoolId} only, and the kiosk file has no roster for it`,
      );
      continue;
    }
    const checkIn = poll.checkIn === true && !poll.oneVotePerVoter;
    const voters = roster?.voters ?? free;
    polls.push({
      poll,
      options: new WeightedPicker(poll.options.map((opt) => opt.weight)),
      voterShare:
        poll.voters === "roster"
          ? 1
          : o.voters === 0 || !voters
            ? 0
            : poll.oneVotePerVoter || checkIn
              ? 1
              : 0.3,
      checkIn,
      voters,
      roster: roster?.scheme ?? null,
    });
  }
  return { polls, skipped };
}

/**
 * Places each kiosk at one of its school's polls by the polls' kiosk shares,
 * deterministically; a kiosk whose school has no open poll is left out.
 */
export function placeKiosks(
  kiosks: SeededKiosk[],
  polls: SimPoll[],
  urls: number,
  rand: () => number,
): SimKiosk[] {
  const pollsOf = new Map<string, SimPoll[]>();
  for (const p of polls) pollsOf.set(p.poll.schoolId, [...(pollsOf.get(p.poll.schoolId) ?? []), p]);
  const bySchool = new Map(
    [...pollsOf].map(([schoolId, list]) => [
      schoolId,
      { polls: list, placement: new WeightedPicker(list.map((p) => p.poll.kioskShare)) },
    ]),
  );
  const placed: SimKiosk[] = [];
  kiosks.forEach((k, index) => {
    const school = bySchool.get(k.schoolId);
    if (!school) return;
    placed.push({
      id: k.id,
      index: placed.length,
      headers: { authorization: `Bearer ${k.token}`, "content-type": "application/json" },
      // Spread by the kiosk's place in the whole fleet rather than randomly: a small run
      // still has every poll, and kiosks numbered round robin over the schools give each
      // school a mix.
      poll: school.polls[school.placement.pick((index + 0.5) / kiosks.length)]!,
      activity: 0.3 + 1.7 * rand() ** 2,
      urlIndex: placed.length % urls,
      offline: undefined,
      queue: [],
      firstQueuedAt: 0,
      sending: false,
      outbox: undefined,
      outboxPending: 0,
    });
  });
  return placed;
}

/** Kiosk weights for picking who casts the next vote: activity × local time of day. */
export function kioskWeights(kiosks: SimKiosk[], nowMs: number, timeOfDay: boolean): number[] {
  const factors = new Map<string, number>();
  return kiosks.map((k) => {
    if (!timeOfDay) return k.activity;
    const tz = k.poll.poll.timeZone;
    let f = factors.get(tz);
    if (f === undefined) {
      // Never below a quarter: a poll in a sleeping time zone still gets some traffic.
      f = Math.max(0.25, hourFactor(localHour(tz, nowMs)));
      factors.set(tz, f);
    }
    return k.activity * f;
  });
}

const RECENT_PER_POLL = 4096;

/**
 * Voter ids from a population of N (a school's roster, or free text): a fresh voter each
 * time (a permutation walked from a random start, so runs rarely reuse each other's
 * voters), now and then one who has already voted in a one-vote-per-voter poll trying
 * again there, and for check-ins anyone of the population (people come back).
 */
export class Voters {
  readonly #n: number;
  readonly #idOf: (i: number) => string;
  readonly #step: number;
  #next: number;
  /** Per one-vote-per-voter poll: voters whose vote there got a 202 (a ring of the latest). */
  readonly #recent = new Map<string, { ids: string[]; at: number }>();

  constructor(n: number, idOf: (i: number) => string) {
    this.#n = n;
    this.#idOf = idOf;
    let step = 1_000_003;
    while (n % step === 0) step += 2;
    this.#step = step;
    // Not from the seeded generator: runs with the same --seed still use other voters.
    this.#next = Math.floor(Math.random() * n);
  }

  fresh(): string {
    const i = this.#next;
    this.#next = (this.#next + 1) % this.#n;
    return this.#idOf((i * this.#step) % this.#n);
  }

  /** Anyone of the population: a check-in by someone who may have checked in before. */
  anyone(rand: () => number): string {
    return this.#idOf(Math.floor(rand() * this.#n));
  }

  /** A voter whose vote in this poll got a 202 recently, if any. */
  again(pollId: string, rand: () => number): string | undefined {
    const recent = this.#recent.get(pollId);
    if (!recent) return undefined;
    return recent.ids[Math.floor(rand() * recent.ids.length)];
  }

  /**
   * Remembers a voter whose vote in a one-vote-per-voter poll got a 202 (call it for no
   * other poll: a voter of another poll trying "again" here would be accepted).
   */
  voted(pollId: string, voterId: string): void {
    let recent = this.#recent.get(pollId);
    if (!recent) {
      recent = { ids: [], at: 0 };
      this.#recent.set(pollId, recent);
    }
    if (recent.ids.length < RECENT_PER_POLL) recent.ids.push(voterId);
    else {
      recent.ids[recent.at] = voterId;
      recent.at = (recent.at + 1) % RECENT_PER_POLL;
    }
  }
}

/** How votes name their voters: the share of second tries, of deliberately unknown ids. */
export interface VoterMix {
  /** On one-vote-per-voter polls, share of votes by a voter who already voted there. */
  twice: number;
  /** On roster polls, share of votes naming no one on the roster (422 unknown_person expected). */
  unknown: number;
}

export function makeVote(
  kiosk: SimKiosk,
  castAtMs: number,
  rand: () => number,
  mix: VoterMix,
): VoteBody {
  const sp = kiosk.poll;
  const option = sp.poll.options[sp.options.pick(rand())]!;
  const vote: VoteBody = {
    eventId: uuidv7(),
    pollId: sp.poll.id,
    optionId: option.id,
    castAt: new Date(castAtMs).toISOString(),
  };
  const voters = sp.voters;
  if (voters && rand() < sp.voterShare) {
    if (sp.roster && sp.poll.voters === "roster" && mix.unknown > 0 && rand() < mix.unknown)
      vote.voterId = unknownPersonId(sp.roster, rand);
    else if (sp.poll.oneVotePerVoter) {
      const again = rand() < mix.twice ? voters.again(sp.poll.id, rand) : undefined;
      vote.voterId = again ?? voters.fresh();
    } else vote.voterId = sp.checkIn ? voters.anyone(rand) : voters.fresh();
  }
  return vote;
}
