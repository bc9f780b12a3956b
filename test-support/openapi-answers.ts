import assert from "node:assert/strict";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import type { Response } from "supertest";
import type { OpenApiDocument } from "../ingest-api/openapi/openapi-document.ts";

// Holds real answers of the API to /openapi.json: the status must be one the document lists
// for the route (an undocumented status fails), a JSON body must match that status's schema
// (JSON Schema 2020-12, what OpenAPI 3.1 uses, with formats), a documented header must be
// there, and a 304 or a HEAD has no body. Remembers which route and status each answer was,
// so a test can say what it covered.

// ajv-formats is CommonJS: its default export is the function under Node's ESM interop.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

interface MediaMap {
  [type: string]: { schema?: object };
}
interface DocResponse {
  content?: MediaMap;
  headers?: Record<string, { required?: boolean }>;
}
type DocOperation = { responses?: Record<string, DocResponse> };

interface Template {
  path: string;
  pattern: RegExp;
  params: number;
}

const METHODS = ["get", "head", "post", "put", "patch", "delete"];

/** What `check` reads of an answer: supertest's Response has it, `answerOf` makes it from fetch's. */
export type Answer = Pick<Response, "status" | "headers" | "text" | "body">;

/**
 * An answer read with fetch (a real socket: an event stream's refusal), as `check` reads
 * it: headers by lower-case name, the text, and the JSON body when it is JSON.
 */
export async function answerOf(res: globalThis.Response): Promise<Answer> {
  const text = await res.text();
  const json = /^application\/json/.test(res.headers.get("content-type") ?? "");
  return {
    status: res.status,
    headers: Object.fromEntries(res.headers),
    text,
    body: json ? JSON.parse(text) : {},
  };
}

/** `METHOD /template` of every operation of these paths (a document's, or a feature's descriptions). */
export function operationsOf(paths: Record<string, object>): string[] {
  const out: string[] = [];
  for (const [path, item] of Object.entries(paths))
    for (const method of METHODS)
      if ((item as Record<string, unknown>)[method] !== undefined)
        out.push(`${method.toUpperCase()} ${path}`);
  return out;
}

export class OpenApiAnswers {
  readonly #document: OpenApiDocument;
  readonly #ajv: Ajv2020;
  readonly #templates: Template[];
  readonly #validators = new Map<string, ValidateFunction>();
  /** `METHOD /template STATUS` of every answer checked. */
  readonly covered = new Set<string>();

  constructor(document: OpenApiDocument) {
    this.#document = document;
    // strict off: OpenAPI keywords beside the schema (components, description, example).
    this.#ajv = addFormats(new Ajv2020({ strict: false, allErrors: true }));
    // Literal paths before templated ones (`/kiosk-app/vote.html` before `/kiosk-app/{file}`).
    this.#templates = Object.keys(document.paths ?? {})
      .map((path) => ({
        path,
        params: (path.match(/\{/g) ?? []).length,
        pattern: new RegExp(
          `^${path.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\\?\{[^}]+\\?\}/g, "[^/]+")}$`,
        ),
      }))
      .sort((a, b) => a.params - b.params);
  }

  /** `METHOD /template` of every operation the document describes. */
  operations(): string[] {
    return operationsOf(this.#document.paths ?? {});
  }

  /** The template a request path falls under (fails if none: a route the document lacks). */
  template(method: string, urlPath: string): string {
    const path = urlPath.split("?")[0] ?? urlPath;
    const found = this.#templates.find(
      (t) => t.pattern.test(path) && this.#operation(t.path, method) !== undefined,
    );
    assert.ok(found, `${method} ${path}: no route of the document matches`);
    return found.path;
  }

  #operation(path: string, method: string): DocOperation | undefined {
    const item = this.#document.paths?.[path] as Record<string, DocOperation> | undefined;
    return item?.[method.toLowerCase()];
  }

  #validator(key: string, schema: object): ValidateFunction {
    let validate = this.#validators.get(key);
    if (validate === undefined) {
      // The schema's $refs point into the document's components: carried along as the root.
      validate = this.#ajv.compile({ ...schema, components: this.#document.components });
      this.#validators.set(key, validate);
    }
    return validate;
  }

  /** Checks one answer; returns it for chaining. */
  check<A extends Answer>(method: string, urlPath: string, res: A): A {
    const path = this.template(method, urlPath);
    const operation = this.#operation(path, method);
    const what = `${method} ${urlPath} → ${res.status}`;
    const documented = operation?.responses?.[String(res.status)];
    assert.ok(
      documented,
      `${what}: the document lists no ${res.status} for ${method} ${path}: ${res.text}`,
    );
    this.covered.add(`${method.toUpperCase()} ${path} ${res.status}`);
    for (const [name, header] of Object.entries(documented.headers ?? {}))
      if (header.required)
        assert.ok(res.headers[name.toLowerCase()] !== undefined, `${what}: no ${name} header`);
    if (res.status === 304 || res.status === 204 || method.toUpperCase() === "HEAD") {
      assert.ok(!res.text, `${what}: a body where none is due`);
      return res;
    }
    const type = String(res.headers["content-type"] ?? "").split(";")[0] ?? "";
    const content = documented.content ?? {};
    const media = content[type] ?? content["*/*"];
    assert.ok(
      media,
      `${what}: content type "${type}" is not among the documented ${Object.keys(content).join(", ")}`,
    );
    if (type === "application/json" && media.schema !== undefined) {
      const validate = this.#validator(`${method} ${path} ${res.status}`, media.schema);
      const body: unknown = res.body;
      assert.ok(
        validate(body),
        `${what}: the body does not match the document: ${this.#ajv.errorsText(validate.errors)}\n${res.text.slice(0, 2000)}`,
      );
    }
    return res;
  }
}
