/**
 * The users repository: rows in `users` + `push_preferences`, and the user context the
 * API and the chat prompt use (docs/SPEC.md "P1 User profile cache" lists the fields).
 */
import type { Pool } from 'pg';
import type { Plan } from '../contracts/common';

export type EngagementLevel = 'very_high' | 'high' | 'medium' | 'low';

export interface UserContext {
  userId: string;
  nickname: string;
  timezone: string;
  language: string;
  isPro: boolean;
  plan: Plan;
  preferences: {
    depthPreference: string;
    curiosityPreference: string;
    flameLevel: number;
    flameBrightness: number;
  };
  activeSlots: string[];
  dailyCap: number;
  personaType: string;
  engagementLevel: EngagementLevel;
}

/** Engagement level from flame level: >=5 very_high, >=3 high, >=2 medium, else low. */
export function engagementLevel(flameLevel: number): EngagementLevel {
  if (flameLevel >= 5) return 'very_high';
  if (flameLevel >= 3) return 'high';
  if (flameLevel >= 2) return 'medium';
  return 'low';
}

export interface NewUser {
  id: string;
  username: string;
  plan: Plan;
}

/**
 * Creates the user on first authenticated use (idempotent). The plan follows the
 * token's claim, so an upgrade shows on the user's next request. Returns true when the
 * row was created or its plan changed (cached views of the user are then stale).
 */
export async function ensureUser(db: Pool, user: NewUser): Promise<boolean> {
  const { rows } = await db.query<{ changed: number }>(
    `WITH u AS (
       INSERT INTO users (id, username, plan) VALUES ($1, $2, $3)
       ON CONFLICT (id) DO UPDATE
         SET plan = EXCLUDED.plan, version = users.version + 1, updated_at = now()
         WHERE users.plan IS DISTINCT FROM EXCLUDED.plan
       RETURNING id),
     p AS (INSERT INTO push_preferences (user_id) SELECT id FROM u ON CONFLICT DO NOTHING)
     SELECT count(*)::int AS changed FROM u`,
    [user.id, user.username, user.plan],
  );
  return (rows[0]?.changed ?? 0) > 0;
}

interface UserRow {
  id: string;
  username: string;
  nickname: string | null;
  timezone: string;
  language: string;
  plan: Plan;
  depth_preference: string;
  curiosity_preference: string;
  flame_level: number;
  flame_brightness: number;
  persona_type: string;
  active_slots: string[] | null;
  daily_cap: number | null;
}

/** Loads a user's context from Postgres; undefined for an unknown user. */
export async function loadUserContext(db: Pool, userId: string): Promise<UserContext | undefined> {
  const { rows } = await db.query<UserRow>(
    `SELECT u.id, u.username, u.nickname, u.timezone, u.language, u.plan,
            u.depth_preference, u.curiosity_preference, u.flame_level, u.flame_brightness,
            u.persona_type, p.active_slots, p.daily_cap
       FROM users u LEFT JOIN push_preferences p ON p.user_id = u.id
      WHERE u.id = $1`,
    [userId],
  );
  const r = rows[0];
  if (!r) return undefined;
  return {
    userId: r.id,
    nickname: r.nickname ?? r.username,
    timezone: r.timezone,
    language: r.language,
    isPro: r.flame_level >= 3,
    plan: r.plan,
    preferences: {
      depthPreference: r.depth_preference,
      curiosityPreference: r.curiosity_preference,
      flameLevel: r.flame_level,
      flameBrightness: r.flame_brightness,
    },
    activeSlots: r.active_slots ?? [],
    dailyCap: r.daily_cap ?? 5,
    personaType: r.persona_type,
    engagementLevel: engagementLevel(r.flame_level),
  };
}
