// The parts of Pipedream Connect's API that latchkey does not serve: the component catalogue
// and its runs (actions, components, triggers, deployed triggers), workflows, usage, the file
// stash and app overrides. @pipedream/sdk has a resource for each; a call to one gets 501
// not_supported naming the resource, so the caller learns it is a gap by design, not a typo (404).
// They are no routes (nothing to document but the 501, and the OpenAPI document stays the
// contract of what latchkey serves): the not-found handler asks here before it answers 404.
// The caller is authenticated first, like on every /v1/connect route: a stranger gets 401.
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { ApiError } from '../errors.ts';

/** The SDK's resource name → the path prefixes it calls (each with every sub-path). */
export const UNSUPPORTED_RESOURCES: Readonly<Record<string, readonly string[]>> = {
  actions: ['/v1/connect/:project_id/actions'],
  components: ['/v1/connect/:project_id/components'],
  triggers: ['/v1/connect/:project_id/triggers'],
  deployedTriggers: ['/v1/connect/:project_id/deployed-triggers'],
  workflows: ['/v1/connect/:project_id/workflows', '/v1/workflows'],
  usage: ['/v1/connect/usage'],
  fileStash: ['/v1/connect/:project_id/file_stash'],
  appOverrides: ['/v1/connect/:project_id/app_overrides'],
};

const MATCHERS = Object.entries(UNSUPPORTED_RESOURCES).flatMap(([resource, prefixes]) =>
  prefixes.map((prefix) => ({ resource, regex: new RegExp(`^${prefix.replace(':project_id', '[^/?#]+')}(?:[/?#]|$)`) })),
);

/** The unsupported resource a request path names, if it names one. */
export function unsupportedResourceOf(url: string): string | undefined {
  return MATCHERS.find((matcher) => matcher.regex.test(url))?.resource;
}

export function notSupported(resource: string): ApiError {
  return new ApiError('not_supported', `latchkey does not serve the ${resource} resource of Pipedream Connect (it is a credential broker only)`, {
    details: { resource },
  });
}

/**
 * For the not-found handler: the error to answer instead of 404 — 501 for an unsupported
 * resource once the caller is a client, the authentication error before that — or undefined.
 */
export function unsupportedResourceAnswer(
  requireClient: preHandlerAsyncHookHandler,
): (request: FastifyRequest, reply: FastifyReply) => Promise<ApiError | undefined> {
  return async (request, reply) => {
    const resource = unsupportedResourceOf(request.url);
    if (resource === undefined) return undefined;
    try {
      await requireClient.call(request.server, request, reply);
    } catch (err) {
      if (err instanceof ApiError) return err;
      throw err;
    }
    return notSupported(resource);
  };
}
