/**
 * Text the system can store faithfully. Postgres `text` cannot hold U+0000 (it refuses
 * the row), and a lone UTF-16 surrogate has no UTF-8 form (it would be stored as U+FFFD,
 * not as sent). Client text holding either is refused at the door with `bad_request`
 * (docs/API.md), so a request never starts with content that no retry could store.
 * Pure: importable anywhere.
 */

/** Lone surrogates: a high one not followed by a low one, or a low one not after a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why `text` cannot be stored as sent, or undefined when it can. */
export function unstorableTextProblem(text: string): string | undefined {
  const nul = text.indexOf('\u0000');
  if (nul >= 0) return `holds a NUL character (U+0000) at index ${nul}, which cannot be stored`;
  const lone = LONE_SURROGATE.exec(text);
  if (lone) {
    return `holds a lone UTF-16 surrogate at index ${lone.index}, which is not valid Unicode`;
  }
  return undefined;
}
