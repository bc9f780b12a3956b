import { readIngestConfig } from "../ingest-api/config.ts";
import { apiDocument } from "../ingest-api/openapi/openapi-document.ts";

const config = readIngestConfig({ ADMIN_TOKEN: "x".repeat(40) } as never);
const d = apiDocument({ people: config.people, attendanceReads: config.attendanceReads });
const pick = Object.fromEntries(
  Object.entries(d.paths ?? {}).filter(([p]) =>
    /console|audit|vendor\/\{package|\/v1\/polls\/\{pollId\}$/.test(p),
  ),
);
console.log(
  JSON.stringify(
    {
      paths: pick,
      schemes: d.components?.securitySchemes,
      schemas: Object.keys(d.components?.schemas ?? {}),
    },
    null,
    1,
  ),
);
