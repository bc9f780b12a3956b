// A school's lesson registers: those overdue (ended past the grace, never completed), one
// register's document (present, absent, not completed, changed after completion), and the
// statistics of a range by group, then by person of a group.
import { api } from "./api.js";
import { SchoolPicker } from "./schools-view.js";
import { Dialog, ErrorNote, html, useEffect, usePolled, useState } from "./ui.js";

const LIVE_MS = 10_000;
const enc = encodeURIComponent;
const isoDay = (d) => d.toISOString().slice(0, 10);
const pct = (share) => `${Math.round(share * 1000) / 10} %`;
const when = (iso) => new Date(iso).toLocaleString();

function RegisterDocument({ pollId, onClose }) {
  const [doc, error] = usePolled(() => api("GET", `/v1/registers/${enc(pollId)}`), LIVE_MS, [
    pollId,
  ]);
  // The group's names (the roster route gives them to the school's own admins and teachers; the
  // deployment admin gets ids only): read once, the document's ids shown beside them.
  const [roster] = usePolled(() => api("GET", `/v1/registers/${enc(pollId)}/roster`), 0, [pollId]);
  const names = new Map((roster?.people ?? []).filter((p) => p.name).map((p) => [p.id, p.name]));
  const person = (id) =>
    names.has(id) ? html`${names.get(id)} <span class="muted">${id}</span>` : id;
  const list = (label, ids, key) =>
    html`<section data-list=${key}><h3>${label} (${ids.length})</h3>
      ${ids.length ? html`<ul class="people">${ids.map((id) => html`<li data-person=${id}>${person(id)}${doc.changedAfter.includes(id) ? html` <span class="badge">changed after completion</span>` : null}</li>`)}</ul>` : html`<p class="muted">Nobody.</p>`}
    </section>`;
  return html`<${Dialog} title=${doc ? `${doc.title} (${doc.groupId})` : `Register ${pollId}`} onClose=${onClose} wide>
    <${ErrorNote} error=${error} />
    ${
      doc
        ? html`<p>${when(doc.startsAt)} – ${new Date(doc.endsAt).toLocaleTimeString()} · ${doc.completed ? `completed ${when(doc.completedAt)}` : html`<strong>not completed</strong>`}${doc.changedAfterCompletion ? html` · <strong>changed after completion</strong>` : null}</p>
          <p>Present ${doc.counts.present} · absent ${doc.counts.absent} · not reported ${doc.counts.pending}</p>
          ${list("Present", doc.lists.present, "present")}
          ${list("Absent", doc.lists.absent, "absent")}
          ${list(doc.completed ? "Not reported" : "Not reported yet", doc.lists.pending, "pending")}`
        : error
          ? null
          : html`<p>Loading…</p>`
    }
    <p class="actions"><button type="button" onClick=${onClose}>Close</button></p>
  </${Dialog}>`;
}

function Overdue({ schoolId, onOpen }) {
  const [list, error] = usePolled(
    () => api("GET", `/v1/schools/${enc(schoolId)}/registers?state=overdue`),
    LIVE_MS,
    [schoolId],
  );
  const registers = list?.registers ?? [];
  return html`<section aria-labelledby="overdue-title">
    <h2 id="overdue-title">Overdue registers</h2>
    <${ErrorNote} error=${error} />
    ${list ? html`<p class="muted">Ended more than ${Math.round(list.graceMs / 60_000)} min ago and never completed: only their absences are known.</p>` : null}
    <div class="scroll"><table class="overdue">
      <caption class="visually-hidden">Overdue registers, oldest first</caption>
      <thead><tr><th scope="col">Lesson</th><th scope="col">Group</th><th scope="col">Started</th><th scope="col">Ended</th><th scope="col">Absent</th><th scope="col">Marks</th></tr></thead>
      <tbody>${registers.map(
        (r) => html`<tr data-register=${r.id}>
          <td><button type="button" class="link" onClick=${() => onOpen(r.id)}>${r.title}</button></td>
          <td>${r.groupId}</td><td>${when(r.startsAt)}</td><td>${when(r.endsAt)}</td>
          <td>${r.absent}</td><td>${r.events}</td>
        </tr>`,
      )}</tbody>
    </table></div>
    ${list && registers.length === 0 ? html`<p>No register is overdue.</p>` : null}
  </section>`;
}

function AllRegisters({ schoolId, onOpen }) {
  const [polls, error] = usePolled(
    () => api("GET", `/v1/polls?schoolId=${enc(schoolId)}`),
    LIVE_MS,
    [schoolId],
  );
  const registers = (polls?.polls ?? [])
    .filter((p) => p.kind === "register" && !p.archived)
    .sort((a, b) => String(b.startsAt).localeCompare(String(a.startsAt)))
    .slice(0, 50);
  return html`<section aria-labelledby="registers-title">
    <h2 id="registers-title">Latest registers</h2>
    <${ErrorNote} error=${error} />
    ${registers.length ? html`<ul class="people">${registers.map((p) => html`<li><button type="button" class="link" onClick=${() => onOpen(p.id)}>${p.title}</button> <span class="muted">${p.groupId} · ${when(p.startsAt)}</span></li>`)}</ul>` : html`<p class="muted">No lesson register yet.</p>`}
  </section>`;
}

function Stats({ schoolId }) {
  const today = isoDay(new Date());
  const [range, setRange] = useState({
    from: isoDay(new Date(Date.now() - 6 * 86_400_000)),
    to: today,
  });
  const [group, setGroup] = useState("");
  const [stats, setStats] = useState(undefined);
  const [groupStats, setGroupStats] = useState(undefined);
  const [error, setError] = useState(undefined);
  useEffect(() => {
    const q = `from=${range.from}&to=${range.to}`;
    api("GET", `/v1/schools/${enc(schoolId)}/registers/stats?${q}`).then((s) => {
      setStats(s);
      setError(undefined);
    }, setError);
    if (group)
      api("GET", `/v1/schools/${enc(schoolId)}/groups/${enc(group)}/stats?${q}`).then(
        setGroupStats,
        setError,
      );
    else setGroupStats(undefined);
  }, [schoolId, range, group]);
  const submit = (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    setRange({ from: String(form.get("from")), to: String(form.get("to")) });
  };
  const totals = (t) =>
    html`<td>${t.lessonsHeld}</td><td>${t.lessonsNotCompleted}</td><td>${t.present}</td><td>${t.absent}</td><td>${pct(t.share)}</td><td>${t.changedAfterCompletion}</td>`;
  const heads = html`<th scope="col">Lessons held</th><th scope="col">Not completed</th><th scope="col">Present</th><th scope="col">Absent</th><th scope="col">Share</th><th scope="col">Changed after</th>`;
  return html`<section aria-labelledby="stats-title">
    <h2 id="stats-title">Statistics</h2>
    <form class="filters" onSubmit=${submit} aria-label="Statistics range">
      <label>From<input name="from" type="date" value=${range.from} required /></label>
      <label>To<input name="to" type="date" value=${range.to} required /></label>
      <p class="actions"><button type="submit">Show</button></p>
    </form>
    <${ErrorNote} error=${error} />
    ${
      stats
        ? html`<div class="scroll"><table class="stats">
          <caption class="visually-hidden">Lessons by group, ${stats.from} to ${stats.to}</caption>
          <thead><tr><th scope="col">Group</th>${heads}</tr></thead>
          <tbody>
            ${stats.groups.map((g) => html`<tr data-group=${g.groupId}><td><button type="button" class="link" onClick=${() => setGroup(g.groupId)}>${g.groupId}</button></td>${totals(g)}</tr>`)}
            <tr><th scope="row">Whole school</th>${totals(stats)}</tr>
          </tbody>
        </table></div>`
        : null
    }
    ${
      groupStats
        ? html`<h3>Group ${groupStats.groupId}</h3>
        <div class="scroll"><table class="group-stats">
          <caption class="visually-hidden">People of group ${groupStats.groupId}</caption>
          <thead><tr><th scope="col">Person</th><th scope="col">Lessons</th><th scope="col">Present</th><th scope="col">Absent</th><th scope="col">Share</th></tr></thead>
          <tbody>${groupStats.people.map((p) => html`<tr><td>${p.id}</td><td>${p.lessons}</td><td>${p.present}</td><td>${p.absent}</td><td>${pct(p.share)}</td></tr>`)}</tbody>
        </table></div>
        <p><button type="button" onClick=${() => setGroup("")}>Close group</button></p>`
        : null
    }
  </section>`;
}

export function RegistersView({ session }) {
  const deployment = session.role === "deployment";
  const [schoolId, setSchoolId] = useState(deployment ? "default" : session.schoolId);
  const [open, setOpen] = useState(undefined);
  return html`
    ${deployment ? html`<div class="toolbar"><${SchoolPicker} value=${schoolId} onChange=${setSchoolId} /></div>` : null}
    <${Overdue} schoolId=${schoolId} onOpen=${setOpen} />
    <${AllRegisters} schoolId=${schoolId} onOpen=${setOpen} />
    <${Stats} schoolId=${schoolId} />
    ${open ? html`<${RegisterDocument} pollId=${open} onClose=${() => setOpen(undefined)} />` : null}`;
}
