// /pair: exchanges a pairing code (typed, or from the pairUrl's #code= fragment, which no
// server ever sees) for the kiosk's credentials through POST /v1/pair, keeps them in
// IndexedDB and goes to the kiosk's home page.

import { loadCredentials, registerServiceWorker, saveCredentials } from "./kiosk-session.js";

// Crockford base32: I and L read as 1, O as 0; U is not in the alphabet.
const ALPHABET = /^[0-9A-HJKMNP-TV-Z]{8}$/;
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** "7kq2 m9xd" → "7KQ2-M9XD", or undefined when it cannot be a code. */
export function normaliseCode(text) {
  const code = text.toUpperCase().replace(/[\s-]/g, "").replace(/[IL]/g, "1").replace(/O/g, "0");
  return ALPHABET.test(code) ? `${code.slice(0, 4)}-${code.slice(4)}` : undefined;
}

function say(text) {
  const message = $("pair-message");
  message.textContent = text;
  message.hidden = false;
}

const REFUSALS = {
  pairing_code_invalid: "This code is unknown, already used or expired. Ask for a new one.",
  rate_limited: "Too many attempts from this device. Wait a minute, then try again.",
  kiosk_revoked: "This kiosk has been revoked: it cannot be paired.",
};

async function pair(code) {
  const button = /** @type {HTMLButtonElement} */ ($("pair-button"));
  button.disabled = true;
  say("Pairing…");
  try {
    let response;
    try {
      response = await fetch("/v1/pair", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ code }),
      });
    } catch {
      return say("No connection to the server. Check the network, then try again.");
    }
    const body = await response.json().catch(() => ({}));
    if (response.status !== 200) {
      const errorCode = body?.error?.code;
      return say(
        REFUSALS[errorCode] ??
          `Pairing failed: ${body?.error?.message ?? `HTTP ${response.status}`}`,
      );
    }
    const previous = await loadCredentials();
    await saveCredentials({
      kioskId: body.kioskId,
      name: body.name,
      token: body.token,
      pollIds: body.pollIds,
    });
    say(
      previous && previous.kioskId !== body.kioskId
        ? `Paired as ${body.name} (was ${previous.name}).`
        : `Paired as ${body.name}.`,
    );
    location.replace("/vote");
  } finally {
    button.disabled = false;
  }
}

$("pair-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = /** @type {HTMLInputElement} */ ($("code"));
  const code = normaliseCode(input.value);
  if (!code) {
    input.setAttribute("aria-invalid", "true");
    return say("A pairing code has 8 letters and digits, like 7KQ2-M9XD.");
  }
  input.removeAttribute("aria-invalid");
  input.value = code;
  pair(code);
});

/** Pairs with the code in the address's fragment (#code=…), if any. */
function pairFromFragment() {
  const fromUrl = new URLSearchParams(location.hash.slice(1)).get("code");
  if (!fromUrl) return false;
  // Out of the address bar and the history at once: the code is a credential until used.
  history.replaceState(null, "", location.pathname);
  /** @type {HTMLInputElement} */ ($("code")).value = fromUrl;
  $("pair-form").requestSubmit();
  return true;
}

registerServiceWorker();
// A pairUrl opened on a /pair already showing changes only the fragment: no new page load.
addEventListener("hashchange", pairFromFragment);
if (!pairFromFragment()) $("code").focus();
