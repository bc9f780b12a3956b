import type { Kiosk, Poll } from "../../common/registry-types.ts";
import {
  KIOSK_FILE_NOTE,
  type KioskFile,
  readKioskFile,
  type SeededKiosk,
  type SeededPoll,
  writeKioskFile,
} from "./kiosk-file.ts";

// The demo data, created through the admin HTTP API so it works against any deployment:
// four polls in three time zones (one live, one after_close, one check-in, one with one
// vote per voter) and a set of kiosks. Idempotent: existing polls are kept, kiosks whose
// tokens are in the file are reused, missing ones are created.
//
// The check-in poll is one as report 10 (attendance) defines it: people check in every
// day, so it cannot be one-vote-per-voter (a voter could then be present only once). The
// simulator's "voters who try twice" (409 already_voted) happen on the one-vote poll.

export const DEFAULT_API_URL = "http://127.0.0.1:3000";
export const DEFAULT_ADMIN_TOKEN = "dev-admin-token";
export const KIOSK_ID_PREFIX = "demo-kiosk-";

interface PollDefinition extends Omit<SeededPoll, "opensAt" | "closesAt"> {
  /** closesAt relative to the seed time (ms), rounded up to the hour; null = never closes. */
  closesInMs: number | null;
}

const DAY_MS = 86_400_000;

export const DEMO_POLLS: readonly PollDefinition[] = [
  {
    id: "demo-lunch",
    title: "What should be on tomorrow's lunch menu?",
    timeZone: "Europe/London",
    resultsVisibility: "live",
    oneVotePerVoter: false,
    closesInMs: null,
    kioskShare: 6,
    options: [
      { id: "pizza", label: "Pizza", weight: 9 },
      { id: "pasta", label: "Pasta bake", weight: 6 },
      { id: "curry", label: "Vegetable curry", weight: 5 },
      { id: "salad", label: "Salad bar", weight: 3 },
      { id: "soup", label: "Soup and bread", weight: 2 },
    ],
  },
  {
    id: "demo-fair-feedback",
    title: "How was the science fair?",
    timeZone: "America/New_York",
    resultsVisibility: "after_close",
    oneVotePerVoter: false,
    closesInMs: 30 * DAY_MS,
    kioskShare: 1,
    options: [
      { id: "loved-it", label: "Loved it", weight: 5 },
      { id: "liked-it", label: "Liked it", weight: 7 },
      { id: "so-so", label: "So-so", weight: 3 },
      { id: "not-for-me", label: "Not for me", weight: 1 },
    ],
  },
  {
    id: "demo-checkin",
    title: "Morning check-in",
    timeZone: "Asia/Tokyo",
    resultsVisibility: "live",
    oneVotePerVoter: false,
    checkIn: true,
    closesInMs: null,
    kioskShare: 3,
    options: [
      { id: "on-time", label: "On time", weight: 20 },
      { id: "late", label: "Late", weight: 3 },
      { id: "early-pickup", label: "Leaving early today", weight: 1 },
    ],
  },
  {
    id: "demo-council",
    title: "Student council election",
    timeZone: "Europe/London",
    resultsVisibility: "after_close",
    oneVotePerVoter: true,
    closesInMs: 14 * DAY_MS,
    kioskShare: 3,
    options: [
      { id: "amara", label: "Amara Okafor", weight: 6 },
      { id: "jonas", label: "Jonas Berg", weight: 5 },
      { id: "priya", label: "Priya Nair", weight: 4 },
    ],
  },
];

const KIOSK_PLACES = ["Main hall", "Canteen", "Library", "Gym", "Front desk", "Science wing"];

export interface SeedOptions {
  apiUrl: string;
  adminToken: string;
  /** How many kiosks the file should hold at least. */
  kiosks: number;
  file: string;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

export interface SeedReport {
  file: string;
  polls: { id: string; outcome: "created" | "kept" }[];
  kiosksReused: number;
  kiosksCreated: number;
  /** Kiosks the registry has but whose token is not in the file (it cannot be recovered). */
  kiosksWithoutToken: string[];
  /** Kiosks in the file that the registry no longer has, or that were revoked: dropped. */
  kiosksDropped: string[];
  content: KioskFile;
}

class AdminClient {
  readonly #base: string;
  readonly #headers: Record<string, string>;
  constructor(apiUrl: string, token: string) {
    this.#base = apiUrl.replace(/\/+$/, "");
    this.#headers = { Authorization: `Bearer ${token}`, "Content-Type": "application/json" };
  }

  async call(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: unknown }> {
    const res = await fetch(`${this.#base}${path}`, {
      method,
      headers: this.#headers,
      body: body === undefined ? null : JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text === "" ? undefined : JSON.parse(text);
    } catch {
      // not JSON: keep the text for the error message
    }
    if (res.status === 401)
      throw new Error(`${method} ${path}: 401 unauthorized (set ADMIN_TOKEN to the API's token)`);
    return { status: res.status, body: parsed };
  }
}

function describe(res: { status: number; body: unknown }): string {
  return `${res.status} ${typeof res.body === "string" ? res.body : JSON.stringify(res.body)}`;
}

function errorCode(body: unknown): string | undefined {
  if (typeof body !== "object" || body === null || !("error" in body)) return undefined;
  const error = (body as { error: { code?: unknown } }).error;
  return typeof error.code === "string" ? error.code : undefined;
}

function roundUpToHour(ms: number): number {
  return Math.ceil(ms / 3_600_000) * 3_600_000;
}

function toSeeded(def: PollDefinition, poll: Poll): SeededPoll {
  const weights = new Map(def.options.map((o) => [o.id, o.weight]));
  return {
    id: poll.id,
    title: poll.title,
    timeZone: poll.timeZone,
    opensAt: poll.opensAt,
    closesAt: poll.closesAt,
    resultsVisibility: poll.resultsVisibility,
    oneVotePerVoter: poll.oneVotePerVoter,
    // A poll kept from an older seed may still be one-vote-per-voter: not a check-in poll.
    checkIn: def.checkIn === true && !poll.oneVotePerVoter,
    kioskShare: def.kioskShare,
    options: poll.options.map((o) => ({
      id: o.id,
      label: o.label,
      weight: weights.get(o.id) ?? 1,
    })),
  };
}

/**
 * A poll kept from an older seed with the other one-vote-per-voter rule (demo-checkin was
 * one-vote-per-voter, which report 10 refuses): switched while it has no votes; with votes
 * the registry refuses (409 poll_has_votes) and the poll keeps its rule.
 */
async function fixRule(
  admin: AdminClient,
  def: PollDefinition,
  poll: Poll,
  log: (line: string) => void,
): Promise<Poll> {
  const res = await admin.call("PATCH", `/v1/polls/${def.id}`, {
    oneVotePerVoter: def.oneVotePerVoter,
  });
  if (res.status === 200) {
    log(`poll ${def.id}: oneVotePerVoter set to ${def.oneVotePerVoter}`);
    return res.body as Poll;
  }
  if (res.status === 409 && errorCode(res.body) === "poll_has_votes") {
    log(
      `poll ${def.id} has votes and keeps oneVotePerVoter ${poll.oneVotePerVoter}` +
        (def.checkIn ? ": it is not a check-in poll (archive and delete it, then seed again)" : ""),
    );
    return poll;
  }
  throw new Error(`poll ${def.id}: ${describe(res)}`);
}

export async function seed(options: SeedOptions): Promise<SeedReport> {
  const log = options.log ?? (() => {});
  const admin = new AdminClient(options.apiUrl, options.adminToken);
  const now = Date.now();

  const polls: SeededPoll[] = [];
  const pollOutcomes: SeedReport["polls"] = [];
  for (const def of DEMO_POLLS) {
    const {
      closesInMs,
      kioskShare: _share,
      checkIn: _checkIn,
      options: defOptions,
      ...fields
    } = def;
    const body = {
      ...fields,
      options: defOptions.map((o) => ({ id: o.id, label: o.label })),
      closesAt:
        closesInMs === null ? null : new Date(roundUpToHour(now + closesInMs)).toISOString(),
    };
    let res = await admin.call("POST", "/v1/polls", body);
    let outcome: "created" | "kept" = "created";
    if (res.status === 409 && errorCode(res.body) === "poll_exists") {
      outcome = "kept";
      res = await admin.call("GET", `/v1/polls/${def.id}`);
    }
    if (res.status !== 200 && res.status !== 201)
      throw new Error(`poll ${def.id}: ${describe(res)}`);
    let poll = res.body as Poll;
    if (poll.oneVotePerVoter !== def.oneVotePerVoter) poll = await fixRule(admin, def, poll, log);
    if (poll.archived) log(`poll ${def.id} exists but is archived: the simulator will skip it`);
    polls.push(toSeeded(def, poll));
    pollOutcomes.push({ id: def.id, outcome });
    log(`poll ${def.id}: ${outcome}`);
  }

  const listed = await admin.call("GET", "/v1/kiosks");
  if (listed.status !== 200) throw new Error(`GET /v1/kiosks: ${describe(listed)}`);
  const registry = new Map((listed.body as { kiosks: Kiosk[] }).kiosks.map((k) => [k.id, k]));

  const previous = await readKioskFile(options.file);
  if (previous && previous.apiUrl !== options.apiUrl)
    log(
      `note: ${options.file} was written for ${previous.apiUrl}; keeping only the kiosks ${options.apiUrl} knows`,
    );
  const kiosks: SeededKiosk[] = [];
  const dropped: string[] = [];
  for (const k of previous?.kiosks ?? []) {
    const known = registry.get(k.id);
    if (known && known.revokedAt === null) kiosks.push(k);
    else dropped.push(k.id);
  }
  const reused = kiosks.length;
  const inFile = new Set(kiosks.map((k) => k.id));
  const withoutToken = [...registry.values()]
    .filter((k) => k.id.startsWith(KIOSK_ID_PREFIX) && !inFile.has(k.id) && k.revokedAt === null)
    .map((k) => k.id);

  const toCreate: { id: string; name: string }[] = [];
  for (let n = 1; kiosks.length + toCreate.length < options.kiosks; n++) {
    const id = `${KIOSK_ID_PREFIX}${String(n).padStart(4, "0")}`;
    if (inFile.has(id) || registry.has(id)) continue; // taken (its token, if any, is not ours)
    toCreate.push({ id, name: `Kiosk ${n} (${KIOSK_PLACES[n % KIOSK_PLACES.length]})` });
  }
  const created: SeededKiosk[] = [];
  const write = () =>
    writeKioskFile(options.file, {
      note: KIOSK_FILE_NOTE,
      apiUrl: options.apiUrl,
      updatedAt: new Date().toISOString(),
      polls,
      kiosks: [...kiosks, ...created].sort((a, b) => a.id.localeCompare(b.id)),
    });
  // Written after every chunk: a token that the API showed must never be lost.
  for (let i = 0; i < toCreate.length; i += 8) {
    const chunk = toCreate.slice(i, i + 8);
    const results = await Promise.allSettled(
      chunk.map(async (k) => {
        const res = await admin.call("POST", "/v1/kiosks", k);
        if (res.status !== 201) throw new Error(`kiosk ${k.id}: ${describe(res)}`);
        const body = res.body as { id: string; name: string; token: string };
        created.push({ id: body.id, name: body.name, token: body.token });
      }),
    );
    await write();
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
    if (toCreate.length > 50 && (i / 8) % 10 === 9)
      log(`kiosks: ${created.length}/${toCreate.length} created`);
  }
  await write();
  const content = (await readKioskFile(options.file))!;
  log(
    `kiosks: ${reused} reused, ${created.length} created` +
      (dropped.length > 0 ? `, ${dropped.length} dropped (gone or revoked)` : "") +
      (withoutToken.length > 0
        ? `; ${withoutToken.length} in the registry have no token in the file (lost: revoke them)`
        : ""),
  );
  return {
    file: options.file,
    polls: pollOutcomes,
    kiosksReused: reused,
    kiosksCreated: created.length,
    kiosksWithoutToken: withoutToken,
    kiosksDropped: dropped,
    content,
  };
}
