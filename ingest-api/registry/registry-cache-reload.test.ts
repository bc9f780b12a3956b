import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, test } from "node:test";
import { setImmediate as nextTurn } from "node:timers/promises";
import { createLogger } from "../../common/logger.ts";
import { createTestDatabase, type TestDatabase } from "../../test-support/database.ts";
import { testNames } from "../../test-support/names.ts";
import { RegistryCache } from "./registry-cache.ts";

// A full reload (the safety net, or a change it cannot apply row by row) replaces the
// cached registry. Until the new copy is read, the old one must keep answering: a teacher
// (or kiosk, or school admin) whose token was known before the reload is known at every
// moment of it. The teachers' map used to be emptied before their query ran, and a
// national morning's teachers got 401 while the registry of 350,000 registers reloaded.

const TOKEN = "teacher-token-of-the-reload-test";
const hash = createHash("sha256").update(TOKEN).digest();
let db: TestDatabase;
let cache: RegistryCache;

before(async () => {
  db = await createTestDatabase(testNames().database);
  await db.pool.query(
    "insert into school_teachers (id, school_id, label, token_hash) values ('t1', 'default', 'T', $1)",
    [hash],
  );
  await db.pool.query(
    `insert into kiosks (id, slug, name, token_hash) values ('k1', 'k1', 'K', $1)`,
    [createHash("sha256").update("kiosk-token-of-the-reload-test").digest()],
  );
  cache = new RegistryCache(db.pool, db.url, 600_000, createLogger("silent"), {
    checkIntervalMs: 60_000,
    checkTimeoutMs: 5_000,
    keepAliveMs: 10_000,
  });
  await cache.start();
});

after(async () => {
  cache?.stop();
  await db?.drop();
});

test("a teacher and a kiosk known before a full reload are known at every turn of the loop during it", async () => {
  const hex = hash.toString("hex");
  const kioskHex = createHash("sha256").update("kiosk-token-of-the-reload-test").digest("hex");
  assert.ok(cache.teacherByTokenHash(hex), "known before");
  let turns = 0;
  for (let round = 0; round < 5; round++) {
    let done = false;
    const misses: string[] = [];
    const reload = cache.reload().finally(() => {
      done = true;
    });
    while (!done) {
      turns++;
      if (cache.teacherByTokenHash(hex) === undefined) misses.push(`teacher at turn ${turns}`);
      if (cache.kioskByTokenHash(kioskHex) === undefined) misses.push(`kiosk at turn ${turns}`);
      await nextTurn();
    }
    await reload;
    assert.deepEqual(misses, [], `round ${round}`);
  }
  // A reload may join one already under way (a NOTIFY's), which can end at once: over five,
  // the loop must have turned while one was reading Postgres, or nothing was tested.
  assert.ok(turns > 10, `the loop turned ${turns} times during the reloads`);
});
