/** `GET /v1/me` and `PATCH /v1/me`: the caller's profile (docs/API.md "HTTP"). */
import express, { type Request, type Router } from 'express';
import { z } from 'zod';
import { ERRORS } from '../../contracts/errors';
import { PROFILE_LIMITS as L, type ProfilePatch } from '../../users/user-profile';
import type { UserContext } from '../../users/users';
import type { ApiDeps } from '../deps';
import { AppError } from '../errors';

// Control characters (C0, DEL, C1) and the line/paragraph separators.
const CONTROL_CHARS = /[\p{Cc}\p{Zl}\p{Zp}]/u;

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function canonicalLocale(tag: string): string | undefined {
  try {
    return Intl.getCanonicalLocales(tag)[0];
  } catch {
    return undefined;
  }
}

const int = (range: { min: number; max: number }) => z.number().int().min(range.min).max(range.max);

/** The body of `PATCH /v1/me`; see {@link meRoutes} for the rules. Unknown keys are ignored. */
export const profilePatchBody = z.object({
  nickname: z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(L.nicknameMaxChars)
    .refine((s) => !CONTROL_CHARS.test(s), 'must not contain control characters')
    .nullable()
    .optional(),
  timezone: z
    .string()
    .max(L.timezoneMaxChars)
    .refine(isTimeZone, 'must be an IANA time zone, e.g. "Asia/Shanghai"')
    .transform(
      (tz) => new Intl.DateTimeFormat('en-US', { timeZone: tz }).resolvedOptions().timeZone,
    )
    .optional(),
  language: z
    .string()
    .max(L.languageMaxChars)
    .refine((s) => canonicalLocale(s) !== undefined, 'must be a BCP 47 language tag, e.g. "zh-CN"')
    .transform((s) => canonicalLocale(s) ?? s)
    .optional(),
  depthPreference: z.enum(L.depthPreferences).optional(),
  curiosityPreference: z.enum(L.curiosityPreferences).optional(),
  flameLevel: int(L.flameLevel).optional(),
  flameBrightness: int(L.flameBrightness).optional(),
  activeSlots: z
    .array(z.enum(L.activeSlots))
    .max(L.activeSlots.length)
    .refine((a) => new Set(a).size === a.length, 'must not repeat a slot')
    .optional(),
  dailyCap: int(L.dailyCap).optional(),
  personaType: z.enum(L.personaTypes).optional(),
});

/** The `GET /v1/me` body: exactly the contract's keys. */
function meBody(ctx: UserContext) {
  return {
    userId: ctx.userId,
    nickname: ctx.nickname,
    timezone: ctx.timezone,
    language: ctx.language,
    isPro: ctx.isPro,
    plan: ctx.plan,
    preferences: {
      depthPreference: ctx.preferences.depthPreference,
      curiosityPreference: ctx.preferences.curiosityPreference,
      flameLevel: ctx.preferences.flameLevel,
      flameBrightness: ctx.preferences.flameBrightness,
    },
    activeSlots: ctx.activeSlots,
    dailyCap: ctx.dailyCap,
    personaType: ctx.personaType,
    engagementLevel: ctx.engagementLevel,
  };
}

function callerOf(req: Request): string {
  if (!req.user) throw new AppError(ERRORS.Unauthorized);
  return req.user.userId;
}

function parsePatch(body: unknown): ProfilePatch {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new AppError(ERRORS.BadRequest, 'body must be a JSON object');
  }
  const parsed = profilePatchBody.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
    throw new AppError(ERRORS.BadRequest, `${where}${issue?.message ?? 'invalid profile'}`);
  }
  return parsed.data;
}

/**
 * The caller's profile, always their own (the user comes from the token, never from
 * the path or body).
 *
 * `GET /me` answers the user context. `PATCH /me` takes any of these fields (unknown
 * keys are ignored); any invalid value answers 400 `bad_request` and changes nothing:
 * - `nickname`: 1-64 characters after trimming, no control characters; `null` clears
 *   it (the username shows again)
 * - `timezone`: an IANA time zone known to the runtime (stored canonical), <= 64 chars
 * - `language`: a BCP 47 tag (stored canonical, e.g. `zh-cn` -> `zh-CN`), <= 35 chars
 * - `depthPreference`: `brief` | `balanced` | `deep`
 * - `curiosityPreference`: `low` | `balanced` | `high`
 * - `flameLevel`: integer 0-10; `flameBrightness`: integer 0-100
 * - `activeSlots`: distinct values of `morning`, `noon`, `afternoon`, `evening`, `night`
 * - `dailyCap`: integer 0-50 (pushes per day)
 * - `personaType`: `coach` | `friend` | `mentor` | `companion` | `expert`
 *
 * The change is committed, then every cached view of the user is dropped, so the next
 * `GET /me` and the next chat prompt show it. Answers the updated context.
 */
export function meRoutes(deps: ApiDeps): Router {
  const router = express.Router();

  router.get('/me', async (req, res) => {
    const ctx = await deps.userService.getContext(callerOf(req));
    if (!ctx) throw new AppError(ERRORS.NotFound, 'user not found');
    res.json(meBody(ctx));
  });

  router.patch('/me', async (req, res) => {
    const userId = callerOf(req);
    const patch = parsePatch(req.body);
    const ctx = await deps.userService.updateProfile(userId, patch);
    if (!ctx) throw new AppError(ERRORS.NotFound, 'user not found');
    res.json(meBody(ctx));
  });

  return router;
}
