import { createHash } from "node:crypto";
import { type Env, readOptionalString, readString } from "../../common/env.ts";
import { ConfigError } from "../../common/errors.ts";

// Redis's users, one per service, each with the commands and keys its code sends (and
// the commands its Lua scripts call: Redis checks those against the caller's user too),
// and a read-only `results` user for the kiosks and screens that read the results
// contract directly (docs/redis-contract.md). The default user is off: a client that
// does not authenticate can do nothing.
//
// The users live in an ACL file that redis-server reads at every start (--aclfile), not
// in `ACL SETUSER` commands sent by `npm run migrate`: Redis runs without persistence and
// comes back empty after a restart, and users created at runtime would vanish with the
// data, leaving the default user as the file-less server configures it (open). The
// file holds only SHA-256 hashes of the passwords, which come from the environment.

/** What one user may do. Key and channel names are relative to REDIS_KEY_PREFIX. */
export interface RedisUserRules {
  /** Commands (`get`, `client|setname`); nothing else is allowed. */
  commands: readonly string[];
  /** Keys read and written (glob patterns). */
  keys: readonly string[];
  /** Keys only read. */
  readKeys: readonly string[];
  /** Pub/sub channels. */
  channels: readonly string[];
}

/**
 * Sent by every client when it connects or checks the connection (AUTH and HELLO are always
 * allowed; CLIENT SETINFO, which Redis 7.0 does not know, fails harmlessly).
 */
const CONNECTION = ["ping", "client|setname"];
const TRANSACTIONS = ["multi", "exec", "discard"];
/** Plain string keys, read and written. */
const STRINGS = ["get", "mget", "set", "del"];

/** The results contract: the keys every reader may GET, and the announcement channel. */
const RESULTS_KEYS = ["results:*"];
const RESULTS_CHANNEL = "results";
/**
 * The schools' day documents and their channel (common/attendance-contract.ts): they name
 * people, so the read-only `results` user has neither.
 */
const ATTENDANCE_KEYS = ["attendance:*"];
const ATTENDANCE_CHANNEL = "attendance";
/** Lesson registers' documents and their channel (common/register-contract.ts): they name people too. */
const REGISTER_KEYS = ["register:*"];
const REGISTER_CHANNEL = "registers";
/** The chart queue both the API (a read that found no PNG) and the publisher write. */
const CHART_KEYS = ["chart-demand", "chart-jobs"];

export const REDIS_USERS = {
  // votes/voter-guard.ts, votes/voter-claims-rebuild.ts, attendance/attendance-state.ts,
  // attendance/attendance-state-rebuild.ts (and their Lua scripts),
  // http/rate-limits.ts (rate-limiter-flexible: a Lua script, MULTI, GET, DEL),
  // kiosks/kiosk-health.ts, results/results-cache.ts and results-events.ts,
  // common/chart-demand.ts.
  "ingest-api": {
    commands: [
      ...CONNECTION,
      ...TRANSACTIONS,
      ...STRINGS,
      "unlink",
      "exists",
      "incrby",
      "pexpire",
      "expire",
      "expireat",
      "pttl",
      "hget",
      "hset",
      "hdel",
      "hexists",
      "hmget",
      "hvals",
      "hgetall",
      "zadd",
      "scan",
      "eval",
      "evalsha",
      "script|load",
      "subscribe",
      "unsubscribe",
    ],
    keys: [
      "voters:*",
      "voter-claims:*",
      "attendance-state:*",
      "attendance-state-rebuild:*",
      "ratelimit:*",
      "kiosks:*",
      ...CHART_KEYS,
    ],
    readKeys: [...RESULTS_KEYS, ...ATTENDANCE_KEYS, ...REGISTER_KEYS],
    channels: [RESULTS_CHANNEL, ATTENDANCE_CHANNEL],
  },
  // publisher.ts, gone-results.ts, chart-jobs.ts, chart-renderer.ts, attendance-publisher.ts,
  // register-publisher.ts.
  "result-publisher": {
    commands: [
      ...CONNECTION,
      ...TRANSACTIONS,
      ...STRINGS,
      "publish",
      "zadd",
      "zcard",
      "zrangebyscore",
      "zremrangebyscore",
      "bzpopmin",
      "scan",
      "eval",
      // register-writes.ts: a leader's epoch.
      "incr",
    ],
    keys: [
      ...RESULTS_KEYS,
      ...CHART_KEYS,
      ...ATTENDANCE_KEYS,
      "attendance-cursor",
      ...REGISTER_KEYS,
      "register-roster-cursor",
      "register-epoch",
    ],
    readKeys: [],
    channels: [RESULTS_CHANNEL, ATTENDANCE_CHANNEL, REGISTER_CHANNEL],
  },
  // Kiosks, screens and the operator's checks (npm run reconcile, verify): read only.
  results: {
    commands: [
      ...CONNECTION,
      "get",
      "mget",
      "exists",
      "strlen",
      "getrange",
      "subscribe",
      "unsubscribe",
    ],
    keys: [],
    readKeys: RESULTS_KEYS,
    channels: [RESULTS_CHANNEL],
  },
} as const satisfies Record<string, RedisUserRules>;

export type RedisUserName = keyof typeof REDIS_USERS;

/** The variable holding each user's password. */
export const PASSWORD_VARIABLES: Record<RedisUserName, string> = {
  "ingest-api": "REDIS_API_PASSWORD",
  "result-publisher": "REDIS_PUBLISHER_PASSWORD",
  results: "REDIS_RESULTS_PASSWORD",
};
/** An operator's user with every right (maintenance: CONFIG, ACL LOG, FLUSHALL); optional. */
export const ADMIN_USER = "admin";
export const ADMIN_PASSWORD_VARIABLE = "REDIS_ADMIN_PASSWORD";
/**
 * The metrics exporter's user (docker-compose.observability.yml), optional: the server
 * commands redis_exporter sends at a scrape, no key and no channel.
 */
export const METRICS_USER = "metrics";
export const METRICS_PASSWORD_VARIABLE = "REDIS_METRICS_PASSWORD";
const METRICS_COMMANDS = [
  ...CONNECTION,
  "info",
  "config|get",
  "slowlog|get",
  "slowlog|len",
  "latency|latest",
];
/** Shorter passwords are refused: they go over the network and guessing is cheap. */
const MIN_PASSWORD_CHARS = 16;

const glob = (s: string) => s.replace(/[*?[\]\\]/g, "\\$&");
const hashed = (password: string) => `#${createHash("sha256").update(password).digest("hex")}`;

function userLine(name: string, password: string, rules: RedisUserRules, prefix: string): string {
  const p = glob(prefix);
  return [
    "user",
    name,
    "reset",
    "on",
    hashed(password),
    ...rules.commands.map((c) => `+${c}`),
    ...rules.keys.map((k) => `~${p}${k}`),
    ...rules.readKeys.map((k) => `%R~${p}${k}`),
    ...rules.channels.map((c) => `&${p}${c}`),
  ].join(" ");
}

export interface AclSettings {
  keyPrefix: string;
  passwords: Record<RedisUserName, string>;
  adminPassword: string | undefined;
  metricsPassword: string | undefined;
}

/**
 * The file for redis-server --aclfile (`npm run redis-users`; an ACL file has no comments):
 * the default user off, then one line per user.
 */
export function renderAclFile({
  keyPrefix,
  passwords,
  adminPassword,
  metricsPassword,
}: AclSettings): string {
  const lines = [
    "user default reset off",
    ...Object.entries(REDIS_USERS).map(([name, rules]) =>
      userLine(name, passwords[name as RedisUserName], rules, keyPrefix),
    ),
  ];
  if (adminPassword !== undefined)
    lines.push(`user ${ADMIN_USER} reset on ${hashed(adminPassword)} +@all ~* &*`);
  if (metricsPassword !== undefined)
    lines.push(
      userLine(
        METRICS_USER,
        metricsPassword,
        { commands: METRICS_COMMANDS, keys: [], readKeys: [], channels: [] },
        keyPrefix,
      ),
    );
  return `${lines.join("\n")}\n`;
}

function readPassword(env: Env, name: string, required: boolean): string | undefined {
  const value = readOptionalString(env, name);
  if (value === undefined) {
    if (required) throw new ConfigError(name, "must be set (the Redis user's password)");
    return undefined;
  }
  // Characters a redis:// URL carries as they are, so that the password is the same there.
  if (!new RegExp(`^[A-Za-z0-9._~-]{${MIN_PASSWORD_CHARS},}$`).test(value))
    throw new ConfigError(
      name,
      `must be at least ${MIN_PASSWORD_CHARS} letters, digits or . _ ~ - (it goes into a redis:// URL as it is), e.g. openssl rand -hex 24`,
    );
  return value;
}

/** The settings from the environment; fails naming a missing or unusable variable. */
export function readAclSettings(env: Env): AclSettings {
  const keyPrefix = readString(env, "REDIS_KEY_PREFIX", "tallyflow:");
  if (/\s/.test(keyPrefix))
    throw new ConfigError("REDIS_KEY_PREFIX", "must not contain spaces (an ACL pattern cannot)");
  const passwords = Object.fromEntries(
    Object.entries(PASSWORD_VARIABLES).map(([user, variable]) => [
      user,
      readPassword(env, variable, true),
    ]),
  ) as Record<RedisUserName, string>;
  return {
    keyPrefix,
    passwords,
    adminPassword: readPassword(env, ADMIN_PASSWORD_VARIABLE, false),
    metricsPassword: readPassword(env, METRICS_PASSWORD_VARIABLE, false),
  };
}
