// The CSP form-action source that covers a provider's authorize URL. Our Connect form posts to
// us and we answer 303 to the provider; Chromium checks form-action on that redirect too, so the
// page must allow the provider. A templated host (`{subdomain}.zendesk.com`) becomes a wildcard
// over the fixed labels; a host that is all placeholder can only be limited to its scheme.

import { PLACEHOLDER_SOURCE } from '../registry/templates.ts';

const HAS_PLACEHOLDER = new RegExp(PLACEHOLDER_SOURCE);

export function formActionSourceFor(authorizeUrlTemplate: string): string {
  const schemeEnd = authorizeUrlTemplate.indexOf('://');
  const rest = authorizeUrlTemplate.slice(schemeEnd + 3);
  const hostEnd = rest.search(/[/?#]/);
  const host = (hostEnd === -1 ? rest : rest.slice(0, hostEnd)).toLowerCase();
  const scheme = authorizeUrlTemplate.slice(0, schemeEnd).toLowerCase();
  if (!HAS_PLACEHOLDER.test(host)) return new URL(`${scheme}://${host}`).origin;
  const labels = host.split('.');
  const firstFixed = labels.findIndex((label) => !HAS_PLACEHOLDER.test(label));
  if (firstFixed <= 0 || labels.slice(firstFixed).some((label) => HAS_PLACEHOLDER.test(label)) || labels.length - firstFixed < 2) return `${scheme}:`;
  return `${scheme}://*.${labels.slice(firstFixed).join('.')}`;
}
