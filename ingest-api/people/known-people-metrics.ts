import { Counter, Gauge, type Registry } from "prom-client";
import type { KnownPeople } from "./known-people.ts";

/** What the known-people set holds and costs, and how far behind Postgres it may be. */
export function registerKnownPeopleMetrics(registry: Registry, people: KnownPeople): void {
  new Gauge({
    name: "tallyflow_known_people",
    help: "Active people of every school held in memory for voters: roster polls",
    registers: [registry],
    collect() {
      this.set(people.people);
    },
  });
  new Gauge({
    name: "tallyflow_known_people_bytes",
    help: "Bytes of the known people's key tables (~14 a person)",
    registers: [registry],
    collect() {
      this.set(people.bytes);
    },
  });
  new Gauge({
    name: "tallyflow_known_people_age_seconds",
    help: "How far behind Postgres the known people may be: 0 while LISTENing with every change applied",
    registers: [registry],
    collect() {
      this.set(people.ageMs / 1000);
    },
  });
  new Counter({
    name: "tallyflow_known_people_loads_total",
    help: "Loads of the known people: full (start, LISTEN re-opened, safety net) or schools (named by a notification)",
    labelNames: ["kind"],
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ kind: "full" }, people.loads.full);
      this.inc({ kind: "schools" }, people.loads.schools);
    },
  });
}
