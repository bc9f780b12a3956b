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

/**
 * The time between the next two runs of a recurring cron rule, in seconds: what "one
 * interval" means to an alert on stale results (for an irregular rule, the gap ahead now).
 */
export function cronIntervalSeconds(spec: string, now = new Date()): number {
  const next = (after: Date): Date => {
    const job = new schedule.Job(() => {});
    try {
      job.schedule({ start: after, rule: spec });
      const at = job.nextInvocation();
      if (at === null) throw new Error(`"${spec}" has no run after ${after.toISOString()}`);
      return new Date(at.getTime());
    } finally {
      job.cancel();
    }
  };
  const first = next(now);
  const second = next(new Date(first.getTime() + 1));
  return (second.getTime() - first.getTime()) / 1000;
}
