import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { DEFAULT_SCHOOL_ID, type PollVoters } from "../../common/registry-types.ts";
import { REPO_ROOT } from "../../harness/repo-root.ts";
import type { RosterScheme } from "./roster.ts";

// The file the seed writes and the simulator reads: the seeded schools (with how their
// people's ids are made), their demo polls (as the registry has them, with a popularity
// weight per option) and the kiosks with their school and token. The API shows a kiosk
// token once, at creation; this file is the only copy. It lives in .local/ (git-ignored)
// and is written with mode 0600.

export const DEFAULT_KIOSK_FILE = join(REPO_ROOT, ".local", "kiosks.json");
export const DEFAULT_RUN_DIR = join(REPO_ROOT, ".local", "runs");

/** The file's format. Files without a version predate schools (read as the default school). */
export const KIOSK_FILE_VERSION = 2;

export interface SeededOption {
  id: string;
  label: string;
  /** Relative popularity used by the simulator (not part of the registry). */
  weight: number;
}

export interface SeededPoll {
  /** The poll's id: what its URLs and the votes take (in a school other than `default`, slug + suffix). */
  id: string;
  schoolId: string;
  /** The name the seed gives it, the same in every school (`demo-council`). */
  slug: string;
  title: string;
  timeZone: string;
  opensAt: string | null;
  closesAt: string | null;
  resultsVisibility: "live" | "after_close";
  oneVotePerVoter: boolean;
  /** "roster": every vote must name an active person of the poll's school. */
  voters: PollVoters;
  /**
   * A check-in poll as report 10 (attendance) reads one: not one-vote-per-voter, and every
   * vote names its voter, who checks in again day after day. Not part of the registry.
   */
  checkIn?: boolean;
  /** Share of the kiosks placed at this poll (relative). */
  kioskShare: number;
  options: SeededOption[];
}

export interface SeededKiosk {
  id: string;
  schoolId: string;
  slug: string;
  name: string;
  token: string;
}

export interface SeededSchool {
  id: string;
  name: string;
  timeZone: string;
  /** Its roster as imported by the seed (people 1 … count), or null: none. */
  people: RosterScheme | null;
}

/** What the seed was asked for: `schools` 0 = the default school only, without a roster. */
export interface SeedLayout {
  schools: number;
  /** People per school (0 with `schools` 0). */
  people: number;
}

export interface KioskFile {
  note: string;
  version: typeof KIOSK_FILE_VERSION;
  apiUrl: string;
  updatedAt: string;
  layout: SeedLayout;
  schools: SeededSchool[];
  polls: SeededPoll[];
  kiosks: SeededKiosk[];
}

export const KIOSK_FILE_NOTE =
  "Kiosk tokens are shown only once by the API: this file is their only copy. Keep it private; " +
  "a kiosk whose token is lost can only be revoked (DELETE /v1/kiosks/:id) and replaced.";

/** The school a file from before schools seeded into (migration 017 moved its polls and kiosks there). */
const DEFAULT_SCHOOL: SeededSchool = {
  id: DEFAULT_SCHOOL_ID,
  name: "Default school",
  timeZone: "UTC",
  people: null,
};

type OldPoll = Omit<SeededPoll, "schoolId" | "slug" | "voters">;
type OldKiosk = Omit<SeededKiosk, "schoolId" | "slug">;

/**
 * A file written before schools (no version): its polls and kiosks are the default
 * school's, where an id is its name, and its polls take any voter id — as migration 017
 * left them. Nothing in it is lost: the tokens stay valid.
 */
function fromBeforeSchools(old: {
  polls: OldPoll[];
  kiosks: OldKiosk[];
  apiUrl?: string;
  updatedAt?: string;
}): KioskFile {
  return {
    note: KIOSK_FILE_NOTE,
    version: KIOSK_FILE_VERSION,
    apiUrl: old.apiUrl ?? "",
    updatedAt: old.updatedAt ?? new Date(0).toISOString(),
    layout: { schools: 0, people: 0 },
    schools: [DEFAULT_SCHOOL],
    polls: old.polls.map((p) => ({ ...p, schoolId: DEFAULT_SCHOOL_ID, slug: p.id, voters: "any" })),
    kiosks: old.kiosks.map((k) => ({ ...k, schoolId: DEFAULT_SCHOOL_ID, slug: k.id })),
  };
}

/** The file's content, or undefined when there is none yet. */
export async function readKioskFile(path: string): Promise<KioskFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  const parsed = JSON.parse(text) as Partial<KioskFile>;
  if (!Array.isArray(parsed.kiosks) || !Array.isArray(parsed.polls))
    throw new Error(`${path} is not a kiosk file (no "kiosks" and "polls" arrays)`);
  if (parsed.version === undefined)
    return fromBeforeSchools(parsed as Parameters<typeof fromBeforeSchools>[0]);
  if (
    parsed.version !== KIOSK_FILE_VERSION ||
    !Array.isArray(parsed.schools) ||
    typeof parsed.layout?.schools !== "number"
  )
    throw new Error(
      `${path} is a kiosk file of another format (version ${JSON.stringify(parsed.version)}, this ` +
        `tallyflow reads ${KIOSK_FILE_VERSION}): seed into another file (npm run seed -- --file ` +
        "PATH) and revoke the kiosks this one holds",
    );
  return parsed as KioskFile;
}

/** Writes atomically (temp file + rename), readable by the owner only. */
export async function writeKioskFile(path: string, content: KioskFile): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
}
