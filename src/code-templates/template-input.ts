// What every renderer is given: ids and names only. The account's values (keys, tokens, the
// subdomain a user typed) are never part of it, so no renderer can write one into a program.
import type { RequestPlan } from './request-plan.ts';

export const TEMPLATE_LANGUAGES = ['nodejs', 'python', 'curl'] as const;
export type TemplateLanguage = (typeof TEMPLATE_LANGUAGES)[number];

export interface TemplateInput {
  readonly appName: string;
  readonly appSlug: string;
  /** This server's PUBLIC_URL: the default of LATCHKEY_URL. */
  readonly latchkeyUrl: string;
  /** Filled in for an account's template; undefined: read from LATCHKEY_PROJECT_ID / LATCHKEY_ACCOUNT_ID. */
  readonly projectId: string | undefined;
  readonly accountId: string | undefined;
  readonly environment: string;
  /** Project secrets to read (names checked against SECRET_NAME_REGEX). */
  readonly secrets: readonly string[];
  /** Undefined: the app declares no request; the program prints the credential names instead. */
  readonly plan: RequestPlan | undefined;
}

export interface CodeTemplate {
  readonly language: TemplateLanguage;
  readonly filename: string;
  readonly code: string;
}

/** Every literal a renderer writes goes through JSON.stringify: a valid string literal in JS and Python alike. */
export const quote = (text: string): string => JSON.stringify(text);

export const PROJECT_PLACEHOLDER_ENV = 'LATCHKEY_PROJECT_ID';
export const ACCOUNT_PLACEHOLDER_ENV = 'LATCHKEY_ACCOUNT_ID';
