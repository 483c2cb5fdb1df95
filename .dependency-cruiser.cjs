// The import graph of src/ (npm run lint): no module cycle, and the folders form one-way layers.
// Each folder may import only the folders listed before it, so a folder-level cycle (auth ↔
// admin, webhooks ↔ projects, refresh ↔ accounts) cannot come back: one of its two imports
// would climb. A new folder goes into LAYERS where what it imports lies below it.
/** @type {string[]} lowest first */
const LAYERS = [
  'crypto', // no database, no Fastify
  'db',
  'errors', // src/errors.ts: the error catalogue
  'egress', // every request latchkey sends; its name policy also judges user-typed hosts
  'registry',
  'config', // src/config.ts: the only reader of process.env
  'jobs', // src/jobs.ts: the background-job contract
  'http', // shared schemas, pagination, error handler, health, logger
  'pages',
  'keys', // the vault
  'oauth', // OAuth as named steps
  'auth',
  'unsupported', // the Pipedream resources latchkey answers 501 for
  'apps', // the one app view
  'audit',
  'branding', // who is asking: a project's app name, support address, links and logo
  'users',
  'webhooks',
  'accounts', // the one home of the account, below every feature that uses it
  'oauth-apps',
  'mcp', // remote MCP servers: discovery (RFC 9728, RFC 8414), client registration (RFC 7591), their OAuth view
  'refresh', // the refresh engine: returns outcomes to the accounts
  'account-checks', // test an account now, and the scheduled health check of key-based accounts
  'secrets', // project secrets (the docs' environment variables)
  'code-templates', // runnable programs per account and app
  'connect',
  'proxy', // the Connect proxy: accounts + registry injection + the egress guard
  'housekeeping', // deletes expired one-time records of connect, oauth and auth
  'reseal', // the online migration of sealed values to the project- and environment-bound format
  'projects',
  'admin',
  'sdk-frontend',
];

// The composition roots wire everything; nothing imports them but each other.
const ROOTS = ['app', 'runtime', 'server', 'cli'];

/** `src/<name>/…` for a folder, `src/<name>.ts` for a root file. */
const pathOf = (name) => `^src/${name.replace(/[.-]/g, (c) => `\\${c}`)}(/|\\.ts$)`;

const layerRules = LAYERS.map((layer, index) => {
  const above = [...LAYERS.slice(index + 1), ...ROOTS];
  return {
    name: `layer-${layer}`,
    comment: `${layer} may import only what lies below it: ${LAYERS.slice(0, index).join(', ') || 'nothing of src'}`,
    severity: 'error',
    from: { path: pathOf(layer) },
    to: { path: above.map(pathOf) },
  };
});

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'A module cycle: break it by moving the shared piece down, or by passing a function in from app.ts.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    ...layerRules,
    {
      name: 'unknown-folder',
      comment: 'Every folder of src/ has its place in LAYERS (.dependency-cruiser.cjs).',
      severity: 'error',
      from: { path: '^src/[^/]+/', pathNot: LAYERS.map(pathOf) },
      to: {},
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports count: a type that climbs is still a dependency that climbs.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
