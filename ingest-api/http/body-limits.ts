import { type Env, readInt } from "../../common/env.ts";
import { jsonBody } from "./json-body.ts";

/**
 * The largest JSON body of each family of routes other than the votes' (MAX_VOTE_BODY_BYTES,
 * MAX_BATCH_BODY_BYTES). Each is read whole into memory before it is validated, so each is
 * bounded by a deliberate setting, named in the 413 that refuses a body over it.
 */
export interface BodyLimitsConfig {
  /**
   * Schools and their admins, people, registers (teachers, completions), a school's
   * attendance settings and holidays: small objects of bounded fields. @defaultValue 16384
   */
  readonly adminBodyBytes: number;
  /**
   * Polls and kiosks (`/v1/polls`, `/v1/kiosks`): a poll holds up to 100 options of 200
   * characters, a kiosk up to 1,000 poll ids, ~130 KB at their largest. @defaultValue 262144
   */
  readonly registryBodyBytes: number;
  /** The console's own routes (invites, sign-in, sessions): a token or a label. @defaultValue 4096 */
  readonly consoleBodyBytes: number;
  /** `POST /v1/pair`, an unauthenticated route: a pairing code. @defaultValue 1024 */
  readonly pairingBodyBytes: number;
}

/** The variable that sets each limit, as the 413 names it. */
export const BODY_LIMIT_VARIABLES = Object.freeze({
  adminBodyBytes: "MAX_ADMIN_BODY_BYTES",
  registryBodyBytes: "MAX_REGISTRY_BODY_BYTES",
  consoleBodyBytes: "MAX_CONSOLE_BODY_BYTES",
  pairingBodyBytes: "MAX_PAIRING_BODY_BYTES",
} satisfies Record<keyof BodyLimitsConfig, string>);

// Above 16 MiB a JSON body is a mistake (or an attack) on every one of these routes; below
// the floors an ordinary body of the route would not fit.
const MAX_BYTES = 16 * 1024 * 1024;

export function readBodyLimits(env: Env): Readonly<BodyLimitsConfig> {
  // The names literally, as docs/configuration.md's check reads them (architecture.test.ts);
  // body-limits.test.ts holds them equal to BODY_LIMIT_VARIABLES.
  return Object.freeze({
    adminBodyBytes: readInt(env, "MAX_ADMIN_BODY_BYTES", 16 * 1024, { min: 1_024, max: MAX_BYTES }),
    registryBodyBytes: readInt(env, "MAX_REGISTRY_BODY_BYTES", 256 * 1024, {
      min: 1_024,
      max: MAX_BYTES,
    }),
    consoleBodyBytes: readInt(env, "MAX_CONSOLE_BODY_BYTES", 4 * 1024, {
      min: 1_024,
      max: MAX_BYTES,
    }),
    pairingBodyBytes: readInt(env, "MAX_PAIRING_BODY_BYTES", 1_024, { min: 128, max: MAX_BYTES }),
  });
}

/** The JSON body parser of a route family: its limit, and the variable its 413 names. */
export function limitedJsonBody<K extends keyof BodyLimitsConfig>(
  limits: Pick<BodyLimitsConfig, K>,
  key: K,
) {
  return jsonBody(limits[key], BODY_LIMIT_VARIABLES[key]);
}
