const DAY_MS = 86_400_000;

/** What the index needs of a cached poll. */
export interface IndexedRegister {
  id: string;
  schoolId: string;
  kind: string;
  startsAt?: string;
}

/**
 * The registry cache's lesson registers by school and by the UTC day of their start, so a
 * teacher's day (`GET /v1/teacher`) reads its school's one or two UTC days of registers, not
 * every cached poll: at a country's 350,000 lessons a morning (and the days kept before it)
 * a walk of the whole cache a request would cost the API more than the page's other reads.
 * Kept by the cache as it replaces or drops a poll; a poll of another kind is not held.
 */
export class RegisterIndex<P extends IndexedRegister> {
  readonly #bySchool = new Map<string, Map<number, Map<string, P>>>();

  add(p: P): void {
    if (p.kind !== "register" || p.startsAt === undefined) return;
    const day = Math.floor(Date.parse(p.startsAt) / DAY_MS);
    const days = this.#bySchool.get(p.schoolId) ?? new Map<number, Map<string, P>>();
    this.#bySchool.set(p.schoolId, days);
    const polls = days.get(day) ?? new Map<string, P>();
    days.set(day, polls);
    polls.set(p.id, p);
  }

  remove(p: P): void {
    if (p.kind !== "register" || p.startsAt === undefined) return;
    const day = Math.floor(Date.parse(p.startsAt) / DAY_MS);
    const days = this.#bySchool.get(p.schoolId);
    const polls = days?.get(day);
    if (polls?.get(p.id) !== p) return;
    polls.delete(p.id);
    if (polls.size === 0) days!.delete(day);
    if (days!.size === 0) this.#bySchool.delete(p.schoolId);
  }

  clear(): void {
    this.#bySchool.clear();
  }

  /** The school's registers starting in [fromMs, toMs), archived ones too, in no order. */
  *starting(schoolId: string, fromMs: number, toMs: number): Generator<P> {
    const days = this.#bySchool.get(schoolId);
    if (days === undefined || toMs <= fromMs) return;
    for (let d = Math.floor(fromMs / DAY_MS); d <= Math.floor((toMs - 1) / DAY_MS); d++)
      for (const p of days.get(d)?.values() ?? []) {
        const at = Date.parse(p.startsAt!);
        if (at >= fromMs && at < toMs) yield p;
      }
  }
}
