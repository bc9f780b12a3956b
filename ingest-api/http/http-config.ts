import { isIP } from "node:net";
import { type Env, readInt, readOptionalString } from "../../common/env.ts";
import { ConfigError } from "../../common/errors.ts";

/**
 * How the API faces the network: HTTP timeouts, connection caps, SSE bounds, which proxies
 * to believe about the client's address, and HSTS. Part of the ingest config.
 */
export interface HttpExposureConfig {
  /** Time a client has to send the request line and headers. @defaultValue 10000 */
  readonly httpHeadersTimeoutMs: number;
  /** Time a client has to send the whole request, body included (not the response: SSE streams stay open). @defaultValue 30000 */
  readonly httpRequestTimeoutMs: number;
  /** Idle time a keep-alive connection is kept between requests. @defaultValue 65000 */
  readonly httpKeepAliveTimeoutMs: number;
  /** Most open connections, SSE included; beyond, new ones are dropped. 0 = unlimited. @defaultValue 15000 */
  readonly httpMaxConnections: number;
  /** Most open SSE streams per process (503 `too_many_streams` beyond). @defaultValue 10000 */
  readonly sseMaxClients: number;
  /** Most open SSE streams per client address (429 `too_many_streams_per_address` beyond). @defaultValue 20 */
  readonly sseMaxPerAddress: number;
  /** Interval of the `: ping` comment on every SSE stream. @defaultValue 15000 */
  readonly sseHeartbeatMs: number;
  /** Bytes an SSE stream may hold unsent (a client that stops reading); beyond, it is closed. @defaultValue 65536 */
  readonly sseMaxBufferedBytes: number;
  /** Express `trust proxy`: false, a hop count, or the proxies' addresses/subnets. @defaultValue false */
  readonly trustProxy: false | number | readonly string[];
  /** `Strict-Transport-Security: max-age=<this>` on every answer when > 0 (served over TLS). @defaultValue 0 */
  readonly hstsMaxAgeSeconds: number;
}

// proxy-addr's (Express's) names for address ranges.
const NAMED_RANGES = new Set(["loopback", "linklocal", "uniquelocal"]);

/**
 * TRUST_PROXY: a hop count, or a comma-separated list of proxy addresses, CIDR subnets or
 * the names loopback/linklocal/uniquelocal. "true" is refused: it would believe the
 * leftmost X-Forwarded-For entry, which any client can write.
 */
export function readTrustProxy(env: Env): false | number | readonly string[] {
  const value = readOptionalString(env, "TRUST_PROXY");
  if (value === undefined || /^(false|0)$/i.test(value)) return false;
  if (/^\d+$/.test(value)) return readInt(env, "TRUST_PROXY", 0, { min: 1, max: 10 });
  if (/^true$/i.test(value))
    throw new ConfigError(
      "TRUST_PROXY",
      "true would trust any client's X-Forwarded-For; give the proxies' addresses or a hop count",
    );
  const entries = value.split(",").map((s) => s.trim());
  for (const entry of entries)
    if (!isRange(entry))
      throw new ConfigError(
        "TRUST_PROXY",
        `"${entry}" is not an address, a subnet or one of loopback, linklocal, uniquelocal`,
      );
  return Object.freeze(entries);
}

function isRange(entry: string): boolean {
  if (NAMED_RANGES.has(entry)) return true;
  const [address = "", bits, ...rest] = entry.split("/");
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

export function readHttpExposureConfig(env: Env): HttpExposureConfig {
  const httpHeadersTimeoutMs = readInt(env, "HTTP_HEADERS_TIMEOUT_MS", 10_000, { min: 100 });
  const httpRequestTimeoutMs = readInt(env, "HTTP_REQUEST_TIMEOUT_MS", 30_000, { min: 100 });
  // Node refuses a headers timeout longer than the request timeout.
  if (httpHeadersTimeoutMs > httpRequestTimeoutMs)
    throw new ConfigError(
      "HTTP_HEADERS_TIMEOUT_MS",
      `must not exceed HTTP_REQUEST_TIMEOUT_MS (${httpRequestTimeoutMs}), got ${httpHeadersTimeoutMs}`,
    );
  const httpMaxConnections = readInt(env, "HTTP_MAX_CONNECTIONS", 15_000, { min: 0 });
  const sseMaxClients = readInt(env, "SSE_MAX_CLIENTS", 10_000, { min: 1 });
  // Streams never end by themselves: with every connection a stream, no vote gets in.
  if (httpMaxConnections > 0 && sseMaxClients >= httpMaxConnections)
    throw new ConfigError(
      "SSE_MAX_CLIENTS",
      `must be below HTTP_MAX_CONNECTIONS (${httpMaxConnections}) to leave connections for votes, got ${sseMaxClients}`,
    );
  return {
    httpHeadersTimeoutMs,
    httpRequestTimeoutMs,
    httpKeepAliveTimeoutMs: readInt(env, "HTTP_KEEP_ALIVE_TIMEOUT_MS", 65_000, { min: 1_000 }),
    httpMaxConnections,
    sseMaxClients,
    sseMaxPerAddress: readInt(env, "SSE_MAX_PER_ADDRESS", 20, { min: 1 }),
    sseHeartbeatMs: readInt(env, "SSE_HEARTBEAT_MS", 15_000, { min: 50, max: 300_000 }),
    sseMaxBufferedBytes: readInt(env, "SSE_MAX_BUFFERED_BYTES", 65_536, {
      min: 1_024,
      max: 16_777_216,
    }),
    trustProxy: readTrustProxy(env),
    hstsMaxAgeSeconds: readInt(env, "HSTS_MAX_AGE_SECONDS", 0, { min: 0, max: 63_072_000 }),
  };
}
