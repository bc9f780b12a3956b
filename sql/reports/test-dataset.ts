import type { Pool } from "../../common/postgres.ts";
import type { PollOption, Poll as RegistryPoll } from "../../common/registry-types.ts";
import { BUCKET_MS, rollupsFromVotes } from "../../common/rollup-buckets.ts";

// The hand-built data set the report tests run on (reports.test.ts). Small enough to check
// by hand, with the cases the reports must get right:
// - two time zones: `lunch` and `board` in Europe/London, `checkin` in America/New_York;
// - DST days: London springs forward on 2026-03-29 (a 23-hour day, no local 01:00) and
//   falls back on 2026-10-25 (25 hours, local 01:00 twice); New York falls back 2026-11-01;
// - votes whose local day differs from their UTC day (23:30 UTC in BST is 00:30 next day);
// - a late kiosk (k-late: received three hours after cast), a vote stored one second after
//   its bucket was published, and one stored two seconds before;
// - a bursty kiosk (k-south: 2 votes per bucket, then 40 for one option in one bucket);
// - a vote for an option no longer listed (curry) and an option nobody chose (soup);
// - a duplicate the writer dropped, a voter voting twice, two dead letters;
// - a check-in poll: voters checking in over five days, one twice a day, one anonymous vote;
// - a poll that never closes (`ideas`), so its last vote ends the silences window, and that
//   last vote is the only one of its kiosk (k-west).

/** A poll of the dataset: the registry's fields the reports read. */
export type Poll = Pick<
  RegistryPoll,
  "id" | "title" | "timeZone" | "opensAt" | "closesAt" | "oneVotePerVoter"
> & { options: Omit<PollOption, "position">[] };

export interface Vote {
  eventId: string;
  pollId: string;
  optionId: string;
  kioskId: string;
  voterId: string | null;
  castAt: number;
  receivedAt: number;
  storedAt: number;
  streamSeq: number;
}

export interface Rejected {
  eventId: string;
  pollId: string;
  optionId: string;
  kioskId: string;
  voterId: string;
  castAt: number;
  rejectedAt: number;
  reason: string;
}

export interface Duplicate {
  pollId: string;
  kioskId: string;
  day: string;
  count: number;
}

/** A vote that reused an eventId stored in its poll for another kiosk, option or voter. */
export interface Conflict {
  eventId: string;
  pollId: string;
  optionId: string;
  kioskId: string;
  voterId: string | null;
  castAt: number;
  recordedAt: number;
}

export interface DeadLetter {
  streamSeq: number;
  itemIndex: number;
  subject: string;
  raw: string;
  error: string;
  firstSeen: number;
}

export interface Dataset {
  polls: Poll[];
  kiosks: { id: string; name: string }[];
  votes: Vote[];
  rejected: Rejected[];
  duplicates: Duplicate[];
  conflicts: Conflict[];
  deadLetters: DeadLetter[];
}

const ms = (iso: string) => Date.parse(iso);

export function buildDataset(): Dataset {
  const votes: Vote[] = [];
  let seq = 0;
  const add = (
    pollId: string,
    optionId: string,
    kioskId: string,
    castAt: string | number,
    o: { voter?: string; receivedAt?: string; storedAt?: string } = {},
  ) => {
    seq++;
    const cast = typeof castAt === "number" ? castAt : ms(castAt);
    const received = o.receivedAt === undefined ? cast + 500 : ms(o.receivedAt);
    const stored = o.storedAt === undefined ? received + 1_000 : ms(o.storedAt);
    votes.push({
      eventId: `00000000-0000-7000-8000-${seq.toString(16).padStart(12, "0")}`,
      pollId,
      optionId,
      kioskId,
      voterId: o.voter ?? null,
      castAt: cast,
      receivedAt: received,
      storedAt: stored,
      streamSeq: seq,
    });
  };

  // --- lunch (Europe/London): 85 votes, pizza 61, salad 23, curry 1, soup 0 -------------
  // 2026-03-28, GMT (local = UTC)
  add("lunch", "pizza", "k-north", "2026-03-28T12:00:10Z");
  add("lunch", "salad", "k-north", "2026-03-28T12:05:00Z");
  add("lunch", "salad", "k-east", "2026-03-28T12:02:00Z");
  add("lunch", "pizza", "k-north", "2026-03-28T12:15:00Z");
  add("lunch", "pizza", "k-north", "2026-03-28T13:20:00Z");
  add("lunch", "pizza", "k-east", "2026-03-28T23:30:00Z");
  // 2026-03-29: clocks go forward at 01:00 UTC (02:00 BST); the local day ends 23:00 UTC
  add("lunch", "salad", "k-east", "2026-03-29T00:30:00Z");
  // k-south: two votes in each of 14 buckets (09:00 .. 11:10 UTC) ...
  for (let b = 0; b < 14; b++) {
    const start = ms("2026-03-29T09:00:00Z") + b * BUCKET_MS;
    add("lunch", "pizza", "k-south", start + 60_000);
    add("lunch", "salad", "k-south", start + 360_000);
  }
  // ... then a stuck button: 40 pizza votes in the 11:20 UTC bucket, 10 s apart
  for (let i = 0; i < 40; i++)
    add("lunch", "pizza", "k-south", ms("2026-03-29T11:20:05Z") + i * 10_000);
  // k-late: cast in the morning, received three hours later
  add("lunch", "pizza", "k-late", "2026-03-29T10:00:00Z", { receivedAt: "2026-03-29T13:00:00Z" });
  add("lunch", "salad", "k-late", "2026-03-29T10:03:00Z", { receivedAt: "2026-03-29T13:00:01Z" });
  add("lunch", "salad", "k-late", "2026-03-29T10:31:00Z", { receivedAt: "2026-03-29T13:00:02Z" });
  // stored 2 s before its bucket (10:00) was published (10:10:05) / 1 s after (10:10 -> 10:20:05)
  add("lunch", "salad", "k-north", "2026-03-29T10:09:58Z", {
    receivedAt: "2026-03-29T10:09:59Z",
    storedAt: "2026-03-29T10:10:03Z",
  });
  add("lunch", "pizza", "k-north", "2026-03-29T10:19:59Z", {
    receivedAt: "2026-03-29T10:20:00.500Z",
    storedAt: "2026-03-29T10:20:06Z",
  });
  add("lunch", "curry", "k-east", "2026-03-29T14:00:00Z");
  // 23:30 UTC on the 29th is 00:30 BST on the 30th
  add("lunch", "salad", "k-north", "2026-03-29T23:30:00Z");
  // 2026-03-30, BST
  add("lunch", "pizza", "k-north", "2026-03-30T08:00:00Z");
  add("lunch", "salad", "k-north", "2026-03-30T08:10:00Z");
  add("lunch", "salad", "k-east", "2026-03-30T16:59:59Z");

  // --- board (Europe/London, one vote per voter): clocks go back 2026-10-25 01:00 UTC --
  add("board", "bob", "k-hall", "2026-10-24T23:30:00Z", { voter: "v-5" }); // 00:30 BST, the 25th
  add("board", "alice", "k-hall", "2026-10-25T00:15:00Z", { voter: "v-1" }); // 01:15 BST
  add("board", "bob", "k-hall", "2026-10-25T00:45:00Z", { voter: "v-2" }); // 01:45 BST
  add("board", "alice", "k-hall", "2026-10-25T01:15:00Z", { voter: "v-3" }); // 01:15 GMT
  add("board", "alice", "k-hall", "2026-10-25T01:20:00Z", { voter: "v-4" }); // 01:20 GMT
  add("board", "bob", "k-hall", "2026-10-25T10:00:00Z", { voter: "v-9" });
  add("board", "alice", "k-hall", "2026-10-25T23:30:00Z", { voter: "v-6" }); // 23:30 GMT

  // --- checkin (America/New_York): EDT (-4) until 2026-11-01 06:00 UTC, then EST (-5) ---
  const edt = (day: string, time: string) => `2026-${day}T${time}-04:00`;
  const est = (day: string, time: string) => `2026-${day}T${time}-05:00`;
  const checkIns: [string, string][] = [
    ["v1", edt("10-29", "08:00:00")],
    ["v1", edt("10-30", "08:00:00")],
    ["v1", edt("10-31", "08:00:00")],
    ["v1", est("11-01", "08:00:00")],
    ["v1", est("11-02", "08:00:00")],
    ["v2", edt("10-29", "08:05:00")],
    ["v2", edt("10-30", "08:05:00")],
    ["v2", est("11-01", "23:30:00")], // 04:30 UTC on the 2nd
    ["v2", est("11-02", "08:05:00")],
    ["v3", edt("10-29", "23:30:00")], // 03:30 UTC on the 30th
    ["v3", edt("10-30", "08:10:00")],
    ["v3", edt("10-31", "08:10:00")],
    ["v4", est("11-02", "08:15:00")],
    ["v4", est("11-02", "12:00:00")], // twice on one day: present once
  ];
  for (const [voter, at] of checkIns) add("checkin", "here", "k-gate", at, { voter });
  add("checkin", "here", "k-gate", edt("10-30", "09:00:00")); // anonymous: not a check-in

  // --- ideas (Europe/London, GMT in January): no closes_at; k-west casts the last vote ----
  add("ideas", "garden", "k-north", "2026-01-15T09:00:00Z");
  add("ideas", "library", "k-east", "2026-01-15T09:30:00Z");
  add("ideas", "garden", "k-north", "2026-01-15T12:00:00Z");
  add("ideas", "library", "k-west", "2026-01-15T16:00:00Z");

  return {
    polls: [
      {
        id: "lunch",
        title: "Lunch choice",
        timeZone: "Europe/London",
        opensAt: "2026-03-28T08:00:00Z",
        closesAt: "2026-03-30T17:00:00Z",
        oneVotePerVoter: false,
        options: [
          { id: "pizza", label: "Pizza" },
          { id: "salad", label: "Salad, green" },
          { id: "soup", label: "Soup" },
        ],
      },
      {
        id: "board",
        title: "Board election",
        timeZone: "Europe/London",
        opensAt: "2026-10-24T23:00:00Z",
        closesAt: "2026-10-26T00:00:00Z",
        oneVotePerVoter: true,
        options: [
          { id: "alice", label: "Alice" },
          { id: "bob", label: "Bob" },
        ],
      },
      {
        id: "checkin",
        title: "Morning check-in",
        timeZone: "America/New_York",
        opensAt: "2026-10-29T04:00:00Z",
        closesAt: "2026-11-03T05:00:00Z",
        oneVotePerVoter: false,
        options: [{ id: "here", label: "Here" }],
      },
      {
        id: "ideas",
        title: "Ideas box",
        timeZone: "Europe/London",
        opensAt: "2026-01-15T08:00:00Z",
        closesAt: null,
        oneVotePerVoter: false,
        options: [
          { id: "garden", label: "A school garden" },
          { id: "library", label: "Longer library hours" },
        ],
      },
    ],
    kiosks: [
      { id: "k-north", name: "North entrance" },
      { id: "k-south", name: "South hall" },
      { id: "k-east", name: "East wing" },
      { id: "k-late", name: "Library (flaky network)" },
      { id: "k-hall", name: "Main hall" },
      { id: "k-gate", name: "Gate" },
      { id: "k-west", name: "West door" },
    ],
    votes,
    rejected: [
      {
        eventId: "00000000-0000-7000-9000-000000000001",
        pollId: "board",
        optionId: "alice",
        kioskId: "k-hall",
        voterId: "v-9",
        castAt: ms("2026-10-25T10:05:00Z"),
        rejectedAt: ms("2026-10-25T10:05:01.500Z"),
        reason: "voter_already_voted",
      },
    ],
    duplicates: [{ pollId: "lunch", kioskId: "k-north", day: "2026-03-29", count: 2 }],
    // k-gate reused the first lunch vote's eventId (k-north's) twice, for other options, and
    // k-hall once at 12:02 (inside the half-open range the refusals test selects).
    conflicts: (
      [
        ["k-gate", "salad", null, "2026-03-29T13:00:00Z"],
        ["k-gate", "curry", "v-1", "2026-03-30T09:00:00Z"],
        ["k-hall", "pizza", null, "2026-03-29T12:02:00Z"],
      ] as const
    ).map(([kioskId, optionId, voterId, recordedAt]) => ({
      eventId: "00000000-0000-7000-8000-000000000001",
      pollId: "lunch",
      optionId,
      kioskId,
      voterId,
      castAt: ms(recordedAt) - 60_000,
      recordedAt: ms(recordedAt),
    })),
    deadLetters: [
      {
        streamSeq: 1001,
        itemIndex: 0,
        subject: "votes.lunch",
        raw: JSON.stringify({
          eventId: "00000000-0000-7000-a000-000000000001",
          pollId: "lunch",
          optionId: "bad id!",
          kioskId: "k-east",
          castAt: "2026-03-29T11:59:00Z",
          receivedAt: "2026-03-29T11:59:01Z",
        }),
        error: 'optionId: must be 1-64 letters, digits, "-" or "_"',
        firstSeen: ms("2026-03-29T12:00:00Z"),
      },
      {
        streamSeq: 1002,
        itemIndex: -1,
        subject: "votes.lunch",
        raw: "not json, at all",
        error: "not JSON: Unexpected token 'o', \"not json, at all\" is not valid JSON",
        firstSeen: ms("2026-03-29T12:05:00Z"),
      },
    ],
  };
}

const iso = (t: number) => new Date(t).toISOString();

/**
 * Inserts the data set. The rollups and change markers are computed from the inserted votes
 * with the writer's own bucketing (batch-writer/store-batch.ts INSERT_AND_ROLL_UP).
 */
export async function seedDataset(pool: Pool, d: Dataset): Promise<void> {
  for (const p of d.polls) {
    await pool.query(
      `insert into polls (id, slug, title, time_zone, opens_at, closes_at, one_vote_per_voter)
       values ($1, $1, $2, $3, $4, $5, $6)`,
      [p.id, p.title, p.timeZone, p.opensAt, p.closesAt, p.oneVotePerVoter],
    );
    for (const [i, o] of p.options.entries()) {
      await pool.query(
        "insert into poll_options (poll_id, id, label, position) values ($1, $2, $3, $4)",
        [p.id, o.id, o.label, i + 1],
      );
    }
  }
  for (const [i, k] of d.kiosks.entries()) {
    await pool.query("insert into kiosks (id, slug, name, token_hash) values ($1, $1, $2, $3)", [
      k.id,
      k.name,
      Buffer.from([i + 1]),
    ]);
  }
  await pool.query(
    `insert into votes (event_id, poll_id, option_id, kiosk_id, voter_id, cast_at, received_at,
                        stored_at, stream_seq)
     select * from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[],
                          $6::timestamptz[], $7::timestamptz[], $8::timestamptz[], $9::bigint[])`,
    [
      d.votes.map((v) => v.eventId),
      d.votes.map((v) => v.pollId),
      d.votes.map((v) => v.optionId),
      d.votes.map((v) => v.kioskId),
      d.votes.map((v) => v.voterId),
      d.votes.map((v) => iso(v.castAt)),
      d.votes.map((v) => iso(v.receivedAt)),
      d.votes.map((v) => iso(v.storedAt)),
      d.votes.map((v) => v.streamSeq),
    ],
  );
  await rollupsFromVotes(pool);
  await pool.query(`
    insert into poll_changes (poll_id, change_seq, last_stream_seq, changed_at)
    select poll_id, count(*), max(stream_seq), max(stored_at) from votes group by poll_id`);
  await pool.query(`
    insert into voter_ballots (poll_id, voter_id, event_id)
    select v.poll_id, v.voter_id, v.event_id
    from votes v join polls p on p.id = v.poll_id and p.one_vote_per_voter
    where v.voter_id is not null`);
  for (const r of d.rejected) {
    await pool.query(
      `insert into rejected_votes (event_id, poll_id, option_id, kiosk_id, voter_id, cast_at,
                                   received_at, stream_seq, reason, rejected_at)
       values ($1, $2, $3, $4, $5, $6, $6, 999, $7, $8)`,
      [
        r.eventId,
        r.pollId,
        r.optionId,
        r.kioskId,
        r.voterId,
        iso(r.castAt),
        r.reason,
        iso(r.rejectedAt),
      ],
    );
  }
  for (const x of d.duplicates) {
    await pool.query(
      "insert into duplicate_counts (poll_id, kiosk_id, day, count) values ($1, $2, $3, $4)",
      [x.pollId, x.kioskId, x.day, x.count],
    );
  }
  for (const c of d.conflicts) {
    await pool.query(
      `insert into conflicting_votes (event_id, poll_id, option_id, kiosk_id, voter_id, cast_at,
                                      received_at, stream_seq, recorded_at)
       values ($1, $2, $3, $4, $5, $6, $6, 999, $7)`,
      [c.eventId, c.pollId, c.optionId, c.kioskId, c.voterId, iso(c.castAt), iso(c.recordedAt)],
    );
  }
  for (const l of d.deadLetters) {
    await pool.query(
      `insert into dead_letters (stream, stream_seq, msg_id, item_index, subject, raw, error,
                                 deliveries, first_seen, last_seen)
       values ('VOTES', $1, 'test-' || $1::bigint, $2, $3, $4, $5, 1, $6, $6)`,
      [l.streamSeq, l.itemIndex, l.subject, Buffer.from(l.raw), l.error, iso(l.firstSeen)],
    );
  }
}
