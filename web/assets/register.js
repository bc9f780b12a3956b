// /register: a teacher takes a lesson register on a phone or a classroom tablet
// (docs/registers.md, "The register page"). Signed in by a link (#code=…, exchanged once for
// the teacher's token, kept in IndexedDB); /register lists the school's registers of today,
// /register?poll=<id> is one register: the group's pupils, tap the absent (again: taken
// back, a `present` event), then Complete. Every mark and the completion go through the
// outbox, in the order they were made: offline they wait and are sent when back.

import { el, formatTime } from "./format.js";
import { registerServiceWorker } from "./kiosk-session.js";
import { getJson, loadTeacher, openTeacherOutbox, signIn } from "./register-session.js";

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

function say(text) {
  $("message").textContent = text;
  $("message").hidden = text === "";
}

function warn(text) {
  $("banner").textContent = text;
  $("banner").hidden = text === "";
}

const REFUSALS = {
  sign_in_link_invalid:
    "This sign-in link is unknown, already used or expired. Ask the school office for a new one.",
  rate_limited: "Too many attempts from this device. Wait a minute, then open the link again.",
};

/** Signs in with the address's #code=…, if any; the code leaves the address bar at once. */
async function signInFromFragment() {
  const code = new URLSearchParams(location.hash.slice(1)).get("code");
  if (!code) return;
  history.replaceState(null, "", location.pathname + location.search);
  say("Signing in…");
  const outcome = await signIn(code);
  if (outcome.kind === "offline")
    warn("No connection to the server: connect this device, then open the link again.");
  else if (outcome.kind === "refused")
    warn(REFUSALS[outcome.code] ?? `Sign-in failed: ${outcome.message}`);
}

/** The teacher's day: links to each register of today. */
async function showDay(teacher) {
  const day = await getJson("/v1/teacher", teacher.token);
  if (day.status === 401)
    return say("This device is signed out. Open a new sign-in link from the school office.");
  if (day.status !== 200) return say("Today's registers cannot be loaded right now.");
  const { registers } = day.body;
  $("who").textContent = `${day.body.label} · ${day.body.day}`;
  say(
    registers.length === 0
      ? "No lesson registers today."
      : day.body.more
        ? "Choose the lesson to take its register. Not every lesson of today is listed: ask the school office for the link to yours."
        : "Choose the lesson to take its register.",
  );
  $("day").replaceChildren(
    ...registers.map((r) => {
      const link = el("a", r.title, { href: `/register?poll=${encodeURIComponent(r.id)}` });
      link.append(
        el(
          "span",
          `${r.groupId} · ${formatTime(new Date(r.startsAt))}–${formatTime(new Date(r.endsAt))}`,
          { class: "when" },
        ),
      );
      const item = el("li");
      item.append(link);
      return item;
    }),
  );
  $("day").hidden = registers.length === 0;
}

/**
 * One register. Its state on this device: who is marked absent, whether it is completed.
 * It starts from the published document (when the server is reachable), then what this
 * device's outbox still holds for it, in queue order, then each tap.
 */
async function showRegister(teacher, pollId, outbox) {
  $("home").hidden = false;
  const roster = await getJson(`/v1/registers/${encodeURIComponent(pollId)}/roster`, teacher.token);
  if (roster.status === 401)
    return say("This device is signed out. Open a new sign-in link from the school office.");
  if (roster.status === 404) return say("This register does not exist (or is another school's).");
  if (roster.status !== 200) return say("This register cannot be loaded right now.");
  const lesson = roster.body;
  $("title").textContent = lesson.title;
  document.title = `${lesson.title} — register`;
  $("lesson").textContent =
    `${lesson.groupId} · ${formatTime(new Date(lesson.startsAt))}–${formatTime(new Date(lesson.endsAt))}`;

  const absent = new Set();
  let completed = false;
  const published = await getJson(`/v1/registers/${encodeURIComponent(pollId)}`, teacher.token);
  if (published.status === 200) {
    for (const id of published.body.lists.absent) absent.add(id);
    completed = published.body.completed;
  }
  for (const entry of await outbox.pending()) {
    if (entry.pollId !== pollId) continue;
    if (entry.kind === "completion") completed = true;
    else if (entry.optionId === "absent") absent.add(entry.voterId);
    else if (entry.optionId === "present") absent.delete(entry.voterId);
  }

  const render = () => {
    const n = lesson.people.length;
    $("counts").textContent = completed
      ? `${n - absent.size} present · ${absent.size} absent`
      : `${absent.size} absent · ${n} in the group`;
    $("completed").hidden = !completed;
    const button = $("complete");
    button.setAttribute("aria-disabled", String(completed));
    button.textContent = completed ? "Completed" : "Complete";
  };
  const rows = lesson.people.map((person) => {
    const label = person.name ?? person.id;
    const button = el("button", null, {
      type: "button",
      class: "pupil",
      "data-person": person.id,
      "aria-pressed": String(absent.has(person.id)),
    });
    const mark = el("span", absent.has(person.id) ? "Absent" : "Present", { class: "mark" });
    button.append(el("span", label), mark);
    button.addEventListener("click", async () => {
      const nowAbsent = !absent.has(person.id);
      // Shown at once; the outbox keeps it durably before anything is sent.
      if (nowAbsent) absent.add(person.id);
      else absent.delete(person.id);
      button.setAttribute("aria-pressed", String(nowAbsent));
      mark.textContent = nowAbsent ? "Absent" : "Present";
      render();
      try {
        await outbox.enqueue({
          pollId,
          optionId: nowAbsent ? "absent" : "present",
          voterId: person.id,
        });
      } catch (err) {
        warn(`Not saved on this device: ${err.message}`);
      }
    });
    const item = el("li");
    item.append(button);
    return item;
  });
  $("roster").replaceChildren(...rows);
  $("complete").addEventListener("click", async () => {
    if (completed) return;
    completed = true;
    render();
    try {
      const { completedAt } = await outbox.enqueueCompletion({ pollId });
      $("completed").textContent =
        `Completed at ${formatTime(new Date(completedAt))}: everyone not marked absent is present.`;
    } catch (err) {
      completed = false;
      render();
      warn(`Not saved on this device: ${err.message}`);
    }
  });
  if (completed) $("completed").textContent = "Completed: everyone not marked absent is present.";
  render();
  say(
    roster.cachedAt
      ? "Offline: the list as last loaded. Marks are kept and sent when back online."
      : "Tap each pupil who is absent, then Complete.",
  );
  $("register").hidden = false;
}

/** "All changes sent" / "Offline · 3 changes waiting", and refusals, from the outbox. */
function showSync(outbox) {
  const render = async () => {
    const s = await outbox.status();
    const sync = $("sync");
    sync.dataset.pending = String(s.pending);
    const where = !navigator.onLine
      ? "Offline"
      : s.state === "revoked"
        ? "Signed out"
        : s.state === "backoff"
          ? "Server unreachable"
          : "Online";
    const waiting =
      s.pending === 0
        ? "all changes sent"
        : `${s.pending} ${s.pending === 1 ? "change" : "changes"} waiting to be sent`;
    const refused = s.refused === 0 ? "" : ` · ${s.refused} refused by the server`;
    sync.textContent = `${where} · ${waiting}${refused}`;
  };
  for (const type of ["change", "sent", "refused", "error"]) outbox.on(type, render);
  addEventListener("online", render);
  addEventListener("offline", render);
  setInterval(render, 2_000);
  render();
}

async function main() {
  await signInFromFragment();
  const teacher = await loadTeacher();
  if (!teacher) {
    if ($("banner").hidden)
      say("Open the sign-in link the school office gave you on this device to take registers.");
    else say("");
    return;
  }
  $("who").textContent = teacher.label;
  const outbox = await openTeacherOutbox(teacher.token);
  showSync(outbox);
  const pollId = new URLSearchParams(location.search).get("poll");
  const show = () => (pollId ? showRegister(teacher, pollId, outbox) : showDay(teacher));
  // The first visit: once the worker controls the page, read again through it, so that the
  // lists are there offline next time.
  registerServiceWorker({
    onControlled: () => {
      getJson(
        pollId ? `/v1/registers/${encodeURIComponent(pollId)}/roster` : "/v1/teacher",
        teacher.token,
      );
    },
  });
  await show();
}

main().catch((err) => warn(`The page failed: ${err.message}`));
