// Error pages lead somewhere: "Try again" reopens the Connect Link this tab showed (when starting
// again can help), "Return to …" goes to the backend's error_redirect_uri, Close when framed.
import t from 'tap';
import { browserSkipReason, openPage } from '../fixtures/browser.ts';
import { connectProject, startConnectServices, type ConnectServices } from '../fixtures/connect-env.ts';

const skip = browserSkipReason();
let services: Promise<ConnectServices> | undefined;
const sharedServices = (): Promise<ConnectServices> => (services ??= startConnectServices(t));

t.test('an error found once the token is known links back to the backend’s error_redirect_uri', async (t) => {
  const env = await connectProject(await sharedServices());
  const token = await env.mint({ errorRedirectUri: 'https://backend.example/connect-failed?step=2' });
  const res = await fetch(`${env.publicUrl}/connect?token=${token}&app=no_such_app`);
  const html = await res.text();
  t.equal(res.status, 404);
  t.match(html, '<a class="button secondary" href="https://backend.example/connect-failed?step&#61;2&amp;error&#61;app_unknown">Return to backend.example</a>');
  t.notMatch(html, '<button type="button" class="primary" data-retry', 'another try with this link cannot name another app');
});

t.test('without a token there is nowhere to return to, and nothing to retry', async (t) => {
  const env = await connectProject(await sharedServices());
  const html = await (await fetch(`${env.publicUrl}/connect?token=ctok_unknown&app=keys-test`)).text();
  t.notMatch(html, 'Return to');
  t.notMatch(html, '<button type="button" class="primary" data-retry');
});

t.test('in Chromium, "Try again" on a failed sign-in reopens the Connect Link this tab showed', { skip }, async (t) => {
  const env = await connectProject(await sharedServices());
  const link = `${env.publicUrl}/connect?token=${await env.mint()}&app=oidc-test`;
  const { page } = await openPage(t);
  await page.goto(link);
  await page.goto(`${env.publicUrl}/connect/oauth/callback?state=not-ours&code=x`);
  t.equal(await page.locator('h1').textContent(), 'This sign-in could not be verified');
  const retry = page.getByRole('button', { name: 'Try again' });
  t.ok(await retry.isVisible(), 'shown: this tab has a link to go back to');
  await retry.click();
  await page.waitForURL(link);
  t.equal(await page.locator('h1').textContent(), 'Connect OIDC Test', 'back on the Connect Link page');
});

t.test('in Chromium, a tab that never showed a Connect Link gets no "Try again"', { skip }, async (t) => {
  const env = await connectProject(await sharedServices());
  const { page } = await openPage(t);
  await page.goto(`${env.publicUrl}/connect/oauth/callback?state=not-ours&code=x`);
  t.equal(await page.locator('h1').textContent(), 'This sign-in could not be verified');
  t.equal(await page.locator('[data-retry]').count(), 1, 'the button is in the page');
  t.notOk(await page.getByRole('button', { name: 'Try again' }).isVisible(), 'but hidden: no link to go back to');
});
