import { v7 as uuidv7 } from "uuid";
import type { StoredVote } from "../../common/vote.ts";
import { prng } from "../../harness/seeded-random.ts";

// Deterministic, realistic vote data for benchmarks: polls with options of uneven
// popularity, kiosks of uneven activity, cast times following a day's curve (busy at
// lunch and late afternoon), received a little after they were cast, UUIDv7 ids.

export interface VoteDataShape {
  votes: number;
  polls: number;
  optionsPerPoll: number;
  kiosks: number;
  /** Cast times spread over this many days ending now. */
  days: number;
  /** Share of votes that carry a voter id. */
  voterShare: number;
  seed?: number;
}

export function pollIds(shape: VoteDataShape): string[] {
  return Array.from({ length: shape.polls }, (_, i) => `poll-${String(i + 1).padStart(2, "0")}`);
}

export function optionIds(shape: VoteDataShape): string[] {
  return Array.from({ length: shape.optionsPerPoll }, (_, i) => `opt-${i + 1}`);
}

// Relative activity by hour of day (kiosks in schools and offices).
const HOURLY = [1, 1, 1, 1, 1, 2, 4, 8, 14, 16, 15, 18, 24, 20, 14, 15, 18, 16, 10, 7, 5, 3, 2, 1];
const HOURLY_TOTAL = HOURLY.reduce((a, b) => a + b, 0);

function pickHour(r: number): number {
  let acc = 0;
  for (let h = 0; h < 24; h++) {
    acc += HOURLY[h]! / HOURLY_TOTAL;
    if (r < acc) return h;
  }
  return 23;
}

/** Generates votes sorted by receive time (as an ingest API would publish them). */
export function generateVotes(shape: VoteDataShape, nowMs = Date.now()): StoredVote[] {
  const rand = prng(shape.seed ?? 42);
  const polls = pollIds(shape);
  const options = optionIds(shape);
  const dayStart = Math.floor(nowMs / 86_400_000) * 86_400_000 - (shape.days - 1) * 86_400_000;
  const times: number[] = new Array(shape.votes);
  for (let i = 0; i < shape.votes; i++) {
    const day = Math.floor(rand() * shape.days);
    const t =
      dayStart + day * 86_400_000 + pickHour(rand()) * 3_600_000 + Math.floor(rand() * 3_600_000);
    times[i] = Math.min(t, nowMs - 1_000);
  }
  times.sort((a, b) => a - b);
  const votes: StoredVote[] = new Array(shape.votes);
  for (let i = 0; i < shape.votes; i++) {
    const castAtMs = times[i]!;
    const receivedAtMs = castAtMs + Math.floor(rand() * 800);
    // Skewed choices: the first options and the first kiosks are the popular ones.
    const option = options[Math.floor(rand() ** 1.6 * options.length)]!;
    const vote: StoredVote = {
      eventId: uuidv7({ msecs: receivedAtMs }),
      pollId: polls[Math.floor(rand() * polls.length)]!,
      optionId: option,
      kioskId: `kiosk-${Math.floor(rand() ** 1.3 * shape.kiosks) + 1}`,
      castAt: new Date(castAtMs).toISOString(),
      receivedAt: new Date(receivedAtMs).toISOString(),
    };
    if (rand() < shape.voterShare) vote.voterId = `voter-${Math.floor(rand() * shape.votes)}`;
    votes[i] = vote;
  }
  return votes;
}
