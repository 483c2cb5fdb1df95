// The parts of Pipedream Connect's API that latchkey does not serve: the component catalogue
// and its runs (actions, components, triggers, deployed triggers), workflows, usage, the file
// stash and app overrides. @pipedream/sdk has a resource for each; a call to one gets 501
// not_supported naming the resource, so the caller learns it is a gap by design, not a typo (404).
// The caller is authenticated first, like every other /v1/connect route: a stranger gets 401.
import type { FastifyPluginAsync } from 'fastify';
import type { Authenticator } from '../auth/authenticate.ts';
import { ApiError } from '../errors.ts';

/** The SDK's resource name → the paths it calls (each also with every sub-path). */
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

export function notSupported(resource: string): ApiError {
  return new ApiError('not_supported', `latchkey does not serve the ${resource} resource of Pipedream Connect (it is a credential broker only)`, {
    details: { resource },
  });
}

export function unsupportedRoutes(deps: { auth: Authenticator }): FastifyPluginAsync {
  return async (app) => {
    for (const [resource, paths] of Object.entries(UNSUPPORTED_RESOURCES)) {
      const handler = async (): Promise<never> => {
        throw notSupported(resource);
      };
      for (const path of paths) {
        // Not in openapi.yaml: there is nothing to document but the 501 (README lists them).
        const options = { preHandler: deps.auth.requireClient(), schema: { hide: true } };
        app.all(path, options, handler);
        app.all(`${path}/*`, options, handler);
      }
    }
  };
}
