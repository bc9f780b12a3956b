import { pino } from "pino";

export type Logger = pino.Logger;

/** JSON lines on stdout; one child per component (`logger.child({ component })`). */
export function createLogger(level: string, base: Record<string, unknown> = {}): Logger {
  return pino({
    level,
    base: { pid: process.pid, ...base },
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers: { err: pino.stdSerializers.errWithCause },
  });
}
