import { anyRoute, json, type RouteDescriptions } from "../openapi/route-parts.ts";
import { livenessAnswerSchema, readinessAnswerSchema } from "./health-schemas.ts";

/** Liveness and readiness (the metrics are on a port of their own, not described here). */
export const healthRouteDescriptions: RouteDescriptions = {
  "/healthz": {
    get: {
      tags: ["health"],
      summary: "Liveness",
      responses: { "200": json(livenessAnswerSchema, "alive"), ...anyRoute },
    },
  },
  "/readyz": {
    get: {
      tags: ["health"],
      summary: "Readiness of Postgres, NATS and Redis (no-store)",
      responses: {
        "200": json(readinessAnswerSchema, "ready"),
        "503": json(readinessAnswerSchema, "not ready: `checks` says which dependency"),
        ...anyRoute,
      },
    },
  },
};
