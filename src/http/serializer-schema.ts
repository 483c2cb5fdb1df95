// Response schemas as fast-json-stringify is fastest with them. TypeBox writes "this or null" and
// "one of these strings" as anyOf, and fast-json-stringify serialises an anyOf by running Ajv
// against the value to pick the branch (about 1 µs a field; an account has ten such fields, a
// list of 20 accounts two hundred). The same schemas as JSON Schema's type list and enum are
// written with a typeof check. Only the serialiser sees the rewrite: validation, the OpenAPI
// document and the TypeScript types keep the schemas as written.

type Schema = Record<string, unknown>;

const PRIMITIVE_TYPES = new Set(['string', 'number', 'integer', 'boolean']);

const isSchema = (value: unknown): value is Schema => typeof value === 'object' && value !== null && !Array.isArray(value);
const isNullSchema = (value: unknown): boolean => isSchema(value) && value['type'] === 'null' && Object.keys(value).length === 1;
const isPrimitiveSchema = (value: unknown): value is Schema =>
  isSchema(value) &&
  typeof value['type'] === 'string' &&
  PRIMITIVE_TYPES.has(value['type']) &&
  !('anyOf' in value) &&
  !('oneOf' in value) &&
  !('allOf' in value);
const isStringConstant = (value: unknown): value is Schema & { const: string } => isSchema(value) && typeof value['const'] === 'string';

/** `schema`, deep-copied, with its simple anyOf unions written as type lists and enums. */
export function serializerSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(serializerSchema);
  if (!isSchema(schema)) return schema;
  const copy: Schema = {};
  for (const [key, value] of Object.entries(schema)) copy[key] = serializerSchema(value);
  const anyOf = copy['anyOf'];
  if (!Array.isArray(anyOf)) return copy;
  const { anyOf: _, ...outer } = copy;

  // A primitive or null: { type: [primitive, 'null'], …the primitive's keywords }.
  const nonNull = anyOf.filter((member) => !isNullSchema(member));
  if (anyOf.length === 2 && nonNull.length === 1 && isPrimitiveSchema(nonNull[0])) {
    const primitive = nonNull[0];
    return { ...primitive, ...outer, type: [primitive['type'], 'null'] };
  }
  // String constants: { type: 'string', enum: [...] }.
  if (anyOf.length > 0 && anyOf.every(isStringConstant)) {
    return { ...outer, type: 'string', enum: anyOf.map((member) => member.const) };
  }
  return copy;
}
