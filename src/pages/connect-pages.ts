// The Connect Link pages. Every registry and request value reaches the markup through `markup`,
// which escapes it; secret fields are password inputs whose value is never written back.
import type { RegistryApp, RegistryField, RegistryOAuth1App, RegistryOAuthApp } from '../registry/registry.ts';
import { markup, type SafeHtml } from './html.ts';
import type { PageContent, PageMessage } from './layout.ts';

/** The hidden inputs that carry the link's parameters through a form post. */
export interface LinkParameters {
  readonly token: string;
  readonly app: string;
  readonly oauthAppId: string | null;
  readonly accountId: string | null;
  readonly embed: string | null;
  /** This page's form token (form-token.ts): proves a post came from a page we rendered in this browser. */
  readonly formToken: string;
}

export interface FormState {
  readonly fieldErrors?: Readonly<Record<string, string>>;
  readonly keptValues?: Readonly<Record<string, string>>;
  readonly formMessage?: string;
}

/** Who is asking: the project's branding (tokens/validate's project_app_name and friends). */
export interface PageBranding {
  readonly appName: string | null;
  readonly supportEmail: string | null;
  readonly privacyUrl: string | null;
  readonly termsUrl: string | null;
  readonly logoUrl: string | null;
}

/** "<App name> uses latchkey to connect your <App> account", with the project's logo. */
export function brandHeader(branding: PageBranding | undefined, connectedApp: string): SafeHtml {
  const who = branding?.appName ?? null;
  return markup`<header class="brand">
${branding?.logoUrl == null ? '' : markup`<img src="${branding.logoUrl}" alt="${who ?? 'Logo'}">`}
<p>${who === null ? markup`latchkey connects your ${connectedApp} account` : markup`<strong>${who}</strong> uses latchkey to connect your ${connectedApp} account`}</p>
</header>`;
}

/** Where the end user finds help and the project's policies; nothing when the project set none. */
export function brandFooter(branding: PageBranding | undefined): SafeHtml {
  if (branding === undefined) return markup``;
  const who = branding.appName ?? 'this app';
  const parts = [
    branding.supportEmail === null ? '' : markup`<span>Questions? <a href="mailto:${branding.supportEmail}">${branding.supportEmail}</a></span>`,
    branding.privacyUrl === null ? '' : markup`<a href="${branding.privacyUrl}" rel="noopener noreferrer" target="_blank">${who} privacy policy</a>`,
    branding.termsUrl === null ? '' : markup`<a href="${branding.termsUrl}" rel="noopener noreferrer" target="_blank">${who} terms</a>`,
  ].filter((part) => part !== '');
  if (parts.length === 0) return markup``;
  return markup`<footer class="brand">${parts}</footer>`;
}

export function oauthStartPage(
  app: RegistryOAuthApp | RegistryOAuth1App,
  link: LinkParameters,
  origins: readonly string[],
  scopes: readonly string[],
  state: FormState = {},
  branding?: PageBranding,
): PageContent {
  const verb = link.accountId !== null ? 'Reconnect' : 'Connect';
  const main = markup`${appLogo(app)}<h1 tabindex="-1" data-autofocus>${verb} ${app.name}</h1>
${formAlert(state)}
<p>You will be sent to ${app.name} to sign in and approve access. Your ${app.name} password is never shared.</p>
${permissionList(app, scopes)}
<form method="post" action="/connect/oauth/start" data-oauth novalidate>
${hiddenInputs(link)}
${app.fields.map((field) => fieldInput(field, state))}
<div class="actions">
<button type="submit" class="primary">Continue to ${app.name}</button>
<button type="button" class="secondary" data-close hidden>Cancel</button>
</div>
</form>`;
  return { title: `${verb} ${app.name}`, main, data: { origins }, header: brandHeader(branding, app.name), footer: brandFooter(branding) };
}

/** What the authorization asks for, as readable lines (the registry's descriptions; else the scope itself). */
function permissionList(app: RegistryOAuthApp | RegistryOAuth1App, scopes: readonly string[]): SafeHtml | string {
  if (scopes.length === 0) return '';
  const descriptions = app.auth_type === 'oauth' ? app.oauth.scope_descriptions : {};
  const lines = scopes.map((scope) => {
    const description = descriptions[scope];
    return description === undefined ? markup`<li><code>${scope}</code></li>` : markup`<li>${description}</li>`;
  });
  return markup`<h2>${app.name} will be asked to allow</h2>
<ul class="permissions">${lines}</ul>`;
}

export function keysFormPage(app: RegistryApp, link: LinkParameters, origins: readonly string[], state: FormState = {}, branding?: PageBranding): PageContent {
  const verb = link.accountId !== null ? 'Reconnect' : 'Connect';
  // Only a test request checks anything: without one, the page must not claim a check.
  const checked = app.test_request === undefined ? 'They are stored encrypted.' : `They are checked with ${app.name} and stored encrypted.`;
  const main = markup`${appLogo(app)}<h1 tabindex="-1" data-autofocus>${verb} ${app.name}</h1>
${formAlert(state)}
${app.description === undefined ? '' : markup`<p class="muted">${app.description}</p>`}
<p>Enter your ${app.name} credentials. ${checked}</p>
<form method="post" action="/connect/keys" novalidate>
${hiddenInputs(link)}
${app.fields.map((field) => fieldInput(field, state))}
<div class="actions">
<button type="submit" class="primary">${verb}</button>
<button type="button" class="secondary" data-close hidden>Cancel</button>
</div>
</form>`;
  return { title: `${verb} ${app.name}`, main, data: { origins }, header: brandHeader(branding, app.name), footer: brandFooter(branding) };
}

/** Where an error page lets the user go on (each shown only when it can help). */
export interface WaysOn {
  /** Starting again from the Connect Link can succeed: "Try again" reopens it (the page script knows it). */
  readonly retry: boolean;
  /** The backend's error_redirect_uri, with `error=<kind>`. */
  readonly returnUrl: string | null;
}

export function errorPage(
  title: string,
  message: string,
  origins: readonly string[],
  error?: string,
  ways: WaysOn = { retry: false, returnUrl: null },
  branding?: PageBranding,
): PageContent {
  const main = markup`<h1 tabindex="-1" data-autofocus>${title}</h1>
<p role="alert">${message}</p>
<div class="actions">
${ways.retry ? markup`<button type="button" class="primary" data-retry hidden>Try again</button>` : ''}
${ways.returnUrl === null ? '' : markup`<a class="button secondary" href="${ways.returnUrl}">Return to ${new URL(ways.returnUrl).host}</a>`}
<button type="button" class="secondary" data-close hidden>Close</button>
</div>`;
  const data: { origins: readonly string[]; message?: PageMessage } = { origins };
  if (error !== undefined) data.message = { type: 'error', error };
  return { title, main, data, ...brandFrame(branding) };
}

export function successPage(appName: string, accountId: string, origins: readonly string[], branding?: PageBranding): PageContent {
  const main = markup`<h1 tabindex="-1" data-autofocus>${appName} is connected</h1>
<p role="status">Your ${appName} account was connected. You can close this window.</p>
<div class="actions"><button type="button" class="primary" data-close hidden>Close</button></div>`;
  return { title: `${appName} connected`, main, data: { origins, message: { type: 'success', authProvisionId: accountId } }, ...brandFrame(branding) };
}

/** The result pages carry the project's footer (support, policies): the way to help once connecting is over. */
function brandFrame(branding: PageBranding | undefined): { footer?: SafeHtml } {
  return branding === undefined ? {} : { footer: brandFooter(branding) };
}

/** The app's mark (or monogram) from our own icon route; decorative, the heading names the app. */
function appLogo(app: RegistryApp): SafeHtml {
  return markup`<img class="app-logo" src="/v1/connect/apps/${app.slug}/icon.svg" alt="" width="48" height="48">`;
}

function hiddenInputs(link: LinkParameters): SafeHtml {
  return markup`<input type="hidden" name="form_token" value="${link.formToken}">
<input type="hidden" name="token" value="${link.token}">
<input type="hidden" name="app" value="${link.app}">
${link.oauthAppId === null ? '' : markup`<input type="hidden" name="oauthAppId" value="${link.oauthAppId}">`}
${link.accountId === null ? '' : markup`<input type="hidden" name="accountId" value="${link.accountId}">`}
${link.embed === null ? '' : markup`<input type="hidden" name="embed" value="${link.embed}">`}`;
}

function formAlert(state: FormState): SafeHtml | string {
  if (state.formMessage === undefined) return '';
  return markup`<div class="alert" role="alert">${state.formMessage}</div>`;
}

/** A choice field (region, sandbox): only the listed values can be sent, and the server checks again. */
function choiceSelect(id: string, field: RegistryField, selected: string | undefined, attributes: readonly (SafeHtml | string)[]): SafeHtml {
  const options = (field.choices ?? []).map(
    (choice) => markup`<option value="${choice.value}"${choice.value === selected ? markup` selected` : ''}>${choice.label}</option>`,
  );
  return markup`<select id="${id}" name="${id}"${field.optional ? '' : markup` required`}${attributes}>${options}</select>`;
}

function fieldInput(field: RegistryField, state: FormState): SafeHtml {
  const id = `f_${field.name}`;
  const error = state.fieldErrors?.[field.name];
  const kept = field.secret ? undefined : state.keptValues?.[field.name];
  const describedBy = [field.help === undefined ? '' : `${id}_help`, error === undefined ? '' : `${id}_error`].filter((v) => v !== '').join(' ');
  const aria = [describedBy === '' ? '' : markup` aria-describedby="${describedBy}"`, error === undefined ? '' : markup` aria-invalid="true"`];
  const attributes = [
    field.optional ? '' : markup` required`,
    field.placeholder === undefined ? '' : markup` placeholder="${field.placeholder}"`,
    kept === undefined ? '' : markup` value="${kept}"`,
    ...aria,
  ];
  const control =
    field.choices === undefined
      ? markup`<input id="${id}" name="${id}" type="${field.secret ? 'password' : 'text'}" autocomplete="off" spellcheck="false"${attributes}>`
      : choiceSelect(id, field, kept ?? field.default, aria);
  return markup`<label for="${id}">${field.label}${field.optional ? markup` <span class="muted">(optional)</span>` : ''}</label>
${control}
${field.help === undefined ? '' : markup`<p class="hint" id="${id}_help">${field.help}</p>`}
${error === undefined ? '' : markup`<p class="field-error" id="${id}_error">${error}</p>`}`;
}
