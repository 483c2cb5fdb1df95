// Fastify's schema compilers (Ajv for validation, fast-json-stringify for responses), with every
// compiled function kept by the schema's JSON text. Fastify's defaults compile each route's
// schemas again for every app instance: ~0.6 s of CPU per app, which a test process pays for
// each app it builds. One SchemaCompilers handed to several apps (buildApp's `schemaCompilers`)
// compiles each distinct schema once; a deployment builds one app, where nothing changes.
// The compiled functions are pure (they read only the schema and the options they were built
// with), so sharing them between apps cannot carry state from one to another.
import AjvCompiler from '@fastify/ajv-compiler';
import SerializerSelector from '@fastify/fast-json-stringify-compiler';
import type { FastifyServerOptions } from 'fastify';
import { serializerSchema } from './serializer-schema.ts';

type CompilersFactory = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>;

/** What Fastify hands a compiler for each schema of a route (the packages' own types name only some of it). */
interface RouteSchema {
  readonly schema: unknown;
  readonly method: string;
  readonly url: string;
  readonly httpPart?: string;
}
type Compile = (route: RouteSchema) => unknown;
type CompilerFactory = (externalSchemas: unknown, options: unknown) => Compile;

export interface SchemaCompilers {
  readonly buildValidator: NonNullable<CompilersFactory['buildValidator']>;
  readonly buildSerializer: NonNullable<CompilersFactory['buildSerializer']>;
}

export function createSchemaCompilers(): SchemaCompilers {
  const buildValidator = rememberingFactory(AjvCompiler() as unknown as CompilerFactory, (route) => {
    if (route.httpPart === 'headers') checkLowerCaseHeaderNames(route.schema, `${route.method} ${route.url}`);
  });
  const buildSerializer = rememberingFactory(serializingRewritten(SerializerSelector() as unknown as CompilerFactory), () => {});
  return { buildValidator, buildSerializer } as unknown as SchemaCompilers;
}

/** A serializer factory that compiles each response schema as serializer-schema.ts rewrites it. */
function serializingRewritten(factory: CompilerFactory): CompilerFactory {
  return (externalSchemas, options) => {
    const compile = factory(externalSchemas, options);
    return (route) => compile({ ...route, schema: serializerSchema(route.schema) });
  };
}

/** A factory that builds one compiler per set of external schemas and options, each remembering what it compiled. */
function rememberingFactory(factory: CompilerFactory, check: (route: RouteSchema) => void): CompilerFactory {
  const compilers = new Map<string, Compile>();
  return (externalSchemas, options) => {
    const key = JSON.stringify([externalSchemas, options]);
    let compiler = compilers.get(key);
    if (compiler === undefined) {
      const compile = factory(externalSchemas, options);
      const compiled = new Map<string, unknown>();
      compiler = (route) => {
        check(route);
        return remembered(compiled, route.schema, () => compile(route));
      };
      compilers.set(key, compiler);
    }
    return compiler;
  };
}

function remembered<T>(compiled: Map<string, T>, schema: unknown, compile: () => T): T {
  const key = JSON.stringify(schema);
  let fn = compiled.get(key);
  if (fn === undefined) {
    fn = compile();
    compiled.set(key, fn);
  }
  return fn;
}

/**
 * With compilers of its own, Fastify hands a headers schema over as written instead of
 * lower-casing its property names first, while Node lower-cases every request header name:
 * a schema naming `X-Foo` would never see the header. Refused when the route is built.
 */
function checkLowerCaseHeaderNames(schema: unknown, route: string): void {
  const properties = (schema as { properties?: Record<string, unknown> } | null)?.properties ?? {};
  const required = (schema as { required?: unknown[] } | null)?.required ?? [];
  for (const name of [...Object.keys(properties), ...required.map(String)]) {
    if (name !== name.toLowerCase()) throw new Error(`${route}: header names in a schema must be lower case (${name})`);
  }
}
