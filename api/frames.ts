/** Validation of client frames (docs/API.md "Client -> server"). Unknown fields are ignored. */
import { z } from 'zod';
import { EVENT_ID_RE } from '../store/event-log';
import { jsonTooDeep, TOO_DEEP_MESSAGE } from '../lib/json-depth';
import { unstorableTextProblem } from '../store/storable-text';

export const uuid = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a UUID');

/** Longest chat message accepted, in characters (the frame limit bounds it too). */
export const MAX_CONTENT_CHARS = 32_000;

/** A string the system can store as sent (no NUL, no lone surrogate): every door that takes text uses it. */
export const storable = (schema: z.ZodString) =>
  schema.superRefine((text, ctx) => {
    const problem = unstorableTextProblem(text);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

export const chatFrame = z.object({
  type: z.literal('chat'),
  requestId: uuid.optional(),
  sessionId: uuid,
  content: storable(z.string().min(1, 'must not be empty').max(MAX_CONTENT_CHARS)),
  model: storable(z.string().min(1).max(100)).optional(),
});

export const resumeFrame = z.object({
  type: z.literal('resume'),
  requestId: uuid,
  lastEventId: z.string().regex(EVENT_ID_RE, 'must be an eventId received earlier').optional(),
});

export const cancelFrame = z.object({ type: z.literal('cancel'), requestId: uuid });

export const pingFrame = z.object({ type: z.literal('ping') });

export const clientFrame = z.discriminatedUnion('type', [
  chatFrame,
  resumeFrame,
  cancelFrame,
  pingFrame,
]);

export type ClientFrame = z.infer<typeof clientFrame>;

export type ParsedFrame =
  { ok: true; frame: ClientFrame } | { ok: false; message: string; requestId?: string };

/** Parses one text frame; never throws. */
export function parseClientFrame(text: string): ParsedFrame {
  if (jsonTooDeep(text)) return { ok: false, message: TOO_DEEP_MESSAGE };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, message: 'frame is not valid JSON' };
  }
  const parsed = clientFrame.safeParse(raw);
  if (parsed.success) return { ok: true, frame: parsed.data };
  const requestId =
    typeof raw === 'object' &&
    raw !== null &&
    typeof (raw as { requestId?: unknown }).requestId === 'string'
      ? (raw as { requestId: string }).requestId
      : undefined;
  const issue = parsed.error.issues[0];
  const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
  return { ok: false, message: `${where}${issue?.message ?? 'invalid frame'}`, requestId };
}

export const isUuid = (s: string): boolean => uuid.safeParse(s).success;
