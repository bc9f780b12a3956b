import schedule from "node-schedule";

/**
 * Whether node-schedule runs `spec` as a recurring cron rule. It is asked itself, because
 * its scheduleJob does not throw on a bad rule: it falls back to reading the string as a
 * date (a one-time job, or none at all), and the publisher would run once and then never
 * again. A throwaway Job is scheduled and cancelled at once: no timer is left behind.
 */
export function isRecurringCron(spec: string): boolean {
  // isOneTimeJob is node-schedule's own flag (not in its typings): the string was read as a date.
  const job: schedule.Job & { isOneTimeJob?: boolean } = new schedule.Job(() => {});
  try {
    const scheduled = job.schedule(spec);
    return scheduled && job.isOneTimeJob !== true && job.nextInvocation() !== null;
  } catch {
    return false;
  } finally {
    job.cancel();
  }
}
