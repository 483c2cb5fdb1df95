// API client secrets are stored only as argon2id PHC strings, with the OWASP minimum parameters
// set explicitly so a later raise can be detected from the stored string. Verification costs
// ~23 ms: it runs on /v1/oauth/token only, never on an API request.
import { randomBytes } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';

const ARGON2ID = 2;
const OWASP_PARAMETERS = { algorithm: ARGON2ID, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

export function hashSecret(secret: string): Promise<string> {
  return hash(secret, OWASP_PARAMETERS);
}

export async function verifySecret(phc: string, secret: string): Promise<boolean> {
  try {
    return await verify(phc, secret);
  } catch {
    return false;
  }
}

let decoy: Promise<string> | undefined;

/** A real hash to verify against when the client id is unknown, so timing does not tell. */
export function decoyHash(): Promise<string> {
  decoy ??= hash(randomBytes(24).toString('base64'), OWASP_PARAMETERS);
  return decoy;
}
