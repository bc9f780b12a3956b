import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

// What Grafana needs of a provisioned dashboard besides its queries (those are run against
// a real Prometheus in dashboards-prometheus.test.ts): a uid and title of its own, panels
// with unique ids laid out on the 24-column grid without overlapping, and targets with
// unique refIds, each a query.

const DIR = join(import.meta.dirname, "grafana", "dashboards");

interface GridPos {
  x: number;
  y: number;
  w: number;
  h: number;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: GridPos;
  targets?: { refId: string; expr: string }[];
}

const dashboards = readdirSync(DIR)
  .filter((f) => f.endsWith(".json"))
  .map((file) => ({
    file,
    json: JSON.parse(readFileSync(join(DIR, file), "utf8")) as {
      uid: string;
      title: string;
      schemaVersion: number;
      panels: Panel[];
    },
  }));

test("each dashboard has its own uid and title", () => {
  assert.equal(dashboards.length, 4);
  assert.equal(new Set(dashboards.map((d) => d.json.uid)).size, dashboards.length);
  assert.equal(new Set(dashboards.map((d) => d.json.title)).size, dashboards.length);
  for (const { file, json } of dashboards) {
    assert.match(json.uid, /^[a-z0-9-]{1,40}$/, file);
    assert.ok(json.schemaVersion >= 36, `${file}: a schema Grafana 9+ reads`);
  }
});

test("panels: unique ids, on the 24-column grid, not overlapping; targets with unique refIds", () => {
  for (const { file, json } of dashboards) {
    assert.equal(new Set(json.panels.map((p) => p.id)).size, json.panels.length, file);
    const cells = new Set<string>();
    for (const panel of json.panels) {
      const { x, y, w, h } = panel.gridPos;
      assert.ok(x >= 0 && w > 0 && x + w <= 24 && y >= 0 && h > 0, `${file} › ${panel.title}`);
      for (let cx = x; cx < x + w; cx++)
        for (let cy = y; cy < y + h; cy++) {
          const cell = `${cx},${cy}`;
          assert.ok(!cells.has(cell), `${file} › ${panel.title} overlaps another panel`);
          cells.add(cell);
        }
      if (panel.type === "row") continue;
      const targets = panel.targets ?? [];
      assert.ok(targets.length > 0, `${file} › ${panel.title} has a query`);
      assert.equal(new Set(targets.map((t) => t.refId)).size, targets.length);
      for (const t of targets) assert.ok(t.expr.trim().length > 0);
    }
  }
});
