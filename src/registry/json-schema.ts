// app-registry/schema.json, generated from schema.ts (`npm run registry:schema`); editors validate
// the YAML files with it, and a test fails when the committed file drifts from this output.
import { AppDefinitionSchema } from './schema.ts';

export const REGISTRY_JSON_SCHEMA_FILE = 'schema.json';

export function registryJsonSchema(): string {
  // JSON.stringify drops TypeBox's symbol keys, leaving plain JSON Schema.
  return `${JSON.stringify({ $schema: 'http://json-schema.org/draft-07/schema#', ...AppDefinitionSchema }, null, 2)}\n`;
}
