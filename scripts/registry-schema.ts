// Writes app-registry/schema.json from the code's schema. `--check` exits 1 when it is stale.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { REGISTRY_JSON_SCHEMA_FILE, registryJsonSchema } from '../src/registry/json-schema.ts';
import { BUILTIN_REGISTRY_DIR } from '../src/registry/loader.ts';

const file = path.join(BUILTIN_REGISTRY_DIR, REGISTRY_JSON_SCHEMA_FILE);
const generated = registryJsonSchema();

if (process.argv.includes('--check')) {
  const committed = await readFile(file, 'utf8').catch(() => '');
  if (committed !== generated) {
    console.error(`${path.relative(process.cwd(), file)} is stale: run npm run registry:schema`);
    process.exit(1);
  }
} else {
  await writeFile(file, generated);
  console.log(`wrote ${path.relative(process.cwd(), file)}`);
}
