import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { API_TYPES_FILE, apiTypesSource } from "../scripts/api-types/api-types-source.ts";

// The kiosk client's types come from the API's document: the committed file must be what
// `npm run api-types` makes of the document now, byte for byte, or the types have drifted.

test("kiosk-client/api-types.ts is what /openapi.json makes (run `npm run api-types`)", async () => {
  const committed = await readFile(join(import.meta.dirname, "..", API_TYPES_FILE), "utf8");
  assert.equal(committed, await apiTypesSource(), "kiosk-client/api-types.ts is stale");
});
