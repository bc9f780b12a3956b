import { v7 as uuidv7 } from "uuid";

// UUIDv7 event ids from the `uuid` package, in Node and in the browser alike: its browser
// build draws from crypto.getRandomValues, which (unlike crypto.randomUUID) also works on a
// plain-HTTP kiosk LAN page. The API serves that build at /vendor/uuid/ and rewrites this
// import to it (ingest-api/kiosks/kiosk-client-routes.ts). Time-ordered ids keep the
// votes' unique index append-mostly.

export function newEventId(): string {
  return uuidv7();
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID.test(value);
}
