import { z } from "zod";
import { publicPollAnswerSchema } from "../results/results-schemas.ts";

// What the kiosk app's own routes answer (the pairing's answer is the registry's).

export const kioskSelfAnswerSchema = z
  .strictObject({
    id: z.string(),
    name: z.string(),
    pollIds: z.array(z.string()).nullable(),
    polls: z
      .array(publicPollAnswerSchema)
      .meta({ description: "open first, then not open yet; by title" }),
  })
  .meta({ id: "KioskSelf" });

/** A person's state today, as a kiosk at the door asks after a badge scan. */
export const kioskAttendanceAnswerSchema = z
  .strictObject({
    personId: z.string(),
    day: z.iso.date(),
    state: z.enum(["in", "out", "none"]),
    since: z.iso.datetime({ offset: true }).nullable(),
  })
  .meta({ id: "KioskAttendanceState" });
