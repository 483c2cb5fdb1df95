// npm run openapi — regenerates openapi.yaml from the route schemas.
import { writeFile } from 'node:fs/promises';
import { generateOpenApiYaml } from './openapi-document.ts';

await writeFile(new URL('../openapi.yaml', import.meta.url), await generateOpenApiYaml());
console.log('openapi.yaml written');
