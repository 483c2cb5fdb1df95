// The shell program: bash with curl (≥ 7.55, for headers read from a file) and jq (JSON, URL
// encoding). Secrets never go on a command line, where `ps` would show them: the client secret
// and the latchkey token reach curl on stdin or through a process substitution, and so do the
// credential's headers and the request body.
import { planPlaceholders, type TemplatePart } from './request-plan.ts';
import { ACCOUNT_PLACEHOLDER_ENV, PROJECT_PLACEHOLDER_ENV, type TemplateInput } from './template-input.ts';

/** A single-quoted bash word: nothing inside is expanded. */
const sq = (text: string): string => `'${text.replace(/'/g, `'\\''`)}'`;

/** Placeholder names are identifiers (`[A-Za-z][A-Za-z0-9_]*`), so each is a valid variable name. */
const variableOf = (placeholder: string): string => `AUTH_${placeholder}`;

function word(parts: readonly TemplatePart[]): string {
  if (parts.length === 0) return "''";
  return parts
    .map((part) => {
      if ('text' in part) return sq(part.text);
      const value = `"$${variableOf(part.placeholder)}"`;
      if (part.encoding === 'uri') return `"$(urlencode ${value})"`;
      if (part.encoding === 'json') return `"$(json_escape ${value})"`;
      return value;
    })
    .join('');
}

function idLine(name: string, id: string | undefined, env: string): string {
  return id === undefined ? `${name}="\${${env}:?set ${env}}"` : `${name}=${sq(id)}`;
}

export function renderCurl(input: TemplateInput): string {
  const { plan } = input;
  const lines: string[] = [
    '#!/usr/bin/env bash',
    `# ${input.appName} through latchkey: fetches a connected account's fresh credentials and calls the app's API with them.`,
    '# Needs bash, curl (>= 7.55) and jq. Run with LATCHKEY_CLIENT_ID and LATCHKEY_CLIENT_SECRET set:',
    `#   bash ${input.appSlug}.sh`,
    'set -euo pipefail',
    '',
    `DEFAULT_LATCHKEY_URL=${sq(input.latchkeyUrl)}`,
    'LATCHKEY_URL="${LATCHKEY_URL:-$DEFAULT_LATCHKEY_URL}"',
    idLine('PROJECT_ID', input.projectId, PROJECT_PLACEHOLDER_ENV),
    idLine('ACCOUNT_ID', input.accountId, ACCOUNT_PLACEHOLDER_ENV),
    `ENVIRONMENT=${sq(input.environment)}`,
    ': "${LATCHKEY_CLIENT_ID:?set LATCHKEY_CLIENT_ID}" "${LATCHKEY_CLIENT_SECRET:?set LATCHKEY_CLIENT_SECRET}"',
    '',
    'fail() { printf \'%s\\n\' "$*" >&2; exit 1; }',
    'urlencode() { jq -rn --arg v "$1" \'$v | @uri\'; }',
    'json_escape() { jq -rn --arg v "$1" \'$v | tojson | .[1:-1]\'; }',
    '',
    '# A request to latchkey: prints the body of a 200, fails with the answer otherwise.',
    'latchkey() {',
    '  local what=$1 out status',
    '  shift',
    '  out=$(curl -sS -w \'\\n%{http_code}\' "$@") || fail "$what: latchkey could not be reached"',
    "  status=${out##*$'\\n'}",
    "  out=${out%$'\\n'*}",
    '  [ "$status" = 200 ] || fail "$what: $status $out"',
    '  printf \'%s\' "$out"',
    '}',
    '',
    '# 1. An API token for this program (OAuth client credentials).',
    'LATCHKEY_TOKEN=$(jq -n --arg id "$LATCHKEY_CLIENT_ID" --arg secret "$LATCHKEY_CLIENT_SECRET" \'{grant_type: "client_credentials", client_id: $id, client_secret: $secret}\' |',
    "  latchkey 'getting a latchkey token' -X POST \"$LATCHKEY_URL/v1/oauth/token\" -H 'content-type: application/json' --data-binary @- | jq -r .access_token)",
    'latchkey_get() { latchkey "$1" "$2" -H @<(printf \'authorization: Bearer %s\\nx-pd-environment: %s\\n\' "$LATCHKEY_TOKEN" "$ENVIRONMENT"); }',
    '',
    '# 2. The account with fresh credentials ($auth: jq \'.credentials | keys_unsorted\' <<<"$ACCOUNT" lists its field names).',
    'ACCOUNT=$(latchkey_get \'fetching the account\' "$LATCHKEY_URL/v1/connect/$PROJECT_ID/accounts/$ACCOUNT_ID?include_credentials=true")',
    'field() {',
    '  local value',
    '  value=$(jq -r --arg name "$1" \'.credentials[$name] // empty | strings\' <<<"$ACCOUNT")',
    '  [ -n "$value" ] || fail "the account has no $1"',
    '  # A line break in a header value would start another header.',
    '  [[ "$value" != *[[:cntrl:]]* ]] || fail "the value of $1 contains a control character"',
    '  printf \'%s\' "$value"',
    '}',
  ];
  if (input.secrets.length > 0) {
    lines.push('', "# Project secrets (latchkey's environment variables), one variable each: $SECRET_NAME.");
    for (const name of input.secrets) {
      lines.push(`SECRET_${name}=$(latchkey_get ${sq(`reading secret ${name}`)} "$LATCHKEY_URL/v1/connect/$PROJECT_ID/secrets/${name}" | jq -r .value)`);
    }
  }
  lines.push('');
  if (plan === undefined) {
    lines.push(
      `# ${input.appName} declares no API request: here are the credential fields to build one with.`,
      'jq -c \'.credentials | keys_unsorted\' <<<"$ACCOUNT"',
    );
    return `${lines.join('\n')}\n`;
  }
  lines.push(
    plan.fromTestRequest ? `# 3. ${input.appName}'s test request, with the credential where the app expects it.` : `# 3. A request to ${input.appName}'s API.`,
  );
  for (const placeholder of planPlaceholders(plan)) lines.push(`${variableOf(placeholder)}=$(field ${sq(placeholder)})`);
  lines.push(`URL=${word(plan.url)}`);
  plan.query.forEach(([name, parts], index) => {
    const separator = index === 0 && !plan.urlHasQuery ? '?' : '&';
    lines.push(`URL+=${sq(`${separator}${encodeURIComponent(name)}=`)}"$(urlencode ${word(parts)})"`);
  });
  lines.push('HEADERS=(');
  for (const [name, parts] of plan.headers) lines.push(`  ${sq(`${name}: `)}${word(parts)}`);
  lines.push(')');
  if (plan.basic !== undefined) {
    lines.push(`HEADERS+=("Authorization: Basic $(printf '%s' ${word(plan.basic.username)}':'${word(plan.basic.password)} | base64 | tr -d '\\n')")`);
  }
  const request = [`curl -sS -w '\\n%{http_code}' -X ${plan.method} "$URL" -H @<(printf '%s\\n' "\${HEADERS[@]}")`];
  if (plan.body !== undefined) {
    lines.push(`BODY=${word(plan.body)}`);
    request.push(`--data-binary @<(printf '%s' "$BODY")`);
  }
  lines.push(
    `RESPONSE=$(${request.join(' ')})`,
    '',
    '# 4. What the API answered.',
    "printf 'status: %s\\n%s\\n' \"${RESPONSE##*$'\\n'}\" \"${RESPONSE%$'\\n'*}\"",
  );
  return `${lines.join('\n')}\n`;
}
