/**
 * Nesting depth of raw JSON, measured before it is parsed. `JSON.parse` itself copes
 * with any depth, but what comes after (validation, `JSON.stringify`, Temporal's payload
 * converter) recurses and fails on deep values, after work was done and a rate-limit
 * slot spent. Every JSON input of the API (HTTP bodies, WebSocket frames) is measured
 * here first and refused past {@link MAX_JSON_DEPTH}. Pure: importable anywhere.
 */

/** Deepest nesting of arrays and objects accepted in client JSON (docs/API.md). */
export const MAX_JSON_DEPTH = 64;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACKET = 0x5d;
const CLOSE_BRACE = 0x7d;

/**
 * True when the JSON text (a string, or its UTF-8 bytes) nests arrays and objects deeper
 * than `max`. One pass, no allocation; brackets inside strings do not count. Invalid
 * JSON is measured the same way (the parser refuses it afterwards).
 */
export function jsonTooDeep(json: string | Uint8Array, max = MAX_JSON_DEPTH): boolean {
  const at = typeof json === 'string' ? (i: number) => json.charCodeAt(i) : (i: number) => json[i] as number;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const c = at(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_BRACKET || c === OPEN_BRACE) {
      if (++depth > max) return true;
    } else if (c === CLOSE_BRACKET || c === CLOSE_BRACE) {
      depth--;
    }
  }
  return false;
}

/** The message a refusal carries. */
export const TOO_DEEP_MESSAGE = `JSON nests deeper than ${MAX_JSON_DEPTH} levels`;
