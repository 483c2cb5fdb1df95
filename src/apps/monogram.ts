// A generated icon for apps whose file names no image: the first letter of the name on a colour
// derived from the slug. The letter comes from an operator's file, so it is XML-escaped.

const SIZE = 64;

export function monogramSvg(name: string, slug: string): string {
  const letter = escapeXml((/[\p{L}\p{N}]/u.exec(name)?.[0] ?? '?').toLocaleUpperCase('en'));
  const hue = hash(slug) % 360;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${SIZE}" height="${SIZE}" viewBox="0 0 ${SIZE} ${SIZE}" role="img">`,
    `<rect width="${SIZE}" height="${SIZE}" rx="12" fill="hsl(${hue},55%,42%)"/>`,
    `<text x="50%" y="50%" dy=".35em" text-anchor="middle" font-family="system-ui,-apple-system,Segoe UI,Roboto,sans-serif" font-size="32" font-weight="600" fill="#fff">${letter}</text>`,
    '</svg>',
  ].join('');
}

function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** FNV-1a: a stable, well-spread colour per slug. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}
