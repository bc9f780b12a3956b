import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { ROOT } from "../harness/repo-root.ts";

// A real browser for the web UI's tests: Debian's Chromium (package `chromium`, which
// .ci/run installs when it is missing) driven by playwright-core. Nothing is downloaded.

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const SCREENSHOTS = join(ROOT, "artifacts", "screenshots");

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

export async function launchChromium(): Promise<Browser> {
  await mkdir(SCREENSHOTS, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
}

/** What went wrong in a page: uncaught errors, console errors and CSP violations. */
export interface PageProblems {
  pageErrors: string[];
  consoleErrors: string[];
  /** Violations reported by the securitypolicyviolation event and by the console. */
  csp(): string[];
}

/**
 * Records a page's problems. The securitypolicyviolation listener is injected through the
 * DevTools protocol, which the page's CSP does not govern.
 */
export async function watchPage(page: Page): Promise<PageProblems> {
  const pageErrors: string[] = [];
  const consoleErrors: string[] = [];
  page.on("pageerror", (err) => pageErrors.push(String(err)));
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(message.text());
  });
  // Reported through the console, so that violations in pages closed since are kept too.
  await page.addInitScript({
    content: `document.addEventListener("securitypolicyviolation", (e) =>
      console.error("CSP violation: " + e.violatedDirective + " " + e.blockedURI));`,
  });
  return {
    pageErrors,
    consoleErrors,
    csp: () =>
      consoleErrors.filter((m) => /content security policy|refused to|CSP violation/i.test(m)),
  };
}

/** A browser context as a wall screen is: a time zone unlike the poll's, no animations. */
export function newContext(
  browser: Browser,
  viewport = { width: 1280, height: 900 },
): Promise<BrowserContext> {
  return browser.newContext({
    viewport,
    timezoneId: "America/New_York",
    locale: "en-US",
    reducedMotion: "reduce",
  });
}

export function screenshotPath(name: string): string {
  return join(SCREENSHOTS, `${name}.png`);
}
