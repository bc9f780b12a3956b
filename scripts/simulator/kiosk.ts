import { v7 as uuidv7 } from "uuid";
import type { Outbox } from "../../kiosk-client/outbox.ts";
import type { SeededKiosk, SeededPoll } from "./kiosk-file.ts";
import { hourFactor, localHour, WeightedPicker } from "./pacing.ts";

// How simulated kiosks behave: each sits at one poll (placed by the polls' kiosk shares),
// has its own activity level and token, picks options with the poll's popularity mix,
// and is busier at its local lunch time. Some go offline for a while, queue what is cast
// meanwhile with the real castAt, and send the queue as batches when they are back.

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
  /** Share of votes carrying a voterId (1 on one-vote-per-voter and check-in polls when voters are on). */
  voterShare: number;
  /** A check-in poll (report 10): its voters come back, again and again. */
  checkIn: boolean;
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

export function simPolls(polls: SeededPoll[], votersOn: boolean, nowMs: number): SimPoll[] {
  return polls
    .filter((p) => p.closesAt === null || Date.parse(p.closesAt) > nowMs + 60_000)
    .filter((p) => p.opensAt === null || Date.parse(p.opensAt) <= nowMs)
    .map((poll) => {
      const checkIn = poll.checkIn === true && !poll.oneVotePerVoter;
      return {
        poll,
        options: new WeightedPicker(poll.options.map((o) => o.weight)),
        voterShare: !votersOn ? 0 : poll.oneVotePerVoter || checkIn ? 1 : 0.3,
        checkIn,
      };
    });
}

/** Places kiosks at polls by the polls' kiosk shares, deterministically. */
export function placeKiosks(
  kiosks: SeededKiosk[],
  polls: SimPoll[],
  urls: number,
  rand: () => number,
): SimKiosk[] {
  const placement = new WeightedPicker(polls.map((p) => p.poll.kioskShare));
  return kiosks.map((k, index) => ({
    id: k.id,
    index,
    headers: { authorization: `Bearer ${k.token}`, "content-type": "application/json" },
    // Spread evenly rather than randomly: a small run still has every poll.
    poll: polls[placement.pick((index + 0.5) / kiosks.length)]!,
    activity: 0.3 + 1.7 * rand() ** 2,
    urlIndex: index % urls,
    offline: undefined,
    queue: [],
    firstQueuedAt: 0,
    sending: false,
    outbox: undefined,
    outboxPending: 0,
  }));
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
 * Voter ids from a population of N: a fresh voter each time (a permutation walked from a
 * random start, so runs rarely reuse each other's voters), now and then one who has
 * already voted in a one-vote-per-voter poll trying again there, and for check-ins anyone
 * of the population (people come back).
 */
export class Voters {
  readonly #n: number;
  readonly #step: number;
  #next: number;
  /** Per one-vote-per-voter poll: voters whose vote there got a 202 (a ring of the latest). */
  readonly #recent = new Map<string, { ids: string[]; at: number }>();

  constructor(n: number) {
    this.#n = n;
    let step = 1_000_003;
    while (n % step === 0) step += 2;
    this.#step = step;
    // Not from the seeded generator: runs with the same --seed still use other voters.
    this.#next = Math.floor(Math.random() * n);
  }

  fresh(): string {
    const i = this.#next;
    this.#next = (this.#next + 1) % this.#n;
    return `voter-${(i * this.#step) % this.#n}`;
  }

  /** Anyone of the population: a check-in by someone who may have checked in before. */
  anyone(rand: () => number): string {
    return `voter-${Math.floor(rand() * this.#n)}`;
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

export function makeVote(
  kiosk: SimKiosk,
  castAtMs: number,
  rand: () => number,
  voters: Voters | undefined,
  twiceShare: number,
): VoteBody {
  const sp = kiosk.poll;
  const option = sp.poll.options[sp.options.pick(rand())]!;
  const vote: VoteBody = {
    eventId: uuidv7(),
    pollId: sp.poll.id,
    optionId: option.id,
    castAt: new Date(castAtMs).toISOString(),
  };
  if (voters && rand() < sp.voterShare) {
    if (sp.poll.oneVotePerVoter) {
      const again = rand() < twiceShare ? voters.again(sp.poll.id, rand) : undefined;
      vote.voterId = again ?? voters.fresh();
    } else vote.voterId = sp.checkIn ? voters.anyone(rand) : voters.fresh();
  }
  return vote;
}
