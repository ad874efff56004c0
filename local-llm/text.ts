/**
 * Deterministic text helpers for the local LLM: hash-seeded word choice and
 * trimming or padding a text to an exact token count in a model's encoding.
 */
import { createHash } from 'node:crypto';
import type { TiktokenEncoding } from 'tiktoken';
import { countTextTokens, splitTokens } from '../prompt/tokens';

// prettier-ignore
const WORD_POOL = [
  'amber', 'river', 'quiet', 'stone', 'cloud', 'ember', 'silver', 'light', 'water', 'earth',
  'house', 'world', 'point', 'sound', 'place', 'round', 'great', 'small', 'large', 'green',
  'north', 'south', 'early', 'later', 'bright', 'clear', 'calm', 'warm', 'cold', 'deep',
  'field', 'story', 'music', 'paper', 'table', 'window', 'door', 'road', 'hill', 'sea',
  'tree', 'leaf', 'bird', 'fish', 'star', 'moon', 'sun', 'rain', 'snow', 'wind',
] as const;

const singleTokenWords = new Map<TiktokenEncoding, string[]>();

/**
 * Words that are one token both alone and after a space in `encoding`, so a run of
 * them costs exactly one token per word.
 */
export function fillerWords(encoding: TiktokenEncoding): readonly string[] {
  let words = singleTokenWords.get(encoding);
  if (!words) {
    words = WORD_POOL.filter(
      (w) => countTextTokens(w, encoding) === 1 && countTextTokens(` ${w}`, encoding) === 1,
    );
    if (words.length === 0) words = ['a'];
    singleTokenWords.set(encoding, words);
  }
  return words;
}

/** Hex SHA-256 of a string. */
export function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/** `count` words picked deterministically from `words` by `seed`. */
export function seededWords(seed: string, count: number, words: readonly string[]): string[] {
  const out: string[] = [];
  let block = sha256(seed);
  for (let i = 0; i < count; i++) {
    const at = (i * 4) % 64;
    if (i > 0 && at === 0) block = sha256(block);
    const n = parseInt(block.slice(at, at + 4), 16);
    out.push(words[n % words.length] ?? 'a');
  }
  return out;
}

/** The first `maxTokens` tokens of `text` (cut on token boundaries). */
export function truncateToTokens(
  text: string,
  maxTokens: number,
  encoding: TiktokenEncoding,
): string {
  const pieces = splitTokens(text, encoding);
  let out = pieces.slice(0, maxTokens).join('');
  // A piece can hold several tokens (split multi-byte characters): drop until it fits.
  let keep = Math.min(pieces.length, maxTokens);
  while (keep > 0 && countTextTokens(out, encoding) > maxTokens) {
    keep--;
    out = pieces.slice(0, keep).join('');
  }
  return out;
}

/**
 * `text` cut or padded (with seeded single-token words) to exactly `n` tokens.
 * Falls back to words alone if the boundary between text and padding merges tokens.
 */
export function fitToTokens(
  text: string,
  n: number,
  encoding: TiktokenEncoding,
  seed: string,
): string {
  const words = fillerWords(encoding);
  let out = truncateToTokens(text, n, encoding);
  for (let round = 0; round < 8; round++) {
    const have = countTextTokens(out, encoding);
    if (have === n) return out;
    if (have > n) {
      out = truncateToTokens(out, n, encoding);
      continue;
    }
    const pad = seededWords(`${seed}:${round}`, n - have, words);
    out += (out === '' ? '' : ' ') + pad.join(' ');
  }
  const plain = seededWords(seed, n, words).join(' ');
  return countTextTokens(plain, encoding) === n ? plain : truncateToTokens(plain, n, encoding);
}
