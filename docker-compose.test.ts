import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { parse } from "yaml";
import { readWriterConfig } from "./batch-writer/config.ts";
import { eventually } from "./harness/waiting.ts";
import { readIngestConfig } from "./ingest-api/config.ts";
import { readPublisherConfig } from "./result-publisher/config.ts";
import { METRICS_PASSWORD_VARIABLE, METRICS_USER } from "./scripts/redis-users/acl.ts";

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

interface Healthcheck {
  test?: string[];
}
type FullService = Service & {
  healthcheck?: Healthcheck;
  depends_on?: Record<string, { condition: string }>;
  deploy?: { replicas?: number };
};

/** Compose's view of files given together: later files' services merged over earlier ones. */
function composeOf(...files: string[]): Record<string, FullService> {
  const merged: Record<string, FullService> = {};
  for (const file of files) {
    const services = (
      parse(readFileSync(file, "utf8"), { merge: true, logLevel: "error" }) as {
        services: Record<string, FullService>;
      }
    ).services;
    for (const [name, service] of Object.entries(services)) {
      const base = merged[name] ?? {};
      merged[name] = {
        ...base,
        ...service,
        environment: { ...base.environment, ...service.environment },
      };
    }
  }
  return merged;
}

/** Runs a service's health check command here (its `node -e` probe) against `url`: the exit code. */
function runProbe(check: Healthcheck | undefined, url: string): Promise<number | null> {
  const [kind, binary, flag, script] = check?.test ?? [];
  assert.equal(kind, "CMD");
  assert.equal(binary, "node");
  assert.equal(flag, "-e");
  // Not spawnSync: the server answering the probe runs in this process.
  const child = spawn(process.execPath, ["-e", script!, url], { stdio: "ignore", timeout: 10_000 });
  return new Promise((resolve) => child.on("exit", (code) => resolve(code)));
}

test("every long-running service has a health check; the services' probes ask /readyz and /healthz and fail on anything but 2xx", async () => {
  const services = composeOf("docker-compose.yml");
  for (const name of [
    "postgres",
    "redis",
    "nats",
    "ingest-api",
    "batch-writer",
    "result-publisher",
  ])
    assert.ok(services[name]?.healthcheck?.test, `${name} has a health check`);
  // The probe URL: the API's readiness on its port, the others' health on their metrics port.
  const api = readIngestConfig({});
  const writer = readWriterConfig({ DATABASE_URL: "postgres://x@y/z" });
  const publisher = readPublisherConfig({ DATABASE_URL: "postgres://x@y/z" });
  const urlOf = (name: string) => services[name]?.healthcheck?.test?.at(-1);
  assert.equal(urlOf("ingest-api"), `http://127.0.0.1:${api.port}/readyz`);
  assert.equal(urlOf("batch-writer"), `http://127.0.0.1:${writer.metricsPort}/healthz`);
  assert.equal(urlOf("result-publisher"), `http://127.0.0.1:${publisher.metricsPort}/healthz`);
  assert.match(urlOf("nats") ?? "", /^http:\/\/127\.0\.0\.1:8222\/healthz/);
  assert.match(readFileSync("docs/nats/jetstream.conf", "utf8"), /^http_port: 8222$/m);
  // The apps start once NATS and Redis answer their health checks, not merely started.
  for (const name of ["ingest-api", "batch-writer", "result-publisher"]) {
    assert.equal(services[name]?.depends_on?.nats?.condition, "service_healthy", name);
    assert.equal(services[name]?.depends_on?.redis?.condition, "service_healthy", name);
  }
  assert.equal(services.migrate?.depends_on?.nats?.condition, "service_healthy");

  // The probe itself, run as the container runs it: 0 on 200, 1 on 503 and on no answer.
  let status = 200;
  const server = createServer((_req, res) => {
    res.statusCode = status;
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/readyz`;
  try {
    const check = services["ingest-api"]?.healthcheck;
    assert.equal(await runProbe(check, url), 0);
    status = 503;
    assert.equal(await runProbe(check, url), 1);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
  assert.equal(await runProbe(services["ingest-api"]?.healthcheck, url), 1, "nothing listening");
});

test("the cluster layout: 3 NATS, 2 APIs reached only through a load balancer that checks /readyz, 2 writers, 2 publishers", () => {
  const services = composeOf("docker-compose.yml", "docker-compose.cluster.yml");
  for (const name of ["nats", "nats-2", "nats-3"])
    assert.ok(services[name]?.healthcheck?.test, `${name} has a health check`);
  assert.equal(services["ingest-api"]?.deploy?.replicas, 2);
  assert.equal(services["batch-writer"]?.deploy?.replicas, 2);
  assert.equal(services["result-publisher"]?.deploy?.replicas, 2);
  assert.deepEqual(services["ingest-api"]?.ports, [], "only the balancer reaches the APIs");
  assert.equal(services["ingest-api"]?.environment?.TRUST_PROXY, "1");
  const lb = services.lb;
  const conf = "docs/proxy/haproxy.cfg";
  assert.ok(lb?.volumes?.includes(`./${conf}:/usr/local/etc/haproxy/haproxy.cfg:ro`));
  assert.equal(lb?.depends_on?.["ingest-api"]?.condition, "service_healthy");
  const haproxy = readFileSync(conf, "utf8");
  const bind = /^\s*bind :(\d+)$/m.exec(haproxy)?.[1];
  assert.deepEqual(lb?.ports, [`3000:${bind}`]);
  // Both instances, found by the service name, each checked on its readiness.
  const api = readIngestConfig({});
  assert.match(haproxy, new RegExp(`^\\s*server-template api 2 ingest-api:${api.port}$`, "m"));
  assert.match(haproxy, /^\s*option httpchk GET \/readyz$/m);
  assert.match(haproxy, /^\s*http-check expect status 200$/m);
  assert.match(haproxy, /^\s*default-server check .*resolvers docker/m);
  assert.match(haproxy, /^\s*option forwardfor$/m);
});

test("the observability override: Prometheus scrapes every service and engine, Grafana loads the committed dashboards from its data source", () => {
  const services = composeOf(
    "docker-compose.yml",
    "docker-compose.cluster.yml",
    "docker-compose.observability.yml",
  );
  for (const name of [
    "prometheus",
    "grafana",
    "postgres-exporter",
    "redis-exporter",
    "nats-exporter",
    "node-exporter",
  ])
    assert.ok(services[name], `${name} is a service`);
  // Every mounted file or folder exists.
  for (const name of ["prometheus", "grafana"])
    for (const volume of services[name]?.volumes ?? []) {
      const source = volume.split(":")[0]!;
      if (source.startsWith("./")) assert.ok(existsSync(source), `${name} mounts ${source}`);
    }
  const prometheus = parse(readFileSync("observability/prometheus/prometheus.yml", "utf8")) as {
    rule_files: string[];
    scrape_configs: {
      job_name: string;
      dns_sd_configs?: { names: string[]; port: number }[];
      static_configs?: { targets: string[] }[];
    }[];
  };
  const targets = new Map(
    prometheus.scrape_configs.map((c) => [
      c.job_name,
      c.dns_sd_configs
        ? c.dns_sd_configs.flatMap((d) => d.names.map((n) => `${n}:${d.port}`))
        : (c.static_configs ?? []).flatMap((s) => s.targets),
    ]),
  );
  const db = { DATABASE_URL: "postgres://x@y/z" };
  assert.deepEqual(targets.get("ingest-api"), [`ingest-api:${readIngestConfig({}).metricsPort}`]);
  assert.deepEqual(targets.get("batch-writer"), [
    `batch-writer:${readWriterConfig(db).metricsPort}`,
  ]);
  assert.deepEqual(targets.get("result-publisher"), [
    `result-publisher:${readPublisherConfig(db).metricsPort}`,
  ]);
  for (const [job, service] of [
    ["postgres", "postgres-exporter"],
    ["redis", "redis-exporter"],
    ["nats", "nats-exporter"],
    ["node", "node-exporter"],
  ] as const)
    assert.equal(targets.get(job)?.[0]?.split(":")[0], service, `${job} scrapes ${service}`);
  assert.ok(
    services.prometheus?.volumes?.includes(
      "./observability/prometheus/rules:/etc/prometheus/rules:ro",
    ),
  );
  assert.deepEqual(prometheus.rule_files, ["/etc/prometheus/rules/*.yml"]);
  // The Redis exporter signs in as the metrics user the redis-users job writes.
  const exporterEnv = services["redis-exporter"]?.environment;
  assert.equal(exporterEnv?.REDIS_USER, METRICS_USER);
  assert.match(exporterEnv?.REDIS_PASSWORD ?? "", REQUIRED_FROM_ENV(METRICS_PASSWORD_VARIABLE));
  assert.equal(
    services["redis-users"]?.environment?.[METRICS_PASSWORD_VARIABLE],
    `\${${METRICS_PASSWORD_VARIABLE}:-}`,
  );

  // Grafana: the provider reads the folder the dashboards are mounted at, and every panel
  // asks the provisioned data source.
  const provider = parse(
    readFileSync("observability/grafana/provisioning/dashboards/tallyflow.yml", "utf8"),
  ) as { providers: { options: { path: string } }[] };
  const dashboardsPath = provider.providers[0]!.options.path;
  assert.ok(
    services.grafana?.volumes?.includes(`./observability/grafana/dashboards:${dashboardsPath}:ro`),
  );
  const datasource = parse(
    readFileSync("observability/grafana/provisioning/datasources/prometheus.yml", "utf8"),
  ) as { datasources: { uid: string; url: string }[] };
  assert.equal(datasource.datasources[0]!.url, "http://prometheus:9090");
  const uid = datasource.datasources[0]!.uid;
  const dir = "observability/grafana/dashboards";
  const uids = new Set<string>();
  for (const file of readdirSync(dir)) {
    const dashboard = JSON.parse(readFileSync(join(dir, file), "utf8")) as {
      uid: string;
      panels: { type: string; datasource?: { uid: string }; targets?: { expr: string }[] }[];
    };
    uids.add(dashboard.uid);
    for (const panel of dashboard.panels.filter((p) => p.type !== "row")) {
      assert.equal(panel.datasource?.uid, uid, `${file}: a panel's data source`);
      assert.ok((panel.targets ?? []).length > 0, `${file}: every panel has a query`);
    }
  }
  assert.deepEqual([...uids].sort(), [
    "tallyflow-attendance",
    "tallyflow-engines",
    "tallyflow-kiosks",
    "tallyflow-pipeline",
  ]);
});

const haproxyMissing = spawnSync("haproxy", ["-v"]).error
  ? "haproxy is not installed (apt-get install haproxy; .ci/run does)"
  : "";

test("the cluster's balancer config: haproxy accepts it, and sends requests only to an API whose /readyz answers 200", {
  skip: haproxyMissing || false,
}, async () => {
  const conf = "docs/proxy/haproxy.cfg";
  const checked = spawnSync("haproxy", ["-c", "-f", conf], { encoding: "utf8" });
  assert.equal(checked.status, 0, `${checked.stdout}${checked.stderr}`);

  // The same file with the two instances at fixed local addresses instead of compose's
  // DNS: the checks, their thresholds and the forwarding are the file's own.
  const ready = { a: true, b: false };
  const forwardedFor: string[] = [];
  const servers = (["a", "b"] as const).map((name) =>
    createServer((req, res) => {
      if (req.url === "/readyz") res.statusCode = ready[name] ? 200 : 503;
      else forwardedFor.push(String(req.headers["x-forwarded-for"]));
      res.end(name);
    }),
  );
  const listen = (s: ReturnType<typeof createServer>) =>
    new Promise<number>((r) =>
      s.listen(0, "127.0.0.1", () => r((s.address() as AddressInfo).port)),
    );
  const [portA, portB] = [await listen(servers[0]!), await listen(servers[1]!)];
  const probe = createServer();
  const front = await listen(probe);
  await new Promise<void>((r) => probe.close(() => r()));
  const text = readFileSync(conf, "utf8")
    .replace(/^\s*bind :\d+$/m, `  bind 127.0.0.1:${front}`)
    .replace(/ resolvers docker init-addr none$/m, "")
    .replace(
      /^\s*server-template api 2 ingest-api:\d+$/m,
      `  server a 127.0.0.1:${portA}\n  server b 127.0.0.1:${portB}`,
    );
  const dir = mkdtempSync(join(tmpdir(), "tf-haproxy-"));
  writeFileSync(join(dir, "haproxy.cfg"), text);
  const lb = spawn("haproxy", ["-db", "-f", join(dir, "haproxy.cfg")], { stdio: "ignore" });
  const hits = async (n: number) => {
    const seen: string[] = [];
    for (let i = 0; i < n; i++)
      seen.push(await (await fetch(`http://127.0.0.1:${front}/v1/polls`)).text());
    return seen;
  };
  try {
    // b fails its checks: after two (2 s apart) it gets no request.
    await eventually(
      "only a gets requests",
      async () => ((await hits(6)).every((s) => s === "a") ? true : undefined),
      { timeoutMs: 20_000, intervalMs: 500 },
    );
    assert.equal(forwardedFor.at(-1), "127.0.0.1", "the client's address is appended");
    // b passes two checks: it is back.
    ready.b = true;
    await eventually(
      "b gets requests again",
      async () => ((await hits(6)).includes("b") ? true : undefined),
      { timeoutMs: 20_000, intervalMs: 500 },
    );
  } finally {
    lb.kill("SIGKILL");
    for (const s of servers) s.closeAllConnections();
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    rmSync(dir, { recursive: true, force: true });
  }
});
