import type { RedisClient } from "../common/redis.ts";
import { type RegisterDocument, registerKeys } from "../common/register-contract.ts";

/** A register's document as the publisher stored it under `prefix`, or null when there is none. */
export async function readRegisterDocument(
  redis: RedisClient,
  prefix: string,
  pollId: string,
): Promise<RegisterDocument | null> {
  const raw = await redis.get(registerKeys(prefix, pollId).json);
  return raw === null ? null : (JSON.parse(raw) as RegisterDocument);
}
