import { readFileSync } from "node:fs";
import { join } from "node:path";

/** Where each table goes on a Citus cluster (sql/citus/distribution.sql). */
export type PlannedTable =
  | { table: string; kind: "reference" }
  | {
      table: string;
      kind: "distributed";
      column: string;
      /** colocate_with: a table, or null for 'none' (a group of its own). */
      colocateWith: string | null;
      /** The colocation group: its first table (colocate_with followed back to a 'none'). */
      group: string;
    }
  | { table: string; kind: "local" };

export const DISTRIBUTION_SQL = join(import.meta.dirname, "distribution.sql");

const CALL =
  /\bselect\s+(create_reference_table|create_distributed_table|citus_add_local_table_to_metadata)\s*\(([^;]*)\)\s*;/gi;
const NAME = /^'([a-z_][a-z0-9_]*)'$/;

function name(arg: string | undefined, call: string): string {
  const m = NAME.exec((arg ?? "").trim());
  if (!m?.[1]) throw new Error(`${call}: expected a quoted, unqualified table or column name`);
  return m[1];
}

/**
 * The calls of `sql` in order, comments left out. A create_distributed_table must name its
 * colocation (colocate_with => 'none' or a table): left implicit, Citus colocates any two
 * tables whose columns share a type, which is a decision this file takes explicitly.
 */
export function parsePlan(sql: string): PlannedTable[] {
  const code = sql.replace(/--.*$/gm, "");
  const plan: PlannedTable[] = [];
  for (const m of code.matchAll(CALL)) {
    const fn = (m[1] ?? "").toLowerCase();
    const call = m[0].replace(/\s+/g, " ");
    const args = (m[2] ?? "").split(",");
    if (fn === "create_reference_table" || fn === "citus_add_local_table_to_metadata") {
      if (args.length !== 1) throw new Error(`${call}: one argument expected`);
      plan.push({
        table: name(args[0], call),
        kind: fn === "create_reference_table" ? "reference" : "local",
      });
      continue;
    }
    const colocate = /^colocate_with\s*=>\s*(.*)$/.exec((args[2] ?? "").trim());
    if (args.length !== 3 || !colocate)
      throw new Error(`${call}: expected (table, column, colocate_with => …)`);
    const table = name(args[0], call);
    const target = name(colocate[1], call);
    const earlier = plan.find((p) => p.table === target);
    plan.push({
      table,
      kind: "distributed",
      column: name(args[1], call),
      colocateWith: target === "none" ? null : target,
      // A target not planned before stays its own name: the checker reports the order.
      group: target === "none" ? table : earlier?.kind === "distributed" ? earlier.group : target,
    });
  }
  const seen = new Set<string>();
  for (const p of plan) {
    if (seen.has(p.table)) throw new Error(`${p.table} is named twice`);
    seen.add(p.table);
  }
  return plan;
}

/** The plan of sql/citus/distribution.sql. */
export function loadPlan(): PlannedTable[] {
  return parsePlan(readFileSync(DISTRIBUTION_SQL, "utf8"));
}
