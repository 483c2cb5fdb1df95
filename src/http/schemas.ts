// Schemas shared by every route file.
import { Type } from '@sinclair/typebox';
import { ERROR_CATALOGUE } from '../errors.ts';

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

export const EnvironmentHeaderSchema = Type.Object({
  'x-pd-environment': Type.Optional(Type.Union([Type.Literal('development'), Type.Literal('production')])),
});

/** An end user's id in the customer's system: 1–250 characters, no control characters (NUL included) or lone surrogates. */
export const ExternalUserIdSchema = Type.String({
  minLength: 1,
  maxLength: 250,
  pattern: '^[^\\p{Cc}\\p{Cs}]+$',
  description: "the end user's id in your system",
});
