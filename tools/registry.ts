/**
 * The tool registry: every tool the LLM is offered, with its description, its
 * argument schema (zod, validated here; sent to the LLM as JSON Schema) and whether it
 * is long-running (its own workflow) or fast (runs inside the chat request).
 *
 * Adding a tool: add its name to `TOOL_NAMES` (contracts/tool.ts), its entry
 * below, and for a long-running tool its activity and a case in `workflows/tool.ts`.
 */
import { z } from 'zod';
import { TOOL_NAMES, type ToolName, type ToolOutcome } from '../contracts/tool';
import { CalculatorError, evaluate, MAX_EXPRESSION_CHARS } from './calculator';

export type { ToolOutcome } from '../contracts/tool';

interface ToolSpec {
  description: string;
  schema: z.ZodType<Record<string, unknown>>;
  longRunning: boolean;
  /** Runs a fast tool on validated arguments. */
  run?: (args: Record<string, unknown>) => ToolOutcome;
}

/** Default chunk size of `summarize_document`, in tokens. */
export const DEFAULT_CHUNK_TOKENS = 200;
/** Longest document `summarize_document` accepts (characters). */
export const MAX_DOCUMENT_CHARS = 200_000;

export const calculatorArgs = z.object({
  expression: z
    .string()
    .min(1)
    .max(MAX_EXPRESSION_CHARS)
    .describe('An arithmetic expression: numbers, + - * / % ^ and parentheses, e.g. "(2+3)*4"'),
});

export const summarizeDocumentArgs = z.object({
  text: z.string().min(1).max(MAX_DOCUMENT_CHARS).describe('The document to summarise'),
  chunkTokens: z
    .number()
    .int()
    .min(20)
    .max(8000)
    .optional()
    .describe(`Tokens per chunk (default ${DEFAULT_CHUNK_TOKENS})`),
});

const TOOLS: Readonly<Record<ToolName, ToolSpec>> = {
  calculator: {
    description: 'Evaluates an arithmetic expression exactly. Use it for any arithmetic.',
    schema: calculatorArgs,
    longRunning: false,
    run: (args) => {
      try {
        return { ok: true, result: evaluate(String(args.expression)) };
      } catch (err) {
        if (err instanceof CalculatorError) return { ok: false, error: err.message };
        throw err;
      }
    },
  },
  summarize_document: {
    description:
      'Summarises a long document (map-reduce over chunks). Long-running: the user sees progress.',
    schema: summarizeDocumentArgs,
    longRunning: true,
  },
};

/** True when `name` is a registered tool. */
export function isToolName(name: string): name is ToolName {
  return (TOOL_NAMES as readonly string[]).includes(name);
}

/** Every built-in tool with its description and JSON Schema (`GET /v1/tools`). */
export function builtinTools(): Array<{ name: string; description: string; inputSchema: Record<string, unknown> }> {
  return toolDefinitions(TOOL_NAMES).map((d) => ({
    name: d.function.name,
    description: d.function.description,
    inputSchema: d.function.parameters,
  }));
}

/** A tool as the OpenAI `tools` parameter describes it. */
export interface ToolDefinition {
  type: 'function';
  function: { name: string; description: string; parameters: Record<string, unknown> };
}

const definitions = new Map<ToolName, ToolDefinition>();

/** The OpenAI `tools` parameter for the named tools (unknown names are skipped). */
export function toolDefinitions(names: readonly string[]): ToolDefinition[] {
  return names.filter(isToolName).map((name) => {
    let def = definitions.get(name);
    if (!def) {
      const parameters = { ...z.toJSONSchema(TOOLS[name].schema) } as Record<string, unknown>;
      delete parameters.$schema;
      def = {
        type: 'function',
        function: { name, description: TOOLS[name].description, parameters },
      };
      definitions.set(name, def);
    }
    return def;
  });
}

export type ValidatedCall =
  | { ok: true; tool: ToolName; args: Record<string, unknown>; longRunning: boolean }
  | { ok: false; error: string };

/** Checks a tool call from the LLM: a known tool, JSON arguments that fit its schema. */
export function validateToolCall(name: string, rawArguments: string): ValidatedCall {
  if (!isToolName(name)) {
    return {
      ok: false,
      error: `unknown tool "${name}"; available tools: ${TOOL_NAMES.join(', ')}`,
    };
  }
  let raw: unknown;
  try {
    raw = rawArguments.trim() === '' ? {} : JSON.parse(rawArguments);
  } catch {
    return { ok: false, error: `invalid arguments for ${name}: not valid JSON` };
  }
  const parsed = TOOLS[name].schema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`);
    return { ok: false, error: `invalid arguments for ${name}: ${issues.join('; ')}` };
  }
  return { ok: true, tool: name, args: parsed.data, longRunning: TOOLS[name].longRunning };
}

/** Runs a fast tool on validated arguments; never throws for a bad input. */
export function runFastTool(tool: ToolName, args: Record<string, unknown>): ToolOutcome {
  const run = TOOLS[tool].run;
  if (!run) return { ok: false, error: `${tool} is long-running and runs as a task` };
  return run(args);
}
