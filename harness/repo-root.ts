import { join } from "node:path";

/** The repository root: the working directory of child processes, the home of artifacts/. */
export const REPO_ROOT = join(import.meta.dirname, "..");
