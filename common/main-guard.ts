import { ConfigError } from "./errors.ts";

/** Reads a service's config, or prints which variable is wrong and exits 2. */
export function configOrExit<T>(read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`configuration error: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}
