import { type Browser, chromium } from "playwright-core";

// A real browser for the web UI's tests and the scale bench's dashboard loads: Debian's
// Chromium (package `chromium`, which .ci/run installs when it is missing) driven by
// playwright-core. Nothing is downloaded.

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/**
 * Headless, no sandbox (tests run as root), and none of Chromium's background traffic: this
 * machine's closed network refuses it, many connections at a time.
 */
export const CHROMIUM_ARGS = [
  "--headless=new",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
}
