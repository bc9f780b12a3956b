import { relative } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Pool } from "undici";
import { prng } from "../../harness/seeded-random.ts";
import {
  kioskWeights,
  makeVote,
  placeKiosks,
  type SimKiosk,
  simPolls,
  type VoteBody,
  type VoterMix,
} from "./kiosk.ts";
import type { SeededKiosk, SeededPoll, SeededSchool } from "./kiosk-file.ts";
import { kioskOutbox } from "./kiosk-outbox.ts";
import { Pacer, WeightedPicker } from "./pacing.ts";
import { type ProgressSnapshot, renderPlainLine, renderTtyLine } from "./progress.ts";
import { isUnknownPersonId } from "./roster.ts";
import { openRun, type RunMeta, writeRunMeta } from "./run-file.ts";
import { fmtInt, fmtMs, SimStats } from "./stats.ts";

// The simulation: open-loop load paced by elapsed time, votes from simulated kiosks over
// keep-alive connections (undici pools), with the behaviours a real fleet shows: dropped
// responses followed by a resend of the same eventId, offline kiosks flushing a queue of
// old votes through the batch endpoint, voters trying twice, now and then an id that is
// on no roster. Each kiosk votes in its own school's polls, naming people of its school.
// Keeps every eventId that got a 202 in a run file for `npm run verify`.

export interface SimulationOptions {
  urls: string[];
  kioskFile: string;
  kiosks: SeededKiosk[];
  /** The kiosk file's schools (their rosters) and polls. */
  schools: SeededSchool[];
  polls: SeededPoll[];
  /** Votes cast per second over all kiosks (the peak when `dayMs` > 0). */
  rate: number;
  /** 0 = until stop() (or until `votes` were cast). */
  durationMs: number;
  /** Stop after this many votes were cast; 0 = no limit. */
  votes: number;
  /** 0 = one request per vote; N = kiosks send batches of up to N votes. */
  batch: number;
  /** A kiosk's batch goes out after this long even when not full. */
  lingerMs: number;
  /** Share of kiosks that are offline for a while (0..1). */
  offline: number;
  /** Share of answered requests whose response is "dropped": the kiosk resends the same eventId. */
  retry: number;
  /** Voter population; 0 = votes carry no voterId. */
  voters: number;
  /** On one-vote-per-voter polls, share of votes by a voter who already voted. */
  twice: number;
  /** On roster polls, share of votes naming no one of the roster (answered 422 unknown_person). */
  unknownVoters: number;
  connections: number;
  maxInFlight: number;
  maxBatchItems: number;
  /** Compress a day's activity curve into this duration (0 = flat rate). */
  dayMs: number;
  /** Weight kiosks by their poll's local time of day. */
  timeOfDay: boolean;
  runDir: string;
  seed: number;
  progress: "tty" | "plain" | "none";
  progressIntervalMs: number;
  command: string;
  /** What the run leaves out and why (a roster poll without a roster in the file). */
  warn?: (line: string) => void;
  /** Called with each progress snapshot (after rendering), e.g. to sample backlog. */
  onProgress?: (snapshot: ProgressSnapshot) => void;
}

export interface SimSummary {
  runFile: string;
  eventIdsFile: string;
  apiUrls: string[];
  mode: "single" | "batch";
  batch: number;
  kiosks: number;
  /** Schools the kiosks are in. */
  schools: number;
  polls: string[];
  target: { votesPerSecond: number; durationS: number; votes: number };
  /** Seconds spent casting votes, and then draining (queues, in-flight requests, retries). */
  castingS: number;
  drainS: number;
  votesCast: number;
  votesSent: number;
  requests: number;
  resends: number;
  /** Votes cast per second of casting time; below target when the generator fell behind. */
  votesPerSecond: number;
  requestsPerSecond: number;
  /** Votes that were due but not cast because too many requests were in flight. */
  behind: number;
  accepted: number;
  duplicates: number;
  refused: number;
  refusedByCode: Record<string, number>;
  /**
   * Roster polls: votes cast naming no one on the roster on purpose (--unknown-voters) and
   * what they got; and votes naming a real person that were answered unknown_person
   * (should never happen: the roster check is wrong or behind).
   */
  roster: {
    unknownCast: number;
    unknownRefused: number;
    unknownAccepted: number;
    peopleRefusedAsUnknown: number;
  };
  errors: number;
  errorsByKind: Record<string, number>;
  abandoned: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  /** Kiosks that were offline for a while (their ids), the votes they queued, the batches. */
  offline: { kiosks: number; kioskIds: string[]; queuedVotes: number; batches: number };
  eventIds: number;
  uncertain: number;
  /** The simulator's own cost: CPU seconds and peak RSS of this process. */
  process: { cpuSeconds: number; peakRssMb: number };
}

const RETRY_DELAYS_MS = [250, 1_000, 3_000];

interface Outcome {
  status: number;
  text: string;
}

function parseBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export class Simulation {
  readonly #o: SimulationOptions;
  readonly #stats = new SimStats();
  readonly #rand: () => number;
  readonly #pools: Pool[];
  #stopped = false;
  #inFlight = 0;
  /** Sends not finished yet (including their back-offs and resends). */
  #active = 0;
  #queuedOffline = 0;
  #offlineBatches = 0;
  #buffered = 0;
  readonly #recorded = new WeakSet<VoteBody>();
  /** Votes in offline kiosks' outboxes, by eventId, until the server answered them. */
  readonly #inOutbox = new Map<string, VoteBody>();
  readonly #uncertain = new Set<string>();
  readonly #roster = {
    unknownCast: 0,
    unknownRefused: 0,
    unknownAccepted: 0,
    peopleRefusedAsUnknown: 0,
  };
  #ids: Awaited<ReturnType<typeof openRun>>["ids"] | undefined;
  readonly #mix: VoterMix;
  #t0 = 0;

  constructor(options: SimulationOptions) {
    this.#o = options;
    this.#rand = prng(options.seed);
    this.#mix = { twice: options.twice, unknown: options.unknownVoters };
    this.#pools = options.urls.map(
      (url) =>
        new Pool(url, {
          connections: options.connections,
          pipelining: 1,
          keepAliveTimeout: 60_000,
          headersTimeout: 30_000,
          bodyTimeout: 30_000,
        }),
    );
  }

  /** Ends the casting phase early (Ctrl-C); the run still drains and writes its files. */
  stop(): void {
    this.#stopped = true;
  }

  get stats(): SimStats {
    return this.#stats;
  }

  async run(): Promise<SimSummary> {
    const o = this.#o;
    const { polls, skipped } = simPolls(
      { schools: o.schools, polls: o.polls },
      { voters: o.voters, nowMs: Date.now() },
    );
    for (const line of skipped) o.warn?.(`skipped: ${line}`);
    if (polls.length === 0) throw new Error("no open poll in the kiosk file (run npm run seed)");
    if (o.kiosks.length === 0) throw new Error("no kiosks in the kiosk file (run npm run seed)");
    const kiosks = placeKiosks(o.kiosks, polls, o.urls.length, this.#rand);
    if (kiosks.length < o.kiosks.length)
      o.warn?.(
        `${o.kiosks.length - kiosks.length} of ${o.kiosks.length} kiosks left out: their school has no open poll in the kiosk file`,
      );
    if (kiosks.length === 0)
      throw new Error("no kiosk's school has an open poll (run npm run seed)");
    const offlineKiosks = this.#planOffline(kiosks);
    let picker = new WeightedPicker(kioskWeights(kiosks, Date.now(), o.timeOfDay));
    let pickerAt = Date.now();

    const run = await openRun(o.runDir);
    this.#ids = run.ids;
    const startedAt = new Date();
    this.#t0 = performance.now();
    const pacer = new Pacer(o.rate, o.dayMs);
    let cast = 0;
    let behind = 0;
    let lastLinger = 0;
    const progress = this.#startProgress(() => ({
      queued: this.#queuedNow(kiosks),
    }));

    // Kiosks that were offline before the run come with a backlog of older votes.
    for (const k of offlineKiosks) this.#backlog(k, kiosks.length, offlineKiosks.length);

    while (!this.#stopped) {
      const now = this.#elapsed();
      if (o.durationMs > 0 && now >= o.durationMs) break;
      if (o.votes > 0 && cast >= o.votes) break;
      for (const k of offlineKiosks)
        if (k.offline && now >= k.offline.untilMs) {
          k.offline = undefined;
          this.#flush(k, true);
        }
      if (Date.now() - pickerAt > 60_000) {
        picker = new WeightedPicker(kioskWeights(kiosks, Date.now(), o.timeOfDay));
        pickerAt = Date.now();
      }
      let due = pacer.dueAt(now);
      if (o.votes > 0) due = Math.min(due, o.votes);
      const bufferCap = Math.max(10_000, kiosks.length * Math.max(o.batch, 1) * 2);
      while (cast < due) {
        if (this.#active >= o.maxInFlight || this.#buffered >= bufferCap) break;
        const k = kiosks[picker.pick(this.#rand())]!;
        const vote = this.#makeVote(k, Date.now());
        cast++;
        if (k.offline) {
          this.#enqueue(k, [vote]);
          this.#queuedOffline++;
        } else if (k.outbox) this.#enqueue(k, [vote]);
        else if (o.batch > 0) {
          this.#enqueue(k, [vote]);
          this.#buffered++;
          if (k.queue.length >= o.batch) this.#flush(k, false);
        } else void this.#send(k, [vote], true);
      }
      behind = due - cast;
      if (o.batch > 0 && now - lastLinger >= 20) {
        lastLinger = now;
        for (const k of kiosks)
          if (!k.offline && k.queue.length > 0 && now - k.firstQueuedAt >= o.lingerMs)
            this.#flush(k, false);
      }
      await sleep(o.rate > 2_000 ? 2 : 5);
    }
    const castingMs = this.#elapsed();

    // Drain: every kiosk comes back online and sends what it holds; wait for the answers.
    progress.draining = true;
    for (const k of kiosks) {
      k.offline = undefined;
      this.#flush(k, true);
    }
    while (this.#active > 0 || kiosks.some((k) => k.queue.length > 0 || k.outboxPending > 0)) {
      for (const k of kiosks) if (k.queue.length > 0 && !k.sending) this.#flush(k, true);
      await sleep(20);
    }
    await Promise.all(kiosks.map((k) => k.outbox?.close()));
    const endedAt = new Date();
    progress.stop();
    await Promise.all(this.#pools.map((p) => p.close()));
    await run.ids.close();

    const st = this.#stats;
    const totalMs = this.#elapsed();
    /** The polls with a kiosk: of 1,000 schools' polls, those of the schools that took part. */
    const votedIn = [...new Set(kiosks.map((k) => k.poll.poll.id))];
    const summary: SimSummary = {
      runFile: run.metaPath,
      eventIdsFile: run.ids.path,
      apiUrls: o.urls,
      mode: o.batch > 0 ? "batch" : "single",
      batch: o.batch,
      kiosks: kiosks.length,
      schools: new Set(kiosks.map((k) => k.poll.poll.schoolId)).size,
      polls: votedIn,
      target: { votesPerSecond: o.rate, durationS: o.durationMs / 1000, votes: o.votes },
      castingS: castingMs / 1000,
      drainS: (totalMs - castingMs) / 1000,
      votesCast: st.votesCast,
      votesSent: st.votesSent,
      requests: st.requests,
      resends: st.resends,
      votesPerSecond: castingMs > 0 ? (st.votesCast * 1000) / castingMs : 0,
      requestsPerSecond: totalMs > 0 ? (st.requests * 1000) / totalMs : 0,
      behind,
      accepted: st.accepted,
      duplicates: st.duplicates,
      refused: st.refused,
      refusedByCode: Object.fromEntries(st.refusedByCode),
      roster: { ...this.#roster },
      errors: st.errors,
      errorsByKind: Object.fromEntries(st.errorsByKind),
      abandoned: st.abandoned,
      latencyMs: {
        p50: st.latency.percentile(50),
        p90: st.latency.percentile(90),
        p99: st.latency.percentile(99),
        max: st.latency.max,
      },
      offline: {
        kiosks: offlineKiosks.length,
        kioskIds: offlineKiosks.map((k) => k.id),
        queuedVotes: this.#queuedOffline,
        batches: this.#offlineBatches,
      },
      eventIds: run.ids.count,
      uncertain: this.#uncertain.size,
      process: {
        cpuSeconds: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
        peakRssMb: process.resourceUsage().maxRSS / 1024,
      },
    };
    const meta: RunMeta = {
      version: 1,
      startedAt: startedAt.toISOString(),
      endedAt: endedAt.toISOString(),
      apiUrls: o.urls,
      kioskFile: o.kioskFile,
      command: o.command,
      options: {
        rate: o.rate,
        durationMs: o.durationMs,
        votes: o.votes,
        batch: o.batch,
        lingerMs: o.lingerMs,
        offline: o.offline,
        retry: o.retry,
        voters: o.voters,
        twice: o.twice,
        unknownVoters: o.unknownVoters,
        connections: o.connections,
        dayMs: o.dayMs,
        timeOfDay: o.timeOfDay,
        seed: o.seed,
      },
      kioskIds: kiosks.map((k) => k.id),
      pollIds: votedIn,
      eventIdsFile: relative(o.runDir, run.ids.path),
      eventIdCount: run.ids.count,
      uncertainEventIds: [...this.#uncertain],
      summary,
    };
    await writeRunMeta(run.metaPath, meta);
    return summary;
  }

  #elapsed(): number {
    return performance.now() - this.#t0;
  }

  #queuedNow(kiosks: SimKiosk[]): number {
    let n = 0;
    for (const k of kiosks) if (k.offline) n += k.queue.length + k.outboxPending;
    return n;
  }

  #planOffline(kiosks: SimKiosk[]): SimKiosk[] {
    const o = this.#o;
    const count = o.offline > 0 ? Math.max(1, Math.round(o.offline * kiosks.length)) : 0;
    const chosen = [...kiosks]
      .map((k) => ({ k, r: this.#rand() }))
      .sort((a, b) => a.r - b.r)
      .slice(0, count)
      .map((x) => x.k);
    const runMs = o.durationMs > 0 ? o.durationMs : 120_000;
    for (const k of chosen) {
      k.offline = {
        // Offline for up to 10 minutes before the run, back after 15-65 % of it.
        fromMs: -Math.floor(this.#rand() * 600_000),
        untilMs: Math.floor(runMs * (0.15 + 0.5 * this.#rand())),
      };
      this.#attachOutbox(k);
    }
    return chosen;
  }

  /** The votes an offline kiosk cast before the run started, with their real (old) castAt. */
  #backlog(k: SimKiosk, kioskCount: number, offlineCount: number): void {
    const o = this.#o;
    if (!k.offline || k.offline.fromMs >= 0) return;
    const beforeMs = -k.offline.fromMs;
    const perKioskRate = o.rate / kioskCount;
    // Bounded so that backlogs stay a small part of the run (about 5 % of its votes).
    const runVotes = o.votes > 0 ? o.votes : (o.rate * (o.durationMs || 120_000)) / 1000;
    const count = Math.round(
      Math.min(
        o.maxBatchItems * 2,
        (perKioskRate * beforeMs) / 1000,
        (0.05 * runVotes) / Math.max(1, offlineCount),
      ),
    );
    const startMs = Date.now() - beforeMs;
    const votes: VoteBody[] = [];
    for (let i = 0; i < count; i++) {
      const at = startMs + Math.floor(((i + this.#rand()) * beforeMs) / Math.max(1, count));
      votes.push(this.#makeVote(k, at));
    }
    this.#queuedOffline += votes.length;
    this.#enqueue(k, votes);
  }

  /** Gives an offline kiosk its outbox, and counts what its sender reports. */
  #attachOutbox(k: SimKiosk): void {
    const o = this.#o;
    const st = this.#stats;
    const box = kioskOutbox({
      url: o.urls[k.urlIndex]!,
      token: k.headers.authorization!.slice("Bearer ".length),
      pool: this.#pools[k.urlIndex]!,
      maxBatch: o.batch > 0 ? Math.min(o.batch, o.maxBatchItems) : o.maxBatchItems,
      hooks: {
        requestStarted: () => this.#inFlight++,
        requestEnded: (ms) => {
          this.#inFlight--;
          st.requests++;
          st.observe(ms);
        },
      },
    });
    box.on("sent", ({ acked, duplicates, refused }) => {
      this.#offlineBatches++;
      st.votesSent += acked.length + refused;
      k.outboxPending -= acked.length + refused;
      const dup = new Set(duplicates);
      for (const id of acked) {
        const vote = this.#inOutbox.get(id);
        this.#inOutbox.delete(id);
        if (dup.has(id)) st.duplicates++;
        else st.accepted++;
        if (vote) this.#ok(k, vote);
      }
    });
    box.on("refused", ({ refused }) => {
      for (const r of refused) {
        this.#refused(this.#inOutbox.get(r.entry.eventId), r.error.code);
        this.#inOutbox.delete(r.entry.eventId);
      }
    });
    box.on("error", ({ error }) => st.error(error.code));
    k.outbox = box;
  }

  #enqueue(k: SimKiosk, votes: VoteBody[]): void {
    if (k.outbox) {
      for (const vote of votes) {
        this.#inOutbox.set(vote.eventId, vote);
        k.outboxPending++;
        void k.outbox.enqueue(vote).catch((err: unknown) => {
          this.#inOutbox.delete(vote.eventId);
          k.outboxPending--;
          this.#stats.error(errorKind(err));
        });
      }
      return;
    }
    if (k.queue.length === 0) k.firstQueuedAt = this.#elapsed();
    for (const v of votes) k.queue.push(v);
  }

  /** Sends the kiosk's next batch if it is not already sending (one batch at a time per kiosk). */
  #flush(k: SimKiosk, offlineQueue: boolean): void {
    if (k.outbox) {
      if (!k.offline) k.outbox.start(); // its sender drains the queue from now on
      return;
    }
    if (k.sending || k.queue.length === 0 || k.offline) return;
    const take =
      this.#o.batch > 0 ? Math.min(this.#o.batch, this.#o.maxBatchItems) : this.#o.maxBatchItems;
    const chunk = k.queue.splice(0, take);
    if (this.#o.batch > 0) this.#buffered = Math.max(0, this.#buffered - chunk.length);
    if (k.queue.length > 0) k.firstQueuedAt = this.#elapsed();
    if (offlineQueue) this.#offlineBatches++;
    k.sending = true;
    void this.#send(k, chunk, false).finally(() => {
      k.sending = false;
      // An offline kiosk that came back sends its whole queue, batch after batch.
      if (k.queue.length > 0 && (offlineQueue || k.queue.length >= this.#o.batch))
        this.#flush(k, offlineQueue);
    });
  }

  async #post(k: SimKiosk, path: string, body: string): Promise<Outcome> {
    const pool = this.#pools[k.urlIndex]!;
    this.#inFlight++;
    const started = performance.now();
    try {
      const res = await pool.request({ method: "POST", path, headers: k.headers, body });
      const text = await res.body.text();
      this.#stats.observe(performance.now() - started);
      return { status: res.statusCode, text };
    } finally {
      this.#inFlight--;
      this.#stats.requests++;
    }
  }

  #makeVote(k: SimKiosk, castAtMs: number): VoteBody {
    const vote = makeVote(k, castAtMs, this.#rand, this.#mix);
    this.#stats.votesCast++;
    if (vote.voterId !== undefined && isUnknownPersonId(vote.voterId)) this.#roster.unknownCast++;
    return vote;
  }

  /** Counts a refused vote; unknown_person is told apart by whether the id was made up. */
  #refused(vote: VoteBody | undefined, code: string): void {
    this.#stats.refuse(code);
    if (code !== "unknown_person" || vote?.voterId === undefined) return;
    if (isUnknownPersonId(vote.voterId)) this.#roster.unknownRefused++;
    else this.#roster.peopleRefusedAsUnknown++;
  }

  #ok(k: SimKiosk, vote: VoteBody): void {
    this.#uncertain.delete(vote.eventId);
    if (this.#recorded.has(vote)) return;
    this.#recorded.add(vote);
    if (vote.voterId !== undefined && isUnknownPersonId(vote.voterId))
      this.#roster.unknownAccepted++;
    this.#ids?.add(vote.eventId);
    // Only one-vote-per-voter polls refuse a voter who tries twice (a kiosk sits at one poll).
    if (vote.voterId !== undefined && k.poll.poll.oneVotePerVoter)
      k.poll.voters?.voted(vote.pollId, vote.voterId);
  }

  /** Counts a failed request; the delay before the kiosk tries again, or undefined: it gives up. */
  #failed(votes: VoteBody[], attempt: number, kind: string): number | undefined {
    this.#stats.error(kind);
    for (const v of votes) if (!this.#recorded.has(v)) this.#uncertain.add(v.eventId);
    const delay = RETRY_DELAYS_MS[attempt];
    if (delay === undefined)
      this.#stats.abandoned += votes.filter((v) => !this.#recorded.has(v)).length;
    return delay === undefined ? undefined : delay * (0.5 + this.#rand());
  }

  /**
   * Sends one vote, or a batch, until it has an answer: on 5xx or a network error the
   * kiosk tries again after a back-off (a few times); after a 2xx, with probability
   * --retry the response counts as lost and the kiosk resends the same request.
   */
  async #send(k: SimKiosk, votes: VoteBody[], single: boolean): Promise<void> {
    const st = this.#stats;
    this.#active++;
    try {
      st.votesSent += votes.length;
      const path = single ? "/v1/votes" : "/v1/votes/batch";
      const body = single ? JSON.stringify(votes[0]) : JSON.stringify({ votes });
      let resend = false;
      for (let attempt = 0; ; ) {
        if (resend) st.resends++;
        let out: Outcome | undefined;
        let failure: string | undefined;
        try {
          out = await this.#post(k, path, body);
          if (out.status >= 500) failure = `http_${out.status}`;
        } catch (err) {
          failure = errorKind(err);
        }
        if (failure !== undefined || out === undefined) {
          const delay = this.#failed(votes, attempt, failure ?? "error");
          if (delay === undefined) return;
          attempt++;
          await sleep(delay);
          continue;
        }
        if (single && out.status === 202) {
          // The body is {"eventId","status"}: no need to parse it for the status.
          if (out.text.includes('"duplicate"')) st.duplicates++;
          else st.accepted++;
          this.#ok(k, votes[0]!);
        } else if (!single && out.status === 200) {
          const results = (parseBody(out.text) as { results?: BatchItem[] }).results ?? [];
          results.forEach((r, i) => {
            const vote = votes[i];
            if (!vote) return;
            if (r.status === "accepted" || r.status === "duplicate") {
              if (r.status === "accepted") st.accepted++;
              else st.duplicates++;
              this.#ok(k, vote);
            } else this.#refused(vote, r.error?.code ?? "rejected");
          });
        } else {
          const code = errorCode(parseBody(out.text)) ?? `http_${out.status}`;
          if (single) this.#refused(votes[0], code);
          else st.refuse(code, votes.length);
          return;
        }
        if (resend || this.#rand() >= this.#o.retry) return;
        // The response was "lost": the kiosk sends the same eventIds again.
        resend = true;
        await sleep(50 + this.#rand() * 450);
      }
    } finally {
      this.#active--;
    }
  }

  #startProgress(extra: () => { queued: number }) {
    const o = this.#o;
    const st = this.#stats;
    let lastAt = performance.now();
    let lastRequests = 0;
    let lastVotes = 0;
    const state = { draining: false, stop: () => {} };
    const columns = () => process.stderr.columns ?? 120;
    const report = () => {
      const now = performance.now();
      const dt = (now - lastAt) / 1000;
      const snapshot: ProgressSnapshot = {
        elapsedMs: this.#elapsed(),
        durationMs: o.durationMs,
        stats: st,
        requestRate: dt > 0 ? (st.requests - lastRequests) / dt : 0,
        voteRate: dt > 0 ? (st.votesSent - lastVotes) / dt : 0,
        inFlight: this.#inFlight,
        queued: extra().queued,
        draining: state.draining,
      };
      lastAt = now;
      lastRequests = st.requests;
      lastVotes = st.votesSent;
      if (o.progress === "tty") process.stderr.write(renderTtyLine(snapshot, columns()));
      else if (o.progress === "plain") process.stderr.write(renderPlainLine(snapshot));
      o.onProgress?.(snapshot);
      st.recentLatency.reset();
    };
    const timer = setInterval(report, o.progressIntervalMs);
    state.stop = () => {
      clearInterval(timer);
      report();
      if (o.progress === "tty") process.stderr.write("\n");
    };
    return state;
  }
}

interface BatchItem {
  status: "accepted" | "duplicate" | "rejected";
  error?: { code?: string };
}

function errorKind(err: unknown): string {
  if (typeof err === "object" && err !== null && "code" in err && typeof err.code === "string")
    return err.code;
  return err instanceof Error ? err.name : "error";
}

function errorCode(body: unknown): string | undefined {
  if (typeof body !== "object" || body === null || !("error" in body)) return undefined;
  const code = (body as { error: { code?: unknown } }).error?.code;
  return typeof code === "string" ? code : undefined;
}

/** The summary as a two-column markdown-ish table. */
export function summaryTable(s: SimSummary): string {
  const rows: [string, string][] = [
    ["run file", s.runFile],
    [
      "load",
      `${s.mode === "batch" ? `batches of ≤ ${s.batch}` : "single votes"}, ${s.kiosks} kiosks in ${s.schools} schools, ${s.polls.length} polls, target ${fmtInt(s.target.votesPerSecond)} votes/s`,
    ],
    ["casting time", `${s.castingS.toFixed(1)} s (then ${s.drainS.toFixed(1)} s draining)`],
    ["votes cast", `${fmtInt(s.votesCast)} (${fmtInt(s.votesPerSecond)}/s)`],
    [
      "requests",
      `${fmtInt(s.requests)} (${fmtInt(s.requestsPerSecond)}/s), ${fmtInt(s.resends)} resends of a dropped response`,
    ],
    ["accepted", fmtInt(s.accepted)],
    ["duplicates", fmtInt(s.duplicates)],
    [
      "refused",
      `${fmtInt(s.refused)}${
        s.refused > 0
          ? ` (${Object.entries(s.refusedByCode)
              .map(([c, n]) => `${c} ${fmtInt(n)}`)
              .join(", ")})`
          : ""
      }`,
    ],
    ...(s.roster.unknownCast + s.roster.peopleRefusedAsUnknown > 0
      ? [
          [
            "unknown voter ids",
            `${fmtInt(s.roster.unknownCast)} cast on purpose: ${fmtInt(s.roster.unknownRefused)} refused (unknown_person), ${fmtInt(s.roster.unknownAccepted)} accepted; people refused as unknown: ${fmtInt(s.roster.peopleRefusedAsUnknown)}`,
          ] as [string, string],
        ]
      : []),
    [
      "errors",
      `${fmtInt(s.errors)}${
        s.errors > 0
          ? ` (${Object.entries(s.errorsByKind)
              .map(([c, n]) => `${c} ${fmtInt(n)}`)
              .join(", ")})`
          : ""
      }`,
    ],
    ["abandoned after retries", fmtInt(s.abandoned)],
    [
      "latency p50 / p90 / p99 / max",
      `${fmtMs(s.latencyMs.p50)} / ${fmtMs(s.latencyMs.p90)} / ${fmtMs(s.latencyMs.p99)} / ${fmtMs(s.latencyMs.max)} ms`,
    ],
    [
      "offline kiosks",
      `${s.offline.kiosks} (${fmtInt(s.offline.queuedVotes)} votes queued, sent in ${fmtInt(s.offline.batches)} batches)`,
    ],
    ["generator behind", `${fmtInt(s.behind)} votes`],
    ["eventIds with a 202", `${fmtInt(s.eventIds)} (${fmtInt(s.uncertain)} uncertain)`],
  ];
  const width = Math.max(...rows.map((r) => r[0].length));
  return `${rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n")}\n`;
}
