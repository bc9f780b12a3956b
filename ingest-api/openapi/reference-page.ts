import type { OpenApiDocument } from "./openapi-document.ts";

// The reference page, rendered on the server from the document: plain HTML and one
// stylesheet (/assets/api-reference.css), no script. The renderers on npm (Scalar, Redoc)
// inject inline styles, which the pages' Content Security Policy (style-src 'self',
// web-routes.ts) refuses; a page made here needs no exception to it.

const METHODS = ["get", "head", "post", "put", "patch", "delete"] as const;

const escapeHtml = (text: string): string =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c,
  );

/** `code` spans for backticks, the rest escaped. */
const prose = (text: string): string =>
  escapeHtml(text).replace(/`([^`]+)`/g, (_m, code: string) => `<code>${code}</code>`);

const anchor = (text: string): string => text.replace(/[^A-Za-z0-9]+/g, "-").replace(/^-|-$/g, "");

/** A schema as indented JSON, each `$ref` a link to its component. */
function schemaHtml(schema: unknown): string {
  // A named schema alone: a link to it, not a block of JSON.
  const ref = (schema as { $ref?: unknown } | null)?.$ref;
  if (typeof ref === "string" && Object.keys(schema as object).length === 1) {
    const name = ref.replace("#/components/schemas/", "");
    return `<p class="ref">schema: <a href="#schema-${escapeHtml(name)}">${escapeHtml(name)}</a></p>`;
  }
  const text = escapeHtml(JSON.stringify(schema, null, 2));
  // A long schema scrolls sideways in its block: focusable, so that a keyboard scrolls it too
  // (axe: scrollable-region-focusable).
  return `<pre tabindex="0">${text.replace(
    /&quot;#\/components\/schemas\/([A-Za-z0-9_]+)&quot;/g,
    (_m, name: string) => `&quot;<a href="#schema-${name}">${name}</a>&quot;`,
  )}</pre>`;
}

interface MediaMap {
  [type: string]: { schema?: unknown };
}

function contentHtml(content: MediaMap | undefined): string {
  if (content === undefined) return "";
  return Object.entries(content)
    .map(([type, media]) => {
      const schema = media.schema;
      const plain =
        schema === undefined ||
        (typeof schema === "object" &&
          schema !== null &&
          JSON.stringify(schema) === '{"type":"string"}');
      return `<p class="media"><code>${escapeHtml(type)}</code></p>${plain ? "" : schemaHtml(schema)}`;
    })
    .join("");
}

interface Operation {
  summary?: string;
  tags?: string[];
  security?: Record<string, string[]>[];
  parameters?: { in: string; name: string; required?: boolean; schema?: unknown }[];
  requestBody?: { content?: MediaMap };
  responses?: Record<string, { description?: string; content?: MediaMap; headers?: object }>;
}

function operationHtml(path: string, method: string, op: Operation): string {
  const id = anchor(`${method} ${path}`);
  const auth = op.security?.flatMap((s) => Object.keys(s)).join(", ") || "none";
  const params = (op.parameters ?? [])
    .map(
      (p) =>
        `<tr><td><code>${escapeHtml(p.name)}</code></td><td>${escapeHtml(p.in)}</td><td>${p.required ? "yes" : "no"}</td><td><code>${escapeHtml(JSON.stringify(p.schema ?? {}))}</code></td></tr>`,
    )
    .join("");
  const responses = Object.entries(op.responses ?? {})
    .map(
      ([status, r]) =>
        `<details><summary><strong>${escapeHtml(status)}</strong> ${prose(r.description ?? "")}${r.headers ? ` (headers: ${escapeHtml(Object.keys(r.headers).join(", "))})` : ""}</summary>${contentHtml(r.content)}</details>`,
    )
    .join("");
  return `<section class="operation" id="${id}">
<h3><span class="method method-${method}">${method.toUpperCase()}</span> <code>${escapeHtml(path)}</code></h3>
<p>${prose(op.summary ?? "")}</p>
<p class="auth">auth: ${escapeHtml(auth)}</p>
${params ? `<table><thead><tr><th>parameter</th><th>in</th><th>required</th><th>schema</th></tr></thead><tbody>${params}</tbody></table>` : ""}
${op.requestBody ? `<h4>Request body</h4>${contentHtml(op.requestBody.content)}` : ""}
<h4>Responses</h4>${responses}
</section>`;
}

/** The whole page: operations by tag, then every named schema. */
export function referencePage(document: OpenApiDocument): string {
  const byTag = new Map<string, string[]>();
  const toc = new Map<string, string[]>();
  for (const [path, item] of Object.entries(document.paths ?? {})) {
    for (const method of METHODS) {
      const op = (item as Record<string, Operation | undefined>)[method];
      if (op === undefined) continue;
      const tag = op.tags?.[0] ?? "other";
      byTag.set(tag, [...(byTag.get(tag) ?? []), operationHtml(path, method, op)]);
      toc.set(tag, [
        ...(toc.get(tag) ?? []),
        `<li><a href="#${anchor(`${method} ${path}`)}">${method.toUpperCase()} ${escapeHtml(path)}</a></li>`,
      ]);
    }
  }
  const tags = [...byTag.keys()];
  const schemas = Object.entries(document.components?.schemas ?? {})
    .map(
      ([name, schema]) =>
        `<section class="schema" id="schema-${name}"><h3>${escapeHtml(name)}</h3>${schemaHtml(schema)}</section>`,
    )
    .join("\n");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8" />
<meta name="viewport" content="width=device-width, initial-scale=1" />
<title>${escapeHtml(document.info.title)}: reference</title>
<link rel="stylesheet" href="/assets/api-reference.css" />
</head>
<body>
<header><h1>${escapeHtml(document.info.title)}</h1>
<p>${prose(document.info.description ?? "")}</p>
<p>The document: <a href="/openapi.json">/openapi.json</a> (OpenAPI ${escapeHtml(document.openapi)}).</p></header>
<nav aria-label="Routes">${tags.map((t) => `<h2>${escapeHtml(t)}</h2><ul>${(toc.get(t) ?? []).join("")}</ul>`).join("")}<h2><a href="#schemas">schemas</a></h2></nav>
<main>
${tags.map((t) => `<h2 id="tag-${anchor(t)}">${escapeHtml(t)}</h2>${(byTag.get(t) ?? []).join("\n")}`).join("\n")}
<h2 id="schemas">Schemas</h2>
${schemas}
</main>
</body>
</html>
`;
}
