// Names the poll that was asked for on the not-found page (the page itself is static).

import { pollIdFromPath } from "./live.js";

const id = pollIdFromPath();
const target = document.getElementById("poll-id");
if (id && target) target.textContent = `“${id}”`;
