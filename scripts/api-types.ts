import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { API_TYPES_FILE, apiTypesSource } from "./api-types/api-types-source.ts";

// npm run api-types: writes kiosk-client/api-types.ts from the API's OpenAPI document.
await writeFile(join(import.meta.dirname, "..", API_TYPES_FILE), await apiTypesSource());
console.log(`wrote ${API_TYPES_FILE}`);
