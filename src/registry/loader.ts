// Loads app-registry/ and each LATCHKEY_APP_REGISTRY_DIRS folder at start. Every file is parsed,
// checked against the schema and cross-checked; every problem in every file is collected first
// and then reported at once as `file: /json/pointer message`, so an operator fixes them in one go.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { readdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';
import { parseDocument } from 'yaml';
import { crossCheck, type Problem } from './cross-checks.ts';
import { normalizeApp } from './normalize.ts';
import { registryOf, type AppRegistry, type RegistryApp } from './registry.ts';
import { KeysAppSchema, McpAppSchema, NoneAppSchema, OAuth1AppSchema, OAuthAppSchema, type AppDefinition } from './schema.ts';

/** app-registry/ next to package.json, whether running from src/ (tsx) or dist/src/ (node). */
export const BUILTIN_REGISTRY_DIR = path.join(packageRoot(fileURLToPath(import.meta.url)), 'app-registry');

/** A registry file larger than this is refused unread (a real entry is a few kilobytes). */
const MAX_FILE_BYTES = 256 * 1024;

export class RegistryError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`app registry is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'RegistryError';
  }
}

export interface RegistryOptions {
  dirs: readonly string[];
  insecureLoopback: boolean;
}

const validators: Record<
  AppDefinition['auth_type'],
  TypeCheck<typeof OAuthAppSchema | typeof OAuth1AppSchema | typeof KeysAppSchema | typeof NoneAppSchema | typeof McpAppSchema>
> = {
  oauth: TypeCompiler.Compile(OAuthAppSchema),
  oauth1: TypeCompiler.Compile(OAuth1AppSchema),
  keys: TypeCompiler.Compile(KeysAppSchema),
  none: TypeCompiler.Compile(NoneAppSchema),
  mcp: TypeCompiler.Compile(McpAppSchema),
};

interface Source {
  /** As shown to operators. */
  readonly label: string;
  readonly expectedSlug: string;
}

export interface RegistryInspection {
  readonly apps: RegistryApp[];
  readonly problems: string[];
}

export async function loadRegistry(options: RegistryOptions): Promise<AppRegistry> {
  return finish(await inspectRegistry(options));
}

/**
 * Every file checked, nothing thrown: the apps that passed and every problem as
 * `file: /pointer message` (what `npm run registry:check` reports).
 */
export async function inspectRegistry(options: RegistryOptions): Promise<RegistryInspection> {
  const loaded: RegistryInspection = { apps: [], problems: [] };
  const seenDirs = new Set<string>();
  for (const dir of options.dirs) {
    let real: string;
    let names: string[];
    try {
      real = await realpath(dir);
      names = await readdir(real);
    } catch (err) {
      loaded.problems.push(`${displayPath(dir)}: / folder cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      continue;
    }
    // The same folder named twice (or app-registry/ listed again) is not a duplicate definition.
    if (seenDirs.has(real)) continue;
    seenDirs.add(real);
    const files = names.filter((name) => name.endsWith('.yaml') || name.endsWith('.yml')).sort();
    for (const name of files) {
      const file = path.join(dir, name);
      const label = displayPath(file);
      if (name.endsWith('.yml')) {
        loaded.problems.push(`${label}: / registry files must end in .yaml`);
        continue;
      }
      const text = readSmallFile(file);
      if (typeof text !== 'string') {
        loaded.problems.push(`${label}: / ${text.error}`);
        continue;
      }
      addDocument(loaded, parseYaml(text, label, loaded.problems), { label, expectedSlug: name.slice(0, -'.yaml'.length) }, options.insecureLoopback);
    }
  }
  checkDuplicateSlugs(loaded);
  return loaded;
}

/**
 * Builds a registry from in-memory definitions (tests with fixture apps on 127.0.0.1), with
 * exactly the loader's checks. The slug stands in for the file name.
 */
export function registryFromDefinitions(definitions: readonly unknown[], options: { insecureLoopback?: boolean } = {}): AppRegistry {
  const loaded: RegistryInspection = { apps: [], problems: [] };
  definitions.forEach((definition, i) => {
    const slug = (definition as { slug?: unknown } | null)?.slug;
    const expectedSlug = typeof slug === 'string' ? slug : `definition ${i}`;
    addDocument(loaded, definition, { label: `<${expectedSlug}>`, expectedSlug }, options.insecureLoopback ?? false);
  });
  checkDuplicateSlugs(loaded);
  return finish(loaded);
}

function checkDuplicateSlugs(loaded: RegistryInspection): void {
  const firstSource = new Map<string, string>();
  for (const app of loaded.apps) {
    const other = firstSource.get(app.slug);
    if (other === undefined) firstSource.set(app.slug, app.source);
    else loaded.problems.push(`${app.source}: /slug ${app.slug} is already defined by ${other}`);
  }
}

function finish(loaded: RegistryInspection): AppRegistry {
  if (loaded.problems.length > 0) throw new RegistryError(loaded.problems);
  return registryOf(loaded.apps);
}

function addDocument(loaded: RegistryInspection, doc: unknown, source: Source, insecureLoopback: boolean): void {
  if (doc === undefined) return; // YAML errors were reported already
  const report = (problem: Problem): void => void loaded.problems.push(`${source.label}: ${problem.pointer || '/'} ${problem.message}`);
  const schemaProblems = checkSchema(doc);
  if (schemaProblems.length > 0) {
    schemaProblems.forEach(report);
    return;
  }
  const app = doc as AppDefinition;
  const problems = crossCheck(app, { expectedSlug: source.expectedSlug, insecureLoopback });
  if (problems.length > 0) {
    problems.forEach(report);
    return;
  }
  loaded.apps.push(normalizeApp(app, source.label));
}

/** Schema problems, checked against the variant `auth_type` names (a union's errors are unreadable). */
function checkSchema(doc: unknown): Problem[] {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return [{ pointer: '/', message: 'must be a mapping (key: value pairs)' }];
  const authType = (doc as { auth_type?: unknown }).auth_type;
  if (authType === undefined) return [{ pointer: '/auth_type', message: 'is required (oauth, oauth1, keys, none or mcp)' }];
  if (typeof authType !== 'string' || !Object.hasOwn(validators, authType))
    return [{ pointer: '/auth_type', message: 'must be oauth, oauth1, keys, none or mcp' }];
  const validator = validators[authType as AppDefinition['auth_type']];
  if (validator.Check(doc)) return [];
  const errors = [...validator.Errors(doc)];
  // A missing property also fails its type check; report it once, as missing.
  const missing = new Set(errors.filter((error) => error.type === ValueErrorType.ObjectRequiredProperty).map((error) => error.path));
  const seen = new Set<string>();
  const problems: Problem[] = [];
  for (const error of errors) {
    if (missing.has(error.path) && error.type !== ValueErrorType.ObjectRequiredProperty) continue;
    const problem = { pointer: error.path, message: describeSchemaError(error) };
    const key = `${problem.pointer} ${problem.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    problems.push(problem);
  }
  return problems;
}

function describeSchemaError(error: ValueError): string {
  if (error.type === ValueErrorType.ObjectRequiredProperty) return 'is required';
  if (error.path === '/oauth/pkce') return 'must be true or false (PKCE is always S256; plain is never allowed)';
  // A Record's key that fails its pattern (a header name with a space) reads as a bad name, not a stray property.
  const keyPatterns = (error.schema as { patternProperties?: Record<string, unknown> }).patternProperties;
  if (error.type === ValueErrorType.ObjectAdditionalProperties && keyPatterns !== undefined)
    return `is not a valid name (must match ${Object.keys(keyPatterns).join(' or ')})`;
  const pattern = (error.schema as { pattern?: unknown }).pattern;
  if (error.type === ValueErrorType.StringPattern && typeof pattern === 'string') return `must match ${pattern}`;
  return error.message.charAt(0).toLowerCase() + error.message.slice(1);
}

function parseYaml(text: string, label: string, problems: string[]): unknown {
  // YAML 1.2 core schema: `on`/`yes` stay strings; duplicate keys are errors; alias expansion
  // is bounded so a crafted file cannot blow up memory.
  const document = parseDocument(text, { schema: 'core', uniqueKeys: true });
  if (document.errors.length > 0) {
    for (const error of document.errors) {
      const where = error.linePos?.[0];
      const message = error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
      problems.push(`${label}: / invalid YAML${where === undefined ? '' : ` at line ${where.line}, column ${where.col}`}: ${message}`);
    }
    return undefined;
  }
  try {
    return document.toJS({ maxAliasCount: 100 });
  } catch (err) {
    problems.push(`${label}: / invalid YAML: ${(err as Error).message}`);
    return undefined;
  }
}

// Synchronous on purpose: this runs once, before the server listens, and a few hundred small
// reads are several times cheaper without a round trip through the thread pool each.
function readSmallFile(file: string): string | { error: string } {
  try {
    const info = statSync(file);
    if (!info.isFile()) return { error: 'is not a regular file' };
    if (info.size > MAX_FILE_BYTES) return { error: `is larger than ${MAX_FILE_BYTES} bytes` };
    return readFileSync(file, 'utf8');
  } catch (err) {
    return { error: `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})` };
  }
}

/** Relative to the working directory when inside it (`app-registry/acme.yaml`), else absolute. */
function displayPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative === '' || relative.startsWith('..') || path.isAbsolute(relative) ? file : relative;
}

function packageRoot(from: string): string {
  let dir = path.dirname(from);
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${from}`);
    dir = parent;
  }
}
