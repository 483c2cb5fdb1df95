// The Python program: Python 3 with only the standard library (urllib.request, json, os), so it
// runs anywhere Python does, with nothing to pip install.
import type { TemplatePart } from './request-plan.ts';
import { ACCOUNT_PLACEHOLDER_ENV, PROJECT_PLACEHOLDER_ENV, quote, type TemplateInput } from './template-input.ts';

function expression(parts: readonly TemplatePart[]): string {
  if (parts.length === 0) return '""';
  return parts
    .map((part) => {
      if ('text' in part) return quote(part.text);
      const value = `field(${quote(part.placeholder)})`;
      if (part.encoding === 'uri') return `urllib.parse.quote(${value}, safe="")`;
      if (part.encoding === 'json') return `json.dumps(${value})[1:-1]`;
      return value;
    })
    .join(' + ');
}

function idLine(name: string, id: string | undefined, env: string): string {
  return id === undefined ? `${name} = required(${quote(env)})` : `${name} = ${quote(id)}`;
}

export function renderPython(input: TemplateInput): string {
  const { plan } = input;
  const lines: string[] = [
    '#!/usr/bin/env python3',
    `# ${input.appName} through latchkey: fetches a connected account's fresh credentials and calls the app's API with them.`,
    '# Python 3, standard library only. Run with LATCHKEY_CLIENT_ID and LATCHKEY_CLIENT_SECRET set:',
    `#   python3 ${input.appSlug.replace(/-/g, '_')}.py`,
    'import base64',
    'import json',
    'import os',
    'import sys',
    'import urllib.error',
    'import urllib.parse',
    'import urllib.request',
    '',
    '',
    'def required(name):',
    '    value = os.environ.get(name, "")',
    '    if value == "":',
    '        sys.exit(f"set {name}")',
    '    return value',
    '',
    '',
    'class NoRedirects(urllib.request.HTTPRedirectHandler):',
    '    """A redirect is answered, not followed: urllib would forward the credential to wherever it points."""',
    '',
    '    def redirect_request(self, *args, **kwargs):',
    '        return None',
    '',
    '',
    'opener = urllib.request.build_opener(NoRedirects)',
    '',
    '',
    'def send(request):',
    '    """The status and body of a response, error statuses included."""',
    '    try:',
    '        with opener.open(request) as response:',
    '            return response.status, response.read().decode("utf-8")',
    '    except urllib.error.HTTPError as error:',
    '        return error.code, error.read().decode("utf-8")',
    '',
    '',
    'def latchkey_json(request, what):',
    '    status, body = send(request)',
    '    if status != 200:',
    '        sys.exit(f"{what}: {status} {body}")',
    '    return json.loads(body)',
    '',
    '',
    `LATCHKEY_URL = os.environ.get("LATCHKEY_URL", ${quote(input.latchkeyUrl)})`,
    idLine('PROJECT_ID', input.projectId, PROJECT_PLACEHOLDER_ENV),
    idLine('ACCOUNT_ID', input.accountId, ACCOUNT_PLACEHOLDER_ENV),
    `ENVIRONMENT = ${quote(input.environment)}`,
    '',
    '# 1. An API token for this program (OAuth client credentials).',
    'token_request = {"grant_type": "client_credentials", "client_id": required("LATCHKEY_CLIENT_ID"), "client_secret": required("LATCHKEY_CLIENT_SECRET")}',
    'latchkey_token = latchkey_json(',
    '    urllib.request.Request(f"{LATCHKEY_URL}/v1/oauth/token", data=json.dumps(token_request).encode("utf-8"), headers={"content-type": "application/json"}, method="POST"),',
    '    "getting a latchkey token",',
    ')["access_token"]',
    'latchkey_headers = {"authorization": f"Bearer {latchkey_token}", "x-pd-environment": ENVIRONMENT}',
    '',
    '# 2. The account with fresh credentials. `auth` is $auth: print(list(auth)) lists its field names.',
    'account = latchkey_json(',
    '    urllib.request.Request(f"{LATCHKEY_URL}/v1/connect/{PROJECT_ID}/accounts/{ACCOUNT_ID}?include_credentials=true", headers=latchkey_headers),',
    '    "fetching the account",',
    ')',
    'auth = account.get("credentials") or {}',
    '',
    '',
    'def field(name):',
    '    value = auth.get(name)',
    '    if not isinstance(value, str) or value == "":',
    '        sys.exit(f"the account has no {name}")',
    '    return value',
    '',
  ];
  if (input.secrets.length > 0) {
    lines.push(
      '',
      '# Project secrets (latchkey\'s environment variables), by name: secrets["NAME"].',
      'secrets = {}',
      `for name in ${JSON.stringify(input.secrets)}:`,
      '    secret = latchkey_json(urllib.request.Request(f"{LATCHKEY_URL}/v1/connect/{PROJECT_ID}/secrets/{name}", headers=latchkey_headers), f"reading secret {name}")',
      '    secrets[name] = secret["value"]',
    );
  }
  lines.push('');
  if (plan === undefined) {
    lines.push(
      `# ${input.appName} declares no API request: here are the credential fields to build one with.`,
      'print(json.dumps(list(auth), separators=(",", ":")))',
    );
    return `${lines.join('\n')}\n`;
  }
  lines.push(
    plan.fromTestRequest ? `# 3. ${input.appName}'s test request, with the credential where the app expects it.` : `# 3. A request to ${input.appName}'s API.`,
    `url = ${expression(plan.url)}`,
  );
  if (plan.query.length > 0) {
    lines.push('query = {}');
    for (const [name, parts] of plan.query) lines.push(`query[${quote(name)}] = ${expression(parts)}`);
    lines.push(`url += ${quote(plan.urlHasQuery ? '&' : '?')} + urllib.parse.urlencode(query)`);
  }
  lines.push('headers = {}');
  for (const [name, parts] of plan.headers) lines.push(`headers[${quote(name)}] = ${expression(parts)}`);
  if (plan.basic !== undefined) {
    lines.push(
      `headers["Authorization"] = "Basic " + base64.b64encode((${expression(plan.basic.username)} + ":" + ${expression(plan.basic.password)}).encode("utf-8")).decode("ascii")`,
    );
  }
  const data = plan.body === undefined ? 'None' : `(${expression(plan.body)}).encode("utf-8")`;
  lines.push(
    `status, body = send(urllib.request.Request(url, data=${data}, headers=headers, method=${quote(plan.method)}))`,
    '',
    '# 4. What the API answered.',
    'print(f"status: {status}")',
    'print(body)',
  );
  return `${lines.join('\n')}\n`;
}
