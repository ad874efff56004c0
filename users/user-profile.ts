/**
 * The editable profile: its allowed values, the database reads behind the cached
 * views other than the full context (users/users.ts `loadUserContext`), and the update.
 */
import type { Pool } from 'pg';
import { engagementLevel, loadUserContext, type EngagementLevel } from './users';

/** Allowed values of the editable fields (docs/API.md `PATCH /v1/me`). */
export const PROFILE_LIMITS = Object.freeze({
  nicknameMaxChars: 64,
  timezoneMaxChars: 64,
  languageMaxChars: 35,
  depthPreferences: ['brief', 'balanced', 'deep'] as const,
  curiosityPreferences: ['low', 'balanced', 'high'] as const,
  flameLevel: { min: 0, max: 10 },
  flameBrightness: { min: 0, max: 100 },
  activeSlots: ['morning', 'noon', 'afternoon', 'evening', 'night'] as const,
  dailyCap: { min: 0, max: 50 },
  personaTypes: ['coach', 'friend', 'mentor', 'companion', 'expert'] as const,
});

/** A validated profile change; absent fields stay as they are, `nickname: null` clears it. */
export interface ProfilePatch {
  nickname?: string | null;
  timezone?: string;
  language?: string;
  depthPreference?: string;
  curiosityPreference?: string;
  flameLevel?: number;
  flameBrightness?: number;
  activeSlots?: string[];
  dailyCap?: number;
  personaType?: string;
}

/** `get_analytics_summary`: engagement from flame level. */
export interface AnalyticsSummary {
  userId: string;
  flameLevel: number;
  flameBrightness: number;
  engagementLevel: EngagementLevel;
  isPro: boolean;
}

/** `get_preferences`: conversation and push preferences. */
export interface UserPreferences {
  userId: string;
  depthPreference: string;
  curiosityPreference: string;
  flameLevel: number;
  flameBrightness: number;
  personaType: string;
  activeSlots: string[];
  dailyCap: number;
}

/** Loads the analytics summary from Postgres; undefined for an unknown user. */
export async function loadAnalyticsSummary(
  db: Pool,
  userId: string,
): Promise<AnalyticsSummary | undefined> {
  const { rows } = await db.query<{ flame_level: number; flame_brightness: number }>(
    'SELECT flame_level, flame_brightness FROM users WHERE id = $1',
    [userId],
  );
  const r = rows[0];
  if (!r) return undefined;
  return {
    userId,
    flameLevel: r.flame_level,
    flameBrightness: r.flame_brightness,
    engagementLevel: engagementLevel(r.flame_level),
    isPro: r.flame_level >= 3,
  };
}

/** Loads the preferences from Postgres; undefined for an unknown user. */
export async function loadPreferences(
  db: Pool,
  userId: string,
): Promise<UserPreferences | undefined> {
  // The same row as the user context: one query shape for both views.
  const ctx = await loadUserContext(db, userId);
  if (!ctx) return undefined;
  return {
    userId,
    ...ctx.preferences,
    personaType: ctx.personaType,
    activeSlots: ctx.activeSlots,
    dailyCap: ctx.dailyCap,
  };
}

/** Patch fields stored in `users`, by column. The names are constants, never input. */
const USER_COLUMNS = {
  nickname: 'nickname',
  timezone: 'timezone',
  language: 'language',
  depthPreference: 'depth_preference',
  curiosityPreference: 'curiosity_preference',
  flameLevel: 'flame_level',
  flameBrightness: 'flame_brightness',
  personaType: 'persona_type',
} as const satisfies Partial<Record<keyof ProfilePatch, string>>;

const PUSH_COLUMNS = {
  activeSlots: 'active_slots',
  dailyCap: 'daily_cap',
} as const satisfies Partial<Record<keyof ProfilePatch, string>>;

function assignments(
  patch: ProfilePatch,
  columns: Readonly<Record<string, string>>,
  values: unknown[],
): string[] {
  const sets: string[] = [];
  for (const [field, column] of Object.entries(columns)) {
    const value = patch[field as keyof ProfilePatch];
    if (value === undefined) continue;
    values.push(value);
    sets.push(`${column} = $${values.length}`);
  }
  return sets;
}

/**
 * Applies a patch in one transaction and bumps `users.version`. Returns false (and
 * changes nothing) when the user does not exist.
 */
export async function applyProfilePatch(
  db: Pool,
  userId: string,
  patch: ProfilePatch,
): Promise<boolean> {
  const client = await db.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const userValues: unknown[] = [userId];
    const userSets = assignments(patch, USER_COLUMNS, userValues);
    const updated = await client.query(
      `UPDATE users SET ${[...userSets, 'version = version + 1', 'updated_at = now()'].join(', ')}
        WHERE id = $1`,
      userValues,
    );
    if (updated.rowCount !== 1) {
      await client.query('ROLLBACK');
      return false;
    }
    const pushValues: unknown[] = [userId];
    const pushSets = assignments(patch, PUSH_COLUMNS, pushValues);
    if (pushSets.length > 0) {
      await client.query(
        'INSERT INTO push_preferences (user_id) VALUES ($1) ON CONFLICT DO NOTHING',
        [userId],
      );
      await client.query(
        `UPDATE push_preferences SET ${[...pushSets, 'updated_at = now()'].join(', ')} WHERE user_id = $1`,
        pushValues,
      );
    }
    await client.query('COMMIT');
    return true;
  } catch (err) {
    // A connection that cannot even roll back is dropped, not returned to the pool.
    await client.query('ROLLBACK').catch((e: Error) => {
      broken = e;
    });
    throw err;
  } finally {
    client.release(broken);
  }
}
