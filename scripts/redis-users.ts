import { writeFileSync } from "node:fs";
import { configOrExit } from "../common/main-guard.ts";
import { readCli } from "./cli.ts";
import { readAclSettings, renderAclFile } from "./redis-users/acl.ts";

// `npm run redis-users -- --out users.acl`: writes the ACL file redis-server reads with
// --aclfile (every service's user, the read-only `results` user, the default user off),
// from the passwords in the environment. Run it before Redis starts, and again (then
// restart Redis, or `ACL LOAD` as admin) to change a password.

const { out } = readCli(
  {
    usage: `usage: npm run redis-users -- [--out FILE]
  writes Redis's ACL file (stdout without --out); only password hashes are written
env: REDIS_API_PASSWORD, REDIS_PUBLISHER_PASSWORD, REDIS_RESULTS_PASSWORD (required),
     REDIS_ADMIN_PASSWORD (optional: an operator's user with every right),
     REDIS_METRICS_PASSWORD (optional: the metrics exporter's user), REDIS_KEY_PREFIX`,
    options: { out: { type: "string" } },
  },
  (args) => ({ out: args.values.out }),
);
const text = renderAclFile(configOrExit(() => readAclSettings(process.env)));
if (out === undefined) process.stdout.write(text);
else writeFileSync(out, text, { mode: 0o644 });
