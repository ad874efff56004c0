/**
 * The `calculator` tool's arithmetic: a recursive-descent parser and evaluator for
 * `+ - * / % ^`, parentheses, unary minus and decimals. Never `eval`: the expression
 * comes from an LLM (and through it, from a user).
 *
 * Grammar (`^` is right-associative and binds tighter than unary minus, so `-2^2` is -4):
 *   expr    := term (('+' | '-') term)*
 *   term    := unary (('*' | '/' | '%') unary)*
 *   unary   := ('-' | '+') unary | power
 *   power   := primary ('^' unary)?
 *   primary := number | '(' expr ')'
 */

/** A bad expression (syntax, division by zero, overflow); the message says what and where. */
export class CalculatorError extends Error {
  override name = 'CalculatorError';
}

/** Longest expression accepted, and deepest nesting (bounds the recursion). */
export const MAX_EXPRESSION_CHARS = 1000;
const MAX_DEPTH = 100;

class Parser {
  private pos = 0;
  private depth = 0;

  constructor(private readonly src: string) {}

  parse(): number {
    this.skipSpace();
    if (this.pos >= this.src.length) throw new CalculatorError('the expression is empty');
    const value = this.expr();
    this.skipSpace();
    if (this.pos < this.src.length) throw this.unexpected();
    return value;
  }

  private expr(): number {
    let value = this.term();
    for (;;) {
      const op = this.peekOp('+-');
      if (!op) return value;
      const rhs = this.term();
      value = op === '+' ? value + rhs : value - rhs;
    }
  }

  private term(): number {
    let value = this.unary();
    for (;;) {
      const op = this.peekOp('*/%');
      if (!op) return value;
      const at = this.pos;
      const rhs = this.unary();
      if ((op === '/' || op === '%') && rhs === 0) {
        throw new CalculatorError(
          `${op === '/' ? 'division' : 'modulo'} by zero (at position ${at + 1})`,
        );
      }
      value = op === '*' ? value * rhs : op === '/' ? value / rhs : value % rhs;
    }
  }

  private unary(): number {
    const op = this.peekOp('+-');
    if (op) return this.nested(() => (op === '-' ? -this.unary() : this.unary()));
    return this.power();
  }

  private power(): number {
    const base = this.primary();
    if (!this.peekOp('^')) return base;
    const exponent = this.nested(() => this.unary());
    return base ** exponent;
  }

  private primary(): number {
    this.skipSpace();
    const c = this.src[this.pos];
    if (c === '(') {
      this.pos++;
      const value = this.nested(() => this.expr());
      this.skipSpace();
      if (this.src[this.pos] !== ')') {
        throw new CalculatorError(`missing ')' at position ${this.pos + 1}`);
      }
      this.pos++;
      return value;
    }
    return this.number();
  }

  private number(): number {
    const m = /^(\d+(\.\d*)?|\.\d+)/.exec(this.src.slice(this.pos));
    if (!m) throw this.unexpected();
    this.pos += m[0].length;
    return Number(m[0]);
  }

  /** Consumes the next operator if it is one of `ops`. */
  private peekOp(ops: string): string | undefined {
    this.skipSpace();
    const c = this.src[this.pos];
    if (c !== undefined && ops.includes(c)) {
      this.pos++;
      return c;
    }
    return undefined;
  }

  private nested<T>(fn: () => T): T {
    if (++this.depth > MAX_DEPTH) throw new CalculatorError('the expression is nested too deeply');
    try {
      return fn();
    } finally {
      this.depth--;
    }
  }

  private skipSpace(): void {
    while (this.pos < this.src.length && /\s/.test(this.src[this.pos] ?? '')) this.pos++;
  }

  private unexpected(): CalculatorError {
    if (this.pos >= this.src.length) return new CalculatorError('the expression ends too early');
    const c = this.src[this.pos] ?? '';
    return new CalculatorError(`unexpected '${c}' at position ${this.pos + 1}`);
  }
}

/**
 * Evaluates an arithmetic expression; throws {@link CalculatorError} on anything that
 * is not one, on division or modulo by zero and on non-finite results.
 */
export function evaluate(expression: string): number {
  if (expression.length > MAX_EXPRESSION_CHARS) {
    throw new CalculatorError(`the expression is longer than ${MAX_EXPRESSION_CHARS} characters`);
  }
  const value = new Parser(expression).parse();
  if (!Number.isFinite(value)) throw new CalculatorError('the result is not a finite number');
  // Hide binary floating-point noise (0.1 + 0.2 = 0.3, not 0.30000000000000004).
  const rounded = Number(value.toPrecision(15));
  return Object.is(rounded, -0) ? 0 : rounded;
}
