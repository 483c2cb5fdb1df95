// The benchmark's backend: an API client created through the admin API and a bearer from the
// client-credentials grant, exactly what a customer's backend holds.
export interface ApiCredentials {
  clientId: string;
  clientSecret: string;
}

async function postJson<T>(url: string, body: unknown, headers: Record<string, string> = {}): Promise<T> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`POST ${new URL(url).pathname}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

export async function createApiClient(origin: string, adminToken: string, projectId: string): Promise<ApiCredentials> {
  const client = await postJson<{ client_id: string; client_secret: string }>(
    `${origin}/v1/admin/projects/${projectId}/clients`,
    { name: 'bench backend' },
    { authorization: `Bearer ${adminToken}` },
  );
  return { clientId: client.client_id, clientSecret: client.client_secret };
}

/** A bearer valid for an hour (latchkey's access-token lifetime). */
export async function issueBearer(origin: string, credentials: ApiCredentials): Promise<string> {
  const token = await postJson<{ access_token: string }>(`${origin}/v1/oauth/token`, {
    grant_type: 'client_credentials',
    client_id: credentials.clientId,
    client_secret: credentials.clientSecret,
  });
  return token.access_token;
}
