import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { v7 as uuidv7 } from "uuid";
import type { Pool } from "../common/postgres.ts";
import { rollupsFromVotes } from "../common/rollup-buckets.ts";
import { testNames } from "../test-support/names.ts";
import { type DatabaseBefore, databaseBefore } from "../test-support/schema-before.ts";
import { assertRollupsMatchVotes, insertPoll, queryNumber } from "../test-support/stored-votes.ts";
import { makeVote } from "../test-support/vote-messages.ts";
import { storeBatch } from "./store-batch.ts";

// Migration 047: the dedupe key of votes, rejected_votes and conflicting_votes names the
// poll. On a deployment from before it, every partition (the default one, the old table, keyed
// by its primary key; the legacy one; the monthly ones) is re-keyed, the stored rows keep
// refusing their resends, and an event id stored in one poll is a new event in another.

const idAt = (at: string) => uuidv7({ msecs: Date.parse(at) });
const TABLES = ["votes", "rejected_votes", "conflicting_votes"];

describe("a deployment from before 047: each partition's key becomes the poll's", () => {
  const names = testNames();
  let pool: Pool;
  let old: DatabaseBefore;
  // This month's partition, the legacy one, and the default one (a month far ahead).
  const ids = { today: uuidv7(), v4: randomUUID(), ahead: idAt("2049-03-01T12:00:00Z") };

  /** Each leaf's unique keys, as "leaf: (columns)", sorted. */
  const keys = async () =>
    (
      await pool.query<{ k: string }>(
        `select t.relid::regclass::text || ': ' ||
                regexp_replace(pg_get_indexdef(i.indexrelid), '.* USING btree ', '') as k
         from unnest($1::text[]) as p(parent)
         cross join lateral pg_partition_tree(p.parent::regclass) t
         join pg_index i on i.indrelid = t.relid and i.indisunique
         where t.isleaf order by 1`,
        [TABLES],
      )
    ).rows.map((r) => r.k);

  before(async () => {
    old = await databaseBefore(47, names.database);
    pool = old.pool;
    await insertPoll(pool, "lunch", ["yes", "no"]);
    await insertPoll(pool, "color", ["red"]);
    // Stored as that deployment's writer left them (rows and rollups), not by today's writer,
    // which writes tables of later migrations (048's change log).
    const stored = await pool.query(
      `insert into votes (event_id, poll_id, option_id, kiosk_id, cast_at, received_at, stream_seq)
       select e, 'lunch', 'yes', 'k1', now(), now(), n
       from unnest($1::uuid[]) with ordinality as u(e, n)`,
      [Object.values(ids)],
    );
    assert.equal(stored.rowCount, 3);
    await rollupsFromVotes(pool);
    for (const table of ["rejected_votes", "conflicting_votes"]) {
      const reason = table === "rejected_votes" ? ", reason" : "";
      await pool.query(
        `insert into ${table} (event_id, poll_id, option_id, kiosk_id, cast_at, received_at,
                               stream_seq${reason})
         select e, 'lunch', 'no', 'k2', now(), now(), 1${reason ? ", 'voter_already_voted'" : ""}
         from unnest($1::uuid[]) as e`,
        [Object.values(ids)],
      );
    }
  });
  after(async () => {
    await old?.close();
  });

  test("047 re-keys every partition; a resend still counts once, another poll's event is stored", async () => {
    const before = await keys();
    assert.ok(before.includes("votes_default: (event_id)"), before.join("\n"));
    await old.upgrade();

    const after = await keys();
    const month = (() => {
      const d = new Date();
      return `${d.getUTCFullYear()}_${String(d.getUTCMonth() + 1).padStart(2, "0")}`;
    })();
    for (const leaf of ["votes_default", "votes_legacy", `votes_p${month}`])
      assert.ok(after.includes(`${leaf}: (poll_id, event_id)`), after.join("\n"));
    for (const leaf of ["conflicting_votes_default", `conflicting_votes_p${month}`])
      assert.ok(after.includes(`${leaf}: (poll_id, id)`), after.join("\n"));
    // No key without the poll is left on any leaf, and none of the old keys either.
    assert.deepEqual(
      after.filter(
        (k) =>
          !/: \((poll_id, (event_id|id)|event_id, kiosk_id, poll_id, option_id, voter_id\) NULLS NOT DISTINCT)/.test(
            k,
          ),
      ),
      [],
    );
    // The indexes on poll_id alone went: the keys lead with it.
    assert.equal(
      await queryNumber(
        pool,
        "select count(*) from pg_class where relname in ('rejected_votes_poll_idx', 'conflicting_votes_poll_idx')",
      ),
      0,
    );
    assert.equal(
      await queryNumber(pool, "select count(*) from time_partitions_without_key('votes')"),
      0,
    );

    // Every stored vote, wherever it is, refuses its resend; the same ids in another poll are
    // that poll's votes.
    let seq = 100;
    const resend = Object.values(ids).map((eventId) => ({
      ...makeVote({ eventId, pollId: "lunch", optionId: "yes", kioskId: "k1" }),
      streamSeq: seq++,
    }));
    const again = await storeBatch(pool, "VOTES", resend, []);
    assert.deepEqual([again.inserted, again.duplicates, again.conflicts], [0, 3, 0]);
    const color = Object.values(ids).map((eventId) => ({
      ...makeVote({ eventId, pollId: "color", optionId: "red", kioskId: "k1" }),
      streamSeq: seq++,
    }));
    const other = await storeBatch(pool, "VOTES", color, []);
    assert.deepEqual([other.inserted, other.duplicates, other.conflicts], [3, 0, 0]);
    await assertRollupsMatchVotes(pool);

    // The refusals and clashes stored before keep refusing their copies in their poll, and
    // take the same ids in another poll.
    for (const table of ["rejected_votes", "conflicting_votes"]) {
      const reason = table === "rejected_votes" ? ", reason" : "";
      const insert = (pollId: string) =>
        pool.query(
          `insert into ${table} (event_id, poll_id, option_id, kiosk_id, cast_at, received_at,
                                 stream_seq${reason})
           select e, $2, 'no', 'k2', now(), now(), 1${reason ? ", 'voter_already_voted'" : ""}
           from unnest($1::uuid[]) as e on conflict do nothing`,
          [Object.values(ids), pollId],
        );
      assert.equal((await insert("lunch")).rowCount, 0, table);
      assert.equal((await insert("color")).rowCount, 3, table);
    }
  });
});
