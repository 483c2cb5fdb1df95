// /v1/admin: one parent plugin, one authentication. Every admin route is registered inside it,
// so each one gets the admin token check (requireAdmin) and the audit of refused project
// clients without repeating them.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Kysely } from 'kysely';
import type { AccountRow } from '../accounts/account.repository.ts';
import type { RefreshAccount } from '../accounts/refresh-outcome.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { recordDeniedAdminAccess } from '../audit/audited.ts';
import type { Authenticator } from '../auth/authenticate.ts';
import type { ConnectTokenDeps } from '../connect/connect-tokens.service.ts';
import type { Keyring } from '../crypto/keyring.ts';
import type { Database } from '../db/types.ts';
import { accountDetailRoutes } from './account-detail.routes.ts';
import { accountsAdminRoutes } from './accounts-admin.routes.ts';
import { adminRoutes } from './admin.routes.ts';
import { auditRoutes } from './audit.routes.ts';
import { keysAdminRoutes } from './keys-admin.routes.ts';
import { redirectOriginsAdminRoutes } from './redirect-origins-admin.routes.ts';

export interface AdminDeps {
  readonly db: Kysely<Database>;
  readonly auth: Authenticator;
  readonly auditLog: AuditLog;
  readonly keyring: Keyring;
  /** Reconnect links are connect tokens, minted with the connect API's own checks. */
  readonly connect: ConnectTokenDeps;
  readonly forceRefresh: RefreshAccount;
  /** The names of an account's credential fields (the detail view; values never leave accounts/). */
  readonly credentialFields: (row: AccountRow) => Promise<string[]>;
  readonly now: () => Date;
}

export function adminPlugin(deps: AdminDeps): FastifyPluginAsyncTypebox {
  return async (app) => {
    // onRequest: before the body is parsed or validated, so a stranger learns nothing of a schema.
    app.addHook('onRequest', deps.auth.requireAdmin);
    app.addHook('onResponse', recordDeniedAdminAccess(deps.auditLog));
    await app.register(adminRoutes({ db: deps.db, auditLog: deps.auditLog }));
    await app.register(accountsAdminRoutes({ db: deps.db, auditLog: deps.auditLog, connect: deps.connect, forceRefresh: deps.forceRefresh }));
    await app.register(accountDetailRoutes({ db: deps.db, credentialFields: deps.credentialFields, now: deps.now }));
    await app.register(auditRoutes({ db: deps.db, auditLog: deps.auditLog }));
    await app.register(keysAdminRoutes({ db: deps.db, keyring: deps.keyring }));
    await app.register(redirectOriginsAdminRoutes({ db: deps.db, auditLog: deps.auditLog }));
  };
}
