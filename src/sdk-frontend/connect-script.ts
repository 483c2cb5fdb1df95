// The browser module served at /sdk/connect.js and its types at /sdk/connect.d.ts. Kept as
// strings so the build needs no asset copying: dist/ serves exactly what src/ does.
//
// Unlike @pipedream/sdk's frontend client, it checks every message: the sender must be the
// frame or popup it opened (event.source) at latchkey's origin (event.origin).

export const CONNECT_JS = `// latchkey connect.js — open the Connect Link in an iframe or a popup.
// import { connectAccount } from 'https://<latchkey>/sdk/connect.js';
const SCRIPT_ORIGIN = new URL(import.meta.url).origin;
let opened = 0;

export class ConnectError extends Error {
  constructor(code) {
    super('connect failed: ' + code);
    this.name = 'ConnectError';
    this.code = code;
  }
}

export function connectAccount(options) {
  if (options === null || typeof options !== 'object') throw new TypeError('connectAccount: options must be an object');
  if (typeof options.app !== 'string' || options.app === '') throw new TypeError('connectAccount: app must be a non-empty string');
  if (typeof options.token !== 'string' || options.token === '') throw new TypeError('connectAccount: token must be a non-empty string');
  const mode = options.mode === undefined ? 'iframe' : options.mode;
  if (mode !== 'iframe' && mode !== 'popup') throw new TypeError("connectAccount: mode must be 'iframe' or 'popup'");
  const base = new URL(options.baseUrl === undefined ? SCRIPT_ORIGIN : options.baseUrl);
  const expectedOrigin = base.origin;
  const url = new URL((base.pathname.endsWith('/') ? base.pathname : base.pathname + '/') + 'connect', base);
  url.searchParams.set('token', options.token);
  url.searchParams.set('app', options.app);
  if (options.oauthAppId) url.searchParams.set('oauthAppId', String(options.oauthAppId));
  if (options.accountId) url.searchParams.set('accountId', String(options.accountId));
  url.searchParams.set('embed', mode);

  const id = ++opened;
  let frame = null;
  let popup = null;
  let watcher = null;
  let finished = false;
  let successful = false;
  let completed = false;

  const source = () => (frame !== null ? frame.contentWindow : popup);

  function cleanup() {
    if (finished) return false;
    finished = true;
    window.removeEventListener('message', onMessage);
    if (watcher !== null) clearInterval(watcher);
    if (frame !== null) frame.remove();
    if (popup !== null && !popup.closed) popup.close();
    return true;
  }

  function close() {
    if (cleanup() && typeof options.onClose === 'function') options.onClose({ successful, completed });
  }

  function onMessage(event) {
    // Only our own window at latchkey's origin may speak; anything else is ignored.
    if (event.origin !== expectedOrigin || event.source === null || event.source !== source()) return;
    const data = event.data;
    if (data === null || typeof data !== 'object') return;
    if (data.type === 'success') {
      successful = true;
      completed = true;
      if (typeof options.onSuccess === 'function') options.onSuccess({ id: String(data.authProvisionId) });
      close();
    } else if (data.type === 'error') {
      completed = true;
      if (typeof options.onError === 'function') options.onError(new ConnectError(String(data.error)));
    } else if (data.type === 'close') {
      close();
    }
  }

  window.addEventListener('message', onMessage);
  if (mode === 'popup') {
    popup = window.open(url.toString(), 'latchkey_connect_' + id, 'popup,width=600,height=720');
    if (popup === null) {
      cleanup();
      if (typeof options.onError === 'function') options.onError(new ConnectError('popup_blocked'));
      return { close() {} };
    }
    watcher = setInterval(() => {
      if (popup.closed) close();
    }, 500);
  } else {
    frame = document.createElement('iframe');
    frame.id = 'latchkey-connect-iframe-' + id;
    frame.title = 'Connect an account';
    frame.src = url.toString();
    frame.style.cssText = 'position:fixed;inset:0;width:100%;height:100%;border:0;z-index:2147483647;background:rgba(0,0,0,.4)';
    document.body.appendChild(frame);
  }
  return { close };
}
`;

export const CONNECT_DTS = `// Types for latchkey's /sdk/connect.js.
export interface ConnectAccountOptions {
  /** The app's registry slug (e.g. "github"). */
  app: string;
  /** A connect token (ctok_…) minted by your backend for this end user; single-use. */
  token: string;
  /** The project's OAuth client to use (oa_…); default: the project's newest for the app. */
  oauthAppId?: string;
  /** Reconnect this account (apn_…) in place instead of creating a new one. */
  accountId?: string;
  /** Where latchkey is served; default: the origin this script was loaded from. */
  baseUrl?: string;
  /** A full-screen iframe (default) or a popup window. */
  mode?: 'iframe' | 'popup';
  onSuccess?: (result: { id: string }) => void;
  onError?: (error: ConnectError) => void;
  onClose?: (status: { successful: boolean; completed: boolean }) => void;
}

export interface ConnectHandle {
  /** Removes the iframe (or closes the popup) and calls onClose. */
  close(): void;
}

export declare class ConnectError extends Error {
  /** The flow's error code, e.g. "access_denied", "test_request_failed", "popup_blocked". */
  readonly code: string;
}

export declare function connectAccount(options: ConnectAccountOptions): ConnectHandle;
`;
