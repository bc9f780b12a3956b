import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { gunzipSync } from "node:zlib";
import request from "supertest";
import { keptDays } from "../../common/attendance-contract.ts";
import { storeAttendanceDay } from "../../test-support/attendance-days.ts";
import {
  type InProcessPublisher,
  startHarnessPublisher,
} from "../../test-support/in-process-publisher.ts";
import { type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";
import {
  createSchool,
  issueSchoolAdmin,
  type TestSchoolAdmin,
} from "../../test-support/schools.ts";
import type { DayPublication } from "./day-documents.ts";

// ATTENDANCE_GZIP_MIN_BYTES: a day answer at least that large goes gzip'd to a client that
// takes gzip, as a representation of its own (Content-Encoding, its own ETag, Vary on both),
// and as it is to one that does not. Here the threshold is 1 byte, so the small documents
// of the test are large enough; at its default only documents of hundreds of people are.

const PATH = "/v1/schools/alder/attendance";
const PUBLIC = "/v1/public/schools/alder/attendance";

let h: IngestHarness;
let head: TestSchoolAdmin;
let publisher: InProcessPublisher;

before(async () => {
  h = await startIngestHarness({ RESULTS_INTERVAL_MS: "3000", ATTENDANCE_GZIP_MIN_BYTES: "1" });
  await createSchool(h.app, "alder", { timeZone: "UTC" });
  await h.db.pool.query(
    "with s as (update schools set attendance_public_counts = true returning id) select notify_registry_rows('schools', array_agg(id)) from s",
  );
  head = await issueSchoolAdmin(h.app, "alder");
  for (const id of ["A1", "A2"])
    await request(h.app)
      .put(`/v1/schools/alder/people/${id}`)
      .set(head.auth)
      .send({ name: `Person ${id}`, groups: ["7A"] })
      .expect(201);
  publisher = await startHarnessPublisher(h, { RESULTS_INTERVAL_MS: "3000" });
  await h.attendance.check();
});

after(async () => {
  await publisher?.close();
  await h?.close();
});

describe("day answers gzip'd for clients that take it", () => {
  for (const [label, path, auth] of [
    ["the admin's day document", PATH, () => head.auth],
    ["the public counts", PUBLIC, () => ({})],
  ] as const)
    test(label, async () => {
      const plain = await request(h.app)
        .get(path)
        .set(auth())
        .set("Accept-Encoding", "identity")
        .expect(200);
      assert.equal(plain.headers["content-encoding"], undefined);
      assert.equal(plain.headers.vary, "Accept-Encoding");
      const etag = String(plain.headers.etag);
      assert.doesNotMatch(etag, /-gz"$/);

      const zipped = await request(h.app)
        .get(path)
        .set(auth())
        .set("Accept-Encoding", "br, gzip")
        .expect(200);
      assert.equal(zipped.headers["content-encoding"], "gzip");
      assert.equal(zipped.headers.vary, "Accept-Encoding");
      assert.equal(zipped.headers.etag, `${etag.slice(0, -1)}-gz"`);
      // supertest inflates it: the same document, byte for byte once inflated.
      assert.deepEqual(zipped.body, plain.body);

      // Each representation revalidates with its own ETag.
      await request(h.app)
        .get(path)
        .set(auth())
        .set("Accept-Encoding", "gzip")
        .set("If-None-Match", String(zipped.headers.etag))
        .expect(304)
        .expect("Vary", "Accept-Encoding");
      await request(h.app)
        .get(path)
        .set(auth())
        .set("Accept-Encoding", "identity")
        .set("If-None-Match", etag)
        .expect(304);
      // The other representation's ETag is not this one's.
      const crossed = await request(h.app)
        .get(path)
        .set(auth())
        .set("Accept-Encoding", "identity")
        .set("If-None-Match", String(zipped.headers.etag))
        .expect(200);
      assert.equal(crossed.headers["content-encoding"], undefined);

      // gzip refused (q=0): as it is.
      const refused = await request(h.app)
        .get(path)
        .set(auth())
        .set("Accept-Encoding", "gzip;q=0, identity")
        .expect(200);
      assert.equal(refused.headers["content-encoding"], undefined);
      assert.equal(refused.headers.etag, etag);
    });
});

describe("a new version's gzip'd answers", () => {
  const [today] = keptDays(Date.now(), "UTC", 1) as [string];
  /** A new version of the day: A2 checked in `minutesAgo` minutes ago. */
  const newVersion = async (minutesAgo: number) => {
    const before = h.attendance.current("alder", today);
    await storeAttendanceDay(h.db.pool, "alder", "A2", today, [
      { kind: "in", at: new Date(Date.now() - minutesAgo * 60_000).toISOString() },
    ]);
    await publisher.run();
    assert.ok(await publisher.attendanceRun(), "the attendance run failed");
    await h.attendance.check();
    const next = h.attendance.current("alder", today);
    assert.ok(next && next.version !== before?.version, "a new version kept");
    return next;
  };
  const adminOf = (p: DayPublication) => [...p.answers].find(([k]) => k.startsWith("admin|"))?.[1];
  const readGzipped = () =>
    request(h.app)
      .get(PATH)
      .set(head.auth)
      .set("Accept-Encoding", "gzip")
      .parse((r, done) => {
        const chunks: Buffer[] = [];
        r.on("data", (c: Buffer) => chunks.push(c));
        r.on("end", () => done(null, Buffer.concat(chunks)));
      })
      .buffer(true)
      .expect(200)
      .expect("Content-Encoding", "gzip");

  test("made with the fetch when the version before was read gzip'd, and what the read then sends", async () => {
    await readGzipped();
    await request(h.app).get(`${PUBLIC}?group=7A`).set("Accept-Encoding", "identity").expect(200);
    const publicKey = "counts|7A";
    assert.equal(h.attendance.current("alder", today)?.answers.get(publicKey)?.gzipped, undefined);

    const next = await newVersion(5);
    // Before any read of the new version: the admin's answer gzip'd (its predecessor was
    // read so), the counts not (read as they are only).
    const admin = adminOf(next);
    assert.ok(admin?.gzipped, "the admin answer gzip'd ahead of its first read");
    assert.ok(next.answers.has(publicKey));
    assert.equal(next.answers.get(publicKey)?.gzipped, undefined);
    const ahead = await admin.gzipped;
    assert.deepEqual(gunzipSync(ahead.body), admin.body);
    const res = await readGzipped();
    assert.equal(res.headers.etag, ahead.etag);
    // supertest inflates what it got: the answer's bytes.
    assert.deepEqual(res.body, admin.body);
  });

  test("a version nobody read gzip'd: the one after it is gzip'd at its first read only", async () => {
    await readGzipped();
    const unread = await newVersion(4);
    assert.ok(adminOf(unread)?.gzipped, "gzip'd ahead: its predecessor was read gzip'd");
    const next = await newVersion(3);
    assert.ok(adminOf(next), "the answer made with the fetch");
    assert.equal(adminOf(next)?.gzipped, undefined);
    await readGzipped();
    assert.ok(adminOf(next)?.gzipped);
  });
});
