// The one escaping function for the hosted pages, and a tagged template that applies it to every
// interpolated value. Values from the registry and the request reach HTML only through `markup`
// (text and double-quoted attributes alike; not named `html` so formatters leave the templates alone); JSON handed to a script goes through
// jsonForScript so a value can never close the <script> element or break the JavaScript parser.

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
  '=': '&#61;',
};

/** Safe in element text and in quoted attribute values (the only kind the templates use). */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"'`=]/g, (char) => HTML_ESCAPES[char]!);
}

/** Markup that was built by `markup` (or is a constant of ours) and must not be escaped again. */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

type Interpolation = SafeHtml | string | number | boolean | null | undefined | readonly Interpolation[];

function render(value: Interpolation): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

export function markup(strings: TemplateStringsArray, ...values: Interpolation[]): SafeHtml {
  let out = strings[0]!;
  values.forEach((value, i) => {
    out += render(value) + strings[i + 1]!;
  });
  return new SafeHtml(out);
}

/**
 * JSON for a `<script type="application/json">` block. `<`, `>` and `&` become \u escapes so no
 * value can spell `</script>` or `<!--`; U+2028/U+2029 are escaped for older JavaScript parsers.
 */
export function jsonForScript(value: unknown): SafeHtml {
  const json = JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
  return new SafeHtml(json);
}
