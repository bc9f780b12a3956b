-- The range of a lesson registers' report (sql/reports/16-18): the school and the shape of
-- from and to are checked by include/school.sql (included first); here the defaults are the
-- school's registers' instead of its attendance events'.
--
-- Included  by reports 16-18 with `\ir include/registers.sql`, right after
--           `\ir include/school.sql`, which they reach with from_given and to_given set to the
--           from and to given (or '').
-- Sets      from, to   school-local days [from, to): those given, else from the local day of
--                      the school's first register's start, to the day after the later of
--                      today and its last register's start.

select coalesce(nullif(:'from_given', '')::date,
                (select min((p.starts_at at time zone :'school_tz')::date) from polls p
                 where p.school_id = :'school_id' and p.kind = 'register'),
                (:'today')::date)::text as from,
       coalesce(nullif(:'to_given', '')::date,
                greatest((:'today')::date,
                         (select max((p.starts_at at time zone :'school_tz')::date) from polls p
                          where p.school_id = :'school_id' and p.kind = 'register')) + 1)::text as to
\gset
