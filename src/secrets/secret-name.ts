// A project secret's name: an environment variable's name (upper case, digits, underscore), so a
// program can keep it under the same name, and nothing in it needs encoding in a URL path.
export const SECRET_NAME_REGEX = /^[A-Z][A-Z0-9_]{0,127}$/;

/** The largest value a secret holds: 64 KiB of UTF-8. */
export const SECRET_VALUE_MAX_BYTES = 64 * 1024;
