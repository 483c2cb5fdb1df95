import { readFile } from 'node:fs/promises';
import t from 'tap';
import { generateOpenApiYaml } from '../../scripts/openapi-document.ts';

t.test('the committed openapi.yaml matches the route schemas (run `npm run openapi` after changing a route)', async (t) => {
  const committed = await readFile(new URL('../../openapi.yaml', import.meta.url), 'utf8');
  const generated = await generateOpenApiYaml();
  t.ok(generated.includes('/v1/oauth/token'), 'the document lists the routes');
  t.equal(committed, generated, 'openapi.yaml is up to date');
});
