import assert from "node:assert/strict";
import type { Express } from "express";
import request from "supertest";
import type { School } from "../common/registry-types.ts";
import { ADMIN } from "./ingest.ts";

/** A school created by the deployment admin. */
export async function createSchool(
  app: Express,
  id: string,
  extra: { name?: string; timeZone?: string } = {},
): Promise<School> {
  const res = await request(app)
    .post("/v1/schools")
    .set(ADMIN)
    .send({ id, name: `School ${id}`, ...extra });
  assert.equal(res.status, 201, res.text);
  return res.body as School;
}

export interface TestSchoolAdmin {
  id: string;
  schoolId: string;
  token: string;
  /** Headers to send as this school admin. */
  auth: { Authorization: string };
}

/** A school admin credential, issued by the deployment admin. */
export async function issueSchoolAdmin(
  app: Express,
  schoolId: string,
  label = `Head of ${schoolId}`,
): Promise<TestSchoolAdmin> {
  const res = await request(app).post(`/v1/schools/${schoolId}/admins`).set(ADMIN).send({ label });
  assert.equal(res.status, 201, res.text);
  const { id, token } = res.body as { id: string; token: string };
  return { id, schoolId, token, auth: { Authorization: `Bearer ${token}` } };
}
