import { relative } from "node:path";
import { REPO_ROOT } from "../harness/repo-root.ts";
import { intFlag, readCli } from "./cli.ts";
import { DEFAULT_KIOSK_FILE } from "./simulator/kiosk-file.ts";
import { DEFAULT_ADMIN_TOKEN, DEFAULT_API_URL, seed } from "./simulator/seeding.ts";

// `npm run seed [-- --kiosks 50 --url http://127.0.0.1:3000 --file .local/kiosks.json]`
// Creates the demo polls and kiosks through the admin API (ADMIN_TOKEN, API_URL) and
// writes the kiosk tokens to a git-ignored file the simulator reads. Idempotent.

const USAGE = `usage: npm run seed -- [--kiosks N] [--url API_URL] [--file PATH]
  --kiosks N    kiosks to have in the file (default 50)
  --url URL     the API (default: API_URL, else ${DEFAULT_API_URL})
  --file PATH   kiosk file (default .local/kiosks.json)
env: API_URL (default ${DEFAULT_API_URL}), ADMIN_TOKEN (default dev-admin-token)`;

const { values, kiosks } = readCli(
  {
    usage: USAGE,
    options: {
      kiosks: { type: "string", default: "50" },
      url: { type: "string" },
      file: { type: "string", default: DEFAULT_KIOSK_FILE },
    },
  },
  ({ values }) => ({ values, kiosks: intFlag("kiosks", values.kiosks, { min: 1 }) }),
);
const apiUrl = values.url ?? process.env.API_URL ?? DEFAULT_API_URL;
try {
  const report = await seed({
    apiUrl,
    adminToken: process.env.ADMIN_TOKEN ?? DEFAULT_ADMIN_TOKEN,
    kiosks,
    file: values.file,
    log: (line) => process.stdout.write(`${line}\n`),
  });
  const inRepo = !relative(REPO_ROOT, report.file).startsWith("..");
  const shown = inRepo ? relative(REPO_ROOT, report.file) : report.file;
  process.stdout.write(
    [
      "",
      `seeded ${apiUrl}: ${report.polls.length} polls, ${report.content.kiosks.length} kiosks`,
      `kiosk tokens: ${shown}${shown.startsWith(".local/") ? " (git-ignored)" : ""}. The API shows a`,
      "token only once: this file is its only copy. Keep it private, and do not delete it while",
      "the kiosks are in use.",
      "",
    ].join("\n"),
  );
} catch (err) {
  process.stderr.write(
    `seed failed against ${apiUrl}: ${err instanceof Error ? err.message : String(err)}\n` +
      "(is the API running? npm start)\n",
  );
  process.exitCode = 1;
}
