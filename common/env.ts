import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { ConfigError } from "./errors.ts";

// Typed readers for environment variables. Each service's config module uses these so
// that a bad value fails at start naming the variable, never falls back silently.

export type Env = Readonly<Record<string, string | undefined>>;

function raw(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}

export function readString(env: Env, name: string, fallback: string): string {
  return raw(env, name) ?? fallback;
}

export function readOptionalString(env: Env, name: string): string | undefined {
  return raw(env, name);
}

export function readInt(
  env: Env,
  name: string,
  fallback: number,
  range: { min?: number; max?: number } = {},
): number {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  if (!/^-?\d+$/.test(value)) throw new ConfigError(name, `must be an integer, got "${value}"`);
  const n = Number(value);
  if (range.min !== undefined && n < range.min)
    throw new ConfigError(name, `must be at least ${range.min}, got ${n}`);
  if (range.max !== undefined && n > range.max)
    throw new ConfigError(name, `must be at most ${range.max}, got ${n}`);
  return n;
}

export function readEnum<T extends string>(
  env: Env,
  name: string,
  allowed: readonly T[],
  fallback: T,
): T {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value))
    throw new ConfigError(name, `must be one of ${allowed.join(", ")}, got "${value}"`);
  return value as T;
}

export function readUrl(env: Env, name: string, fallback: string, protocols: string[]): string {
  const value = raw(env, name) ?? fallback;
  checkUrl(name, value, protocols);
  return value;
}

/** A comma-separated list of URLs (NATS seed servers), each checked as readUrl does. */
export function readUrlList(env: Env, name: string, fallback: string, protocols: string[]): string {
  const urls = (raw(env, name) ?? fallback).split(",").map((u) => u.trim());
  for (const url of urls) checkUrl(name, url, protocols);
  return urls.join(",");
}

function checkUrl(name: string, value: string, protocols: string[]): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(name, `must be a URL, got "${value}"`);
  }
  if (!protocols.includes(url.protocol))
    throw new ConfigError(name, `must use ${protocols.join(" or ")}, got "${url.protocol}"`);
}

/** A NATS-safe token: letters, digits, dash and underscore (used in subjects and names). */
export function readName(env: Env, name: string, fallback: string): string {
  const value = raw(env, name) ?? fallback;
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(value))
    throw new ConfigError(name, `must be 1-64 letters, digits, "-" or "_", got "${value}"`);
  return value;
}

/** An address to listen on: an IP address or a host name. */
export function readHost(env: Env, name: string, fallback: string): string {
  const value = raw(env, name) ?? fallback;
  if (
    isIP(value) === 0 &&
    !/^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(
      value,
    )
  )
    throw new ConfigError(name, `must be an IP address or a host name, got "${value}"`);
  return value;
}

/**
 * A secret: the variable itself, or the contents of the file that `<name>_FILE` names (a
 * Docker or Kubernetes secret mounted as a file), without its final newline. Setting both
 * is refused: which one wins would be a guess.
 */
export function readSecret(env: Env, name: string): string | undefined {
  const value = raw(env, name);
  const file = raw(env, `${name}_FILE`);
  if (file === undefined) return value;
  if (value !== undefined) throw new ConfigError(name, `set ${name} or ${name}_FILE, not both`);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(`${name}_FILE`, `cannot read ${file}: ${(err as Error).message}`);
  }
  const secret = text.replace(/\r?\n$/, "");
  if (secret.trim() === "") throw new ConfigError(`${name}_FILE`, `${file} is empty`);
  return secret;
}
