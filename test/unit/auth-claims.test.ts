/**
 * Token claims (api/auth.ts), on pure values: a correctly signed token whose claims
 * break the contract (docs/API.md "Authentication") is refused like a forged one, so
 * nothing of it reaches the database (issue 20).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import jwt from 'jsonwebtoken';
import { MAX_NAME_CLAIM_CHARS, verifyToken } from '../../api/auth';

const SECRET = 'a-test-secret-that-is-long-enough-for-hs256';
const sign = (claims: Record<string, unknown>) =>
  jwt.sign(claims, SECRET, { algorithm: 'HS256', expiresIn: 60 });

describe('token claims', () => {
  it('accepts the contract claims, defaulting plan to free', () => {
    const sub = randomUUID();
    assert.deepEqual(verifyToken(SECRET, sign({ sub, plan: 'pro', name: 'Zoë 🚀' })), {
      userId: sub,
      plan: 'pro',
      name: 'Zoë 🚀',
    });
    assert.deepEqual(verifyToken(SECRET, sign({ sub: sub.toUpperCase() })), {
      userId: sub,
      plan: 'free',
    });
    assert.ok(verifyToken(SECRET, sign({ sub, name: 'x'.repeat(MAX_NAME_CLAIM_CHARS) })));
  });

  it('refuses claims that cannot be stored or have the wrong type', () => {
    const sub = randomUUID();
    const bad: Array<[string, Record<string, unknown>]> = [
      ['NUL in name', { sub, name: 'a\u0000b' }],
      ['lone surrogate in name', { sub, name: 'x\ud800' }],
      ['absurdly long name', { sub, name: 'x'.repeat(MAX_NAME_CLAIM_CHARS + 1) }],
      ['name a number', { sub, name: 42 }],
      ['name an object', { sub, name: { a: 1 } }],
      ['name null', { sub, name: null }],
      ['plan unknown', { sub, plan: 'enterprise' }],
      ['plan an array', { sub, plan: ['pro'] }],
      ['sub not a UUID', { sub: 'not-a-uuid' }],
      ['sub a number', { sub: 7 }],
      ['sub missing', { name: 'x' }],
    ];
    for (const [what, claims] of bad)
      assert.equal(verifyToken(SECRET, sign(claims)), undefined, what);
  });

  it('refuses a token signed with another secret or another algorithm', () => {
    const sub = randomUUID();
    assert.equal(
      verifyToken(SECRET, jwt.sign({ sub }, 'another-secret', { algorithm: 'HS256' })),
      undefined,
    );
    assert.equal(verifyToken(SECRET, jwt.sign({ sub }, SECRET, { algorithm: 'HS512' })), undefined);
  });
});
