import { z } from "zod";

// What /healthz and /readyz answer.

export const livenessAnswerSchema = z.strictObject({ status: z.literal("ok") });

const checkSchema = z.strictObject({ ok: z.boolean() });

export const readinessAnswerSchema = z.strictObject({
  status: z.enum(["ready", "not_ready"]),
  checks: z.strictObject({ postgres: checkSchema, nats: checkSchema, redis: checkSchema }),
  registryCacheAgeMs: z.number().nullable(),
});
