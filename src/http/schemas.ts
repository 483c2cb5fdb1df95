// Schemas shared by every route file.
import { Type } from '@sinclair/typebox';
import { ERROR_CATALOGUE } from '../errors.ts';
import { SLUG_REGEX } from '../registry/registry.ts';

export const ErrorResponseSchema = Type.Object(
  {
    error: Type.Object({
      code: Type.Union(Object.keys(ERROR_CATALOGUE).map((code) => Type.Literal(code))),
      message: Type.String(),
      request_id: Type.String(),
      details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    }),
  },
  { $id: 'ErrorResponse', description: 'Every error: a stable code, a message without secrets, the request id' },
);

export const ProjectIdParamsSchema = Type.Object({ project_id: Type.String({ pattern: '^proj_[A-Za-z0-9]{1,64}$' }) });

export const EnvironmentSchema = Type.Union([Type.Literal('development'), Type.Literal('production')]);

/** Pipedream's contract: every /v1/connect call names its environment here (production when absent). */
/**
 * Pipedream's contract: every /v1/connect call names its project environment in this header.
 * Declared for the documentation; the value is checked by requestEnvironment after the caller is
 * authenticated (a schema check would answer a stranger 400 before it answers 401).
 */
export const EnvironmentHeaderSchema = Type.Object({
  'x-pd-environment': Type.Optional(
    Type.String({
      maxLength: 20,
      examples: ['production', 'development'],
      description: 'development | production; production when absent. The two environments share no data.',
    }),
  ),
});

/** A registry app's slug: the registry's own pattern, the one definition. */
export const AppSlugSchema = Type.String({ pattern: SLUG_REGEX.source });

/** An account id as latchkey mints it (apn_ + base62); anything else names no account. */
export const ACCOUNT_ID_REGEX = /^apn_[A-Za-z0-9]{1,64}$/;

export const AccountIdSchema = Type.String({ pattern: ACCOUNT_ID_REGEX.source });

/** An end user's id in the customer's system: 1–250 characters (users.service MAX_EXTERNAL_USER_ID_LENGTH), no control characters (NUL included) or lone surrogates. */
export const ExternalUserIdSchema = Type.String({
  minLength: 1,
  maxLength: 250,
  pattern: '^[^\\p{Cc}\\p{Cs}]+$',
  description: "the end user's id in your system",
});
