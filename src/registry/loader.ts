// Loads app-registry/ and LATCHKEY_APP_REGISTRY_DIRS. (Minimal first version: parse + schema.)
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Value } from '@sinclair/typebox/value';
import { parse } from 'yaml';
import { registryFromDefinitions, type AppRegistry } from './registry.ts';
import { AppDefinitionSchema, type AppDefinition } from './schema.ts';

export const BUILTIN_REGISTRY_DIR = fileURLToPath(new URL('../../app-registry', import.meta.url).href.replace('/dist/app-registry', '/app-registry'));

export class RegistryError extends Error {
  constructor(readonly problems: string[]) {
    super(`app registry is invalid:\n${problems.join('\n')}`);
    this.name = 'RegistryError';
  }
}

export interface RegistryOptions {
  dirs: readonly string[];
  insecureLoopback: boolean;
}

export async function loadRegistry(options: RegistryOptions): Promise<AppRegistry> {
  const problems: string[] = [];
  const apps: AppDefinition[] = [];
  for (const dir of options.dirs) {
    for (const name of (await readdir(dir)).filter((f) => f.endsWith('.yaml')).sort()) {
      const file = path.join(dir, name);
      const doc: unknown = parse(await readFile(file, 'utf8'));
      if (!Value.Check(AppDefinitionSchema, doc)) {
        for (const error of Value.Errors(AppDefinitionSchema, doc)) problems.push(`${file}: ${error.path || '/'} ${error.message}`);
        continue;
      }
      apps.push(doc);
    }
  }
  if (problems.length > 0) throw new RegistryError(problems);
  return registryFromDefinitions(apps);
}
