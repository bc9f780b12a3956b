import { refusals } from "../openapi/error-responses.ts";
import {
  ANY_ROUTE,
  empty,
  htmlPage,
  JSON_BODY,
  json,
  KIOSK_CALLER,
  kioskSecurity,
  type RouteDescriptions,
  staticFile,
  teacherSecurity,
} from "../openapi/route-parts.ts";
import { pairedKioskAnswerSchema, pairSchema } from "../registry/registry-schemas.ts";
import { kioskStatusSchema } from "./kiosk-health.ts";
import { kioskSelfAnswerSchema } from "./kiosk-schemas.ts";

/** The kiosk app's routes: pairing, what it may vote in, its heartbeat, its pages and files. */
export const kioskRouteDescriptions: RouteDescriptions = {
  "/v1/pair": {
    post: {
      tags: ["kiosks"],
      summary: "Pair this device as a kiosk with a pairing code (the code is the credential)",
      requestBody: { required: true, content: { "application/json": { schema: pairSchema } } },
      responses: {
        "200": json(pairedKioskAnswerSchema, "the kiosk's credentials, shown once (no-store)"),
        ...refusals(...JSON_BODY, ...ANY_ROUTE, "kiosk_revoked", "pairing_code_invalid"),
      },
    },
  },
  "/v1/kiosk": {
    get: {
      tags: ["kiosks"],
      summary: "The kiosk itself and the polls it may vote in",
      security: kioskSecurity,
      responses: {
        "200": json(kioskSelfAnswerSchema, "the kiosk and its votable polls (no-store)"),
        ...refusals(...KIOSK_CALLER, ...ANY_ROUTE),
      },
    },
  },
  "/v1/kiosk/heartbeat": {
    post: {
      tags: ["kiosks"],
      summary:
        "The kiosk's status report (a teacher's outbox probes the server's clock here: 204, nothing kept)",
      security: [...kioskSecurity, ...teacherSecurity],
      requestBody: {
        required: true,
        content: { "application/json": { schema: kioskStatusSchema.meta({ id: "KioskStatus" }) } },
      },
      responses: {
        "204": empty("kept"),
        ...refusals(...KIOSK_CALLER, ...JSON_BODY, ...ANY_ROUTE),
      },
    },
  },
  "/pair": { get: htmlPage("Kiosk app: pair this browser") },
  "/vote": { get: htmlPage("Kiosk app: the kiosk's home") },
  "/vote/{pollId}": { get: htmlPage("Kiosk app: the voting page", true) },
  "/kiosk-app/{file}": { get: staticFile("Kiosk app: its files (vote.html, scripts, styles)") },
  "/kiosk-app/vote.html": {
    get: htmlPage("Kiosk app: the voting page, as the service worker caches it"),
  },
  "/kiosk-sw.js": { get: staticFile("Kiosk app: its service worker", "text/javascript") },
  "/kiosk-client/{file}": {
    get: staticFile(
      "The outbox library's browser-safe modules (types stripped)",
      "text/javascript",
    ),
  },
  "/vendor/uuid/{file}": {
    get: staticFile(
      "The uuid package's browser build, which the outbox imports",
      "text/javascript",
    ),
  },
};
