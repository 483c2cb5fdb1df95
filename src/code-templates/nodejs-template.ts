// The Node.js program: an ES module for Node.js ≥ 20 using only the standard library (fetch,
// URL, Buffer), so it runs without a package.json or npm install.
import type { TemplatePart } from './request-plan.ts';
import { ACCOUNT_PLACEHOLDER_ENV, PROJECT_PLACEHOLDER_ENV, quote, type TemplateInput } from './template-input.ts';

function expression(parts: readonly TemplatePart[]): string {
  if (parts.length === 0) return '""';
  return parts
    .map((part) => {
      if ('text' in part) return quote(part.text);
      const value = `field(${quote(part.placeholder)})`;
      if (part.encoding === 'uri') return `encodeURIComponent(${value})`;
      if (part.encoding === 'json') return `JSON.stringify(${value}).slice(1, -1)`;
      return value;
    })
    .join(' + ');
}

function idLine(name: string, id: string | undefined, env: string): string {
  return id === undefined ? `const ${name} = required(${quote(env)});` : `const ${name} = ${quote(id)};`;
}

export function renderNodejs(input: TemplateInput): string {
  const { plan } = input;
  const lines: string[] = [
    `// ${input.appName} through latchkey: fetches a connected account's fresh credentials and calls the app's API with them.`,
    '// Node.js >= 20, standard library only. Run with LATCHKEY_CLIENT_ID and LATCHKEY_CLIENT_SECRET set:',
    `//   node ${input.appSlug}.mjs`,
    '',
    `const LATCHKEY_URL = process.env.LATCHKEY_URL ?? ${quote(input.latchkeyUrl)};`,
    idLine('PROJECT_ID', input.projectId, PROJECT_PLACEHOLDER_ENV),
    idLine('ACCOUNT_ID', input.accountId, ACCOUNT_PLACEHOLDER_ENV),
    `const ENVIRONMENT = ${quote(input.environment)};`,
    '',
    'function required(name) {',
    '  const value = process.env[name];',
    '  if (value === undefined || value === "") throw new Error(`set ${name}`);',
    '  return value;',
    '}',
    '',
    'async function json(response, what) {',
    '  const text = await response.text();',
    '  if (!response.ok) throw new Error(`${what}: ${response.status} ${text}`);',
    '  return JSON.parse(text);',
    '}',
    '',
    '// 1. An API token for this program (OAuth client credentials).',
    'const { access_token: latchkeyToken } = await json(',
    '  await fetch(`${LATCHKEY_URL}/v1/oauth/token`, {',
    '    method: "POST",',
    '    headers: { "content-type": "application/json" },',
    '    body: JSON.stringify({ grant_type: "client_credentials", client_id: required("LATCHKEY_CLIENT_ID"), client_secret: required("LATCHKEY_CLIENT_SECRET") }),',
    '  }),',
    '  "getting a latchkey token",',
    ');',
    'const latchkeyHeaders = { authorization: `Bearer ${latchkeyToken}`, "x-pd-environment": ENVIRONMENT };',
    '',
    '// 2. The account with fresh credentials. `auth` is $auth: console.log(Object.keys(auth)) lists its field names.',
    'const account = await json(',
    '  await fetch(`${LATCHKEY_URL}/v1/connect/${PROJECT_ID}/accounts/${ACCOUNT_ID}?include_credentials=true`, { headers: latchkeyHeaders }),',
    '  "fetching the account",',
    ');',
    'const auth = account.credentials ?? {};',
    'function field(name) {',
    '  const value = auth[name];',
    '  if (typeof value !== "string" || value === "") throw new Error(`the account has no ${name}`);',
    '  return value;',
    '}',
  ];
  if (input.secrets.length > 0) {
    lines.push(
      '',
      "// Project secrets (latchkey's environment variables), by name: secrets.NAME.",
      'const secrets = {};',
      `for (const name of ${JSON.stringify(input.secrets)}) {`,
      '  const secret = await json(await fetch(`${LATCHKEY_URL}/v1/connect/${PROJECT_ID}/secrets/${name}`, { headers: latchkeyHeaders }), `reading secret ${name}`);',
      '  secrets[name] = secret.value;',
      '}',
    );
  }
  lines.push('');
  if (plan === undefined) {
    lines.push(
      `// ${input.appName} declares no API request: here are the credential fields to build one with.`,
      'console.log(JSON.stringify(Object.keys(auth)));',
    );
    return `${lines.join('\n')}\n`;
  }
  lines.push(
    plan.fromTestRequest
      ? `// 3. ${input.appName}'s test request, with the credential where the app expects it.`
      : `// 3. A request to ${input.appName}'s API.`,
    `const url = new URL(${expression(plan.url)});`,
  );
  for (const [name, parts] of plan.query) lines.push(`url.searchParams.set(${quote(name)}, ${expression(parts)});`);
  lines.push('const headers = new Headers();');
  for (const [name, parts] of plan.headers) lines.push(`headers.set(${quote(name)}, ${expression(parts)});`);
  if (plan.basic !== undefined) {
    lines.push(
      `headers.set("Authorization", "Basic " + Buffer.from(${expression(plan.basic.username)} + ":" + ${expression(plan.basic.password)}, "utf8").toString("base64"));`,
    );
  }
  const body = plan.body === undefined ? '' : `, body: ${expression(plan.body)}`;
  lines.push(
    `const response = await fetch(url, { method: ${quote(plan.method)}, headers${body}, redirect: "manual" });`,
    '',
    '// 4. What the API answered.',
    'console.log(`status: ${response.status}`);',
    'console.log(await response.text());',
  );
  return `${lines.join('\n')}\n`;
}
