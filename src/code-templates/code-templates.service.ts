// A code template: the program for one language, filled with the ids and the app's request plan.
// An account's template knows its project and account; an app's template reads the account id
// (and, without a project, the project id) from the environment when it runs.
import type { RegistryApp } from '../registry/registry.ts';
import { renderCurl } from './curl-template.ts';
import { renderNodejs } from './nodejs-template.ts';
import { renderPython } from './python-template.ts';
import { requestPlanOf } from './request-plan.ts';
import type { CodeTemplate, TemplateInput, TemplateLanguage } from './template-input.ts';

export interface TemplateRequest {
  readonly app: RegistryApp;
  readonly language: TemplateLanguage;
  readonly latchkeyUrl: string;
  readonly projectId: string | undefined;
  readonly accountId: string | undefined;
  readonly environment: string;
  readonly secrets: readonly string[];
}

const RENDERERS: Record<TemplateLanguage, { render: (input: TemplateInput) => string; filename: (slug: string) => string }> = {
  nodejs: { render: renderNodejs, filename: (slug) => `${slug}.mjs` },
  python: { render: renderPython, filename: (slug) => `${slug.replace(/-/g, '_')}.py` },
  curl: { render: renderCurl, filename: (slug) => `${slug}.sh` },
};

export function codeTemplateOf(request: TemplateRequest): CodeTemplate {
  const renderer = RENDERERS[request.language];
  const code = renderer.render({
    appName: commentSafe(request.app.name),
    appSlug: request.app.slug,
    latchkeyUrl: request.latchkeyUrl,
    projectId: request.projectId,
    accountId: request.accountId,
    environment: request.environment,
    secrets: request.secrets,
    plan: requestPlanOf(request.app),
  });
  return { language: request.language, filename: renderer.filename(request.app.slug), code };
}

/**
 * The app's name goes into comments only, and a line break (or U+2028/2029, line terminators in
 * JavaScript; U+0085 in Python) would end the comment and turn the rest of the name into code.
 */
function commentSafe(text: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what it removes
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ');
}

/** `?secrets=A,B`: the names in order, once each (the schema checked their shape). */
export function secretNamesOf(raw: string | undefined): string[] {
  if (raw === undefined || raw === '') return [];
  return [...new Set(raw.split(','))];
}
