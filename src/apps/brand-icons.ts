// App logos from simple-icons (the npm package is CC0; the marks remain their owners'
// trademarks, shown here to name the service the user connects, as simple-icons' disclaimer
// allows). An app's mark is found by, in order: the registry's `brand_icon`, the slug without
// punctuation (`google_sheets` → `googlesheets`), the name without punctuation, then the slug's
// leading words (`zoho_crm` → `zoho`). Apps without a mark keep the generated monogram.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { RegistryApp } from '../registry/registry.ts';

const require = createRequire(import.meta.url);
const SIZE = 64;
const MARK_INSET = 12;

interface IconEntry {
  readonly slug: string;
  readonly hex: string;
}

export class BrandIcons {
  private readonly hexBySlug: ReadonlyMap<string, string>;
  private readonly iconsDir: string;
  /** Rendered SVG per app slug (null: no mark). Bounded by the registry's size. */
  private readonly rendered = new Map<string, string | null>();

  constructor() {
    // Only slug and colour are kept of the ~1 MB catalogue; the paths are read per app, once.
    const catalogue = require('simple-icons/icons.json') as IconEntry[];
    this.hexBySlug = new Map(catalogue.map((icon) => [icon.slug, icon.hex]));
    this.iconsDir = path.dirname(require.resolve('simple-icons/icons/github.svg'));
  }

  /** The app's logo as a 64×64 SVG on a light tile, or undefined when simple-icons has none. */
  svgFor(app: RegistryApp): string | undefined {
    let svg = this.rendered.get(app.slug);
    if (svg === undefined) {
      const slug = this.markSlug(app);
      svg = slug === undefined ? null : this.render(slug);
      this.rendered.set(app.slug, svg);
    }
    return svg ?? undefined;
  }

  markSlug(app: RegistryApp): string | undefined {
    if (app.brand_icon === false) return undefined;
    if (app.brand_icon !== undefined) return this.hexBySlug.has(app.brand_icon) ? app.brand_icon : undefined;
    return candidateSlugs(app).find((slug) => this.hexBySlug.has(slug));
  }

  private render(slug: string): string {
    const source = readFileSync(path.join(this.iconsDir, `${slug}.svg`), 'utf8');
    // simple-icons files are one 24×24 <path>; the `d` attribute is all that is reused.
    const d = /<path d="([^"]+)"/.exec(source)?.[1];
    if (d === undefined) throw new Error(`simple-icons/${slug}.svg has no path`);
    const scale = (SIZE - 2 * MARK_INSET) / 24;
    return [
      `<svg xmlns="http://www.w3.org/2000/svg" width="${SIZE}" height="${SIZE}" viewBox="0 0 ${SIZE} ${SIZE}" role="img">`,
      `<rect width="${SIZE}" height="${SIZE}" rx="12" fill="#fff" stroke="#d0d5dd"/>`,
      `<path transform="translate(${MARK_INSET} ${MARK_INSET}) scale(${scale})" fill="#${this.hexBySlug.get(slug)}" d="${d}"/>`,
      '</svg>',
    ].join('');
  }
}

function candidateSlugs(app: RegistryApp): string[] {
  const compact = (text: string) => text.toLowerCase().replace(/[^a-z0-9]/g, '');
  const words = app.slug.split('_');
  const leading = words.slice(0, -1).map((_, i) => words.slice(0, words.length - 1 - i).join(''));
  return [compact(app.slug), compact(app.name), ...leading];
}
