-- 024 (owned by the ingest API's attendance reads): a week's or month's presence read from
-- the person index alone.
-- Parameters: none. Output: none.
--
-- GET /v1/schools/:id/attendance?period= reads a page of people's days (100 people × a
-- month: ~2,300 rows). The writer writes a school's days day by day, so one person's days
-- lie on as many heap pages as days: such a page visited ~2,300 heap pages, 20 ms at the
-- median and 80 ms at p99 for the plain SELECT alone on the reference 2-core machine with
-- ten schools' month (bench:attendance-reads). Whether a day is present depends on its
-- closed seconds and its open check-in only (common/attendance/person-day.ts viewDay, with
-- the school's rules and the clock), so the person index (019) carries those two and the
-- page is an index-only scan of one range per person (the heap is read only for pages the
-- visibility map does not know to be all-visible: today's, until vacuum).
--
-- The same key as 019's index, one index replaced by another: the writer maintains as many
-- index entries as before (its updates change tx_id, an indexed column, so they were never
-- HOT), each 12 bytes longer. A person's days (GET …/people/:personId/attendance) still
-- read the heap for the rest of the state: a few dozen rows.

drop index attendance_days_person_idx;
create index attendance_days_person_idx on attendance_days (school_id, person_id, day)
  include (closed_seconds, open_since);
