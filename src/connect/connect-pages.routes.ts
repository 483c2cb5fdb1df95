// The hosted Connect Link: GET /connect (and /_static/connect.html, Pipedream's path), the form
// posts, the OAuth callback and the result page. HTML only — every failure is a page, never
// the JSON error body — and every response carries the no-leak headers (the URLs hold tokens,
// codes and states).
import cookie from '@fastify/cookie';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { toApiError } from '../http/error-handler.ts';
import { CONNECT_FLOW_ERRORS, ConnectFlowError, flowError, flowErrorAllowsRetry, isConnectFlowErrorKind } from '../errors.ts';
import { formActionSourceFor } from '../oauth/form-action.ts';
import { findProjectBranding } from '../branding/branding.repository.ts';
import { projectLogoPath } from '../branding/branding.service.ts';
import { mintFormToken } from '../oauth/form-token.ts';
import { browserBinding, cookieNonceFor, isCookieNonceShaped, serializeBindingCookie } from '../oauth/state.ts';
import { errorPage, keysFormPage, oauthStartPage, successPage, type FormState, type LinkParameters, type PageBranding } from '../pages/connect-pages.ts';
import { renderPage, type PageContent } from '../pages/layout.ts';
import { applyNoLeakHeaders, applyPageHeaders, pageSecurity } from '../pages/security-headers.ts';
import { findConnectResult } from './connect-flow.repository.ts';
import {
  completeAuthorization,
  openConnectSession,
  oauthPageOf,
  startAuthorization,
  type ConnectFlowDeps,
  type ConnectSession,
} from './connect-flow.service.ts';
import { FieldValidationError } from './field-values.ts';
import { completeOAuth1Authorization, oauth1ScopesOnPage, startOAuth1Authorization } from './oauth1-flow.service.ts';
import { submitGrantForm } from './grant-form.service.ts';
import { submitKeyForm } from './key-form.service.ts';
import { isMachineGrant } from '../oauth/machine-grant.ts';
import type { RegistryApp } from '../registry/registry.ts';
import { checkFetchSite, checkFormToken, checkOrigin, type PageRequestEvidence } from './page-request-checks.ts';

const Param = Type.String({ maxLength: 4096 });

const LinkQuerySchema = Type.Object(
  {
    token: Type.Optional(Type.String({ maxLength: 200 })),
    app: Type.Optional(Type.String({ maxLength: 200 })),
    oauthAppId: Type.Optional(Type.String({ maxLength: 200 })),
    accountId: Type.Optional(Type.String({ maxLength: 200 })),
    embed: Type.Optional(Type.String({ maxLength: 20, description: 'set by /sdk/connect.js: iframe | popup' })),
  },
  { additionalProperties: Param, description: 'Pipedream extras (connectLink, hideClose, …) are accepted and ignored' },
);

/** The page's own form: the link parameters plus `f_<field>` values. */
const LinkFormSchema = Type.Object(
  {
    form_token: Type.Optional(Type.String({ maxLength: 200, description: 'the page’s form token; a post without one from this browser is refused' })),
    token: Type.String({ maxLength: 200 }),
    app: Type.String({ maxLength: 200 }),
    oauthAppId: Type.Optional(Type.String({ maxLength: 200 })),
    accountId: Type.Optional(Type.String({ maxLength: 200 })),
    embed: Type.Optional(Type.String({ maxLength: 20 })),
  },
  { additionalProperties: Param },
);

const CallbackQuerySchema = Type.Object(
  {
    code: Type.Optional(Param),
    state: Type.Optional(Type.String({ maxLength: 200 })),
    iss: Type.Optional(Type.String({ maxLength: 2048 })),
    error: Type.Optional(Type.String({ maxLength: 200 })),
    error_description: Type.Optional(Param),
  },
  { additionalProperties: Param },
);

const OAuth1CallbackQuerySchema = Type.Object(
  {
    state: Type.Optional(Type.String({ maxLength: 200 })),
    oauth_token: Type.Optional(Param),
    oauth_verifier: Type.Optional(Param),
    denied: Type.Optional(Param),
  },
  { additionalProperties: Param },
);

const html = (description: string) => ({ description, content: { 'text/html': { schema: Type.String() } } });
const redirect = (description: string) => ({ description, type: 'null' });

const PageResponses = { 200: html('the page'), '4xx': html('an error page'), '5xx': html('an error page') };

export function connectPageRoutes(deps: ConnectFlowDeps): FastifyPluginAsyncTypebox {
  const binding = browserBinding(deps.publicUrl);
  const publicOrigin = new URL(deps.publicUrl).origin;

  /** What the browser tells about a form post's page; judged by page-request-checks.ts. */
  const evidenceOf = (request: FastifyRequest, formToken: string | undefined): PageRequestEvidence => {
    const cookieValue = request.cookies[binding.cookieName];
    return {
      fetchSite: singleHeader(request, 'sec-fetch-site'),
      origin: singleHeader(request, 'origin'),
      formToken,
      bindingNonce: isCookieNonceShaped(cookieValue) ? cookieValue : undefined,
    };
  };

  /** Opens the session of a form post that came from one of our pages in this browser, or throws. */
  const openPostedSession = async (request: FastifyRequest, body: Record<string, string | undefined>): Promise<ConnectSession> => {
    const evidence = evidenceOf(request, body['form_token']);
    checkFetchSite(evidence);
    checkOrigin(evidence, publicOrigin);
    const session = await openConnectSession(deps, body);
    try {
      checkFormToken(evidence, session.tokenRow.digest);
    } catch (err) {
      if (err instanceof ConnectFlowError) err.allowedOrigins = session.tokenRow.allowed_origins;
      throw err;
    }
    return session;
  };

  return async (app) => {
    // Only the pages read a cookie (the OAuth browser binding); parsing only, our Set-Cookie is written by serializeBindingCookie.
    await app.register(cookie);
    // Schema failures and surprises become pages too.
    app.setErrorHandler((error, request, reply) => {
      const apiError = toApiError(error as Error);
      const clientFault = apiError.status < 500;
      const flow = clientFault ? flowError('link_invalid') : flowError('internal_error', error);
      if (flow.kind === 'internal_error') request.log.error({ err: error }, 'connect page failed');
      // The page explains; the status still says what HTTP clients need (413 too large, 415 type).
      return sendPage(
        reply,
        clientFault ? apiError.status : flow.status,
        errorPage(flow.title, flow.message, flow.allowedOrigins, flow.kind, { retry: flowErrorAllowsRetry(flow.kind), returnUrl: null }),
        flow.allowedOrigins,
      );
    });

    const showLink = async (request: FastifyRequest<{ Querystring: Record<string, string | undefined> }>, reply: FastifyReply) => {
      try {
        const session = await openConnectSession(deps, request.query);
        return await sendStartPage(request, reply, session, 200);
      } catch (err) {
        return handleFlowError(deps.db, request, reply, err);
      }
    };
    const linkSchema = {
      tags: ['connect-link'],
      summary: 'The Connect Link: the hosted page where an end user connects an account',
      querystring: LinkQuerySchema,
      response: PageResponses,
    };
    app.get('/connect', { schema: linkSchema }, showLink);
    app.get('/_static/connect.html', { schema: { ...linkSchema, summary: 'The Connect Link at Pipedream’s path' } }, showLink);

    app.post(
      '/connect/oauth/start',
      {
        schema: {
          tags: ['connect-link'],
          summary: 'Start OAuth: store state, PKCE verifier and browser binding, redirect to the provider',
          consumes: ['application/x-www-form-urlencoded'],
          body: LinkFormSchema,
          response: { 303: redirect('to the provider’s authorization endpoint'), ...PageResponses },
        },
      },
      async (request, reply) => {
        let session: ConnectSession | undefined;
        try {
          session = await openPostedSession(request, request.body);
          const start = await (session.app.auth_type === 'oauth1' ? startOAuth1Authorization : startAuthorization)(
            deps,
            session,
            request.body,
            request.cookies[binding.cookieName],
          );
          applyNoLeakHeaders(reply).header('set-cookie', serializeBindingCookie(binding, start.cookieNonce));
          return reply.redirect(start.authorizeUrl, 303);
        } catch (err) {
          if (err instanceof FieldValidationError && session !== undefined) return await sendStartPage(request, reply, session, 400, err);
          return handleFlowError(deps.db, request, reply, err);
        }
      },
    );

    app.get(
      '/connect/oauth/callback',
      {
        schema: {
          tags: ['connect-link'],
          summary: 'OAuth redirect_uri: check state, cookie and issuer, exchange the code once, store the account',
          querystring: CallbackQuerySchema,
          response: { 303: redirect('to the result page or the backend’s redirect URI, without a query of ours'), ...PageResponses },
        },
      },
      async (request, reply) => {
        try {
          const outcome = await completeAuthorization(deps, request.query, request.cookies[binding.cookieName]);
          return applyNoLeakHeaders(reply).redirect(outcome.location, 303);
        } catch (err) {
          return handleFlowError(deps.db, request, reply, err);
        }
      },
    );

    app.get(
      '/connect/oauth1/callback',
      {
        schema: {
          tags: ['connect-link'],
          summary: 'OAuth 1.0a callback (RFC 5849 §2.2): check state, cookie and request token, obtain the token credentials once, store the account',
          querystring: OAuth1CallbackQuerySchema,
          response: { 303: redirect('to the result page or the backend’s redirect URI, without a query of ours'), ...PageResponses },
        },
      },
      async (request, reply) => {
        try {
          const outcome = await completeOAuth1Authorization(deps, request.query, request.cookies[binding.cookieName]);
          return applyNoLeakHeaders(reply).redirect(outcome.location, 303);
        } catch (err) {
          return handleFlowError(deps.db, request, reply, err);
        }
      },
    );

    app.post(
      '/connect/keys',
      {
        schema: {
          tags: ['connect-link'],
          summary: 'Submit a key-based app’s form: validate, run the test request, store the account',
          consumes: ['application/x-www-form-urlencoded'],
          body: LinkFormSchema,
          response: { 303: redirect('to the result page or the backend’s success_redirect_uri'), ...PageResponses },
        },
      },
      async (request, reply) => {
        let session: ConnectSession | undefined;
        try {
          session = await openPostedSession(request, request.body);
          // The machine grants' form looks like a key form; submitting it mints the first token.
          const outcome = usesGrantForm(session.app) ? await submitGrantForm(deps, session, request.body) : await submitKeyForm(deps, session, request.body);
          return applyNoLeakHeaders(reply).redirect(outcome.location, 303);
        } catch (err) {
          if (err instanceof FieldValidationError && session !== undefined) return await sendStartPage(request, reply, session, 400, err);
          return handleFlowError(deps.db, request, reply, err);
        }
      },
    );

    app.get(
      '/connect/result/:id',
      {
        schema: {
          tags: ['connect-link'],
          summary: 'The outcome of a connect attempt; postMessages it to the token’s allowed_origins',
          params: Type.Object({ id: Type.String({ pattern: '^cres_[A-Za-z0-9]{24}$' }) }),
          response: PageResponses,
        },
      },
      async (request, reply) => {
        const result = await findConnectResult(deps.db, request.params.id);
        if (result === undefined) return sendErrorPage(deps.db, reply, flowError('result_unknown'));
        const appName = deps.registry.get(result.app_slug)?.name ?? result.app_slug;
        const branding = await pageBrandingOf(deps.db, result.project_id);
        if (result.outcome === 'success' && result.account_id !== null) {
          return sendPage(reply, 200, successPage(appName, result.account_id, result.allowed_origins, branding), result.allowed_origins);
        }
        const kind = result.error !== null && isConnectFlowErrorKind(result.error) ? result.error : 'provider_error';
        const failure = CONNECT_FLOW_ERRORS[kind];
        return sendPage(
          reply,
          200,
          errorPage(failure.title, failure.message, result.allowed_origins, kind, { retry: flowErrorAllowsRetry(kind), returnUrl: null }, branding),
          result.allowed_origins,
        );
      },
    );
  };

  async function sendStartPage(
    request: FastifyRequest,
    reply: FastifyReply,
    session: ConnectSession,
    status: number,
    formError?: FieldValidationError,
  ): Promise<FastifyReply> {
    const { app, tokenRow } = session;
    // OAuth 1.0a has its own page data; the others' come from oauthPageOf (an MCP server's is discovered now).
    const oauth1Scopes = app.auth_type === 'oauth1' ? await oauth1ScopesOnPage(deps, session) : undefined;
    const oauthPage = app.auth_type === 'oauth1' ? undefined : await oauthPageOf(deps, session);
    const branding = await pageBrandingOf(deps.db, tokenRow.project_id);
    // The page's form token is bound to this browser's binding cookie, set here if it has none yet.
    const bindingNonce = cookieNonceFor(request.cookies[binding.cookieName]);
    void reply.header('set-cookie', serializeBindingCookie(binding, bindingNonce));
    const link: LinkParameters = {
      formToken: mintFormToken(bindingNonce, tokenRow.digest),
      token: session.token,
      app: app.slug,
      oauthAppId: session.oauthAppId,
      accountId: session.accountId,
      embed: session.embed,
    };
    const state: FormState =
      formError === undefined ? {} : { fieldErrors: formError.fieldErrors, keptValues: formError.keptValues, formMessage: formError.formMessage };
    if (app.auth_type === 'oauth1' && oauth1Scopes !== undefined) {
      const page = oauthStartPage(app, link, tokenRow.allowed_origins, oauth1Scopes, state, branding);
      return sendPage(reply, status, page, tokenRow.allowed_origins, [formActionSourceFor(app.oauth1.authorize_url)]);
    }
    if (oauthPage !== undefined && !usesGrantForm(app)) {
      const page = oauthStartPage(oauthPage.app, link, tokenRow.allowed_origins, oauthPage.scopes, state, branding);
      return sendPage(reply, status, page, tokenRow.allowed_origins, [formActionSourceFor(oauthPage.app.oauth.authorize_url)]);
    }
    // The key form's 303 may lead to the backend's redirect URIs: form-action must allow them (Chromium checks redirects).
    const redirects = session.embed === null ? [tokenRow.success_redirect_uri, tokenRow.error_redirect_uri] : [];
    const redirectOrigins = redirects.filter((uri): uri is string => uri !== null).map((uri) => new URL(uri).origin);
    return sendPage(reply, status, keysFormPage(app, link, tokenRow.allowed_origins, state, branding), tokenRow.allowed_origins, redirectOrigins);
  }
}

/** Client credentials and JWT bearer: the user only types values (no redirect to the provider). */
function usesGrantForm(app: RegistryApp): boolean {
  return app.auth_type === 'oauth' && isMachineGrant(app.oauth);
}

function singleHeader(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The project's branding for the page header and footer; none when the project has no row (it always has). */
async function pageBrandingOf(db: ConnectFlowDeps['db'], projectId: string): Promise<PageBranding | undefined> {
  const row = await findProjectBranding(db, projectId);
  if (row === undefined) return undefined;
  return {
    appName: row.app_name,
    supportEmail: row.support_email,
    privacyUrl: row.privacy_url,
    termsUrl: row.terms_url,
    logoUrl: row.has_logo ? projectLogoPath(row.id) : null,
  };
}

async function handleFlowError(db: ConnectFlowDeps['db'], request: FastifyRequest, reply: FastifyReply, err: unknown): Promise<FastifyReply> {
  if (!(err instanceof ConnectFlowError)) throw err;
  request.log.info({ flow_error: err.kind, err: err.cause }, 'connect flow stopped');
  return sendErrorPage(db, reply, err);
}

/** The error page, branded once the token's project is known (before that, nobody is named). */
async function sendErrorPage(db: ConnectFlowDeps['db'], reply: FastifyReply, err: ConnectFlowError): Promise<FastifyReply> {
  const ways = { retry: flowErrorAllowsRetry(err.kind), returnUrl: err.returnUrl };
  const branding = err.projectId === null ? undefined : await pageBrandingOf(db, err.projectId);
  return sendPage(reply, err.status, errorPage(err.title, err.message, err.allowedOrigins, err.kind, ways, branding), err.allowedOrigins);
}

function sendPage(
  reply: FastifyReply,
  status: number,
  page: PageContent,
  frameAncestors: readonly string[],
  formActions: readonly string[] = [],
): FastifyReply {
  const security = pageSecurity({ frameAncestors, formActions });
  applyPageHeaders(reply, security);
  return reply.code(status).type('text/html; charset=utf-8').send(renderPage(page, security));
}
