// A school's attendance: a day (today live: refreshed on the day's event stream, each new
// version of the publisher's document), its counts and lists, per group; weeks and months
// with a below-threshold filter; a person's days. Names only for the school's own admin
// (the API leaves them out for the deployment admin: ids then).
import { api } from "./api.js";
import { SchoolPicker } from "./schools-view.js";
import { Dialog, ErrorNote, html, useEffect, useState } from "./ui.js";

const LISTS = [
  ["inNow", "In now"],
  ["late", "Late"],
  ["fever", "Fever"],
  ["absent", "Absent"],
  ["out", "Left"],
  ["autoClosed", "Not checked out"],
  ["anomalies", "Anomalies"],
];
const COUNTS = [
  ["roster", "On the roster"],
  ["inNow", "In now"],
  ["present", "Present"],
  ["absent", "Absent"],
  ["late", "Late"],
  ["fever", "Fever"],
];
/** If the event stream cannot be held (an old proxy, the SSE cap), the day is read this often. */
const FALLBACK_POLL_MS = 5_000;

const isoDay = (d) => d.toISOString().slice(0, 10);
/** `day` moved by `n` days (UTC arithmetic on a calendar date). */
function addDays(day, n) {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return isoDay(d);
}
const localToday = () => {
  const now = new Date();
  return isoDay(new Date(now.getTime() - now.getTimezoneOffset() * 60_000));
};
const pct = (share) => `${Math.round(share * 1000) / 10} %`;
const enc = encodeURIComponent;

/** The day's document, reloaded on each of the day's events (or polled when none can come). */
function useDay(schoolId, date, group) {
  const [doc, setDoc] = useState(undefined);
  const [error, setError] = useState(undefined);
  const [live, setLive] = useState(false);
  useEffect(() => {
    if (!schoolId) return undefined;
    let alive = true;
    const q = new URLSearchParams();
    if (date) q.set("date", date);
    if (group) q.set("group", group);
    const load = () =>
      api("GET", `/v1/schools/${enc(schoolId)}/attendance${q.size ? `?${q}` : ""}`).then(
        (d) => {
          if (!alive) return;
          setDoc(d);
          setError(undefined);
        },
        (e) => {
          if (!alive) return;
          setError(e);
          if (e.status === 503 || e.status === 404) setDoc(undefined);
        },
      );
    load();
    let timer;
    const poll = () => {
      if (timer === undefined) timer = setInterval(load, FALLBACK_POLL_MS);
    };
    // EventSource sends the session cookie: the stream is the admin's route.
    const source =
      typeof EventSource === "function"
        ? new EventSource(
            `/v1/schools/${enc(schoolId)}/attendance/events${date ? `?date=${date}` : ""}`,
          )
        : undefined;
    if (source) {
      source.addEventListener("attendance", () => load());
      source.onopen = () => setLive(true);
      source.onerror = () => {
        setLive(false);
        poll();
      };
    } else poll();
    return () => {
      alive = false;
      source?.close();
      if (timer !== undefined) clearInterval(timer);
      setLive(false);
    };
  }, [schoolId, date, group]);
  return { doc, error, live };
}

function PersonDays({ schoolId, personId, until, onClose }) {
  const [days, setDays] = useState(undefined);
  const [error, setError] = useState(undefined);
  useEffect(() => {
    const to = until || localToday();
    api(
      "GET",
      `/v1/schools/${enc(schoolId)}/people/${enc(personId)}/attendance?from=${addDays(to, -27)}&to=${to}`,
    ).then(setDays, setError);
  }, [schoolId, personId, until]);
  const title = days?.name ? `${days.name} (${personId})` : personId;
  return html`<${Dialog} title=${`Attendance of ${title}`} onClose=${onClose} wide>
    <${ErrorNote} error=${error} />
    ${
      days
        ? html`<p>${days.from} to ${days.to}: present ${days.summary.presentDays} of ${days.summary.schoolDays} school days (${pct(days.summary.share)}), <strong>${days.summary.status}</strong>.</p>
        <div class="scroll"><table class="person-days">
          <caption class="visually-hidden">Days of ${title}</caption>
          <thead><tr><th scope="col">Date</th><th scope="col">Present</th><th scope="col">Minutes</th><th scope="col">First in</th><th scope="col">Last out</th><th scope="col">Late</th><th scope="col">Fever</th></tr></thead>
          <tbody>${days.days.map(
            (d) => html`<tr class=${d.schoolDay ? "" : "muted"}>
              <td>${d.date}${d.schoolDay ? "" : " (no school)"}</td>
              <td>${d.present ? "yes" : "no"}${d.inNow ? " (in now)" : ""}</td>
              <td>${Math.round(d.minutes)}</td>
              <td>${d.firstIn ? new Date(d.firstIn).toLocaleTimeString() : "–"}</td>
              <td>${d.lastOut ? new Date(d.lastOut).toLocaleTimeString() : "–"}</td>
              <td>${d.late ? "late" : ""}</td>
              <td>${d.fever ? `${d.maxTemperatureC ?? ""} °C` : ""}</td>
            </tr>`,
          )}</tbody>
        </table></div>`
        : html`<p>Loading…</p>`
    }
    <p class="actions"><button type="button" onClick=${onClose}>Close</button></p>
  </${Dialog}>`;
}

function PersonButton({ id, name, onOpen }) {
  return html`<button type="button" class="link" onClick=${() => onOpen(id)}>${name ?? id}</button>`;
}

function Day({ schoolId, date, group, setGroup, onPerson }) {
  const { doc, error, live } = useDay(schoolId, date, group);
  const nameOf = (id) => doc?.names?.[id] ?? null;
  const groups = doc?.groups ? Object.keys(doc.groups).sort() : [];
  return html`
    <${ErrorNote} error=${error} />
    ${
      doc
        ? html`<p class="muted day-status" role="status">${[
            `${doc.day}${doc.schoolDay ? "" : " (no school day)"}${doc.group ? `, group ${doc.group}` : ""}`,
            live ? "live" : "refreshed every few seconds",
            `as of ${doc.asOf ? new Date(doc.asOf).toLocaleTimeString() : "no event yet"}`,
          ].join(" · ")}</p>
          <label class="inline">Group
            <select value=${group} onChange=${(e) => setGroup(e.target.value)}>
              <option value="">Whole school</option>
              ${(group && !groups.includes(group) ? [group, ...groups] : groups).map((g) => html`<option value=${g}>${g}</option>`)}
            </select>
          </label>
          <ul class="cards counts" aria-label="Counts">
            ${COUNTS.map(
              ([k, label]) =>
                html`<li class="card" data-count=${k}><span class="meta">${label}</span> <strong>${doc.counts[k]}</strong></li>`,
            )}
          </ul>
          ${LISTS.filter(([k]) => doc.lists[k].length > 0).map(
            ([k, label]) => html`<section data-list=${k}>
              <h2>${label} (${doc.lists[k].length})</h2>
              <ul class="people">
                ${doc.lists[k].map(
                  (
                    id,
                  ) => html`<li><${PersonButton} id=${id} name=${nameOf(id)} onOpen=${onPerson} />
                    ${k === "fever" && doc.details[id]?.maxTemperatureC != null ? html` <span class="badge">${doc.details[id].maxTemperatureC} °C</span>` : null}
                    ${k === "late" && doc.details[id]?.firstIn ? html` <span class="muted">in at ${new Date(doc.details[id].firstIn).toLocaleTimeString()}</span>` : null}
                  </li>`,
                )}
              </ul>
            </section>`,
          )}`
        : error
          ? null
          : html`<p>Loading…</p>`
    }`;
}

function Period({ schoolId, period, date, group, onPerson }) {
  const [below, setBelow] = useState("");
  const [items, setItems] = useState([]);
  const [head, setHead] = useState(undefined);
  const [next, setNext] = useState(null);
  const [error, setError] = useState(undefined);
  const load = async (after) => {
    const q = new URLSearchParams({ period, date: date || localToday() });
    if (group) q.set("group", group);
    if (after) q.set("after", after);
    try {
      const page = await api("GET", `/v1/schools/${enc(schoolId)}/attendance?${q}`);
      setHead(page);
      setItems((old) => (after ? [...old, ...page.items] : page.items));
      setNext(page.next);
      setError(undefined);
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => {
    if (schoolId) load();
  }, [schoolId, period, date, group]);
  const threshold = below === "" ? undefined : Number(below) / 100;
  const shown = threshold === undefined ? items : items.filter((p) => p.share < threshold);
  return html`
    <${ErrorNote} error=${error} />
    ${
      head
        ? html`<p class="muted" role="status">${head.from} to ${head.to}: ${head.schoolDays} school days counted${head.through ? ` through ${head.through}` : ""}; present on at least ${head.minPresentDaysPct} % of them counts as present.</p>`
        : null
    }
    <label class="inline">Share below (%)
      <input type="number" min="0" max="100" step="1" value=${below} onInput=${(e) => setBelow(e.target.value)} />
    </label>
    <div class="scroll"><table class="period">
      <caption class="visually-hidden">People by their share of school days present</caption>
      <thead><tr><th scope="col">Person</th><th scope="col">Groups</th><th scope="col">Days present</th><th scope="col">Share</th><th scope="col">Status</th></tr></thead>
      <tbody>${shown.map(
        (p) => html`<tr data-person=${p.id}>
          <td><${PersonButton} id=${p.id} name=${p.name} onOpen=${onPerson} /></td>
          <td>${p.groups.join(", ")}</td>
          <td>${p.presentDays} of ${p.schoolDays}</td>
          <td>${pct(p.share)}</td>
          <td><span class=${`badge ${p.status === "present" ? "online" : "closed"}`}>${p.status}</span></td>
        </tr>`,
      )}</tbody>
    </table></div>
    ${shown.length === 0 ? html`<p>Nobody${threshold === undefined ? "" : " below that share"} on this page.</p>` : null}
    ${next ? html`<p><button type="button" onClick=${() => load(next)}>More people</button></p>` : null}`;
}

export function AttendanceView({ session }) {
  const deployment = session.role === "deployment";
  const [schoolId, setSchoolId] = useState(deployment ? "default" : session.schoolId);
  const [mode, setMode] = useState("day");
  const [date, setDate] = useState("");
  const [group, setGroup] = useState("");
  const [person, setPerson] = useState(undefined);
  return html`
    <div class="toolbar">
      ${
        deployment
          ? html`<${SchoolPicker} value=${schoolId} onChange=${(v) => {
              setSchoolId(v);
              setGroup("");
            }} />`
          : null
      }
      <label class="inline">Show
        <select value=${mode} onChange=${(e) => setMode(e.target.value)}>
          <option value="day">Day</option>
          <option value="week">Week</option>
          <option value="month">Month</option>
        </select>
      </label>
      <label class="inline">Date
        <input type="date" value=${date} onChange=${(e) => setDate(e.target.value)} />
      </label>
      ${date ? html`<button type="button" onClick=${() => setDate("")}>Today</button>` : null}
      ${
        mode !== "day"
          ? html`<label class="inline">Group<input value=${group} size="8" onChange=${(e) => setGroup(e.target.value.trim())} /></label>`
          : null
      }
    </div>
    ${
      mode === "day"
        ? html`<${Day} schoolId=${schoolId} date=${date} group=${group} setGroup=${setGroup} onPerson=${setPerson} />`
        : html`<${Period} schoolId=${schoolId} period=${mode} date=${date} group=${group} onPerson=${setPerson} />`
    }
    ${
      person
        ? html`<${PersonDays} schoolId=${schoolId} personId=${person} until=${date} onClose=${() => setPerson(undefined)} />`
        : null
    }`;
}
