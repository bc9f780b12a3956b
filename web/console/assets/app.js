// The console's shell: sign-in from an invite link, the navigation, and the view the URL's
// fragment names (#/polls, #/kiosks, #/schools, #/audit, #/attendance, #/registers, #/dead-letters).
import { currentSession, signIn, signOut } from "./api.js";
import { AttendanceView } from "./attendance-view.js";
import { AuditView } from "./audit-view.js";
import { DeadLettersView } from "./dead-letters-view.js";
import { KiosksView } from "./kiosks-view.js";
import { PeopleView } from "./people-view.js";
import { PollsView } from "./polls-view.js";
import { RegistersView } from "./registers-view.js";
import { SchoolsView } from "./schools-view.js";
import { ErrorNote, html, render, useEffect, useState } from "./ui.js";

const VIEWS = {
  polls: { title: "Polls", view: PollsView },
  kiosks: { title: "Kiosks", view: KiosksView },
  people: { title: "People", view: PeopleView },
  schools: { title: "Schools", view: SchoolsView, deployment: true },
  audit: { title: "Audit log", view: AuditView },
  attendance: { title: "Attendance", view: AttendanceView },
  registers: { title: "Registers", view: RegistersView },
  "dead-letters": { title: "Dead letters", view: DeadLettersView, deployment: true },
};

function routeOf(hash) {
  const name = hash.replace(/^#\/?/, "").split(/[/?]/)[0];
  return name in VIEWS ? name : "polls";
}

/** Takes the invite code out of the address at once: it signs in whoever uses it first. */
function takeInviteCode() {
  const code = new URLSearchParams(location.hash.slice(1)).get("invite");
  if (code) history.replaceState(null, "", `${location.pathname}#/polls`);
  return code;
}

function SignedOut({ error }) {
  return html`<main class="signed-out">
    <h1>tallyflow console</h1>
    <${ErrorNote} error=${error} />
    <p>You are not signed in. Open the invite link an administrator gave you to sign in.</p>
    <p>An invite works once and expires; ask for a new one if yours did.</p>
  </main>`;
}

function App() {
  const [session, setSession] = useState(undefined);
  const [error, setError] = useState(undefined);
  const [route, setRoute] = useState(routeOf(location.hash));

  useEffect(() => {
    const code = takeInviteCode();
    (code ? signIn(code) : currentSession()).then(
      (s) => setSession(s ?? null),
      (e) => {
        setError(e);
        setSession(null);
      },
    );
    const onHash = () => setRoute(routeOf(location.hash));
    const onSignedOut = () => setSession(null);
    window.addEventListener("hashchange", onHash);
    window.addEventListener("console-signed-out", onSignedOut);
    return () => {
      window.removeEventListener("hashchange", onHash);
      window.removeEventListener("console-signed-out", onSignedOut);
    };
  }, []);

  useEffect(() => {
    const entry = VIEWS[route];
    document.title = `${entry.title} · tallyflow console`;
  }, [route]);

  if (session === undefined) return html`<main><h1>tallyflow console</h1><p>Signing in…</p></main>`;
  if (session === null) return html`<${SignedOut} error=${error} />`;

  const deployment = session.role === "deployment";
  const shown = VIEWS[route].deployment && !deployment ? "polls" : route;
  const View = VIEWS[shown].view;
  const out = () => signOut().finally(() => setSession(null));
  return html`
    <header class="top">
      <p class="brand">tallyflow console</p>
      <nav aria-label="Console">
        <ul>
          ${Object.entries(VIEWS)
            .filter(([, v]) => !v.deployment || deployment)
            .map(
              ([name, v]) =>
                html`<li><a href=${`#/${name}`} aria-current=${name === shown ? "page" : undefined}>${v.title}</a></li>`,
            )}
        </ul>
      </nav>
      <p class="who">
        <span>${deployment ? "Deployment admin" : `School ${session.schoolId}`} · ${session.label}</span>
        <button type="button" onClick=${out}>Sign out</button>
      </p>
    </header>
    <main>
      <h1>${VIEWS[shown].title}</h1>
      <${View} session=${session} />
    </main>`;
}

render(html`<${App} />`, document.getElementById("app"));
