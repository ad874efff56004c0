/**
 * Splits a document into chunks of at most N tokens (tiktoken, the model's encoding)
 * for map-reduce summarisation. Chunks end between words, so a word (or a `[[...]]`
 * directive of the embedded LLM) is never cut in two; only a single word longer than
 * a whole chunk is split by tokens.
 */
import type { TiktokenEncoding } from 'tiktoken';
import { countTextTokens, splitTokens } from '../prompt/tokens';

/** Splits `text` into chunks of at most `chunkTokens` tokens each (counted per word). */
export function chunkText(text: string, chunkTokens: number, encoding: TiktokenEncoding): string[] {
  const limit = Math.max(1, Math.floor(chunkTokens));
  const chunks: string[] = [];
  let current = '';
  let used = 0;
  const flush = () => {
    const trimmed = current.trim();
    if (trimmed !== '') chunks.push(trimmed);
    current = '';
    used = 0;
  };
  // Each piece is a word with the whitespace before it, so joining pieces restores the text.
  for (const piece of text.match(/\s*\S+/g) ?? []) {
    const tokens = countTextTokens(piece, encoding);
    if (tokens > limit) {
      flush();
      for (const part of splitLongPiece(piece.trim(), limit, encoding)) chunks.push(part);
      continue;
    }
    if (used + tokens > limit) flush();
    current += used === 0 ? piece.trimStart() : piece;
    used += tokens;
  }
  flush();
  return chunks;
}

/** A word longer than a chunk, cut into parts of `limit` tokens. */
function splitLongPiece(word: string, limit: number, encoding: TiktokenEncoding): string[] {
  const tokens = splitTokens(word, encoding);
  const parts: string[] = [];
  for (let i = 0; i < tokens.length; i += limit) parts.push(tokens.slice(i, i + limit).join(''));
  return parts;
}
