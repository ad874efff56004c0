/** lib/json-depth.ts on pure values: nesting measured on raw JSON, strings skipped. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonTooDeep, MAX_JSON_DEPTH } from '../../lib/json-depth';

describe('jsonTooDeep', () => {
  it('counts arrays and objects, as text or UTF-8 bytes', () => {
    const at = (n: number) => '['.repeat(n) + ']'.repeat(n);
    assert.equal(jsonTooDeep(at(MAX_JSON_DEPTH)), false);
    assert.equal(jsonTooDeep(at(MAX_JSON_DEPTH + 1)), true);
    assert.equal(jsonTooDeep(Buffer.from(`{"é":${at(MAX_JSON_DEPTH + 1)}}`)), true);
    assert.equal(jsonTooDeep('{"a":[{"b":{}}]}', 4), false);
    assert.equal(jsonTooDeep('{"a":[{"b":{}}]}', 3), true);
    // Siblings do not add up.
    assert.equal(jsonTooDeep(`[${Array(1000).fill('[[]]').join(',')}]`, 3), false);
  });

  it('skips brackets inside strings, escaped quotes included', () => {
    assert.equal(jsonTooDeep(JSON.stringify({ s: '[[[[[[[[{{{{{{' }), 2), false);
    assert.equal(jsonTooDeep(JSON.stringify({ s: 'say \\"[[[[\\" \\\\' }), 2), false);
    assert.equal(jsonTooDeep(Buffer.from(JSON.stringify({ s: '"[[[[ ü' })), 2), false);
  });
});
