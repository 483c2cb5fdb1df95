// The frame of every hosted page: one document, one nonce'd stylesheet, one nonce'd script and a
// JSON data block it reads (never string-built JavaScript). Works without the script; the script
// only adds focus handling, postMessage to the embedding page and the OAuth popup when framed.
import { SafeHtml, jsonForScript, markup } from './html.ts';
import type { PageSecurity } from './security-headers.ts';

export type PageMessage = { type: 'success'; authProvisionId: string } | { type: 'error'; error: string };

/** What the page script may do; read from a JSON block, not from the URL. */
export interface PageData {
  /** allowed_origins of the connect token: the only targets of postMessage. */
  readonly origins: readonly string[];
  /** Sent once on load (the result page). */
  readonly message?: PageMessage;
}

export interface PageContent {
  readonly title: string;
  readonly main: SafeHtml;
  readonly data: PageData;
}

const STYLES = `
:root { color-scheme: light dark; --fg: #1b1f24; --muted: #57606a; --bg: #fff; --card: #f6f8fa; --accent: #0a58ca; --on-accent: #fff; --error: #b42318; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --muted: #9da7b3; --bg: #0d1117; --card: #161b22; --accent: #6ea8fe; --on-accent: #0d1117; --error: #ff7b72; } }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
main { max-width: 28rem; margin: 3rem auto; padding: 2rem; background: var(--card); border-radius: 12px; }
h1 { font-size: 1.4rem; margin: 0 0 1rem; }
.app-logo { display: block; margin: 0 0 .75rem; border-radius: 12px; }
h2 { font-size: 1rem; margin: 1rem 0 .5rem; }
.permissions { margin: 0 0 1rem; padding-left: 1.25rem; }
.permissions code { font-size: .875rem; overflow-wrap: anywhere; }
h1:focus { outline: none; }
p { margin: 0 0 1rem; }
.muted { color: var(--muted); font-size: .9rem; }
label { display: block; font-weight: 600; margin: 1rem 0 .25rem; }
input { width: 100%; padding: .6rem; font: inherit; border: 1px solid var(--muted); border-radius: 6px; background: var(--bg); color: var(--fg); }
input[aria-invalid="true"] { border-color: var(--error); }
.hint { color: var(--muted); font-size: .875rem; margin: .25rem 0 0; }
.field-error, .alert { color: var(--error); }
.alert { border: 1px solid var(--error); border-radius: 6px; padding: .75rem; margin: 0 0 1rem; }
.actions { display: flex; gap: .75rem; margin-top: 1.5rem; flex-wrap: wrap; }
button { font: inherit; padding: .6rem 1.2rem; border-radius: 6px; border: 1px solid var(--accent); cursor: pointer; }
/* Dark mode's light accent takes dark text: white on it was 2.4:1 (WCAG AA asks 4.5:1). */
button.primary { background: var(--accent); color: var(--on-accent); }
button.secondary, a.button.secondary { background: transparent; color: var(--accent); }
a.button { display: inline-block; font: inherit; padding: .6rem 1.2rem; border-radius: 6px; border: 1px solid var(--accent); text-decoration: none; }
button:focus-visible, input:focus-visible, a.button:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
`;

// Plain ES2017, no framework. postMessage only with an explicit targetOrigin per allowed origin
// (never '*'), plus our own origin for the OAuth popup relay below (only our pages live there).
const SCRIPT = `
(function () {
  var data = JSON.parse(document.getElementById('latchkey-data').textContent);
  var target = window.opener || (window.parent !== window ? window.parent : null);
  function post(message) {
    if (!target) return;
    data.origins.concat([location.origin]).forEach(function (origin) {
      try { target.postMessage(message, origin); } catch (e) { /* an origin the browser refuses */ }
    });
  }
  if (data.message) post(data.message);
  // "Try again" on an error page reopens the Connect Link this tab last showed (kept by its start
  // page; nothing is kept without script, and the button stays hidden then). The server decides
  // again whether the link is still usable.
  var LINK_KEY = 'latchkey:connect-link';
  try {
    if (location.pathname === '/connect') sessionStorage.setItem(LINK_KEY, location.href);
    var retry = document.querySelector('[data-retry]');
    var link = sessionStorage.getItem(LINK_KEY);
    if (retry && link) {
      retry.hidden = false;
      retry.addEventListener('click', function () { location.href = link; });
    }
  } catch (e) { /* storage refused (a sandboxed frame): no "Try again" */ }
  Array.prototype.forEach.call(document.querySelectorAll('[data-close]'), function (button) {
    button.hidden = !target;
    button.addEventListener('click', function () { post({ type: 'close' }); if (window.opener) window.close(); });
  });
  var focus = document.querySelector('[aria-invalid="true"]') || document.querySelector('[data-autofocus]');
  if (focus) focus.focus();
  // Framed, the provider's pages would refuse to load (and our cookie would be third-party):
  // authorize in a popup, and relay its result from our own origin to the embedding page.
  var form = document.querySelector('form[data-oauth]');
  if (form && window.parent !== window) {
    form.target = 'latchkey_oauth';
    form.addEventListener('submit', function () {
      var popup = window.open('', 'latchkey_oauth', 'popup,width=600,height=720');
      if (!popup) return;
      window.addEventListener('message', function (event) {
        if (event.source !== popup || event.origin !== location.origin) return;
        var m = event.data;
        if (!m || (m.type !== 'success' && m.type !== 'error' && m.type !== 'close')) return;
        post(m.type === 'success' ? { type: 'success', authProvisionId: String(m.authProvisionId) } : m.type === 'error' ? { type: 'error', error: String(m.error) } : { type: 'close' });
        popup.close();
      });
    });
  }
})();
`;

export function renderPage(content: PageContent, security: PageSecurity): string {
  const page = markup`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${content.title}</title>
<style nonce="${security.nonce}">${raw(STYLES)}</style>
</head>
<body>
<main id="main">
${content.main}
</main>
<script type="application/json" id="latchkey-data">${jsonForScript(content.data)}</script>
<script nonce="${security.nonce}">${raw(SCRIPT)}</script>
</body>
</html>
`;
  return page.value;
}

/** Our own constants only (the stylesheet and the script), never a value from outside. */
function raw(constant: string): SafeHtml {
  return new SafeHtml(constant);
}
