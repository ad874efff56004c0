/**
 * The model a request runs on, as each door answers it (docs/API.md "Models and
 * providers"): the rule is models/catalog.ts `resolveModel` (the named model, or the
 * default; any name without `LLM_CONFIG`); a model the configuration does not offer is
 * 404 `model_not_found` on the OpenAI doors (Chat Completions, Responses), as OpenAI
 * answers it, and `bad_request` on the WebSocket, whose codes the v1 contract fixed.
 */
import { ERRORS, type ErrorSpec } from '../contracts/errors';
import type { Config } from '../lib/config';
import { resolveModel } from '../models/catalog';
import { AppError } from './errors';

function modelOr(spec: ErrorSpec, config: Readonly<Config>, requested: string | undefined): string {
  const model = resolveModel(config.models, requested);
  if (model !== undefined) return model;
  throw new AppError(spec, `The model ${JSON.stringify(requested)} does not exist; GET /v1/models lists the models`, undefined, 'model');
}

/** The model of a Chat Completions or Responses request; 404 `model_not_found` when not offered. */
export function openAiModel(config: Readonly<Config>, requested: string | undefined): string {
  return modelOr(ERRORS.ModelNotFound, config, requested);
}

/** The model of a WebSocket `chat`; `bad_request` when not offered. */
export function chatModel(config: Readonly<Config>, requested: string | undefined): string {
  return modelOr(ERRORS.BadRequest, config, requested);
}
