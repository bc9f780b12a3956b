import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { get, type IncomingMessage } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { parse } from "csv-parse/sync";
import request from "supertest";
import { eventually } from "../../harness/waiting.ts";
import { expectError } from "../../test-support/api.ts";
import { type InProcessWriter, startPipelineWriter } from "../../test-support/in-process-writer.ts";
import { ADMIN, type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";
import {
  createSchool,
  issueSchoolAdmin,
  type TestSchoolAdmin,
} from "../../test-support/schools.ts";

// The CSV exports against SQL: a poll's results (per option, per bucket) and raw votes equal
// the same rows read from `votes`; a download while votes are still coming in is one
// consistent snapshot; another school's admin gets 404; a client that goes away midway
// gives its connection back at once; 200,000 votes stream in bounded memory.

type Csv = Record<string, string>[];

// A full collection on demand, without starting Node with --expose-gc.
setFlagsFromString("--expose-gc");
const collectGarbage = runInNewContext("gc") as () => void;

const csv = (text: string): Csv => parse(text, { columns: true }) as Csv;
/** The exports' CSV-injection rule, written out again (csv-safe.ts must agree). */
const safe = (text: string | null) =>
  text === null ? "" : /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
const iso = (d: Date | null) => (d === null ? "" : d.toISOString());

describe("CSV exports", () => {
  let h: IngestHarness;
  let writer: InProcessWriter;
  let north: TestSchoolAdmin;
  let south: TestSchoolAdmin;
  let kiosk: { id: string; auth: { Authorization: string } };
  let pollId: string;
  let baseUrl: string;
  const servers: { close(): void }[] = [];
  /** The server's side of each connection (what it has handed to a client). */
  const sockets: Socket[] = [];

  const stored = async (poll: string) =>
    Number(
      (await h.db.pool.query("select count(*) from votes where poll_id = $1", [poll])).rows[0]
        .count,
    );
  const vote = (castAt: string, optionId: string, voterId?: string) => ({
    eventId: randomUUID(),
    pollId,
    optionId,
    castAt,
    ...(voterId === undefined ? {} : { voterId }),
  });
  const send = async (votes: Record<string, unknown>[]) => {
    const res = await request(h.app).post("/v1/votes/batch").set(kiosk.auth).send({ votes });
    assert.equal(res.status, 200, res.text);
  };
  /** The export over a real socket (supertest cannot go away midway). */
  const open = (path: string, auth: Record<string, string>) =>
    new Promise<IncomingMessage>((resolve, reject) =>
      get(`${baseUrl}${path}`, { headers: auth }, resolve).on("error", reject),
    );

  before(async () => {
    h = await startIngestHarness();
    await createSchool(h.app, "north");
    await createSchool(h.app, "south");
    north = await issueSchoolAdmin(h.app, "north");
    south = await issueSchoolAdmin(h.app, "south");
    const poll = await request(h.app)
      .post("/v1/polls")
      .set(north.auth)
      .send({
        id: "lunch",
        title: "Lunch",
        options: [
          { id: "pizza", label: '=HYPERLINK("http://x")' },
          { id: "-soup", label: "Soup, hot" },
          { id: "salad", label: '@salad "green"' },
        ],
      });
    assert.equal(poll.status, 201, poll.text);
    pollId = poll.body.id;
    const made = await request(h.app)
      .post("/v1/kiosks")
      .set(north.auth)
      .send({ id: "hall", name: "Hall" });
    assert.equal(made.status, 201, made.text);
    kiosk = { id: made.body.id, auth: { Authorization: `Bearer ${made.body.token}` } };
    writer = await startPipelineWriter(h);
    const server = h.app.listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    servers.push(server);
    server.on("connection", (socket) => sockets.push(socket));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    // 300 votes over the last 45 minutes (several 10-minute buckets), some with a voter id.
    const options = ["pizza", "-soup", "salad"];
    const now = Date.now();
    await send(
      Array.from({ length: 300 }, (_, i) =>
        vote(
          new Date(now - 45 * 60_000 + i * 9_000).toISOString(),
          options[i % 3]!,
          i % 4 === 0 ? `=p-${i}` : undefined,
        ),
      ),
    );
    await eventually("300 votes stored", async () => (await stored(pollId)) === 300 || undefined);
  });
  after(async () => {
    // A test that failed midway may leave a download open (its COPY waiting on the client).
    for (const socket of sockets) socket.destroy();
    for (const s of servers) s.close();
    await writer?.close();
    await h?.close();
  });

  test("results per option and per bucket, and the raw votes, equal SQL; text cells are formula-safe", async () => {
    const totals = await request(h.app).get(`/v1/polls/${pollId}/results.csv`).set(north.auth);
    assert.equal(totals.status, 200, totals.text);
    assert.match(String(totals.headers["content-type"]), /^text\/csv/);
    assert.equal(
      totals.headers["content-disposition"],
      `attachment; filename="${pollId}-results.csv"`,
    );
    const bySql = await h.db.pool.query(
      `select o.id, o.label, count(v.event_id)::int as votes
       from poll_options o left join votes v on v.poll_id = o.poll_id and v.option_id = o.id
       where o.poll_id = $1 group by o.id, o.label, o.position order by o.position`,
      [pollId],
    );
    assert.deepEqual(
      csv(totals.text),
      bySql.rows.map((r) => ({
        option_id: safe(r.id),
        option_label: safe(r.label),
        votes: String(r.votes),
      })),
    );
    assert.equal(csv(totals.text)[0]!.option_label, '\'=HYPERLINK("http://x")');
    assert.equal(csv(totals.text)[1]!.option_id, "'-soup");

    const buckets = await request(h.app)
      .get(`/v1/polls/${pollId}/results.csv?by=bucket`)
      .set(north.auth);
    assert.equal(buckets.status, 200, buckets.text);
    const bucketSql = await h.db.pool.query(
      `select rollup_bucket_start(v.cast_at) as bucket, o.id, o.label, count(*)::int as votes
       from votes v join poll_options o on o.poll_id = v.poll_id and o.id = v.option_id
       where v.poll_id = $1 group by 1, o.id, o.label, o.position order by 1, o.position`,
      [pollId],
    );
    assert.ok(bucketSql.rows.length >= 12, "several buckets of three options");
    assert.deepEqual(
      csv(buckets.text),
      bucketSql.rows.map((r) => ({
        bucket_start: iso(r.bucket),
        option_id: safe(r.id),
        option_label: safe(r.label),
        votes: String(r.votes),
      })),
    );

    const votes = await request(h.app).get(`/v1/polls/${pollId}/votes.csv`).set(north.auth);
    assert.equal(votes.status, 200, votes.text);
    const voteSql = await h.db.pool.query(
      `select v.event_id::text, v.option_id, o.label, v.cast_at, v.received_at, v.kiosk_id, v.voter_id,
         v.temperature_c::text as temperature_c
       from votes v join poll_options o on o.poll_id = v.poll_id and o.id = v.option_id
       where v.poll_id = $1 order by v.cast_at, v.event_id`,
      [pollId],
    );
    const expected = voteSql.rows.map((r) => ({
      event_id: r.event_id,
      option_id: safe(r.option_id),
      option_label: safe(r.label),
      cast_at: iso(r.cast_at),
      received_at: iso(r.received_at),
      kiosk_id: safe(r.kiosk_id),
      voter_id: safe(r.voter_id),
      temperature_c: r.temperature_c ?? "",
    }));
    assert.equal(expected.length, 300);
    assert.deepEqual(csv(votes.text), expected);
    assert.ok(csv(votes.text).some((r) => (r.voter_id ?? "").startsWith("'=p-")));

    // The deployment admin reads the same file without the voter ids.
    const deployment = await request(h.app).get(`/v1/polls/${pollId}/votes.csv`).set(ADMIN);
    assert.deepEqual(
      csv(deployment.text),
      expected.map((r) => ({ ...r, voter_id: "" })),
    );
    // Each download is in the audit log (who, which poll, whether it was sent whole).
    await eventually("the votes export logged", async () => {
      const res = await request(h.app)
        .get("/v1/audit?action=GET%20/v1/polls/:pollId/votes.csv")
        .set(ADMIN);
      const entries = res.body.entries as {
        objectId: string;
        actorKind: string;
        schoolId: string;
        changes: unknown;
      }[];
      return entries.length === 2 ? entries : undefined;
    }).then(([byDeployment, bySchool]) => {
      assert.equal(bySchool!.objectId, pollId);
      assert.equal(bySchool!.schoolId, "north");
      assert.deepEqual(bySchool!.changes, { export: "votes", voterIds: true, complete: true });
      assert.deepEqual(byDeployment!.changes, { export: "votes", voterIds: false, complete: true });
    });
  });

  test("another school's admin gets 404; no credential 401; a console session's cookie reads", async () => {
    for (const path of [`/v1/polls/${pollId}/results.csv`, `/v1/polls/${pollId}/votes.csv`]) {
      expectError(await request(h.app).get(path).set(south.auth), 404, "poll_not_found");
      expectError(await request(h.app).get(path), 401, "unauthorized");
    }
    expectError(
      await request(h.app)
        .get("/v1/schools/north/attendance.csv?from=2026-01-01&to=2026-01-31")
        .set(south.auth),
      404,
      "school_not_found",
    );
    expectError(
      await request(h.app).get(`/v1/polls/${pollId}/results.csv?by=hour`).set(north.auth),
      400,
      "invalid_request",
    );
    const invite = await request(h.app)
      .post("/v1/console/invites")
      .set(north.auth)
      .send({ label: "Office" });
    const code = new URL(invite.body.link).hash.replace("#invite=", "");
    const signed = await request(h.app).post("/v1/console/sessions").send({ code });
    const cookie = String(signed.headers["set-cookie"]?.[0]).split(";")[0]!;
    // A HEAD: the headers, no body, no query, no audit entry.
    const head = await request(h.app).head(`/v1/polls/${pollId}/votes.csv`).set(north.auth);
    assert.equal(head.status, 200);
    assert.equal(head.headers["content-disposition"], `attachment; filename="${pollId}-votes.csv"`);
    const byCookie = await request(h.app)
      .get(`/v1/polls/${pollId}/votes.csv`)
      .set("Cookie", cookie);
    assert.equal(byCookie.status, 200, byCookie.text);
    assert.equal(csv(byCookie.text).length, 300);
  });

  test("downloads while votes keep coming: each one snapshot, in order, whole", async () => {
    let sending = true;
    const sender = (async () => {
      let sent = 0;
      while (sending) {
        const castAt = new Date().toISOString();
        await send(Array.from({ length: 50 }, () => vote(castAt, "pizza")));
        sent += 50;
      }
      return sent;
    })();
    let previous = await stored(pollId);
    let grew = false;
    for (let i = 0; i < 6; i++) {
      const before = await stored(pollId);
      const res = await request(h.app).get(`/v1/polls/${pollId}/votes.csv`).set(north.auth);
      const afterwards = await stored(pollId);
      assert.equal(res.status, 200);
      const rows = csv(res.text);
      assert.ok(
        rows.length >= before && rows.length <= afterwards,
        `${before} ≤ ${rows.length} ≤ ${afterwards}`,
      );
      assert.equal(new Set(rows.map((r) => r.event_id)).size, rows.length, "no vote twice");
      const times = rows.map((r) => r.cast_at);
      assert.deepEqual(times, [...times].sort(), "in cast order");
      grew ||= rows.length > previous;
      previous = rows.length;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    sending = false;
    const sent = await sender;
    assert.ok(grew, "the votes grew between downloads");
    await eventually(
      "every vote stored",
      async () => (await stored(pollId)) === 300 + sent || undefined,
    );
    const res = await request(h.app).get(`/v1/polls/${pollId}/results.csv`).set(north.auth);
    const pizza = csv(res.text).find((r) => r.option_id === "pizza")!;
    const { rows } = await h.db.pool.query(
      "select count(*)::int as n from votes where poll_id = $1 and option_id = 'pizza'",
      [pollId],
    );
    assert.equal(Number(pizza.votes), rows[0].n);
  });

  describe("200,000 votes made inside Postgres", () => {
    const BIG = 200_000;
    let bigPoll: string;

    before(async () => {
      const made = await request(h.app)
        .post("/v1/polls")
        .set(north.auth)
        .send({
          id: "big",
          title: "Big",
          options: [
            { id: "a", label: "A" },
            { id: "b", label: "B" },
          ],
        });
      assert.equal(made.status, 201, made.text);
      bigPoll = made.body.id;
      await h.db.pool.query(
        `insert into votes (event_id, poll_id, option_id, kiosk_id, voter_id, cast_at, received_at, stream_seq)
         select gen_random_uuid(), $1, case when n % 3 = 0 then 'b' else 'a' end, $2, 'person-' || n,
           now() - interval '1 day' + n * interval '100 ms', now(), 0
         from generate_series(1, $3::int) n`,
        [bigPoll, kiosk.id, BIG],
      );
    });

    /** Backends running an export's COPY (an idle one shows its last query too). */
    const copying = async () => {
      const { rows } = await h.db.pool.query(
        `select count(*)::int as n from pg_stat_activity
         where datname = current_database() and pid <> pg_backend_pid()
           and state = 'active' and query ilike 'copy (%export_poll_votes%'`,
      );
      return rows[0].n as number;
    };

    test("a client that goes away midway: its connection dropped, its backend gone", async () => {
      const inUse = () => h.pool.totalCount - h.pool.idleCount;
      const before = inUse();
      const res = await open(`/v1/polls/${bigPoll}/votes.csv`, north.auth);
      try {
        assert.equal(res.statusCode, 200);
        await new Promise((resolve) => res.once("data", resolve));
        // (Other work of the API may hold a connection for a moment too: at least one more.)
        assert.ok(inUse() >= before + 1, "the COPY holds a connection");
        assert.equal(await copying(), 1);
      } finally {
        res.destroy();
      }
      await eventually("the export's connection out of use, its COPY ended", async () =>
        inUse() <= before && (await copying()) === 0 ? true : undefined,
      );
      // The pool serves on.
      const again = await request(h.app).get(`/v1/polls/${pollId}/results.csv`).set(north.auth);
      assert.equal(again.status, 200);
      await eventually("the unfinished export logged", async () => {
        const res = await request(h.app)
          .get("/v1/audit?action=GET%20/v1/polls/:pollId/votes.csv")
          .set(ADMIN);
        return (res.body.entries as { objectId: string; changes: { complete: boolean } }[]).find(
          (e) => e.objectId === bigPoll && e.changes.complete === false,
        );
      });
    });

    test("a slow client holds the COPY back; the whole file streams in bounded memory", async () => {
      // What the process holds (after a full collection: RSS also counts garbage not
      // collected yet): its heap, and the ArrayBuffers every Buffer of the file would be in.
      // Not the rest of `external`, which this process's other work moves by tens of MB.
      // Collected twice: V8 frees the backing stores of dead ArrayBuffers on a background
      // thread after a collection, and on a busy machine that sweep can lag behind the
      // sample (a CI run counted 17 and 22 MB of swept-later socket chunks); the next
      // collection first waits for the previous sweep to finish.
      const held = () => {
        collectGarbage();
        collectGarbage();
        const m = process.memoryUsage();
        return m.heapUsed + m.arrayBuffers;
      };
      const heldBefore = held();
      const rssBefore = process.memoryUsage().rss;
      const res = await open(`/v1/polls/${bigPoll}/votes.csv`, north.auth);
      assert.equal(res.statusCode, 200);
      const first = await new Promise<Buffer>((resolve) =>
        res.once("data", (chunk: Buffer) => {
          res.pause(); // before the next chunk is emitted to nobody
          resolve(chunk);
        }),
      );
      const served = sockets.at(-1)!;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      // Postgres waits on the client, its COPY unfinished (a busy machine may take a moment
      // to fill the sockets).
      await eventually("the COPY waits on the paused client", async () => {
        const { rows } = await h.db.pool.query(
          `select wait_event from pg_stat_activity
           where datname = current_database() and state = 'active' and query ilike 'copy (%export_poll_votes%'`,
        );
        assert.equal(rows.length, 1, "the COPY is still running");
        return rows[0].wait_event === "ClientWrite" || undefined;
      });
      // What the server took from Postgres while the client read nothing: what the sockets
      // hold, not the file (23 MB).
      const handed = served.bytesWritten + served.writableLength;
      const heldPaused = held() - heldBefore;
      let bytes = first.length;
      let lines = first.filter((b) => b === 10).length;
      /** Held every 2 MB into the download. */
      const midway: number[] = [];
      let rssPeak = process.memoryUsage().rss;
      res.resume();
      for await (const chunk of res as AsyncIterable<Buffer>) {
        bytes += chunk.length;
        for (const byte of chunk) if (byte === 10) lines++;
        if ((bytes & 0xfffff) < chunk.length)
          rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
        if (bytes > (midway.length + 1) * 2e6) midway.push(held() - heldBefore);
      }
      assert.equal(lines, BIG + 1, "a header and every vote");
      const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
      console.log(
        `# ${BIG} votes, ${mb(bytes)} of CSV: ${mb(handed)} handed to a paused client's socket; held ${mb(heldPaused)} while paused, ${midway.map(mb).join(", ")} every 2 MB; RSS peak +${mb(rssPeak - rssBefore)} (garbage included)`,
      );
      assert.ok(handed < bytes / 3, `${handed} bytes handed to a client that read none`);
      assert.ok(heldPaused < 8e6, `${heldPaused} bytes held while the client paused`);
      assert.equal(midway.length, Math.floor(bytes / 2e6));
      // The client reads in this process too: one sample may catch its side mid-chunk. A
      // file held whole would show in most samples, growing with it (2, 4, ... 22 MB, a
      // median of 12): the median of eleven says which, and no bound on any one sample holds.
      const median = [...midway].sort((a, b) => a - b)[Math.floor(midway.length / 2)]!;
      assert.ok(median < bytes / 3, `${midway.join(", ")} bytes held midway`);
    });
  });
});
