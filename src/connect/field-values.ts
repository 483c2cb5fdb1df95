// The values a user types into a generated form (a keys app's credentials, an OAuth app's
// subdomain): required unless optional, the registry pattern matched in full, no control
// characters (they would end up in URLs and headers), bounded length. Checked on the server;
// the browser's own checks are a convenience.
import { CONNECT_FLOW_ERRORS, ConnectFlowError } from '../errors.ts';
import { fieldValueMatches, type RegistryField } from '../registry/registry.ts';
import { hasControlCharacter } from '../registry/templates.ts';

export const FIELD_VALUE_MAX_LENGTH = 4096;

/** Re-renders the form: a message per field, the non-secret values to fill back in. */
export class FieldValidationError extends ConnectFlowError {
  constructor(
    readonly fieldErrors: Readonly<Record<string, string>>,
    readonly keptValues: Readonly<Record<string, string>>,
    readonly formMessage: string = CONNECT_FLOW_ERRORS.fields_invalid.message,
    cause?: unknown,
  ) {
    super('fields_invalid', cause === undefined ? undefined : { cause });
  }
}

export function fieldInputName(field: Pick<RegistryField, 'name'>): string {
  return `f_${field.name}`;
}

/** Values keyed by field name; throws FieldValidationError naming every bad field at once. */
export function checkFieldValues(fields: readonly RegistryField[], submitted: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const values: Record<string, string> = {};
  const errors: Record<string, string> = {};
  for (const field of fields) {
    const raw = submittedValue(field, submitted);
    // Pasted keys often carry a stray space or newline at either end.
    const value = typeof raw === 'string' ? raw.trim() : '';
    if (value === '') {
      if (field.default !== undefined) values[field.name] = field.default;
      else if (!field.optional) errors[field.name] = `Enter ${field.label}.`;
      continue;
    }
    if (value.length > FIELD_VALUE_MAX_LENGTH || hasControlCharacter(value) || !fieldValueMatches(field, value)) {
      errors[field.name] = `${field.label} is not in the expected format.`;
      continue;
    }
    values[field.name] = value;
  }
  if (Object.keys(errors).length > 0) throw new FieldValidationError(errors, keepNonSecret(fields, values));
  return values;
}

/** The input under the field's name, else under an older name (a form or link built before a rename). */
function submittedValue(field: RegistryField, submitted: Readonly<Record<string, string | undefined>>): string | undefined {
  const current = submitted[fieldInputName(field)];
  if (current !== undefined) return current;
  for (const alias of field.aliases) {
    const old = submitted[fieldInputName({ name: alias })];
    if (old !== undefined) return old;
  }
  return undefined;
}

export function keepNonSecret(fields: readonly RegistryField[], values: Readonly<Record<string, string>>): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const field of fields) {
    const value = values[field.name];
    if (!field.secret && value !== undefined) kept[field.name] = value;
  }
  return kept;
}
