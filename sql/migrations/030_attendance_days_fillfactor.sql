-- 030 (owned by the batch writer): attendance_days at fillfactor 85 instead of 50 (025).
-- Parameters: none. Output: none.
--
-- 025 left half of each page free so that every row's check-out update found room beside
-- it (a heap-only update). That doubles the table: the heap the writer dirties, the WAL of
-- its first write after each checkpoint, and the shared buffers it needs (the day's rows of
-- 50 schools of 10,000 people filled more than the 128 MB of the reference machine), and
-- bench:attendance-writer measured the writer with presence upkeep at about half the plain
-- writer's throughput. The room needed is not a row's own: an update needs room on its
-- page for one new version at the time, and the earlier versions of the page's rows, dead
-- once their transaction is older than every snapshot, are pruned by the next access that
-- finds the page short of room. A page's rows are updated over the afternoon, a few per
-- batch (a batch holds a few per cent of a day's check-outs, ~46 rows fill 85 % of a page),
-- so the 15 % left (~8 versions) keeps the updates heap-only while the table is 1.2× its
-- rows instead of 2×. bench:attendance-writer prints the share of the writer's updates that
-- were heap-only with each round (BENCHMARKS.md).
--
-- Pages written before this migration keep their room until rewritten.

alter table attendance_days set (fillfactor = 85);
