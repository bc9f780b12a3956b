import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { REPO_ROOT } from "../harness/repo-root.ts";

// What the web UI's tests do in a browser (harness/chromium.ts launches it): watch a page
// for errors, open a context as a wall screen is, and name screenshots. Page.screenshot
// creates the folder.

export const SCREENSHOTS = join(REPO_ROOT, "artifacts", "screenshots");

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
