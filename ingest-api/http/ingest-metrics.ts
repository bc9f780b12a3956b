import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { createMetricsRegistry } from "../../common/metrics.ts";

export interface IngestMetrics {
  registry: Registry;
  httpRequests: Counter<"method" | "route" | "status">;
  httpDuration: Histogram<"route">;
  publishDuration: Histogram;
  votes: Counter<"status">;
  /** Batch votes whose castAt was ahead of the server by more than CAST_AT_MAX_SKEW_MS, stored at the receive time. */
  castAtClamped: Counter;
  /** POST /v1/pair by outcome: guessing shows as invalid_code (and 429s). */
  pairings: Counter<"outcome">;
  /** Attendance register events accepted (not duplicates), by kind: in, out. */
  attendanceEvents: Counter<"kind">;
  /** Accepted attendance events with a temperature at or above the school's fever threshold. */
  feverReadings: Counter;
}

export function createIngestMetrics(
  registryAgeMs: () => number,
  sseClients: () => number = () => 0,
): IngestMetrics {
  const registry = createMetricsRegistry("ingest-api");
  new Gauge({
    name: "tallyflow_sse_clients",
    help: "Open Server-Sent Events connections for results",
    registers: [registry],
    collect() {
      this.set(sseClients());
    },
  });
  new Gauge({
    name: "tallyflow_registry_cache_age_seconds",
    help: "How far behind Postgres the registry cache may be: 0 while LISTENing with every change applied",
    registers: [registry],
    collect() {
      this.set(registryAgeMs() / 1000);
    },
  });
  return {
    registry,
    httpRequests: new Counter({
      name: "tallyflow_http_requests_total",
      help: "HTTP requests by route and status",
      labelNames: ["method", "route", "status"],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: "tallyflow_http_request_duration_seconds",
      help: "HTTP request duration by route",
      labelNames: ["route"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 2.5],
      registers: [registry],
    }),
    publishDuration: new Histogram({
      name: "tallyflow_publish_duration_seconds",
      help: "Time from JetStream publish to its ack",
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2],
      registers: [registry],
    }),
    votes: new Counter({
      name: "tallyflow_votes_total",
      help: "Votes by outcome at ingest: accepted, duplicate, conflict (eventId reused in a batch for another vote), refused",
      labelNames: ["status"],
      registers: [registry],
    }),
    castAtClamped: new Counter({
      name: "tallyflow_cast_at_clamped_total",
      help: "Batch votes whose castAt was further ahead of the server than CAST_AT_MAX_SKEW_MS (a kiosk clock running fast): stored with castAt = the receive time",
      registers: [registry],
    }),
    pairings: pairingsCounter(registry),
    attendanceEvents: attendanceEventsCounter(registry),
    feverReadings: new Counter({
      name: "tallyflow_attendance_fever_readings_total",
      help: "Attendance events accepted with a temperature at or above their school's fever threshold",
      registers: [registry],
    }),
  };
}

function attendanceEventsCounter(registry: Registry): Counter<"kind"> {
  const counter = new Counter({
    name: "tallyflow_attendance_events_total",
    help: "Attendance register events accepted (acked by JetStream, duplicates not counted), by kind: in (check-in), out (check-out)",
    labelNames: ["kind"],
    registers: [registry],
  });
  for (const kind of ["in", "out"]) counter.inc({ kind }, 0);
  return counter;
}

function pairingsCounter(registry: Registry): Counter<"outcome"> {
  const counter = new Counter({
    name: "tallyflow_kiosk_pairings_total",
    help: "Kiosk pairing attempts (POST /v1/pair) by outcome: paired, invalid_code (unknown, used, expired or malformed), revoked",
    labelNames: ["outcome"],
    registers: [registry],
  });
  for (const outcome of ["paired", "invalid_code", "revoked"]) counter.inc({ outcome }, 0);
  return counter;
}
