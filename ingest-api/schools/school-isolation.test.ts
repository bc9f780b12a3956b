import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import request from "supertest";
import type { ErrorCode } from "../../common/error-codes.ts";
import type { Poll } from "../../common/registry-types.ts";
import { eventually } from "../../harness/waiting.ts";
import { expectError } from "../../test-support/api.ts";
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

// Two schools, each with its admin, poll and kiosk: every admin route, tried by one school's
// admin on the other's objects, answers exactly what a missing object answers (no leak of
// what exists), and each admin's lists hold only its own school. Revoking an admin holds on
// every API process within a second.

let h: IngestHarness;
interface SchoolFixture {
  admin: TestSchoolAdmin;
  poll: Poll;
  kioskId: string;
}
const schools: Record<"a" | "b", SchoolFixture> = {} as never;

const options = [
  { id: "yes", label: "Yes" },
  { id: "no", label: "No" },
];

before(async () => {
  h = await startIngestHarness();
  for (const key of ["a", "b"] as const) {
    const schoolId = `school-${key}`;
    await createSchool(h.app, schoolId);
    const admin = await issueSchoolAdmin(h.app, schoolId);
    const poll = await request(h.app)
      .post("/v1/polls")
      .set(admin.auth)
      .send({ id: "lunch", title: "Lunch", options });
    assert.equal(poll.status, 201, poll.text);
    const kiosk = await request(h.app)
      .post("/v1/kiosks")
      .set(admin.auth)
      .send({ id: "hall", name: "Hall" });
    assert.equal(kiosk.status, 201, kiosk.text);
    schools[key] = { admin, poll: poll.body, kioskId: kiosk.body.id };
  }
});
after(() => h?.close());

/** Every admin route that names an object of a school, given that school's objects. */
function objectRoutes(target: SchoolFixture) {
  const { poll, kioskId } = target;
  const schoolId = target.admin.schoolId;
  return [
    { method: "get", path: `/v1/polls/${poll.id}`, code: "poll_not_found" },
    {
      method: "patch",
      path: `/v1/polls/${poll.id}`,
      body: { title: "Mine" },
      code: "poll_not_found",
    },
    {
      method: "patch",
      path: `/v1/polls/${poll.id}`,
      body: { archived: true },
      code: "poll_not_found",
    },
    { method: "delete", path: `/v1/polls/${poll.id}`, code: "poll_not_found" },
    {
      method: "patch",
      path: `/v1/kiosks/${kioskId}`,
      body: { name: "Mine" },
      code: "kiosk_not_found",
    },
    { method: "post", path: `/v1/kiosks/${kioskId}/pairing`, code: "kiosk_not_found" },
    { method: "delete", path: `/v1/kiosks/${kioskId}`, code: "kiosk_not_found" },
    { method: "get", path: `/v1/schools/${schoolId}`, code: "school_not_found" },
    { method: "get", path: `/v1/polls?schoolId=${schoolId}`, code: "school_not_found" },
    { method: "get", path: `/v1/kiosks?schoolId=${schoolId}`, code: "school_not_found" },
    {
      method: "patch",
      path: `/v1/schools/${schoolId}/attendance`,
      body: { minPresentMinutes: 1 },
      code: "school_not_found",
    },
    {
      method: "get",
      path: `/v1/schools/${schoolId}/attendance?period=week&date=2026-03-11`,
      code: "school_not_found",
    },
    {
      method: "get",
      path: `/v1/schools/${schoolId}/people/P-1/attendance?from=2026-03-01&to=2026-03-31`,
      code: "school_not_found",
    },
    {
      method: "put",
      path: `/v1/schools/${schoolId}/holidays/2026-03-11`,
      body: { name: "Mine" },
      code: "school_not_found",
    },
    {
      method: "delete",
      path: `/v1/schools/${schoolId}/holidays/2026-03-11`,
      code: "school_not_found",
    },
    {
      method: "get",
      path: `/v1/schools/${schoolId}/holidays?from=2026-01-01&to=2026-12-31`,
      code: "school_not_found",
    },
    // Lesson registers (ingest-api/registers/).
    {
      method: "post",
      path: `/v1/schools/${schoolId}/teachers`,
      body: { label: "Mine" },
      code: "school_not_found",
    },
    { method: "get", path: `/v1/schools/${schoolId}/teachers`, code: "school_not_found" },
    { method: "delete", path: `/v1/schools/${schoolId}/teachers/tt-1`, code: "school_not_found" },
    {
      method: "get",
      path: `/v1/schools/${schoolId}/groups/7A/stats?from=2026-03-01&to=2026-03-31`,
      code: "school_not_found",
    },
    {
      method: "get",
      path: `/v1/schools/${schoolId}/registers/stats?from=2026-03-01&to=2026-03-31`,
      code: "school_not_found",
    },
    {
      method: "get",
      path: `/v1/schools/${schoolId}/registers?state=overdue`,
      code: "school_not_found",
    },
    { method: "get", path: `/v1/registers/${target.poll.id}`, code: "poll_not_found" },
    {
      method: "post",
      path: `/v1/registers/${target.poll.id}/complete`,
      body: { completionId: "0190b3c4-0000-7000-8000-000000000001" },
      code: "poll_not_found",
    },
  ] as const satisfies readonly {
    method: "get" | "post" | "patch" | "put" | "delete";
    path: string;
    body?: object;
    code: ErrorCode;
  }[];
}

/** The same routes on objects that do not exist: what another school's must look like. */
const missing: SchoolFixture = {
  admin: { id: "-", schoolId: "no-such-school", token: "-", auth: { Authorization: "-" } },
  poll: { id: "no-such-poll" } as Poll,
  kioskId: "no-such-kiosk",
};

async function send(
  auth: { Authorization: string },
  route: { method: "get" | "post" | "patch" | "put" | "delete"; path: string; body?: object },
) {
  const req = request(h.app)[route.method](route.path).set(auth);
  return "body" in route && route.body !== undefined ? req.send(route.body) : req;
}

describe("one school's admin on the other school's objects", () => {
  for (const [actor, target] of [
    ["a", "b"],
    ["b", "a"],
  ] as const) {
    test(`school ${actor} on school ${target}'s objects: all 404, as if missing`, async () => {
      const auth = schools[actor].admin.auth;
      const theirs = objectRoutes(schools[target]);
      const absent = objectRoutes(missing);
      for (const [i, route] of theirs.entries()) {
        const res = await send(auth, route);
        const error = expectError(res, 404, route.code);
        const control = await send(auth, absent[i]!);
        const controlError = expectError(control, 404, route.code);
        // The same answer but for the id it names: nothing tells the two apart.
        const unnamed = (message: string, id: string) => message.replaceAll(id, "<id>");
        const idOf = (r: typeof route) => r.path.split("/")[3]!.split("?")[0]!;
        const idInQuery = (r: typeof route) => r.path.split("schoolId=")[1];
        assert.equal(
          unnamed(error.message, idInQuery(route) ?? idOf(route)),
          unnamed(controlError.message, idInQuery(absent[i]!) ?? idOf(absent[i]!)),
          `${route.method} ${route.path}`,
        );
      }
      // Nothing changed on the other side.
      const their = schools[target];
      const poll = await request(h.app).get(`/v1/polls/${their.poll.id}`).set(ADMIN).expect(200);
      assert.equal(poll.body.title, "Lunch");
      assert.equal(poll.body.archived, false);
      const kiosks = await request(h.app).get("/v1/kiosks").set(ADMIN).expect(200);
      const kiosk = kiosks.body.kiosks.find((k: { id: string }) => k.id === their.kioskId);
      assert.equal(kiosk.name, "Hall");
      assert.equal(kiosk.revokedAt, null);
    });

    test(`school ${actor}'s lists hold only its own school`, async () => {
      const own = schools[actor];
      const auth = own.admin.auth;
      const polls = await request(h.app).get("/v1/polls").set(auth).expect(200);
      assert.deepEqual(
        polls.body.polls.map((p: Poll) => p.id),
        [own.poll.id],
      );
      const kiosks = await request(h.app).get("/v1/kiosks").set(auth).expect(200);
      assert.deepEqual(
        kiosks.body.kiosks.map((k: { id: string }) => k.id),
        [own.kioskId],
      );
      await request(h.app).get(`/v1/polls?schoolId=${own.admin.schoolId}`).set(auth).expect(200);
    });
  }

  test("the deployment admin sees both schools, and can filter by one", async () => {
    const all = await request(h.app).get("/v1/polls").set(ADMIN).expect(200);
    const ids = all.body.polls.map((p: Poll) => p.id);
    assert.ok(ids.includes(schools.a.poll.id) && ids.includes(schools.b.poll.id));
    const onlyA = await request(h.app).get("/v1/polls?schoolId=school-a").set(ADMIN).expect(200);
    assert.deepEqual(
      onlyA.body.polls.map((p: Poll) => p.id),
      [schools.a.poll.id],
    );
  });
});

describe("revoking a school admin", () => {
  test("holds on a second API process within a second", async () => {
    const replica = await startIngestReplica(h, { REGISTRY_REFRESH_MS: "600000" });
    try {
      await createSchool(h.app, "revoking");
      const head = await issueSchoolAdmin(h.app, "revoking");
      await eventually("the replica knows the new admin", async () => {
        const res = await request(replica.app).get("/v1/polls").set(head.auth);
        return res.status === 200;
      });
      await request(h.app).delete(`/v1/schools/revoking/admins/${head.id}`).set(ADMIN).expect(200);
      const revokedAt = Date.now();
      expectError(await request(h.app).get("/v1/polls").set(head.auth), 401, "unauthorized");
      await eventually(
        "the replica refuses the revoked token",
        async () => (await request(replica.app).get("/v1/polls").set(head.auth)).status === 401,
        { timeoutMs: 1_000, intervalMs: 20 },
      );
      assert.ok(Date.now() - revokedAt < 1_000);
    } finally {
      await replica.close();
    }
  });
});
