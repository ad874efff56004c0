/**
 * Directives that script the embedded local LLM from the last user message
 * (docs/API.md "The embedded local LLM"), e.g. `[[tokens:50]]`, `[[tool:calculator {"expression":"1+1"}]]`
 * or `[[reply:"# A heading"]]`.
 *
 * Pure functions: a directive with bad syntax or an out-of-range value is not a
 * directive at all and stays in the text as typed.
 */

/** A scripted tool call: `[[tool:NAME {json}]]` (arguments `{}` when omitted). */
export interface ToolDirective {
  name: string;
  /** The JSON arguments exactly as written (trimmed). */
  arguments: string;
}

/** Everything the directives of one message ask for. The first of each kind wins. */
export interface Directives {
  /** The message with every recognised directive removed (what the model echoes). */
  text: string;
  tools: ToolDirective[];
  /** `[[reply:"text"]]` (a JSON string): the reply is this text, as given. */
  reply?: string;
  tokens?: number;
  delayMs?: number;
  fail?: number;
  failOnce?: number;
  cutAfter?: number;
  /** `[[no_usage]]`: report no usage (as some providers do), so clients must count. */
  noUsage?: boolean;
}

type NumericKind = 'tokens' | 'delay_ms' | 'fail' | 'fail_once' | 'cut_after';

/** Accepted range of each numeric directive; values outside it leave the text alone. */
const NUMERIC_RANGES: Readonly<Record<NumericKind, readonly [number, number]>> = {
  tokens: [0, 100_000],
  delay_ms: [0, 60_000],
  fail: [400, 599],
  fail_once: [400, 599],
  cut_after: [0, 1_000_000],
};

const NUMERIC_RE = /^\[\[\s*(tokens|delay_ms|fail_once|fail|cut_after)\s*:\s*(\d{1,9})\s*\]\]/;
const NO_USAGE_RE = /^\[\[\s*no_usage\s*\]\]/;
const TOOL_HEAD_RE = /^\[\[\s*tool\s*:\s*([A-Za-z0-9_-]{1,64})/;
const REPLY_HEAD_RE = /^\[\[\s*reply\s*:/;
/** Longest directive read (tool arguments included); keeps parsing linear in big texts. */
const MAX_DIRECTIVE_CHARS = 64 * 1024;

type Match =
  | { end: number; kind: NumericKind; value: number }
  | { end: number; kind: 'tool'; tool: ToolDirective }
  | { end: number; kind: 'reply'; text: string }
  | { end: number; kind: 'no_usage' };

/** Tries to read one directive starting at `start` (which holds `[[`). */
function matchAt(text: string, start: number): Match | undefined {
  const rest = text.slice(start, start + MAX_DIRECTIVE_CHARS);
  const num = NUMERIC_RE.exec(rest);
  if (num) {
    const kind = num[1] as NumericKind;
    const value = Number(num[2]);
    const [min, max] = NUMERIC_RANGES[kind];
    if (value < min || value > max) return undefined;
    return { end: start + num[0].length, kind, value };
  }
  const flag = NO_USAGE_RE.exec(rest);
  if (flag) return { end: start + flag[0].length, kind: 'no_usage' };
  const reply = REPLY_HEAD_RE.exec(rest);
  if (reply) {
    const value = jsonThenClose(rest, reply[0].length);
    if (typeof value?.parsed !== 'string') return undefined;
    return { end: start + value.end, kind: 'reply', text: value.parsed };
  }
  const head = TOOL_HEAD_RE.exec(rest);
  if (!head) return undefined;
  const name = head[1] ?? '';
  const argsStart = head[0].length;
  const noArgs = /^\s*\]\]/.exec(rest.slice(argsStart));
  if (noArgs) {
    return {
      end: start + argsStart + noArgs[0].length,
      kind: 'tool',
      tool: { name, arguments: '{}' },
    };
  }
  if (!/^\s/.test(rest.slice(argsStart))) return undefined;
  const value = jsonThenClose(rest, argsStart);
  if (!value) return undefined;
  return { end: start + value.end, kind: 'tool', tool: { name, arguments: value.text } };
}

/**
 * One JSON value after optional whitespace at `from`, then `]]`: the value's text, its
 * parsed form and where the `]]` ends. The JSON may itself contain "]]" (nested arrays,
 * strings): where its one value ends is found by scanning it once.
 */
function jsonThenClose(
  rest: string,
  from: number,
): { text: string; parsed: unknown; end: number } | undefined {
  const tail = rest.slice(from);
  const valueStart = tail.length - tail.trimStart().length;
  const valueEnd = endOfJsonValue(tail, valueStart);
  if (valueEnd === undefined) return undefined;
  const close = /^\s*\]\]/.exec(tail.slice(valueEnd));
  if (!close) return undefined;
  const text = tail.slice(valueStart, valueEnd);
  try {
    return { text, parsed: JSON.parse(text) as unknown, end: from + valueEnd + close[0].length };
  } catch {
    return undefined;
  }
}

/**
 * Where the JSON value starting at `from` ends (exclusive), found in one linear pass:
 * brackets are counted outside strings, escapes inside strings are skipped. A scalar
 * ends at whitespace or `]`. Undefined when the text ends first. The value is not
 * validated here (JSON.parse does that, once).
 */
export function endOfJsonValue(text: string, from: number): number | undefined {
  const first = text[from];
  if (first === undefined) return undefined;
  if (first !== '{' && first !== '[' && first !== '"') {
    const m = /[\s\]]/.exec(text.slice(from));
    return m ? from + m.index : text.length;
  }
  let depth = 0;
  let inString = false;
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') {
        inString = false;
        if (depth === 0) return i + 1;
      }
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) return i + 1;
      if (depth < 0) return undefined;
    }
  }
  return undefined;
}

/** Tidies the text around removed directives: no doubled spaces, no edge whitespace. */
function tidy(text: string): string {
  return text
    .replace(/[ \t]{2,}/g, ' ')
    .replace(/[ \t]+\n/g, '\n')
    .replace(/\n[ \t]+/g, '\n')
    .trim();
}

/**
 * Parses the directives of a message and returns them with the cleaned text.
 * Unrecognised or malformed `[[...]]` sequences are kept as ordinary text.
 */
export function parseDirectives(text: string): Directives {
  const out: Directives = { text: '', tools: [] };
  let kept = '';
  let pos = 0;
  let removed = false;
  while (pos < text.length) {
    const open = text.indexOf('[[', pos);
    if (open < 0) break;
    const m = matchAt(text, open);
    if (!m) {
      kept += text.slice(pos, open + 1);
      pos = open + 1;
      continue;
    }
    kept += text.slice(pos, open) + ' ';
    pos = m.end;
    removed = true;
    switch (m.kind) {
      case 'tool':
        out.tools.push(m.tool);
        break;
      case 'reply':
        out.reply ??= m.text;
        break;
      case 'tokens':
        out.tokens ??= m.value;
        break;
      case 'delay_ms':
        out.delayMs ??= m.value;
        break;
      case 'fail':
        out.fail ??= m.value;
        break;
      case 'fail_once':
        out.failOnce ??= m.value;
        break;
      case 'cut_after':
        out.cutAfter ??= m.value;
        break;
      case 'no_usage':
        out.noUsage = true;
        break;
    }
  }
  kept += text.slice(pos);
  out.text = removed ? tidy(kept) : text.trim();
  return out;
}

/** True when the message holds at least one recognised directive. */
export function hasDirectives(d: Directives): boolean {
  return (
    d.tools.length > 0 ||
    d.reply !== undefined ||
    d.tokens !== undefined ||
    d.delayMs !== undefined ||
    d.fail !== undefined ||
    d.failOnce !== undefined ||
    d.cutAfter !== undefined ||
    d.noUsage === true
  );
}
