import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import request from "supertest";
import { eventually } from "../../harness/waiting.ts";
import { expectError, issueFor } from "../../test-support/api.ts";
import { startPublisherInProcess } from "../../test-support/in-process-publisher.ts";
import { type InProcessWriter, startPipelineWriter } from "../../test-support/in-process-writer.ts";
import {
  ADMIN,
  type IngestHarness,
  startIngestHarness,
  startIngestReplica,
} from "../../test-support/ingest.ts";
import {
  createSchool,
  issueSchoolAdmin,
  type TestSchoolAdmin,
} from "../../test-support/schools.ts";
import { publisherEnv } from "../../test-support/service-env.ts";

// Lesson registers end to end (API -> JetStream -> writer -> Postgres): teachers' credentials,
// absences and their taking back, the completion and what it makes of the group, out of
// order, corrections after it, a person moved to another group, a register never completed,
// the statistics, and another school's teacher (404).

type Auth = { Authorization: string };
const HOUR = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

let h: IngestHarness;
/** Each register's id by the slug its test gave it. */
const ids = new Map<string, string>();
let writer: InProcessWriter;
let head: TestSchoolAdmin;
let teacher: { id: string; auth: { Authorization: string } };
let otherTeacher: { auth: { Authorization: string } };

async function issueTeacher(schoolId: string, auth: Auth, label = "Ms Birch") {
  const res = await request(h.app)
    .post(`/v1/schools/${schoolId}/teachers`)
    .set(auth)
    .send({ label });
  assert.equal(res.status, 201, res.text);
  assert.match(res.body.token, /^tft_/);
  return { id: res.body.id as string, auth: { Authorization: `Bearer ${res.body.token}` } };
}

async function createRegister(slug: string, groupId: string, startsAt: number, endsAt: number) {
  const res = await request(h.app)
    .post("/v1/polls")
    .set(head.auth)
    .send({
      id: slug,
      kind: "register",
      title: `Lesson ${slug}`,
      groupId,
      startsAt: iso(startsAt),
      endsAt: iso(endsAt),
    });
  assert.equal(res.status, 201, res.text);
  ids.set(slug, res.body.id);
  return res.body as { id: string; groupId: string; startsAt: string; options: { id: string }[] };
}

const report = (auth: Auth, pollId: string, voterId: string, optionId: string, castAt?: number) =>
  request(h.app)
    .post("/v1/votes")
    .set(auth)
    .send({ pollId, optionId, voterId, ...(castAt === undefined ? {} : { castAt: iso(castAt) }) });

const complete = (auth: Auth, pollId: string, completionId: string, completedAt?: number) =>
  request(h.app)
    .post(`/v1/registers/${pollId}/complete`)
    .set(auth)
    .send({
      completionId,
      ...(completedAt === undefined ? {} : { completedAt: iso(completedAt) }),
    });

interface StateRow {
  completed: boolean;
  present: number;
  absent: number;
  pending: number;
  changed_after_completion: boolean;
  events: number;
}

async function state(pollId: string): Promise<StateRow | undefined> {
  const { rows } = await h.db.pool.query<StateRow>(
    `select completion_id is not null as completed, present, absent, pending,
            changed_after_completion, events
     from register_states where poll_id = $1`,
    [pollId],
  );
  return rows[0];
}

/** Each person's status: the stored rows and the completion's roster's others (037's view). */
async function people(pollId: string): Promise<Record<string, string>> {
  const { rows } = await h.db.pool.query<{ person_id: string; status: string }>(
    "select person_id, status from register_statuses where poll_id = $1 order by person_id",
    [pollId],
  );
  return Object.fromEntries(rows.map((r) => [r.person_id, r.status]));
}

/** The rows stored for a register: only its people with an event (migration 037). */
async function storedPeople(pollId: string): Promise<Record<string, string>> {
  const { rows } = await h.db.pool.query<{ person_id: string; status: string }>(
    "select person_id, status from register_people where poll_id = $1 order by person_id",
    [pollId],
  );
  return Object.fromEntries(rows.map((r) => [r.person_id, r.status]));
}

/** Waits until the writer stored the register's state with this many events (and completed). */
async function settled(pollId: string, events: number, completed: boolean): Promise<StateRow> {
  return eventually(
    `register ${pollId} stored (${events} events, completed ${completed})`,
    async () => {
      const s = await state(pollId);
      return s !== undefined && s.events === events && s.completed === completed ? s : undefined;
    },
  );
}

before(async () => {
  h = await startIngestHarness();
  await createSchool(h.app, "birch");
  await createSchool(h.app, "cedar");
  head = await issueSchoolAdmin(h.app, "birch");
  for (const [id, groups] of [
    ["P1", ["7A"]],
    ["P2", ["7A"]],
    ["P3", ["7A"]],
    ["P4", ["7A"]],
    ["Q1", ["7B"]],
  ] as const)
    await request(h.app)
      .put(`/v1/schools/birch/people/${id}`)
      .set(head.auth)
      .send({ name: `Pupil ${id}`, groups })
      .expect(201);
  teacher = await issueTeacher("birch", head.auth);
  otherTeacher = await issueTeacher("cedar", ADMIN, "Mr Cedar");
  writer = await startPipelineWriter(h);
});
after(async () => {
  await writer?.close();
  await h?.close();
});

describe("a lesson register", () => {
  test("is a poll of kind register: one group, a start and an end, options absent and present", async () => {
    const now = Date.now();
    const poll = await createRegister("maths-1", "7A", now - HOUR, now + HOUR);
    assert.equal(poll.groupId, "7A");
    assert.deepEqual(
      poll.options.map((o) => o.id),
      ["absent", "present"],
    );
    const bad = await request(h.app)
      .post("/v1/polls")
      .set(head.auth)
      .send({
        id: "bad",
        kind: "register",
        title: "Bad",
        options: [{ id: "x", label: "X" }],
        startsAt: iso(now),
        endsAt: iso(now - 1),
      });
    for (const field of ["groupId", "endsAt", "options"]) issueFor(bad, field);
  });

  test("takes a person of the school in its group only: 422 unknown_person, not_in_group", async () => {
    const now = Date.now();
    const poll = await createRegister("maths-2", "7A", now - HOUR, now + HOUR);
    expectError(await report(teacher.auth, poll.id, "nobody", "absent"), 422, "unknown_person");
    const error = expectError(
      await report(teacher.auth, poll.id, "Q1", "absent"),
      422,
      "not_in_group",
    );
    assert.deepEqual(error.details, { field: "voterId", groupId: "7A" });
    assert.equal((await report(teacher.auth, poll.id, "P1", "absent")).status, 202);
  });

  test("a teacher: registers of its school only; another school's teacher gets 404", async () => {
    const now = Date.now();
    const poll = await createRegister("maths-3", "7A", now - HOUR, now + HOUR);
    expectError(await report(otherTeacher.auth, poll.id, "P1", "absent"), 404, "poll_not_found");
    expectError(await complete(otherTeacher.auth, poll.id, randomUUID()), 404, "poll_not_found");
    expectError(
      await request(h.app).get(`/v1/registers/${poll.id}`).set(otherTeacher.auth),
      404,
      "poll_not_found",
    );
    expectError(
      await request(h.app)
        .get("/v1/schools/birch/groups/7A/stats?from=2026-01-01&to=2026-01-31")
        .set(otherTeacher.auth),
      404,
      "school_not_found",
    );
    // Nothing else: a vote poll of its own school, the admin's routes.
    const vote = await request(h.app)
      .post("/v1/polls")
      .set(head.auth)
      .send({ id: "lunch", title: "Lunch", options: [{ id: "a", label: "A" }] });
    expectError(await report(teacher.auth, vote.body.id, "P1", "a"), 403, "teacher_not_allowed");
    expectError(
      await request(h.app).get("/v1/polls").set(teacher.auth),
      403,
      "teacher_not_allowed",
    );
    expectError(
      await request(h.app).get("/v1/schools/birch/registers?state=overdue").set(teacher.auth),
      403,
      "teacher_not_allowed",
    );
    const list = await request(h.app).get("/v1/schools/birch/teachers").set(head.auth);
    assert.equal(list.status, 200);
    assert.ok(list.body.teachers.some((t: { id: string }) => t.id === teacher.id));
    assert.ok(!JSON.stringify(list.body).includes("tft_"), "no token in the list");
  });

  test("absences then the completion: everyone else in the group is present (4 pupils, 1 absent)", async () => {
    const now = Date.now();
    const poll = await createRegister("maths-4", "7A", now - HOUR, now - HOUR / 2);
    assert.equal((await report(teacher.auth, poll.id, "P2", "absent")).status, 202);
    assert.equal((await report(teacher.auth, poll.id, "P3", "absent")).status, 202);
    assert.equal(
      (await report(teacher.auth, poll.id, "P3", "present", Date.now() + 1)).status,
      202,
    );
    const before = await settled(poll.id, 3, false);
    assert.deepEqual(
      [before.present, before.absent, before.pending],
      [0, 1, 1],
      "nobody present before completion",
    );
    const completionId = randomUUID();
    const first = await complete(teacher.auth, poll.id, completionId);
    assert.equal(first.status, 202, first.text);
    assert.equal(first.body.status, "accepted");
    assert.equal((await complete(teacher.auth, poll.id, completionId)).body.status, "duplicate");
    const after = await settled(poll.id, 3, true);
    assert.deepEqual([after.present, after.absent, after.pending], [3, 1, 0]);
    assert.equal(after.changed_after_completion, false);
    assert.deepEqual(await people(poll.id), {
      P1: "present",
      P2: "absent",
      P3: "present",
      P4: "present",
    });
    // Stored: the absence and the taken-back one; P1 and P4 through the roster alone.
    assert.deepEqual(await storedPeople(poll.id), { P2: "absent", P3: "present" });
    const { rows } = await h.db.pool.query(
      "select count(*)::int as n from register_states where poll_id = $1",
      [poll.id],
    );
    assert.equal(rows[0].n, 1);
  });

  test("the completion before some absences arrive (out of order): they apply, and change nothing after it", async () => {
    const now = Date.now();
    const poll = await createRegister("maths-5", "7A", now - HOUR, now - HOUR / 2);
    // A tablet's queue: the completion sent first, the absences cast before it sent later.
    assert.equal((await complete(teacher.auth, poll.id, randomUUID(), now - 60_000)).status, 202);
    const done = await settled(poll.id, 0, true);
    assert.deepEqual([done.present, done.absent], [4, 0]);
    assert.equal((await report(teacher.auth, poll.id, "P1", "absent", now - 120_000)).status, 202);
    assert.equal((await report(teacher.auth, poll.id, "P4", "absent", now - 90_000)).status, 202);
    const after = await settled(poll.id, 2, true);
    assert.deepEqual([after.present, after.absent], [2, 2]);
    assert.equal(after.changed_after_completion, false, "cast before the completion");
  });

  test("a correction after the completion applies and marks the register changed", async () => {
    const now = Date.now();
    const poll = await createRegister("maths-6", "7A", now - HOUR, now - HOUR / 2);
    await report(teacher.auth, poll.id, "P1", "absent", now - 120_000).expect(202);
    await complete(teacher.auth, poll.id, randomUUID(), now - 60_000).expect(202);
    await settled(poll.id, 1, true);
    // P1 came in late; P2 left.
    await report(teacher.auth, poll.id, "P1", "present").expect(202);
    await report(teacher.auth, poll.id, "P2", "absent").expect(202);
    const after = await settled(poll.id, 3, true);
    assert.deepEqual([after.present, after.absent], [3, 1]);
    assert.equal(after.changed_after_completion, true);
    assert.deepEqual(await people(poll.id), {
      P1: "present",
      P2: "absent",
      P3: "present",
      P4: "present",
    });
    assert.deepEqual(await storedPeople(poll.id), { P1: "present", P2: "absent" });
  });

  test("a person moved to another group: the completion's roster holds, later registers follow the move", async () => {
    const now = Date.now();
    const before = await createRegister("maths-7", "7A", now - 2 * HOUR, now - HOUR);
    await complete(teacher.auth, before.id, randomUUID()).expect(202);
    await settled(before.id, 0, true);
    await request(h.app)
      .patch("/v1/schools/birch/people/P4")
      .set(head.auth)
      .send({ groups: ["7B"] })
      .expect(200);
    const later = await createRegister("maths-8", "7A", now - HOUR, now - HOUR / 2);
    await eventually("the API knows of the move", async () =>
      h.people.inGroup("birch", "7B", "P4") ? true : undefined,
    );
    expectError(await report(teacher.auth, later.id, "P4", "absent"), 422, "not_in_group");
    await complete(teacher.auth, later.id, randomUUID()).expect(202);
    const s = await settled(later.id, 0, true);
    assert.equal(s.present, 3, "P4 is no longer in 7A");
    assert.equal(
      (await people(before.id)).P4,
      "present",
      "P4 was in 7A when that lesson was completed",
    );
    // Moved back for the other tests.
    await request(h.app)
      .patch("/v1/schools/birch/people/P4")
      .set(head.auth)
      .send({ groups: ["7A"] })
      .expect(200);
  });

  test("a register never completed: overdue, nobody present", async () => {
    const now = Date.now();
    const poll = await createRegister("maths-9", "7A", now - 3 * HOUR, now - 2 * HOUR);
    const open = await createRegister("maths-10", "7A", now - HOUR / 2, now + HOUR);
    await report(teacher.auth, poll.id, "P1", "absent").expect(202);
    const s = await settled(poll.id, 1, false);
    assert.deepEqual([s.present, s.absent], [0, 1]);
    const res = await request(h.app)
      .get("/v1/schools/birch/registers?state=overdue")
      .set(head.auth);
    assert.equal(res.status, 200, res.text);
    const ids = res.body.registers.map((r: { id: string }) => r.id);
    assert.ok(ids.includes(poll.id), res.text);
    assert.ok(!ids.includes(open.id), "not ended yet");
    const cedar = await request(h.app)
      .get("/v1/schools/cedar/registers?state=overdue")
      .set(head.auth);
    expectError(cedar, 404, "school_not_found");
  });

  test("statistics of a group and of the school, from the precomputed rows", async () => {
    const day = new Date().toISOString().slice(0, 10);
    const from = new Date(Date.now() - 2 * 86_400_000).toISOString().slice(0, 10);
    const res = await request(h.app)
      .get(`/v1/schools/birch/groups/7A/stats?from=${from}&to=${day}`)
      .set(teacher.auth);
    assert.equal(res.status, 200, res.text);
    const { rows } = await h.db.pool.query<{ present: number; absent: number; held: number }>(
      `select coalesce(sum(present), 0)::int as present, coalesce(sum(absent), 0)::int as absent,
              count(*)::int as held
       from register_states where school_id = 'birch' and group_id = '7A' and completion_id is not null`,
    );
    assert.equal(res.body.lessonsHeld, rows[0]!.held);
    assert.equal(res.body.present, rows[0]!.present);
    assert.equal(res.body.absent, rows[0]!.absent);
    const p2 = res.body.people.find((p: { id: string }) => p.id === "P2");
    assert.ok(p2.absent >= 2 && p2.lessons === p2.present + p2.absent, JSON.stringify(p2));
    const school = await request(h.app)
      .get(`/v1/schools/birch/registers/stats?from=${from}&to=${day}`)
      .set(head.auth);
    assert.equal(school.status, 200, school.text);
    assert.equal(school.body.present, res.body.present);
    assert.equal(school.body.groups[0].groupId, "7A");
    assert.ok(school.body.lessonsNotCompleted >= 1);
    expectError(
      await request(h.app).get(`/v1/schools/birch/registers/stats?from=${day}`).set(head.auth),
      400,
      "invalid_request",
    );
  });

  test("a classroom tablet (a kiosk) takes registers too; the outbox's batches carry a teacher's", async () => {
    const now = Date.now();
    const poll = await createRegister("maths-11", "7A", now - HOUR, now - HOUR / 2);
    const kiosk = await request(h.app)
      .post("/v1/kiosks")
      .set(head.auth)
      .send({ id: "room-12", name: "Room 12" });
    assert.equal(kiosk.status, 201, kiosk.text);
    const tablet = { Authorization: `Bearer ${kiosk.body.token}` };
    const batch = await request(h.app)
      .post("/v1/votes/batch")
      .set(teacher.auth)
      .send({
        votes: [
          { pollId: poll.id, optionId: "absent", voterId: "P1" },
          { pollId: poll.id, optionId: "absent", voterId: "Q1" },
          { pollId: poll.id, optionId: "late", voterId: "P2" },
        ],
      });
    assert.equal(batch.status, 200, batch.text);
    assert.deepEqual(
      batch.body.results.map(
        (r: { status: string; error?: { code: string } }) => r.error?.code ?? r.status,
      ),
      ["accepted", "not_in_group", "unknown_option"],
    );
    await report(tablet, poll.id, "P2", "absent").expect(202);
    await complete(tablet, poll.id, randomUUID()).expect(202);
    const s = await settled(poll.id, 2, true);
    assert.deepEqual([s.present, s.absent], [2, 2]);
    const cedarKiosk = await request(h.app)
      .post("/v1/kiosks")
      .set(ADMIN)
      .send({ id: "cedar-room", name: "Cedar room", schoolId: "cedar" });
    expectError(
      await complete({ Authorization: `Bearer ${cedarKiosk.body.token}` }, poll.id, randomUUID()),
      403,
      "poll_not_allowed",
    );
  });

  test("a school's first register: every API process learns its groups' members", async () => {
    const replica = await startIngestReplica(h, { PEOPLE_REFRESH_MS: "600000" });
    try {
      await createSchool(h.app, "fir");
      await request(h.app)
        .put("/v1/schools/fir/people/F1")
        .set(ADMIN)
        .send({ name: "Fir pupil", groups: ["7A"] })
        .expect(201);
      await eventually("the people are known", async () =>
        h.people.has("fir", "F1") ? true : undefined,
      );
      assert.equal(h.people.inGroup("fir", "7A", "F1"), false, "no register: no group keys");
      const now = Date.now();
      const res = await request(h.app)
        .post("/v1/polls")
        .set(ADMIN)
        .send({
          id: "first",
          schoolId: "fir",
          kind: "register",
          title: "First",
          groupId: "7A",
          startsAt: iso(now - HOUR),
          endsAt: iso(now + HOUR),
        });
      assert.equal(res.status, 201, res.text);
      assert.equal(h.people.inGroup("fir", "7A", "F1"), true, "known before the answer");
      const firTeacher = await issueTeacher("fir", ADMIN, "Fir teacher");
      await eventually(
        "the other API process knows the group",
        async () =>
          (
            await request(replica.app)
              .post("/v1/votes")
              .set(firTeacher.auth)
              .send({ pollId: res.body.id, optionId: "absent", voterId: "F1" })
          ).status === 202
            ? true
            : undefined,
        { timeoutMs: 2_000, intervalMs: 20 },
      );
      // Stored before the next test's publisher runs: a late row would make its "nothing
      // changed" run publish this register.
      await settled(res.body.id, 1, false);
    } finally {
      await replica.close();
    }
  });

  test("a revoked teacher's token is refused", async () => {
    const t = await issueTeacher("birch", head.auth, "Substitute");
    await request(h.app).delete(`/v1/schools/birch/teachers/${t.id}`).set(head.auth).expect(200);
    expectError(await report(t.auth, "maths-1", "P1", "absent"), 401, "unauthorized");
  });

  test("the publisher publishes each register's document, read by the school's admins and teachers", async () => {
    const publisher = await startPublisherInProcess(
      publisherEnv(h.names, h.db.url, { CHART_WORKERS: "0" }),
    );
    try {
      await publisher.run();
      const summary = await publisher.registersRun();
      // Published by this run or by the leader's first (at its start, racing this one): the
      // documents are read below, whichever wrote them.
      assert.ok(summary, "a register run");
      assert.ok(summary.overdue >= 1);
      const done = await request(h.app)
        .get(`/v1/registers/${ids.get("maths-4")}`)
        .set(teacher.auth);
      assert.equal(done.status, 200, done.text);
      assert.equal(done.headers["cache-control"], "private, no-store");
      assert.equal(done.body.completed, true);
      assert.deepEqual(done.body.lists, {
        present: ["P1", "P3", "P4"],
        absent: ["P2"],
        pending: [],
      });
      assert.deepEqual(done.body.counts, { present: 3, absent: 1, pending: 0, events: 3 });
      assert.equal(done.body.changedAfterCompletion, false);
      const again = await request(h.app)
        .get(`/v1/registers/${ids.get("maths-4")}`)
        .set(head.auth)
        .set("If-None-Match", done.headers.etag!);
      assert.equal(again.status, 304);
      const changed = await request(h.app)
        .get(`/v1/registers/${ids.get("maths-6")}`)
        .set(ADMIN);
      assert.equal(changed.body.changedAfterCompletion, true);
      assert.deepEqual(changed.body.changedAfter, ["P1", "P2"]);
      const never = await request(h.app)
        .get(`/v1/registers/${ids.get("maths-9")}`)
        .set(head.auth);
      assert.equal(never.body.completed, false);
      assert.deepEqual(never.body.lists, {
        present: [],
        absent: ["P1"],
        pending: ["P2", "P3", "P4"],
      });
      const metrics = await publisher.metrics.registry.getSingleMetricAsString(
        "tallyflow_registers_overdue",
      );
      assert.match(metrics, /tallyflow_registers_overdue\{[^}]*\} [1-9]/);
      // Nothing changed: the next run writes nothing.
      await publisher.run();
      assert.deepEqual((await publisher.registersRun())?.published, []);
      // A correction: the next run republishes that register only.
      await report(teacher.auth, ids.get("maths-4")!, "P2", "present").expect(202);
      await settled(ids.get("maths-4")!, 4, true);
      await publisher.run();
      assert.deepEqual((await publisher.registersRun())?.published, [ids.get("maths-4")]);
      const corrected = await request(h.app)
        .get(`/v1/registers/${ids.get("maths-4")}`)
        .set(teacher.auth);
      assert.deepEqual(corrected.body.counts, { present: 4, absent: 0, pending: 0, events: 4 });
      assert.equal(corrected.body.changedAfterCompletion, true);
      expectError(
        await request(h.app)
          .get(`/v1/registers/${ids.get("maths-4")}`)
          .set(otherTeacher.auth),
        404,
        "poll_not_found",
      );
    } finally {
      await publisher.close();
    }
  });
});

describe("erasure", () => {
  test("an erased person is renamed in the register's people, its completion's roster and its document", async () => {
    for (const id of ["E1", "E2", "E3"])
      await request(h.app)
        .put(`/v1/schools/birch/people/${id}`)
        .set(head.auth)
        .send({ name: `Pupil ${id}`, groups: ["9E"] })
        .expect(201);
    await eventually("the API knows group 9E", async () =>
      h.people.inGroup("birch", "9E", "E3") ? true : undefined,
    );
    const now = Date.now();
    const poll = await createRegister("erase-1", "9E", now - HOUR, now - HOUR / 2);
    await report(teacher.auth, poll.id, "E1", "absent").expect(202);
    await complete(teacher.auth, poll.id, randomUUID()).expect(202);
    await settled(poll.id, 1, true);
    const publisher = await startPublisherInProcess(
      publisherEnv(h.names, h.db.url, { CHART_WORKERS: "0" }),
    );
    try {
      // The publisher also runs on its own schedule: whichever run publishes it, wait for it.
      const published = (lists: unknown) =>
        eventually(`register ${poll.id} published with ${JSON.stringify(lists)}`, async () => {
          await publisher.run();
          await publisher.registersRun();
          const res = await request(h.app).get(`/v1/registers/${poll.id}`).set(head.auth);
          try {
            assert.deepEqual(res.body.lists, lists);
            return true;
          } catch {
            return undefined;
          }
        });
      await published({ present: ["E2", "E3"], absent: ["E1"], pending: [] });

      // E1 has an event (absent), E2 only the completion's roster (present).
      const erased: Record<string, string> = {};
      for (const id of ["E1", "E2"]) {
        const res = await request(h.app).delete(`/v1/schools/birch/people/${id}`).set(head.auth);
        assert.equal(res.status, 200, res.text);
        erased[id] = res.body.pseudonym;
      }
      const { E1: e1, E2: e2 } = erased as { E1: string; E2: string };
      assert.deepEqual(await people(poll.id), { E3: "present", [e1]: "absent", [e2]: "present" });
      assert.deepEqual(await storedPeople(poll.id), { [e1]: "absent" }, "E2 only in the roster");
      const { rows } = await h.db.pool.query<{ roster: string[] }>(
        "select roster from register_states where poll_id = $1",
        [poll.id],
      );
      assert.deepEqual(rows[0]!.roster, ["E3", e1, e2].sort(), "renamed, still in id order");
      const left = await h.db.pool.query(
        `select (select count(*) from register_people where person_id in ('E1', 'E2'))::int as people,
                (select count(*) from register_statuses where person_id in ('E1', 'E2'))::int as statuses,
                (select count(*) from register_states where roster && array['E1', 'E2'] collate "C")::int as rosters`,
      );
      assert.deepEqual(left.rows[0], { people: 0, statuses: 0, rosters: 0 });
      // Counts stand; the document is written again under the pseudonyms.
      const s = await state(poll.id);
      assert.deepEqual([s?.present, s?.absent, s?.pending], [2, 1, 0]);
      await published({ present: ["E3", e2].sort(), absent: [e1], pending: [] });
    } finally {
      await publisher.close();
    }
  });
});
