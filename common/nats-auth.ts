import { type Env, readName, readSecret } from "./env.ts";
import { ConfigError } from "./errors.ts";

// Who a process is on NATS. docs/nats/accounts.conf gives each user only what its service
// needs (the API publishes votes, the writers consume theirs, the migration manages the
// streams and consumers); the server refuses anonymous connections. The password comes from
// the environment or a file, never from the repository.

/** The users of docs/nats/accounts.conf: the ingest API, the batch writers, and the migration with the operator's tools. */
export type NatsRole = "api" | "writer" | "migrate";

const ROLES: Readonly<Record<NatsRole, { variable: string; user: string }>> = {
  api: { variable: "NATS_API", user: "ingest-api" },
  writer: { variable: "NATS_WRITER", user: "batch-writer" },
  migrate: { variable: "NATS_MIGRATE", user: "migrate" },
};

/** The same length rule as ADMIN_TOKEN's. */
const MIN_PASSWORD_LENGTH = 12;

/**
 * nats-server reads `$NATS_<ROLE>_PASSWORD` in accounts.conf as a config value, not as a
 * string: one that starts with a digit is parsed as a number and the server refuses the
 * whole file. A password that starts with a letter is always a string to it.
 */
const NATS_SAFE_PASSWORD = /^[A-Za-z]/;

export interface NatsAuth {
  readonly user: string;
  readonly password: string;
  /** The development default: accepted only outside NODE_ENV=production. */
  readonly passwordIsDefault: boolean;
  /** Where the password is set, for the warning about a default. */
  readonly passwordVariable: string;
}

/** The development password of a role: a fixed, public value, refused in production. */
export function devNatsPassword(role: NatsRole): string {
  return `dev-only-${ROLES[role].user}`;
}

/**
 * `NATS_<ROLE>_USER` (default: the role's user in accounts.conf) and `NATS_<ROLE>_PASSWORD`
 * or `NATS_<ROLE>_PASSWORD_FILE`. Without a password a development default is used, as
 * ADMIN_TOKEN's; NODE_ENV=production refuses it.
 */
export function readNatsAuth(env: Env, role: NatsRole): NatsAuth {
  const { variable, user } = ROLES[role];
  const passwordVariable = `${variable}_PASSWORD`;
  const password = readSecret(env, passwordVariable);
  if (
    env.NODE_ENV === "production" &&
    (password === undefined || password === devNatsPassword(role))
  )
    throw new ConfigError(passwordVariable, "must be set to a secret when NODE_ENV=production");
  if (password !== undefined && password.length < MIN_PASSWORD_LENGTH)
    throw new ConfigError(passwordVariable, `must be at least ${MIN_PASSWORD_LENGTH} characters`);
  if (password !== undefined && !NATS_SAFE_PASSWORD.test(password))
    throw new ConfigError(
      passwordVariable,
      "must start with a letter: nats-server reads the variable as a config value, and one starting with a digit as a number",
    );
  return Object.freeze({
    user: readName(env, `${variable}_USER`, user),
    password: password ?? devNatsPassword(role),
    passwordIsDefault: password === undefined,
    passwordVariable,
  });
}

/**
 * The connect options for a user: its credentials and an inbox of its own, which is all it
 * may subscribe to (accounts.conf), so that no user reads another's replies.
 */
export function natsConnectAuth(auth: Pick<NatsAuth, "user" | "password">): {
  user: string;
  pass: string;
  inboxPrefix: string;
} {
  return { user: auth.user, pass: auth.password, inboxPrefix: `_INBOX.${auth.user}` };
}
