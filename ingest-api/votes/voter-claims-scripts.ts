// The Redis scripts of the voter claims rebuild (voter-claims-rebuild.ts). Every one that
// writes runs only while the caller holds the rebuild lock (KEYS[1], value ARGV[1]) and
// answers 0 otherwise: a lock gone with a Redis restart stops the rebuild there.

// One step: KEYS[1] the lock, KEYS[2..] one bucket key per ballot; ARGV token, lock ms,
// then field and tag of each ballot. Run in Redis it costs one call a ballot; an HSET sent
// per ballot was several times slower. The buckets get their TTL once the poll is written
// (EXPIRE_ALL): a poll's ~65,536 buckets instead of a PEXPIRE per ballot.
export const WRITE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
for i = 2, #KEYS do
  redis.call('HSET', KEYS[i], ARGV[2 * i - 1], ARGV[2 * i])
end
return 1`;

export const EXPIRE_ALL = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
for i = 2, #KEYS do redis.call('PEXPIRE', KEYS[i], ARGV[2]) end
return 1`;

export const EXTEND = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

export const POLL_DONE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], '1')
return 1`;

export const COMPLETE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('DEL', KEYS[3], KEYS[1])
return 1`;

export const UNLOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;
