// Which time zone names a poll may have. JavaScript (the dashboard, the charts) and
// Postgres (the analyst reports' local days) must read a name the same way, and several
// forms they both accept mean different things: "+05:30" is UTC+05:30 to Intl but a POSIX
// offset, UTC−05:30, to Postgres; "CET", "EET", "MET" and "WET" are DST zones to Intl and
// fixed-offset abbreviations to Postgres; "IST" is India to Intl and Israel to Postgres.
// IANA names of the Area/Location form (Europe/London, America/Argentina/Buenos_Aires,
// Etc/GMT+5) come from the same tz database on both sides and are never abbreviations or
// POSIX specs to Postgres, which reads those only from names without a "/" (a POSIX rule
// with a "/" also has "," or ":" and digits in its first part, which the pattern refuses).
// `common/time-zone.test.ts` checks every such name against pg_timezone_names.

const AREA_LOCATION = /^[A-Za-z]+(?:\/[A-Za-z0-9_+-]+)+$/;

/** What an admin reads when a zone is refused. */
export const TIME_ZONE_RULE = 'must be "UTC" or an IANA time zone name such as Europe/London';

/** True for "UTC" and for Area/Location IANA names that Intl knows. */
export function isPortableTimeZone(name: string): boolean {
  if (name === "UTC") return true;
  if (!AREA_LOCATION.test(name)) return false;
  try {
    new Intl.DateTimeFormat("en", { timeZone: name });
    return true;
  } catch {
    return false;
  }
}
