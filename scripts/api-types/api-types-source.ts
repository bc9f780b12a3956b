import { compile, type JSONSchema } from "json-schema-to-typescript";
import { readIngestConfig } from "../../ingest-api/config.ts";
import { apiDocument, type OpenApiDocument } from "../../ingest-api/openapi/openapi-document.ts";

// kiosk-client/api-types.ts, generated from /openapi.json by json-schema-to-typescript: each
// named schema as an interface, and `ApiPaths`, every route's request and answers by
// method and status. The kiosk client's types derive from it, so a change of the API that
// its code does not follow fails `tsc`; api-types.test.ts fails when the committed file is
// not what this makes.

/** Where the generated file lives (the kiosk client may import only its own folder). */
export const API_TYPES_FILE = "kiosk-client/api-types.ts";

const BANNER = `// Generated from /openapi.json by \`npm run api-types\` (scripts/api-types/): do not edit.
// The kiosk client's request and answer types derive from these, so that they cannot drift
// from what the API validates and answers (kiosk-client/api-types.test.ts).`;

const METHODS = ["get", "head", "post", "put", "patch", "delete"] as const;

type Schema = Record<string, unknown>;

/** `#/components/schemas/X` → `#/$defs/X`, throughout. */
function rebased<T>(value: T): T {
  return JSON.parse(JSON.stringify(value).replaceAll('"#/components/schemas/', '"#/$defs/')) as T;
}

/** An object type whose every listed key is required and nothing else allowed. */
function closed(properties: Record<string, Schema>, optional: string[] = []): Schema {
  return {
    type: "object",
    additionalProperties: false,
    properties,
    required: Object.keys(properties).filter((k) => !optional.includes(k)),
  };
}

interface Operation {
  parameters?: { in: string; name: string; required?: boolean; schema?: Schema }[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
  responses?: Record<string, { content?: Record<string, { schema?: Schema }> }>;
}

/** A media map's JSON schema, or a string for a body that is not JSON, or nothing. */
function bodyOf(content: Record<string, { schema?: Schema }> | undefined): Schema {
  if (content === undefined) return { tsType: "never" };
  const json = content["application/json"]?.schema;
  return json ?? { type: "string" };
}

function operationSchema(op: Operation): Schema {
  const parts: Record<string, Schema> = {};
  const optional: string[] = [];
  for (const where of ["path", "query"] as const) {
    const params = (op.parameters ?? []).filter((p) => p.in === where);
    if (params.length === 0) continue;
    parts[where] = closed(
      Object.fromEntries(params.map((p) => [p.name, p.schema ?? {}])),
      params.filter((p) => !p.required).map((p) => p.name),
    );
  }
  if (op.requestBody) parts.requestBody = bodyOf(op.requestBody.content);
  parts.responses = closed(
    Object.fromEntries(Object.entries(op.responses ?? {}).map(([s, r]) => [s, bodyOf(r.content)])),
  );
  return closed(parts, optional);
}

/** The JSON Schema whose TypeScript is the file: `ApiPaths` and every named schema. */
export function apiTypesSchema(document: OpenApiDocument): JSONSchema {
  const paths: Record<string, Schema> = {};
  for (const [path, item] of Object.entries(document.paths ?? {})) {
    const methods: Record<string, Schema> = {};
    for (const method of METHODS) {
      const op = (item as Record<string, Operation | undefined>)[method];
      if (op !== undefined) methods[method] = operationSchema(op);
    }
    paths[path] = closed(methods);
  }
  return rebased({
    title: "ApiPaths",
    description:
      "Every route of the API: its path and query parameters, body and answers by status.",
    ...closed(paths),
    $defs: document.components?.schemas ?? {},
  }) as JSONSchema;
}

/** The file's text, from the document as the API serves it with its default settings. */
export async function apiTypesSource(): Promise<string> {
  const config = readIngestConfig({});
  const document = apiDocument({
    people: config.people,
    attendanceReads: config.attendanceReads,
    registers: config.registers,
    deadLetters: config.deadLetters,
  });
  return compile(apiTypesSchema(document), "ApiPaths", {
    bannerComment: BANNER,
    additionalProperties: false,
    unreachableDefinitions: true,
    strictIndexSignatures: true,
    style: { printWidth: 100 },
  });
}
