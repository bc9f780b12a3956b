import type { Logger } from "./logger.ts";

// One owner for JetStream's settings: `npm run migrate` creates what is missing and updates
// what differs ("apply"). A service at start only creates what is missing, the self-healing
// path, and reports what differs from its own configuration ("check") without changing it,
// so two services started with different environments cannot overwrite each other.

export type ProvisionMode = "apply" | "check";

/** A setting as it is compared: plain numbers and strings, lists of them. */
export type SettingValue = number | string | readonly (number | string)[] | undefined;

/** One setting of a stream or consumer, with the variable that configures it (if any). */
export interface SettingSpec {
  readonly variable?: string;
  readonly value: SettingValue;
}

export type Settings = Readonly<Record<string, SettingSpec>>;

/** A setting JetStream holds with another value than this process's configuration. */
export interface SettingDrift {
  /** "stream VOTES", "consumer VOTES/batch-writer". */
  readonly resource: string;
  readonly setting: string;
  /** The environment variable that sets it; undefined for a value fixed by tallyflow. */
  readonly variable: string | undefined;
  readonly configured: SettingValue;
  readonly actual: SettingValue;
}

export interface ProvisionResult {
  /** What had to be created (empty: all of it was there). */
  readonly created: string[];
  /** Settings that differed: updated under "apply", left as they are under "check". */
  readonly drift: SettingDrift[];
}

// The server leaves zero values out of what it returns (Go's omitempty): 0, "" and [] are
// the same setting as an absent one.
function normalise(v: SettingValue): string {
  if (v === undefined || v === 0 || v === "" || (Array.isArray(v) && v.length === 0)) return "";
  return JSON.stringify(v);
}

/** The settings whose actual value differs from the configured one. */
export function diffSettings(
  resource: string,
  configured: Settings,
  actual: Readonly<Record<string, SettingValue>>,
): SettingDrift[] {
  const drift: SettingDrift[] = [];
  for (const [setting, spec] of Object.entries(configured))
    if (normalise(spec.value) !== normalise(actual[setting]))
      drift.push({
        resource,
        setting,
        variable: spec.variable,
        configured: spec.value,
        actual: actual[setting],
      });
  return drift;
}

/**
 * One WARN per drifting setting, naming it with its configured and actual value. Self-healing
 * trouble is WARN; acting on it (run the migration, or fix this service's environment) is the
 * operator's choice, so nothing is changed here.
 */
export function warnDrift(logger: Logger, drift: readonly SettingDrift[]): void {
  for (const d of drift)
    logger.warn(
      {
        resource: d.resource,
        setting: d.setting,
        variable: d.variable,
        configured: d.configured,
        actual: d.actual,
      },
      `${d.resource}: ${d.setting}${d.variable ? ` (${d.variable})` : ""} is ${show(d.actual)} in JetStream but ${show(d.configured)} here; left unchanged (\`npm run migrate\` applies the settings)`,
    );
}

/** One INFO per setting the migration changed. */
export function logApplied(logger: Logger, drift: readonly SettingDrift[]): void {
  for (const d of drift)
    logger.info(
      { resource: d.resource, setting: d.setting, from: d.actual, to: d.configured },
      `${d.resource}: ${d.setting} updated`,
    );
}

function show(v: SettingValue): string {
  return v === undefined ? "unset" : JSON.stringify(v);
}
