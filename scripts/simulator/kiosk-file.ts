import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { REPO_ROOT } from "../../harness/repo-root.ts";

// The file the seed writes and the simulator reads: the demo polls (as the registry has
// them, with a popularity weight per option) and the kiosks with their tokens. The API
// shows a kiosk token once, at creation; this file is the only copy. It lives in .local/
// (git-ignored) and is written with mode 0600.

export const DEFAULT_KIOSK_FILE = join(REPO_ROOT, ".local", "kiosks.json");
export const DEFAULT_RUN_DIR = join(REPO_ROOT, ".local", "runs");

export interface SeededOption {
  id: string;
  label: string;
  /** Relative popularity used by the simulator (not part of the registry). */
  weight: number;
}

export interface SeededPoll {
  id: string;
  title: string;
  timeZone: string;
  opensAt: string | null;
  closesAt: string | null;
  resultsVisibility: "live" | "after_close";
  oneVotePerVoter: boolean;
  /**
   * A check-in poll as report 10 (attendance) reads one: not one-vote-per-voter, and every
   * vote names its voter, who checks in again day after day. Not part of the registry;
   * absent in kiosk files written before it existed.
   */
  checkIn?: boolean;
  /** Share of the kiosks placed at this poll (relative). */
  kioskShare: number;
  options: SeededOption[];
}

export interface SeededKiosk {
  id: string;
  name: string;
  token: string;
}

export interface KioskFile {
  note: string;
  apiUrl: string;
  updatedAt: string;
  polls: SeededPoll[];
  kiosks: SeededKiosk[];
}

export const KIOSK_FILE_NOTE =
  "Kiosk tokens are shown only once by the API: this file is their only copy. Keep it private; " +
  "a kiosk whose token is lost can only be revoked (DELETE /v1/kiosks/:id) and replaced.";

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
