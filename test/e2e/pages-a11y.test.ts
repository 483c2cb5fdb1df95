// Accessibility of every hosted page state, in light and dark mode, checked by axe-core in
// Chromium against WCAG 2.2 A/AA (contrast included). Each state is also saved as a screenshot
// under .tap/screenshots/ for a person to review; the test itself judges only axe's findings.
import { mkdir } from 'node:fs/promises';
import axe from 'axe-core';
import type { Page } from 'playwright-core';
import t, { type Test } from 'tap';
import { TEST_ADMIN_TOKEN } from '../fixtures/app.ts';
import { browserSkipReason, openPage } from '../fixtures/browser.ts';
import { GOOD_KEY, connectProject, startConnectServices, type ConnectEnv, type ConnectServices } from '../fixtures/connect-env.ts';

const skip = browserSkipReason();
// A 16×16 PNG (an orange square): the project's logo in the branded states.
const LOGO_PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAAFklEQVR42mP8z8DwnxLMOGrAqAGjBgAAwmsfAQxbDR8AAAAASUVORK5CYII=', 'base64');
const SCREENSHOTS = new URL('../../.tap/screenshots/', import.meta.url);
let services: Promise<ConnectServices> | undefined;
const sharedServices = (): Promise<ConnectServices> => (services ??= startConnectServices(t));

interface Violation {
  id: string;
  impact: string | null;
  nodes: { target: string[] }[];
}

/** axe-core's findings on the page as it is now (run through the debugging protocol, so the page's CSP does not apply). */
async function axeViolations(page: Page): Promise<Violation[]> {
  await page.evaluate(axe.source);
  return page.evaluate(async () => {
    // Runs in the page; this file is typed without the DOM library, hence globalThis.
    const inPage = (globalThis as unknown as { axe: typeof axe }).axe;
    const result = await inPage.run({ runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] } });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact ?? null, nodes: v.nodes.map((n) => ({ target: n.target.map(String) })) }));
  });
}

type PageState = (env: ConnectEnv, page: Page) => Promise<void>;

/** The project as a real one is shown: name, support address, privacy link and a logo of its own. */
async function brand(env: ConnectEnv): Promise<void> {
  await env.pd.projects.update(env.client.projectId, { appName: 'Acme', supportEmail: 'help@acme.example' });
  await env.testApp.app.server.inject({
    method: 'PATCH',
    url: `/v1/admin/projects/${env.client.projectId}`,
    headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    payload: { privacy_url: 'https://acme.example/privacy', terms_url: 'https://acme.example/terms' },
  });
  await env.pd.projects.updateLogo(env.client.projectId, { logo: `data:image/png;base64,${LOGO_PNG.toString('base64')}` });
}

const STATES: Record<string, PageState> = {
  'oauth-start-branded': async (env, page) => {
    await brand(env);
    await page.goto(`${env.publicUrl}/connect?token=${await env.mint()}&app=oidc-test`);
    await page.waitForSelector('header.brand img');
  },
  'key-form-branded': async (env, page) => {
    await brand(env);
    await page.goto(`${env.publicUrl}/connect?token=${await env.mint()}&app=keys-test`);
    await page.waitForSelector('footer.brand');
  },
  'oauth-start': async (env, page) => {
    await page.goto(`${env.publicUrl}/connect?token=${await env.mint()}&app=oidc-test`);
  },
  'key-form': async (env, page) => {
    await page.goto(`${env.publicUrl}/connect?token=${await env.mint()}&app=keys-test`);
  },
  'key-form-refused-key': async (env, page) => {
    await page.goto(`${env.publicUrl}/connect?token=${await env.mint()}&app=keys-test`);
    await page.getByLabel('API key').fill('sk_wrongkey99');
    await page.getByRole('button', { name: 'Connect' }).click();
    await page.waitForSelector('.alert');
  },
  'key-form-missing-field': async (env, page) => {
    await page.goto(`${env.publicUrl}/connect?token=${await env.mint()}&app=keys-test`);
    await page.getByRole('button', { name: 'Connect' }).click();
    await page.waitForSelector('[aria-invalid="true"]');
  },
  success: async (env, page) => {
    await page.goto(`${env.publicUrl}/connect?token=${await env.mint()}&app=keys-test`);
    await page.getByLabel('API key').fill(GOOD_KEY);
    await page.getByRole('button', { name: 'Connect' }).click();
    await page.waitForSelector('[role="status"]');
  },
  'error-sign-in-failed-with-ways-on': async (env, page) => {
    await page.goto(`${env.publicUrl}/connect?token=${await env.mint({ errorRedirectUri: 'https://backend.example/failed' })}&app=oidc-test`);
    await page.goto(`${env.publicUrl}/connect?token=${await env.mint({ errorRedirectUri: 'https://backend.example/failed' })}&app=no_such_app`);
    await page.waitForSelector('a.button');
  },
  'error-invalid-link': async (env, page) => {
    await page.goto(`${env.publicUrl}/connect?token=ctok_not_a_real_token&app=keys-test`);
    await page.waitForSelector('[role="alert"]');
  },
};

for (const scheme of ['light', 'dark'] as const) {
  for (const [name, reach] of Object.entries(STATES)) {
    t.test(`${name} in ${scheme} mode: no axe-core violation of WCAG 2.2 AA`, { skip }, async (t: Test) => {
      const env = await connectProject(await sharedServices());
      const { page } = await openPage(t);
      await page.emulateMedia({ colorScheme: scheme });
      await reach(env, page);
      await mkdir(SCREENSHOTS, { recursive: true });
      await page.screenshot({ path: new URL(`${name}-${scheme}.png`, SCREENSHOTS).pathname, fullPage: true });
      t.same(await axeViolations(page), [], 'axe-core finds nothing');
    });
  }
}
