import type pg from "pg";
import type { PlannedTable } from "./citus-plan.ts";

// Citus's rules for a plan (sql/citus/distribution.sql), checked against a migrated schema
// through pg_catalog, where Citus itself is not installed. Each rule is what Citus's own
// checks refuse (citusdata/citus, src/backend/distributed/commands/: create_distributed_table.c
// EnsureRelationCanBeDistributed, table.c ErrorIfUnsupportedConstraint, foreign_constraint.c
// ErrorIfUnsupportedForeignConstraintExists, trigger.c), or what breaks once it runs
// (xid8, identity columns); docs/citus.md says each in prose.

/** One thing Citus would refuse, or that would not work, for the plan. */
export interface Violation {
  rule:
    | "unplanned"
    | "planned-table-missing"
    | "partition-planned"
    | "order"
    | "distribution-column"
    | "colocation"
    | "partitioned"
    | "unique-key"
    | "foreign-key"
    | "trigger"
    | "identity"
    | "xid8";
  /** The planned table (a partition's findings are its root's). */
  table: string;
  /** What in it: an index's key columns, a constraint, trigger or column name. */
  subject: string;
  detail: string;
}

interface TableRow {
  name: string;
  kind: "r" | "p";
  parent: string | null;
}

interface IndexRow {
  table: string;
  index: string;
  exclusion: boolean;
  /** Key columns (INCLUDE ones left out), null for an expression. */
  columns: (string | null)[];
  /** Per key column, the exclusion operator's name (exclusion constraints only). */
  operators: string[] | null;
}

interface ForeignKeyRow {
  name: string;
  table: string;
  columns: string[];
  target: string;
  targetColumns: string[];
  onDelete: string;
  onUpdate: string;
}

interface ColumnRow {
  table: string;
  column: string;
  type: string;
  notNull: boolean;
  generated: boolean;
  identity: boolean;
  collation: string | null;
  deterministic: boolean;
}

const SCHEMA = "public";

const TABLES = `
  select c.relname as name, c.relkind as kind,
         (select p.relname from pg_inherits i join pg_class p on p.oid = i.inhparent
          where i.inhrelid = c.oid and c.relispartition) as parent
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where n.nspname = $1 and c.relkind in ('r', 'p')`;

// Unique indexes (primary keys and unique constraints among them) and exclusion
// constraints, on tables and on partitions; key columns only (Citus reads INCLUDE columns
// too, but a key whose distribution column is only included is not unique per shard).
const INDEXES = `
  select c.relname as table, ic.relname as index, i.indisexclusion as exclusion,
         array(select a.attname::text
               from unnest(i.indkey::int2[]) with ordinality k(attnum, ord)
               left join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
               where k.ord <= i.indnkeyatts order by k.ord) as columns,
         (select array(select o.oprname::text from unnest(x.conexclop) with ordinality e(op, ord)
                       join pg_operator o on o.oid = e.op order by e.ord)
          from pg_constraint x where x.conindid = i.indexrelid and x.contype = 'x') as operators
  from pg_index i
  join pg_class c on c.oid = i.indrelid
  join pg_class ic on ic.oid = i.indexrelid
  join pg_namespace n on n.oid = c.relnamespace
  where n.nspname = $1 and (i.indisunique or i.indisexclusion)`;

// Foreign keys as declared (a partitioned table's clones on its partitions left out).
const FOREIGN_KEYS = `
  select con.conname as name, src.relname as table, dst.relname as target,
         array(select a.attname::text from unnest(con.conkey) with ordinality k(attnum, ord)
               join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.attnum
               order by k.ord) as columns,
         array(select a.attname::text from unnest(con.confkey) with ordinality k(attnum, ord)
               join pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.attnum
               order by k.ord) as "targetColumns",
         con.confdeltype as "onDelete", con.confupdtype as "onUpdate"
  from pg_constraint con
  join pg_class src on src.oid = con.conrelid
  join pg_class dst on dst.oid = con.confrelid
  join pg_namespace n on n.oid = src.relnamespace
  where n.nspname = $1 and con.contype = 'f' and con.conparentid = 0`;

// Triggers as declared (clones on partitions left out; internal ones, the foreign keys',
// are not triggers to Citus either).
const TRIGGERS = `
  select c.relname as table, t.tgname as trigger
  from pg_trigger t join pg_class c on c.oid = t.tgrelid
  join pg_namespace n on n.oid = c.relnamespace
  where n.nspname = $1 and not t.tgisinternal and t.tgparentid = 0`;

const COLUMNS = `
  select c.relname as table, a.attname as column, format_type(a.atttypid, a.atttypmod) as type,
         a.attnotnull as "notNull", a.attgenerated <> '' as generated,
         a.attidentity <> '' as identity, co.collname as collation,
         coalesce(co.collisdeterministic, true) as deterministic
  from pg_attribute a
  join pg_class c on c.oid = a.attrelid
  join pg_namespace n on n.oid = c.relnamespace
  left join pg_collation co on co.oid = a.attcollation
  where n.nspname = $1 and c.relkind in ('r', 'p') and not c.relispartition
    and a.attnum > 0 and not a.attisdropped`;

// pg_constraint's action codes.
const ACTION: Record<string, string> = {
  a: "no action",
  r: "restrict",
  c: "cascade",
  n: "set null",
  d: "set default",
};

type Queryable = Pick<pg.ClientBase, "query">;

/** Every violation of Citus's rules by `plan` in the schema `db` holds. */
export async function checkCitusRules(
  db: Queryable,
  plan: readonly PlannedTable[],
): Promise<Violation[]> {
  // One after another: `db` may be one client (a test's transaction).
  const tables = (await db.query<TableRow>(TABLES, [SCHEMA])).rows;
  const indexes = (await db.query<IndexRow>(INDEXES, [SCHEMA])).rows;
  const foreignKeys = (await db.query<ForeignKeyRow>(FOREIGN_KEYS, [SCHEMA])).rows;
  const triggers = (await db.query<{ table: string; trigger: string }>(TRIGGERS, [SCHEMA])).rows;
  const columns = (await db.query<ColumnRow>(COLUMNS, [SCHEMA])).rows;
  const out: Violation[] = [];
  const add = (rule: Violation["rule"], table: string, subject: string, detail: string) =>
    out.push({ rule, table, subject, detail });

  const byName = new Map(tables.map((t) => [t.name, t]));
  const planned = new Map(plan.map((p) => [p.table, p]));
  // A partition is its root's: Citus distributes partitions with their parent.
  const rootOf = (name: string): string => {
    let t = byName.get(name);
    while (t?.parent) t = byName.get(t.parent);
    return t?.name ?? name;
  };
  const kindOf = (name: string) => planned.get(rootOf(name))?.kind ?? "unplanned";
  const column = (table: string, name: string) =>
    columns.find((c) => c.table === table && c.column === name);

  for (const t of tables) {
    if (t.parent === null && !planned.has(t.name))
      add("unplanned", t.name, t.name, "no call in sql/citus/distribution.sql names this table");
    if (t.parent !== null && planned.has(t.name))
      add("partition-planned", t.name, t.name, `a partition of ${t.parent}: it follows its parent`);
    if (t.parent !== null && t.kind === "p" && kindOf(t.name) === "distributed")
      add("partitioned", rootOf(t.name), t.name, "multi-level partitioning is not distributed");
  }

  const created = new Set<string>();
  for (const p of plan) {
    const t = byName.get(p.table);
    if (!t) {
      add("planned-table-missing", p.table, p.table, "the plan names a table the schema lacks");
      continue;
    }
    if (t.parent !== null) continue; // partition-planned, above
    if (t.kind === "p" && p.kind === "reference")
      add("partitioned", p.table, p.table, "a partitioned table can only be hash-distributed");

    if (p.kind !== "local") {
      // A foreign key's target must be a Citus table when the key's table becomes one.
      for (const fk of foreignKeys.filter((f) => f.table === p.table)) {
        const target = rootOf(fk.target);
        const k = kindOf(target);
        if (
          target !== p.table &&
          (k === "reference" || k === "distributed") &&
          !created.has(target)
        )
          add("order", p.table, fk.name, `${target} must be created before ${p.table}`);
      }
      for (const c of columns.filter((c) => c.table === p.table)) {
        if (c.identity && c.type !== "bigint")
          add(
            "identity",
            p.table,
            c.column,
            `identity column of type ${c.type}: only a bigint one yields values on every node`,
          );
        if (c.type === "xid8")
          add(
            "xid8",
            p.table,
            c.column,
            "transaction ids are per node: a shard's are not comparable with another's or the coordinator's",
          );
      }
      for (const tr of triggers.filter((x) => rootOf(x.table) === p.table))
        add(
          "trigger",
          p.table,
          tr.trigger,
          "Citus refuses a table with triggers (unless citus.enable_unsafe_triggers, then they run on each shard placement)",
        );
    }

    if (p.kind === "distributed") {
      const dc = column(p.table, p.column);
      if (!dc) add("distribution-column", p.table, p.column, "no such column");
      else {
        if (!dc.notNull)
          add("distribution-column", p.table, p.column, "nullable: a row needs a shard");
        if (dc.generated)
          add(
            "distribution-column",
            p.table,
            p.column,
            "a generated column cannot be the distribution column",
          );
        if (!dc.deterministic)
          add(
            "distribution-column",
            p.table,
            p.column,
            `nondeterministic collation ${dc.collation}`,
          );
      }
      if (p.colocateWith !== null) {
        const anchor = planned.get(p.colocateWith);
        if (anchor?.kind !== "distributed" || !created.has(anchor.table))
          add(
            "order",
            p.table,
            p.colocateWith,
            `colocate_with names ${p.colocateWith}, not a distributed table created before`,
          );
        else {
          const ac = column(anchor.table, anchor.column);
          if (dc && ac && (dc.type !== ac.type || dc.collation !== ac.collation))
            add(
              "colocation",
              p.table,
              p.column,
              `${dc.type} ${dc.collation ?? ""} vs ${anchor.table}.${anchor.column} ${ac.type} ${ac.collation ?? ""}`,
            );
        }
      }
    }
    created.add(p.table);
  }

  // Unique keys and exclusion constraints of a distributed table and of each of its
  // partitions contain the distribution column (exclusion: with an equality operator).
  // Reported once per root table and key columns, however many partitions repeat it.
  const keys = new Map<string, { table: string; columns: string; indexes: string[] }>();
  for (const ix of indexes) {
    const root = rootOf(ix.table);
    const p = planned.get(root);
    if (p?.kind !== "distributed") continue;
    const at = ix.columns.indexOf(p.column);
    const ok = at >= 0 && (!ix.exclusion || ix.operators?.[at] === "=");
    if (ok) continue;
    const cols = `(${ix.columns.map((c) => c ?? "<expression>").join(", ")})${ix.exclusion ? " exclusion" : ""}`;
    const key = `${root} ${cols}`;
    const seen = keys.get(key) ?? { table: root, columns: cols, indexes: [] };
    seen.indexes.push(ix.index);
    keys.set(key, seen);
  }
  for (const k of keys.values()) {
    const p = planned.get(k.table);
    const dist = p?.kind === "distributed" ? p.column : "";
    add("unique-key", k.table, k.columns, `lacks ${dist}: ${k.indexes.sort().join(", ")}`);
  }

  // Foreign keys: distributed -> distributed of its colocation group, distribution column
  // to distribution column at the same position; distributed -> reference; reference ->
  // reference or (no action/restrict only) local; local -> reference or local. Never
  // reference or local -> distributed, never distributed -> local.
  for (const fk of foreignKeys) {
    const from = rootOf(fk.table);
    const to = rootOf(fk.target);
    const a = planned.get(from);
    const b = planned.get(to);
    if (!a || !b || from === to) continue;
    const bad = (why: string) => add("foreign-key", from, fk.name, `${from} -> ${to}: ${why}`);
    if (b.kind === "distributed" && a.kind !== "distributed")
      bad(`a ${a.kind} table cannot reference a distributed one`);
    else if (a.kind === "distributed" && b.kind === "local")
      bad("a distributed table can reference only distributed and reference tables");
    else if (a.kind === "distributed" && b.kind === "distributed") {
      const i = fk.columns.indexOf(a.column);
      if (a.group !== b.group) bad(`not colocated (${a.group} vs ${b.group})`);
      else if (i < 0 || fk.targetColumns[i] !== b.column)
        bad(
          `not on the distribution columns at the same position (${fk.columns.join(", ")} -> ${fk.targetColumns.join(", ")})`,
        );
    } else if (a.kind === "reference" && b.kind === "local") {
      if (!["a", "r"].includes(fk.onDelete) || !["a", "r"].includes(fk.onUpdate))
        bad("a reference table's key to a local table can only be no action or restrict");
    }
    if (a.kind === "distributed" && fk.columns.includes(a.column)) {
      if (fk.onDelete === "n" || fk.onDelete === "d")
        bad(`on delete ${ACTION[fk.onDelete]} would change the distribution column`);
      if (["n", "d", "c"].includes(fk.onUpdate))
        bad(`on update ${ACTION[fk.onUpdate]} would change the distribution column`);
    }
  }
  return out;
}
