import { htmlPage, type RouteDescriptions, staticFile } from "../openapi/route-parts.ts";

/** The pages and their assets (no JSON): listed so that every route the API serves is described. */
export const webRouteDescriptions: RouteDescriptions = {
  "/": { get: htmlPage("The open polls of the default school") },
  "/s/{schoolId}": { get: htmlPage("The open polls of a school", true) },
  "/dashboard/{pollId}": { get: htmlPage("A poll's live dashboard", true) },
  "/kiosk/{pollId}": { get: htmlPage("A poll's full-screen kiosk display", true) },
  "/assets/{file}": { get: staticFile("The pages' scripts and styles") },
  "/vendor/{file}": { get: staticFile("The pages' third-party scripts") },
  "/vendor/chart.umd.min.js": { get: staticFile("Chart.js", "text/javascript") },
  "/vendor/chart.umd.min.js.map": { get: staticFile("Chart.js's source map", "application/json") },
  "/common/browser/{file}": {
    get: staticFile("Contracts the pages share with the services", "text/javascript"),
  },
};
