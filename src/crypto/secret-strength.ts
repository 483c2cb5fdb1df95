// Heuristic checks that a configured secret was generated, not typed. They cannot prove a secret
// is random; they catch the mistakes that happen (an all-zero or placeholder key, a token of one
// repeated character, a word repeated, a keyboard or counting run), which random secrets of the
// sizes latchkey asks for fail with a probability far below one in 2^64. Each check returns
// the reason a value is weak, or undefined: messages name the problem, never the value.

/** The key-encryption key in LATCHKEY_KEYS: 32 bytes from a CSPRNG. */
export function weakKeyMaterialReason(material: Buffer): string | undefined {
  // 32 random bytes have ~30 distinct values; fewer than 16 means zeros or a short pattern.
  if (new Set(material).size < 16) return 'has too few distinct bytes (all zero, or a repeated pattern): generate it with `npm run cli -- keys generate <id>`';
  if (isCountingRun([...material])) return 'is a counting sequence of bytes, not random bytes';
  // Printable ASCII throughout: a passphrase base64-encoded, not key material ((95/256)^32 ≈ 2^-46).
  if (material.every((byte) => byte >= 0x20 && byte < 0x7f)) return 'is text (a passphrase), not random bytes';
  return undefined;
}

/** Estimated bits a secret token must carry (a random 32-character hex token estimates ~115). */
export const MIN_TOKEN_ENTROPY_BITS = 80;

/** The admin token: compared by digest, so its strength is all its length and randomness. */
export function weakTokenReason(token: string): string | undefined {
  const chars = [...token];
  if (new Set(chars).size < 10) return 'has too few distinct characters';
  if (shortestPeriod(chars) <= chars.length / 2) return 'repeats a short pattern';
  if (isMostlyRuns(chars)) return 'is mostly a counting or keyboard run';
  if (estimatedBits(chars) < MIN_TOKEN_ENTROPY_BITS) return `has too little entropy (under ${MIN_TOKEN_ENTROPY_BITS} bits estimated)`;
  return undefined;
}

/** Every step between neighbours is the same (0,1,2,… or 5,5,5,… or 9,7,5,…), modulo 256. */
function isCountingRun(values: readonly number[]): boolean {
  if (values.length < 3) return true;
  const step = (values[1]! - values[0]! + 256) % 256;
  return values.every((value, index) => index === 0 || (value - values[index - 1]! + 256) % 256 === step);
}

/** The smallest p such that the string is a prefix of its first p characters repeated. */
function shortestPeriod(chars: readonly string[]): number {
  for (let period = 1; period < chars.length; period++) {
    if (chars.every((char, index) => char === chars[index % period])) return period;
  }
  return chars.length;
}

/** Over three quarters of neighbouring characters are equal or one apart (aaaa, abcd, 4321). */
function isMostlyRuns(chars: readonly string[]): boolean {
  let runSteps = 0;
  for (let index = 1; index < chars.length; index++) {
    if (Math.abs(chars[index]!.codePointAt(0)! - chars[index - 1]!.codePointAt(0)!) <= 1) runSteps += 1;
  }
  return runSteps > 0.75 * (chars.length - 1);
}

/** Length × the Shannon entropy of the character frequencies: an upper bound, good for refusing. */
function estimatedBits(chars: readonly string[]): number {
  const counts = new Map<string, number>();
  for (const char of chars) counts.set(char, (counts.get(char) ?? 0) + 1);
  let perChar = 0;
  for (const count of counts.values()) {
    const p = count / chars.length;
    perChar -= p * Math.log2(p);
  }
  return perChar * chars.length;
}
