// A provider's strings that latchkey keeps outside a sealed credential (an account's name, its
// granted scopes) end up in PostgreSQL text and jsonb columns and in webhook payloads. PostgreSQL
// refuses NUL in text and `\u0000` or an unpaired surrogate escape in jsonb, so one such
// character from a provider would fail the transaction that stores the account, after the state
// and the code were spent. They are cleaned here, where the provider's answer is read; secrets
// are not: they are sealed byte for byte and never reach a text column.

// C0 controls and DEL: NUL breaks PostgreSQL, the rest have no place in a name or a scope.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/g;
// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** The string without control characters, every unpaired surrogate replaced by U+FFFD. */
export function storableProviderText(value: string): string {
  return value.replace(CONTROL_CHARACTERS, '').replace(LONE_SURROGATE, '\ufffd');
}

/** A display value from a provider: cleaned, trimmed, at most `maxLength` UTF-16 units, or null when nothing is left. */
export function providerDisplayText(value: string | undefined, maxLength = 200): string | null {
  if (value === undefined) return null;
  // Cut first, then clean: a cut through a surrogate pair leaves a lone half, which cleaning replaces.
  const cleaned = storableProviderText(value.slice(0, maxLength)).trim();
  return cleaned === '' ? null : cleaned;
}
