import { relative } from "node:path";
import { REPO_ROOT } from "../harness/repo-root.ts";
import { intFlag, readCli } from "./cli.ts";
import { DEFAULT_KIOSK_FILE } from "./simulator/kiosk-file.ts";
import { MAX_ROSTER } from "./simulator/roster.ts";
import {
  DEFAULT_ADMIN_TOKEN,
  DEFAULT_API_URL,
  DEFAULT_CONCURRENCY,
  DEFAULT_PEOPLE,
  DEFAULT_SCHOOLS,
  seed,
} from "./simulator/seeding.ts";
import { fmtInt } from "./simulator/stats.ts";

// `npm run seed [-- --schools 3 --people 200 --kiosks 50 --url http://127.0.0.1:3000]`
// Creates schools with the demo polls and a roster each, and kiosks spread over them,
// through the admin API (ADMIN_TOKEN, API_URL), and writes the kiosk tokens to a
// git-ignored file the simulator reads. Idempotent: run it again to resume or top up.

const USAGE = `usage: npm run seed -- [--schools N] [--people N] [--kiosks N] [options]
  --schools N       schools school-0001 … (default: the file's, else ${DEFAULT_SCHOOLS}); 0 = the
                    demo polls in the default school, open to any voter id, no roster
  --people N        people on each school's roster, imported as CSV (default: the file's,
                    else ${DEFAULT_PEOPLE}; at most ${fmtInt(MAX_ROSTER)})
  --kiosks N        kiosks to have in the file, spread over the schools (default 50)
  --concurrency N   schools seeded at the same time (default ${DEFAULT_CONCURRENCY})
  --url URL         the API (default: API_URL, else ${DEFAULT_API_URL})
  --file PATH       kiosk file (default .local/kiosks.json)
the reference run: --schools 1000 --people 10000
env: API_URL (default ${DEFAULT_API_URL}), ADMIN_TOKEN (default dev-admin-token)`;

const { values, flags } = readCli(
  {
    usage: USAGE,
    options: {
      schools: { type: "string" },
      people: { type: "string" },
      kiosks: { type: "string", default: "50" },
      concurrency: { type: "string", default: String(DEFAULT_CONCURRENCY) },
      url: { type: "string" },
      file: { type: "string", default: DEFAULT_KIOSK_FILE },
    },
  },
  ({ values }) => ({
    values,
    flags: {
      schools:
        values.schools === undefined ? undefined : intFlag("schools", values.schools, { min: 0 }),
      people:
        values.people === undefined
          ? undefined
          : intFlag("people", values.people, { min: 0, max: MAX_ROSTER }),
      kiosks: intFlag("kiosks", values.kiosks, { min: 1 }),
      concurrency: intFlag("concurrency", values.concurrency, { min: 1, max: 64 }),
    },
  }),
);
const apiUrl = values.url ?? process.env.API_URL ?? DEFAULT_API_URL;
try {
  const started = performance.now();
  const report = await seed({
    apiUrl,
    adminToken: process.env.ADMIN_TOKEN ?? DEFAULT_ADMIN_TOKEN,
    ...flags,
    file: values.file,
    log: (line) => process.stdout.write(`${line}\n`),
  });
  const inRepo = !relative(REPO_ROOT, report.file).startsWith("..");
  const shown = inRepo ? relative(REPO_ROOT, report.file) : report.file;
  const { layout, people } = report;
  const made = report.schools.filter((s) => s.outcome === "created").length;
  process.stdout.write(
    [
      "",
      `seeded ${apiUrl} in ${((performance.now() - started) / 1000).toFixed(1)} s: ` +
        (layout.schools === 0
          ? "the default school"
          : `${fmtInt(layout.schools)} schools (${fmtInt(made)} created)`) +
        `, ${fmtInt(report.polls.length)} polls, ${fmtInt(report.content.kiosks.length)} kiosks` +
        (layout.people > 0
          ? `, ${fmtInt(layout.people)} people each (imports: ${fmtInt(people.created)} created, ` +
            `${fmtInt(people.updated)} updated, ${fmtInt(people.unchanged)} unchanged)`
          : ""),
      `(schools, polls and rosters ${report.seconds.schools.toFixed(1)} s, kiosks ${report.seconds.kiosks.toFixed(1)} s)`,
      `kiosk tokens: ${shown}${shown.startsWith(".local/") ? " (git-ignored)" : ""}. The API shows a`,
      "token only once: this file is its only copy. Keep it private, and do not delete it while",
      "the kiosks are in use.",
      "",
    ].join("\n"),
  );
} catch (err) {
  process.stderr.write(
    `seed failed against ${apiUrl}: ${err instanceof Error ? err.message : String(err)}\n` +
      "(is the API running? npm start. Running the seed again resumes it.)\n",
  );
  process.exitCode = 1;
}
