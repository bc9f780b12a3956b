// The Redis scripts of the "already checked in" state (attendance-state.ts). One rule
// decides every write, live or rebuilt: an entry is replaced only by a greater packed value
// (a later second; in the same second, `out` over `in`), so the state is the latest event
// whatever order the events arrive in, and a rebuild can merge into live state at any time.

// Writes entries from KEYS[first] on: for each, ARGV holds field, packed value, and the
// bucket's EXPIREAT (unix seconds) from ARGV[firstArg] on. Answers how many changed.
const MERGE = `
local function merge(first, firstArg)
  local changed = 0
  for i = first, #KEYS do
    local a = firstArg + 3 * (i - first)
    local old = redis.call('HGET', KEYS[i], ARGV[a])
    if not old or tonumber(ARGV[a + 1]) > tonumber(old) then
      redis.call('HSET', KEYS[i], ARGV[a], ARGV[a + 1])
      redis.call('EXPIREAT', KEYS[i], ARGV[a + 2])
      changed = changed + 1
    end
  end
  return changed
end
`;

/** The API's writes after an event's publish ack: KEYS bucket keys, ARGV their entries. */
export const RECORD = `${MERGE}
return merge(1, 1)`;

/**
 * A rebuild step: KEYS[1] the rebuild lock, ARGV[1] its token, ARGV[2] its lifetime (renewed
 * here), then entries as RECORD's. Answers -1, writing nothing, when the lock is not ours
 * (Redis restarted again mid-rebuild: the rebuild stops).
 */
export const REBUILD_WRITE = `${MERGE}
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return merge(2, 3)`;

/**
 * A kiosk's read: KEYS[1] the restored marker, KEYS[2] the schools rebuilt so far, KEYS[3]
 * the person's bucket; ARGV[1] the school, ARGV[2] the person's field. Answers -1 when Redis
 * does not hold the school's complete state (emptied, rebuild not there yet), -2 when the
 * person has no entry today, else the packed value. Check and read in one script: no window.
 */
export const READ = `
if redis.call('EXISTS', KEYS[1]) == 0 and redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then
  return -1
end
local v = redis.call('HGET', KEYS[3], ARGV[2])
if not v then return -2 end
return tonumber(v)`;
