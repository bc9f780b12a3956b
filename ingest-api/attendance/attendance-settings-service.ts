import { type FieldIssue, ValidationError } from "../../common/errors.ts";
import type { Logger } from "../../common/logger.ts";
import { type Pool, withTransaction } from "../../common/postgres.ts";
import type { AttendanceSettings } from "../../common/registry-types.ts";
import { actsFor, type SchoolScope } from "../auth/actor.ts";
import type { RegistryCache } from "../registry/registry-cache.ts";
import { lockSchool, schoolNotFound, updateAttendanceSettings } from "../schools/school-store.ts";
import type { AttendanceSettingsPatch } from "./attendance-settings-schemas.ts";

export interface AttendanceSettingsServiceDeps {
  pool: Pool;
  cache: RegistryCache;
  logger: Logger;
}

/**
 * A school's presence rules, changed by its own admin or the deployment admin (another
 * school's admin: the 404 of a school that does not exist). A patch lands on the settings
 * read under the row's lock, so two patches at once cannot together break a rule that each
 * keeps alone (the temperature range). Every API process's registry cache hears the change
 * through the NOTIFY its write sends (registry-changes.ts); this one is current before the
 * answer.
 */
export class AttendanceSettingsService {
  readonly #pool: Pool;
  readonly #cache: RegistryCache;
  readonly #logger: Logger;

  constructor(deps: AttendanceSettingsServiceDeps) {
    this.#pool = deps.pool;
    this.#cache = deps.cache;
    this.#logger = deps.logger;
  }

  async update(
    schoolId: string,
    patch: AttendanceSettingsPatch,
    scope: SchoolScope,
  ): Promise<AttendanceSettings> {
    if (!actsFor(scope, schoolId)) throw schoolNotFound(schoolId);
    const { settings, changed } = await withTransaction(this.#pool, async (client) => {
      const current = (await lockSchool(client, schoolId)).attendance;
      const next = applyPatch(current, patch);
      const issues = rangeIssues(next, patch);
      if (issues.length > 0) throw new ValidationError(issues);
      // Nothing new: no write, no NOTIFY, updatedAt stays.
      if (sameSettings(current, next)) return { settings: current, changed: false };
      return {
        settings: (await updateAttendanceSettings(client, schoolId, next)).attendance,
        changed: true,
      };
    });
    if (changed)
      await this.#cache
        .refreshSchool(schoolId)
        .catch((err: unknown) =>
          this.#logger.warn({ err, schoolId }, "school cache refresh failed"),
        );
    return settings;
  }
}

function applyPatch(current: AttendanceSettings, patch: AttendanceSettingsPatch) {
  const next: AttendanceSettings = { ...current };
  for (const [key, value] of Object.entries(patch) as [keyof AttendanceSettings, unknown][])
    if (value !== undefined) (next as unknown as Record<string, unknown>)[key] = value;
  return next;
}

/**
 * The temperatures a kiosk may send are [min, max]: min must be below max. The issue names
 * the field the patch gave (min when it gave both), so the admin sees what to change.
 */
function rangeIssues(next: AttendanceSettings, patch: AttendanceSettingsPatch): FieldIssue[] {
  if (next.temperatureMinC < next.temperatureMaxC) return [];
  if (patch.temperatureMinC !== undefined)
    return [
      {
        field: "temperatureMinC",
        message: `must be below temperatureMaxC (${next.temperatureMaxC})`,
      },
    ];
  return [
    {
      field: "temperatureMaxC",
      message: `must be above temperatureMinC (${next.temperatureMinC})`,
    },
  ];
}

function sameSettings(a: AttendanceSettings, b: AttendanceSettings): boolean {
  return (Object.keys(a) as (keyof AttendanceSettings)[]).every((key) =>
    key === "weekdays" ? a.weekdays.join() === b.weekdays.join() : a[key] === b[key],
  );
}
