import assert from "node:assert/strict";
import { describe, test } from "node:test";
import pg from "pg";
import { freePort } from "../harness/ports.ts";
import { PG_BASE_URL } from "../test-support/database.ts";
import { classifyFailure, describeFailure } from "./pg-errors.ts";

const withCode = (code: string, message = `failed with ${code}`) =>
  Object.assign(new Error(message), { code });

describe("writer failure classes", () => {
  test("SQLSTATE classes and codes", () => {
    const cases: [string, string][] = [
      ["22007", "poison"], // invalid_datetime_format
      ["22009", "poison"], // invalid_time_zone_displacement_value
      ["23514", "poison"], // check_violation
      ["23502", "poison"], // not_null_violation
      ["08006", "transient"], // connection_failure
      ["08001", "transient"], // sqlclient_unable_to_establish_sqlconnection
      ["40001", "transient"], // serialization_failure
      ["40P01", "transient"], // deadlock_detected
      ["53100", "transient"], // disk_full
      ["53300", "transient"], // too_many_connections
      ["57P01", "transient"], // admin_shutdown
      ["57P03", "transient"], // cannot_connect_now (starting up, recovery)
      ["57014", "transient"], // query_canceled (statement_timeout)
      ["58030", "transient"], // io_error
      ["55P03", "transient"], // lock_not_available
      ["55006", "transient"], // object_in_use
      ["25006", "transient"], // read_only_sql_transaction (a standby after failover)
      ["3D000", "transient"], // invalid_catalog_name
      ["28P01", "transient"], // invalid_password
      ["42P01", "permanent"], // undefined_table
      ["42501", "permanent"], // insufficient_privilege
      ["42703", "permanent"], // undefined_column
      ["P0001", "permanent"], // raise_exception (a trigger)
      ["XX000", "permanent"], // internal_error
      ["55000", "permanent"], // object_not_in_prerequisite_state
    ];
    for (const [code, kind] of cases) assert.equal(classifyFailure(withCode(code)), kind, code);
  });

  test("errors without a SQLSTATE: sockets and the driver's connection errors are transient", () => {
    for (const code of ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EAI_AGAIN"])
      assert.equal(classifyFailure(withCode(code)), "transient", code);
    for (const message of [
      "Connection terminated unexpectedly",
      "Connection terminated due to connection timeout",
      "timeout exceeded when trying to connect",
      "Client has encountered a connection error and is not queryable",
    ])
      assert.equal(classifyFailure(new Error(message)), "transient", message);
    const wrapped = new Error("copy failed", { cause: withCode("ECONNRESET") });
    assert.equal(classifyFailure(wrapped), "transient");
    // A bug of ours is not an outage: bounded, then isolated.
    assert.equal(classifyFailure(new TypeError("x is not a function")), "permanent");
    assert.equal(classifyFailure(withCode("ERR_INVALID_ARG_TYPE")), "permanent");
    assert.equal(classifyFailure("a string"), "permanent");
  });

  test("what node-postgres really throws when nothing listens is transient", async () => {
    const url = new URL(PG_BASE_URL);
    url.port = String(await freePort());
    const client = new pg.Client({ connectionString: url.toString() });
    const err = await client.connect().then(
      () => assert.fail("connected to a port nothing listens on"),
      (e: unknown) => e,
    );
    assert.equal(classifyFailure(err), "transient", describeFailure(err));
  });

  test("what Postgres really answers: a data error, a trigger, a missing table", async () => {
    const client = new pg.Client({ connectionString: `${PG_BASE_URL}/postgres` });
    await client.connect();
    try {
      const failure = (sql: string) =>
        client.query(sql).then(
          () => assert.fail(`${sql} succeeded`),
          (e: unknown) => e,
        );
      assert.equal(classifyFailure(await failure("select 'x'::timestamptz")), "poison");
      const raised = await failure("do $$ begin raise exception 'no'; end $$");
      assert.equal(classifyFailure(raised), "permanent");
      assert.equal(describeFailure(raised), "P0001: no");
      assert.equal(classifyFailure(await failure("select * from no_such_table")), "permanent");
    } finally {
      await client.end();
    }
  });
});
