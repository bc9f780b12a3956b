import { randomBytes } from "node:crypto";

/** Names no other test file uses: its own database, stream, subjects and Redis keys. */
export interface TestNames {
  suffix: string;
  database: string;
  streamName: string;
  subjectPrefix: string;
  redisKeyPrefix: string;
  consumerName: string;
}

export function testNames(): TestNames {
  const suffix = randomBytes(5).toString("hex");
  return {
    suffix,
    database: `tf_test_${suffix}`,
    streamName: `VOTES_T${suffix}`,
    subjectPrefix: `tvotes_${suffix}`,
    redisKeyPrefix: `tftest:${suffix}:`,
    consumerName: `writer_${suffix}`,
  };
}
