// A project's branding as a checklist: each value is bounded and of its kind before it is
// stored, because it ends up on a page an end user trusts — a name (no control characters), an
// email address, https links, and a raster logo (PNG, JPEG, GIF or WebP: no SVG, which can carry
// script) of at most 256 kB, sniffed by its magic bytes rather than believed from its label.
import type { Kysely } from 'kysely';
import type { Database } from '../db/types.ts';
import { badRequest, notFound } from '../errors.ts';
import { findProjectBranding, setProjectLogo, updateProjectBranding, type BrandingChanges, type ProjectBrandingRow } from './branding.repository.ts';

export const MAX_LOGO_BYTES = 256 * 1024;
export const MAX_NAME_LENGTH = 100;

export interface ProjectView {
  id: string;
  name: string;
  app_name: string | null;
  support_email: string | null;
  privacy_url: string | null;
  terms_url: string | null;
  /** Where the hosted pages load the logo from; null without one. */
  logo_url: string | null;
}

export interface BrandingInput {
  name?: string | undefined;
  app_name?: string | null | undefined;
  support_email?: string | null | undefined;
  privacy_url?: string | null | undefined;
  terms_url?: string | null | undefined;
  /** Pipedream's setting; latchkey always runs a key app's test request when it has one. */
  connect_require_key_auth_test?: boolean | undefined;
}

export function projectLogoPath(projectId: string): string {
  return `/connect/projects/${projectId}/logo`;
}

export function toProjectView(row: ProjectBrandingRow): ProjectView {
  return {
    id: row.id,
    name: row.name,
    app_name: row.app_name,
    support_email: row.support_email,
    privacy_url: row.privacy_url,
    terms_url: row.terms_url,
    logo_url: row.has_logo ? projectLogoPath(row.id) : null,
  };
}

export async function retrieveProject(db: Kysely<Database>, projectId: string): Promise<ProjectView> {
  const row = await findProjectBranding(db, projectId);
  if (row === undefined) throw notFound('project');
  return toProjectView(row);
}

export async function updateProject(db: Kysely<Database>, projectId: string, input: BrandingInput): Promise<ProjectView> {
  const changes: BrandingChanges = {};
  if (input.name !== undefined) changes.name = checkName('name', input.name) ?? failRequired('name');
  if (input.app_name !== undefined) changes.app_name = checkName('app_name', input.app_name);
  if (input.support_email !== undefined) changes.support_email = checkEmail(input.support_email);
  if (input.privacy_url !== undefined) changes.privacy_url = checkHttpsUrl('privacy_url', input.privacy_url);
  if (input.terms_url !== undefined) changes.terms_url = checkHttpsUrl('terms_url', input.terms_url);
  const row = await updateProjectBranding(db, projectId, changes);
  if (row === undefined) throw notFound('project');
  return toProjectView(row);
}

export async function updateProjectLogo(db: Kysely<Database>, projectId: string, dataUrl: string): Promise<void> {
  const logo = checkLogo(dataUrl);
  if (!(await setProjectLogo(db, projectId, logo))) throw notFound('project');
}

function failRequired(name: string): never {
  throw badRequest(`${name} must not be empty`);
}

/** Empty (or null) clears the value. */
function checkName(name: string, raw: string | null): string | null {
  const value = raw?.trim() ?? '';
  if (value === '') return null;
  // eslint-disable-next-line no-control-regex
  if (value.length > MAX_NAME_LENGTH || /[\u0000-\u001f\u007f-\u009f]/.test(value))
    throw badRequest(`${name} must be at most ${MAX_NAME_LENGTH} printable characters`);
  return value;
}

function checkEmail(raw: string | null): string | null {
  const value = raw?.trim() ?? '';
  if (value === '') return null;
  if (value.length > 254 || !/^[^\s@<>"]+@[^\s@<>"]+\.[^\s@<>"]+$/.test(value)) throw badRequest('support_email must be an email address');
  return value;
}

function checkHttpsUrl(name: string, raw: string | null): string | null {
  const value = raw?.trim() ?? '';
  if (value === '') return null;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw badRequest(`${name} must be an absolute https URL`);
  }
  if (url.protocol !== 'https:' || url.username !== '' || url.password !== '' || value.length > 2048) throw badRequest(`${name} must be an absolute https URL`);
  return url.toString();
}

const LOGO_TYPES: readonly { type: string; magic: (bytes: Buffer) => boolean }[] = [
  { type: 'image/png', magic: (b) => b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) },
  { type: 'image/jpeg', magic: (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff },
  { type: 'image/gif', magic: (b) => b.subarray(0, 6).toString('latin1') === 'GIF87a' || b.subarray(0, 6).toString('latin1') === 'GIF89a' },
  { type: 'image/webp', magic: (b) => b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WEBP' },
];

/** `data:image/<type>;base64,<bytes>` (Pipedream's updateLogo body), the bytes of the type it says. */
export function checkLogo(dataUrl: string): { bytes: Buffer; type: string } {
  const match = /^data:(image\/(?:png|jpeg|gif|webp));base64,([A-Za-z0-9+/]+={0,2})$/.exec(dataUrl.trim());
  if (match === null) throw badRequest('logo must be a data URL of a PNG, JPEG, GIF or WebP image (data:image/png;base64,…)');
  const bytes = Buffer.from(match[2]!, 'base64');
  if (bytes.length === 0 || bytes.length > MAX_LOGO_BYTES) throw badRequest(`logo must be at most ${MAX_LOGO_BYTES / 1024} kB`);
  const sniffed = LOGO_TYPES.find((candidate) => candidate.magic(bytes));
  if (sniffed === undefined || sniffed.type !== match[1]) throw badRequest('logo bytes are not the image type the data URL names');
  return { bytes, type: sniffed.type };
}
