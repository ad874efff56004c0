/** The tool registry, the calculator's parser and the document chunker (pure, no stack). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { legacyToolWorkflowId, toolMessageContent, toolWorkflowId } from '../../contracts/tool';
import { taskRequestId } from '../../store/tool-tasks';
import { countTextTokens } from '../../prompt/tokens';
import { parseDuration } from '../../scripts/ops/tools';
import { CalculatorError, evaluate } from '../../tools/calculator';
import { chunkText } from '../../tools/chunking';
import { toolDefinitions, validateToolCall } from '../../tools/registry';

describe('calculator', () => {
  it('evaluates with precedence, associativity, unary minus, decimals and parentheses', () => {
    const cases: Array<[string, number]> = [
      ['1 + 2 * 3', 7],
      ['(1 + 2) * 3', 9],
      ['10 - 4 - 3', 3],
      ['2 ^ 3 ^ 2', 512],
      ['-2 ^ 2', -4],
      ['(-2) ^ 2', 4],
      ['2 ^ -1', 0.5],
      ['3 - -2', 5],
      ['+4', 4],
      ['7 % 3', 1],
      ['-7 % 3', -1],
      ['.5 * 4', 2],
      ['1.25 / 0.5', 2.5],
      ['0.1 + 0.2', 0.3],
      ['  ( ( 42 ) )  ', 42],
      ['100 / 8 / 5', 2.5],
    ];
    for (const [expr, want] of cases) assert.equal(evaluate(expr), want, expr);
  });

  it('rejects division by zero, garbage and overflow with a clear message', () => {
    const cases: Array<[string, RegExp]> = [
      ['1/0', /division by zero/],
      ['5 % (3-3)', /modulo by zero/],
      ['', /empty/],
      ['2 +', /ends too early/],
      ['2 + abc', /unexpected 'a' at position 5/],
      ['(1 + 2', /missing '\)'/],
      ['1 + 2)', /unexpected '\)'/],
      ['process.exit(1)', /unexpected 'p'/],
      ['1e3', /unexpected 'e'/],
      ['10 ^ 400', /not a finite number/],
      ['('.repeat(200) + '1' + ')'.repeat(200), /nested too deeply/],
      ['1+'.repeat(600) + '1', /longer than 1000/],
    ];
    for (const [expr, msg] of cases) {
      assert.throws(
        () => evaluate(expr),
        (err: unknown) => err instanceof CalculatorError && msg.test(err.message),
        expr,
      );
    }
  });
});

describe('tool registry', () => {
  it('describes tools to the LLM as OpenAI function tools with JSON Schema parameters', () => {
    const defs = toolDefinitions(['calculator', 'summarize_document', 'nope']);
    assert.deepEqual(
      defs.map((d) => d.function.name),
      ['calculator', 'summarize_document'],
    );
    const calc = defs[0]!.function.parameters as {
      type: string;
      required: string[];
      properties: object;
    };
    assert.equal(calc.type, 'object');
    assert.deepEqual(calc.required, ['expression']);
    assert.equal('$schema' in calc, false);
    const sum = defs[1]!.function.parameters as {
      required: string[];
      properties: Record<string, unknown>;
    };
    assert.deepEqual(sum.required, ['text']);
    assert.ok('chunkTokens' in sum.properties);
  });

  it('validates calls: known tool, JSON arguments, schema', () => {
    assert.deepEqual(validateToolCall('calculator', '{"expression":"1+1"}'), {
      ok: true,
      tool: 'calculator',
      args: { expression: '1+1' },
      longRunning: false,
    });
    const long = validateToolCall('summarize_document', '{"text":"abc"}');
    assert.ok(long.ok && long.longRunning);
    const bad = [
      ['calculator', '{"expression": 12}', /expression/],
      ['calculator', '{nope', /not valid JSON/],
      ['calculator', '{}', /expression/],
      [
        'summarize_document',
        '{"text":"", "chunkTokens": 10}',
        /text.*chunkTokens|chunkTokens.*text/,
      ],
      ['rm_rf', '{}', /unknown tool "rm_rf"; available tools: calculator, summarize_document/],
    ] as const;
    for (const [name, args, msg] of bad) {
      const v = validateToolCall(name, args);
      assert.equal(v.ok, false, `${name} ${args}`);
      assert.match(!v.ok ? v.error : '', msg);
    }
  });

  it('a tool message carries the result, or the error', () => {
    assert.equal(toolMessageContent({ ok: true, result: 18 }), '18');
    assert.equal(
      toolMessageContent({ ok: false, error: 'division by zero' }),
      '{"error":"division by zero"}',
    );
  });

  it('task ids come from the user, the request and the call, made safe for workflow ids', () => {
    const requestId = '0f8a3d2e-1b2c-4d5e-8f90-123456789abc';
    const userId = '11111111-2222-4333-8444-555555555555';
    const other = '66666666-2222-4333-8444-555555555555';
    assert.equal(
      toolWorkflowId(userId, requestId, 'call_abc'),
      `tool-${userId}-${requestId}-call_abc`,
    );
    assert.equal(toolWorkflowId(userId, requestId, 'a b/c'), `tool-${userId}-${requestId}-a_b_c`);
    assert.notEqual(toolWorkflowId(userId, requestId, 'c'), toolWorkflowId(other, requestId, 'c'));
    // Both shapes are task ids; the requestId is read from either.
    assert.equal(taskRequestId(toolWorkflowId(userId, requestId, 'c')), requestId);
    assert.equal(taskRequestId(legacyToolWorkflowId(requestId, 'c')), requestId);
    assert.equal(taskRequestId(`tool-${requestId}`), undefined);
    assert.equal(taskRequestId('not-a-task'), undefined);
  });
});

describe('chunking', () => {
  it('splits into chunks of at most N tokens between words, losing no word', () => {
    const words = Array.from({ length: 500 }, (_, i) => `word${i}`);
    const text = words.join(' ');
    const chunks = chunkText(text, 50, 'o200k_base');
    assert.ok(chunks.length > 5);
    for (const c of chunks) assert.ok(countTextTokens(c, 'o200k_base') <= 51, c);
    assert.deepEqual(chunks.join(' ').split(' '), words);
  });

  it('never cuts a directive; a word longer than a chunk is split by tokens', () => {
    const text = `alpha beta [[delay_ms:500]] gamma ${'x'.repeat(400)} omega`;
    const chunks = chunkText(text, 20, 'o200k_base');
    assert.ok(chunks.some((c) => c.includes('[[delay_ms:500]]')));
    assert.equal(chunks.join('').replace(/\s/g, ''), text.replace(/\s/g, ''));
    assert.deepEqual(chunkText('   ', 20, 'o200k_base'), []);
  });
});

describe('ops durations', () => {
  it('parses 60s, 5m, 500ms, 1h and bare seconds', () => {
    assert.equal(parseDuration('60s'), 60_000);
    assert.equal(parseDuration('5m'), 300_000);
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('1h'), 3_600_000);
    assert.equal(parseDuration('90'), 90_000);
    assert.throws(() => parseDuration('soon'));
  });
});
