/**
 * fast-check arbitraries of hostile input (test/stack/fuzz.test.ts): strings with NUL and
 * lone surrogates, huge numbers, deep nesting, wrong types, and raw text that is not
 * JSON at all. Bodies and frames are raw text, so they can hold what `JSON.stringify`
 * never writes (number literals past a double, 100-level nesting, garbage).
 */
import fc from 'fast-check';

const SPECIALS = [
  '\u0000',
  '\ud800',
  '\udfff',
  '\ud83d',
  '\u202e',
  '\u2028',
  '\uffff',
  '\r\n',
  '"',
  '\\',
  '%',
  '../',
  '[[tokens:5]]',
];

/** Any string, often with NUL, lone surrogates and other awkward characters inside. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.tuple(fc.string(), fc.constantFrom(...SPECIALS), fc.string()).map((parts) => parts.join('')),
  fc.constantFrom('', ' ', 'x'.repeat(70_000)),
);

/** Numbers a double cannot hold exactly, or at all, as JSON literals. */
const hugeNumberLiteral = fc.constantFrom(
  '1e999999',
  '-1e999999',
  '123456789012345678901234567890',
  '9007199254740993',
  '-0',
  '0.0000000000000000000000000000001',
  '1e-400',
);

/** A JSON value as raw text: any value, often of the wrong type for the field it lands in. */
export const hostileValue: fc.Arbitrary<string> = fc.oneof(
  hostileString.map((s) => JSON.stringify(s)),
  hugeNumberLiteral,
  fc.double().map((d) => JSON.stringify(d)),
  fc.constantFrom('null', 'true', 'false', '[]', '{}', '0', '-1', '20', '101'),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc.integer({ min: 1, max: 200 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
);

/** A JSON object (raw text) with some of `fields` (each a hostile value or one of its good values). */
export function hostileObject(fields: Record<string, fc.Arbitrary<string>>): fc.Arbitrary<string> {
  const entries = Object.entries(fields).map(([key, good]) =>
    fc.option(
      fc.oneof(good, hostileValue).map((v) => `${JSON.stringify(key)}:${v}`),
      { nil: undefined },
    ),
  );
  return fc.tuple(...entries).map((parts) => `{${parts.filter((p) => p !== undefined).join(',')}}`);
}

/** A body or frame: mostly shaped like the real one, sometimes anything at all. */
export function hostileJson(fields: Record<string, fc.Arbitrary<string>>): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: hostileObject(fields) },
    { weight: 1, arbitrary: hostileValue },
    { weight: 1, arbitrary: fc.string() },
  );
}

/** A good value of a field, as JSON text. */
export const json = (...values: unknown[]) =>
  fc.constantFrom(...values.map((v) => JSON.stringify(v)));

/** Percent-encodes any string as UTF-8 (lone surrogates become U+FFFD), for paths and queries. */
export const encodeAny = (s: string) =>
  [...Buffer.from(s, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');

/** A path segment or query value: any string encoded, or raw text with broken escapes. */
export const hostileSegment: fc.Arbitrary<string> = fc.oneof(
  hostileString.map(encodeAny),
  fc.constantFrom('%', '%zz', '%E0%A4%A', '%00', '%ud800', '..', '%2e%2e%2f', 'a'.repeat(5000)),
);

/** A header value fetch can send (Latin-1, no CR/LF), often awkward. */
export const hostileHeader: fc.Arbitrary<string> = fc.oneof(
  fc.string({
    unit: fc.integer({ min: 0x20, max: 0xff }).map((c) => String.fromCharCode(c)),
    maxLength: 300,
  }),
  fc.constantFrom('', '0000000042', '0000000042.1', 'f.3', '-1', 'x'.repeat(256)),
);
