import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { parse } from "yaml";
import { readIngestConfig } from "./ingest-api/config.ts";

// No Docker engine runs in CI: check that the compose file parses, names every service,
// and that each app service runs a file that exists in the image's sources.

interface Service {
  image?: string;
  build?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
}

const NATS_PASSWORDS = ["NATS_API_PASSWORD", "NATS_WRITER_PASSWORD", "NATS_MIGRATE_PASSWORD"];

/** Compose's `${VAR:?message}`: the variable comes from the environment and must be set. */
const REQUIRED_FROM_ENV = (variable: string) => new RegExp(`^\\$\\{${variable}:\\?[^}]+\\}$`);

/**
 * A NATS server of the compose files: no port published to the host, the folder with the
 * users' file mounted, and every user's password required from the environment.
 */
function assertNatsServerLocked(name: string, service: Service | undefined): void {
  assert.equal(service?.ports, undefined, `${name} publishes no port to the host`);
  assert.ok(service?.volumes?.includes("./docs/nats:/etc/nats:ro"), `${name} mounts docs/nats`);
  for (const variable of NATS_PASSWORDS)
    assert.match(service?.environment?.[variable] ?? "", REQUIRED_FROM_ENV(variable), name);
}

test("NATS lets in only the services: each gets its own user's password, 4222 stays unpublished", () => {
  const services = (
    parse(readFileSync("docker-compose.yml", "utf8"), { merge: true }) as {
      services: Record<string, Service>;
    }
  ).services;
  assertNatsServerLocked("nats", services.nats);
  const own: Record<string, string | undefined> = {
    "ingest-api": "NATS_API_PASSWORD",
    "batch-writer": "NATS_WRITER_PASSWORD",
    migrate: "NATS_MIGRATE_PASSWORD",
    "result-publisher": undefined,
  };
  for (const [name, mine] of Object.entries(own)) {
    const env = services[name]?.environment ?? {};
    for (const variable of NATS_PASSWORDS)
      if (variable === mine) assert.match(env[variable] ?? "", REQUIRED_FROM_ENV(variable), name);
      else assert.equal(env[variable], undefined, `${name} does not get ${variable}`);
  }
  assert.match(readFileSync("docs/nats/jetstream.conf", "utf8"), /^include \.\/accounts\.conf$/m);
  // No password is written in the users' file: each is a variable of the server's environment.
  const accounts = readFileSync("docs/nats/accounts.conf", "utf8");
  const passwords = [...accounts.matchAll(/^\s*password:\s*(\S+)\s*$/gm)].map((m) => m[1]);
  assert.deepEqual(
    passwords,
    NATS_PASSWORDS.map((v) => `$${v}`),
  );
  assert.doesNotMatch(accounts, /no_auth_user/, "no anonymous user");
});

test("docker-compose.yml parses and every app service runs an existing entry point", () => {
  const compose = parse(readFileSync("docker-compose.yml", "utf8"), { merge: true }) as {
    services: Record<string, Service>;
  };
  const names = Object.keys(compose.services).sort();
  assert.deepEqual(names, [
    "batch-writer",
    "ingest-api",
    "migrate",
    "nats",
    "postgres",
    "redis",
    "redis-users",
    "result-publisher",
  ]);
  for (const [name, service] of Object.entries(compose.services)) {
    if (service.build === undefined) continue;
    const entry = service.command?.[1];
    assert.ok(entry && existsSync(entry), `${name} runs ${entry}, which must exist`);
    const dir = entry.split("/")[0]!;
    assert.match(
      readFileSync("Dockerfile", "utf8"),
      new RegExp(`COPY ${dir} `),
      `${dir} is copied`,
    );
  }
  assert.equal(compose.services["ingest-api"]?.environment?.NATS_URL, "nats://nats:4222");
  // The metrics listen on 127.0.0.1 by default; in a container that would reach no scraper.
  const apiEnv = compose.services["ingest-api"]?.environment;
  assert.equal(apiEnv?.API_METRICS_HOST, "0.0.0.0");
  // Redis reads the users `npm run redis-users` wrote; each service connects as its own.
  assert.ok(compose.services.redis?.command?.includes("--aclfile"));
  assert.equal(compose.services["redis-users"]?.command?.[1], "scripts/redis-users.ts");
  assert.match(
    String(apiEnv?.REDIS_URL),
    /^redis:\/\/ingest-api:\$\{REDIS_API_PASSWORD\}@redis:6379$/,
  );
  assert.match(
    String(compose.services["result-publisher"]?.environment?.REDIS_URL),
    /^redis:\/\/result-publisher:\$\{REDIS_PUBLISHER_PASSWORD\}@redis:6379$/,
  );
  const writerEnv = compose.services["batch-writer"]?.environment;
  const publisherEnv = compose.services["result-publisher"]?.environment;
  assert.equal(writerEnv?.WRITER_METRICS_HOST, "0.0.0.0");
  assert.equal(publisherEnv?.PUBLISHER_METRICS_HOST, "0.0.0.0");
  assert.equal(writerEnv?.NATS_URL, "nats://nats:4222", "the shared environment is kept");
  assert.equal(publisherEnv?.NATS_URL, "nats://nats:4222", "the shared environment is kept");
  // The migration provisions JetStream with the settings the services run with.
  assert.equal(compose.services.migrate?.environment?.NATS_URL, "nats://nats:4222");
  assert.equal(
    compose.services.migrate?.environment?.DATABASE_URL,
    compose.services["ingest-api"]?.environment?.DATABASE_URL,
  );
  assert.match(
    readFileSync("Dockerfile", "utf8"),
    /FROM node:24/,
    "the image runs Node 24 like the pinned devDependency",
  );
});

test("the NATS config asks JetStream to fsync every write (sync_interval: always, in its jetstream block), and the cluster override runs 3 routed servers at replicas 3", () => {
  const load = (file: string) =>
    parse(readFileSync(file, "utf8"), { merge: true }) as {
      services: Record<string, Service & { volumes?: string[] }>;
    };
  const conf = "docs/nats/jetstream.conf";
  const mount = "./docs/nats:/etc/nats:ro";
  const lines = readFileSync(conf, "utf8").split("\n");
  // Line numbers from 1, as nats-server reports them. The block holds no nested braces.
  const opening = lines.findIndex((l) => /^\s*jetstream\s*\{\s*$/.test(l)) + 1;
  const closing = lines.findIndex((l, i) => i >= opening && /^\s*\}\s*$/.test(l)) + 1;
  assert.ok(opening > 0 && closing > opening, "a jetstream { } block");
  const setting = lines.findIndex((l) => /^\s*sync_interval:\s*always\s*$/.test(l)) + 1;
  assert.ok(
    setting > opening && setting < closing,
    `sync_interval: always (line ${setting}) inside the jetstream block (lines ${opening}-${closing})`,
  );
  // The whole file, as written, goes to the installed server. 2.10 or newer knows every
  // field; the 2.9 of the test machines predates sync_interval and says so: any other
  // complaint, or that one about another line, fails.
  const dir = mkdtempSync(join(tmpdir(), "tf-nats-conf-"));
  try {
    const copy = join(dir, "jetstream.conf");
    writeFileSync(copy, lines.join("\n").replace("/data", join(dir, "store")));
    copyFileSync("docs/nats/accounts.conf", join(dir, "accounts.conf"));
    const checked = spawnSync(process.env.NATS_SERVER_BIN ?? "nats-server", ["-c", copy, "-t"], {
      encoding: "utf8",
      env: { ...process.env, ...Object.fromEntries(NATS_PASSWORDS.map((v) => [v, "checked"])) },
    });
    if (checked.status !== 0) {
      const errors = checked.stderr.split("\n").filter((l) => l.includes(copy));
      assert.deepEqual(
        errors.map((l) => l.slice(l.indexOf(copy) + copy.length)),
        [`:${setting}:${lines[setting - 1]!.indexOf("s") + 1}: unknown field "sync_interval"`],
        checked.stderr,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const single = load("docker-compose.yml").services;
  assert.deepEqual(single.nats?.command, ["--config", "/etc/nats/jetstream.conf"]);
  assert.ok(single.nats?.volumes?.includes(mount));

  const cluster = load("docker-compose.cluster.yml").services;
  const servers = ["nats", "nats-2", "nats-3"];
  const routes = servers.map((s) => `nats://${s}:6222`).join(",");
  const names = new Set<string>();
  for (const name of servers) {
    const command = cluster[name]?.command ?? [];
    const flag = (f: string) => command[command.indexOf(f) + 1];
    assert.equal(flag("--config"), "/etc/nats/jetstream.conf", name);
    assert.equal(flag("--cluster_name"), "tallyflow", name);
    assert.equal(flag("--routes"), routes, name);
    names.add(flag("--server_name") ?? "");
    if (name !== "nats") assertNatsServerLocked(name, cluster[name]);
  }
  assert.equal(names.size, 3, "each server has its own server_name");
  for (const app of ["migrate", "ingest-api", "batch-writer", "result-publisher"]) {
    assert.equal(cluster[app]?.environment?.STREAM_REPLICAS, "3", app);
    assert.equal(
      cluster[app]?.environment?.NATS_URL,
      servers.map((s) => `nats://${s}:4222`).join(","),
      app,
    );
  }
});

test("behind the proxy override, only the proxy reaches the API, and TRUST_PROXY is its one hop", () => {
  // `!reset` is Compose's tag (drop the base file's list); here it simply reads as [].
  const load = (file: string) =>
    parse(readFileSync(file, "utf8"), { merge: true, logLevel: "error" }) as {
      services: Record<string, Service & { ports?: string[]; volumes?: string[] }>;
    };
  const base = load("docker-compose.yml").services;
  const proxied = load("docker-compose.proxy.yml").services;
  // Published directly, the API believes no X-Forwarded-For: any client could write one.
  assert.equal(base["ingest-api"]?.environment?.TRUST_PROXY, undefined);
  assert.match(readFileSync("docker-compose.proxy.yml", "utf8"), /ports: !reset \[\]/);
  assert.deepEqual(proxied["ingest-api"]?.ports, [], "the API's port is not published");
  assert.equal(proxied["ingest-api"]?.environment?.TRUST_PROXY, "1");
  assert.equal(readIngestConfig({ TRUST_PROXY: "1" }).trustProxy, 1);
  const conf = "docs/proxy/nginx.conf";
  assert.ok(proxied.proxy?.volumes?.includes(`./${conf}:/etc/nginx/conf.d/default.conf:ro`));
  assert.deepEqual(proxied.proxy?.ports, ["80:80"]);
  const nginx = readFileSync(conf, "utf8");
  // Appends the address the proxy saw: the rightmost entry, the one TRUST_PROXY=1 takes.
  assert.match(nginx, /proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;/);
  assert.match(nginx, /proxy_pass http:\/\/ingest-api:3000;/);
});
