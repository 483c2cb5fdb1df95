// Envelope encryption and token formats, in the spirit of Vault's barrier tests
// (vault/barrier_aes_gcm_test.go: Confidential, Integrity, MoveIntegrityV2, Encrypt_Unique,
// KeyLength) and the security catalogue §5 items 33–36. Pure functions: no database here.
import { randomBytes, randomUUID } from 'node:crypto';
import t from 'tap';
import { AES_KEY_BYTES, DecryptionError, NONCE_BYTES, TAG_BYTES, aesGcmDecrypt, aesGcmEncrypt, encodeAssociatedData } from '../../src/crypto/aead.ts';
import {
  generateDataKey,
  openValue,
  readSealedKeyId,
  readWrappingKeyId,
  sealValue,
  unwrapDataKey,
  wrapDataKey,
  MissingKeyError,
  type SealContext,
} from '../../src/crypto/envelope.ts';
import { KeyringError, generateKeyringEntry, parseKeyring } from '../../src/crypto/keyring.ts';
import { TOKEN_PREFIXES, digestToken, digestsEqual, hasValidTokenShape, mintId, mintToken } from '../../src/crypto/tokens.ts';

const HEADER_BYTES = 1 + 16; // format version ‖ DEK id
const context: SealContext = { table: 'accounts', column: 'credentials_enc', rowId: 'apn_row1', projectId: 'proj_a', environment: 'production' };
const plaintext = Buffer.from('{"oauth_access_token":"xoxb-very-secret-access-token-0001"}', 'utf8');

function flipBit(buffer: Buffer, index: number, bit = 0): Buffer {
  const copy = Buffer.from(buffer);
  copy[index] = copy[index]! ^ (1 << bit);
  return copy;
}

function key64(): string {
  return randomBytes(32).toString('base64');
}

t.test('confidential: the sealed bytes differ from and do not contain the plaintext', async (t) => {
  const dek = generateDataKey(randomUUID());
  const sealed = sealValue(dek, context, plaintext);
  t.not(sealed.toString('hex'), plaintext.toString('hex'));
  t.equal(sealed.indexOf(plaintext), -1, 'the plaintext is not a substring of the ciphertext');
  t.equal(sealed.indexOf(plaintext.subarray(0, 8)), -1, 'not even its first 8 bytes');
  t.notOk(sealed.toString('latin1').includes('xoxb-very-secret'));
  t.equal(sealed.length, HEADER_BYTES + NONCE_BYTES + plaintext.length + TAG_BYTES, 'header ‖ nonce ‖ ciphertext ‖ 16-byte tag');
  t.equal(sealed[0], 0x02, 'format version byte (2: bound to project and environment)');
  t.equal(readSealedKeyId(sealed), dek.id, 'the header names the data key');
  t.same(openValue(dek, context, sealed), plaintext, 'and it opens with the right key and context');
});

t.test('integrity: a flipped bit anywhere (header, nonce, ciphertext, tag) fails to open', async (t) => {
  const dek = generateDataKey(randomUUID());
  const sealed = sealValue(dek, context, plaintext);
  const regions = {
    'format byte': 0,
    'data key id': 5,
    'first nonce byte': HEADER_BYTES,
    'last nonce byte': HEADER_BYTES + NONCE_BYTES - 1,
    'first ciphertext byte': HEADER_BYTES + NONCE_BYTES,
    'ciphertext byte 15': HEADER_BYTES + NONCE_BYTES + 15,
    'last ciphertext byte': sealed.length - TAG_BYTES - 1,
    'first tag byte': sealed.length - TAG_BYTES,
    'last tag byte': sealed.length - 1,
  };
  for (const [name, index] of Object.entries(regions)) {
    for (const bit of [0, 7]) {
      t.throws(() => openValue(dek, context, flipBit(sealed, index, bit)), DecryptionError, `${name}, bit ${bit}`);
    }
  }
  // Exhaustively: every byte of the value, lowest bit.
  let opened = 0;
  for (let i = 0; i < sealed.length; i++) {
    try {
      openValue(dek, context, flipBit(sealed, i));
      opened++;
    } catch (err) {
      if (!(err instanceof DecryptionError)) throw err;
    }
  }
  t.equal(opened, 0, 'no single-bit flip in any of the bytes opens');
});

t.test('a truncated or extended value fails: 4 bytes cut from the tag, a short tag, an appended byte', async (t) => {
  const dek = generateDataKey(randomUUID());
  const sealed = sealValue(dek, context, plaintext);
  t.throws(() => openValue(dek, context, sealed.subarray(0, sealed.length - 4)), DecryptionError, 'tag cut by 4 bytes');
  t.throws(() => openValue(dek, context, sealed.subarray(0, sealed.length - TAG_BYTES)), DecryptionError, 'tag removed');
  t.throws(() => openValue(dek, context, Buffer.concat([sealed, Buffer.from([0])])), DecryptionError, 'one byte appended');
  t.throws(() => openValue(dek, context, sealed.subarray(0, 10)), DecryptionError, 'shorter than the header');
  t.throws(() => openValue(dek, context, Buffer.alloc(0)), DecryptionError, 'empty');

  // At the AEAD level too: a value whose 4-byte tag Node would accept without authTagLength.
  const key = randomBytes(AES_KEY_BYTES);
  const ad = encodeAssociatedData(['x']);
  const box = aesGcmEncrypt(key, plaintext, ad);
  t.throws(() => aesGcmDecrypt(key, box.subarray(0, box.length - 12), ad), DecryptionError, 'a 4-byte tag is refused');
  t.throws(() => aesGcmDecrypt(key, box.subarray(0, NONCE_BYTES + TAG_BYTES - 1), ad), DecryptionError, 'too short');

  // An empty plaintext still carries a full tag; cutting it fails too.
  const empty = sealValue(dek, context, Buffer.alloc(0));
  t.same(openValue(dek, context, empty), Buffer.alloc(0));
  t.throws(() => openValue(dek, context, empty.subarray(0, empty.length - 4)), DecryptionError);
});

t.test('moved ciphertext: another row, column or table fails to open (associated data)', async (t) => {
  const dek = generateDataKey(randomUUID());
  const sealed = sealValue(dek, context, plaintext);
  const moves: Record<string, SealContext> = {
    'another row': { ...context, rowId: 'apn_row2' },
    'another column': { ...context, column: 'refresh_token_enc' },
    'another table': { ...context, table: 'oauth_apps' },
    'row id with a suffix': { ...context, rowId: 'apn_row1 ' },
    'empty row id': { ...context, rowId: '' },
  };
  for (const [name, moved] of Object.entries(moves)) t.throws(() => openValue(dek, moved, sealed), DecryptionError, name);

  // Length-prefixed associated data: shifting a boundary is a different context.
  const ab = sealValue(dek, { ...context, table: 'ab', column: 'c', rowId: '1' }, plaintext);
  t.throws(() => openValue(dek, { ...context, table: 'a', column: 'bc', rowId: '1' }, ab), DecryptionError, 'table/column boundary shift');
  t.not(encodeAssociatedData(['a|b', 'c']).toString('hex'), encodeAssociatedData(['a', 'b|c']).toString('hex'));

  // Another data key, even with the header rewritten to name it, does not open it.
  const other = generateDataKey(randomUUID());
  t.throws(() => openValue(other, context, sealed), DecryptionError, 'another data key');
  const relabelled = Buffer.from(sealed);
  Buffer.from(other.id.replace(/-/g, ''), 'hex').copy(relabelled, 1);
  t.throws(() => openValue(other, context, relabelled), DecryptionError, 'header relabelled to another key');
});

t.test('unique: the same plaintext sealed twice differs; 10^4 seals use 10^4 distinct nonces', async (t) => {
  const dek = generateDataKey(randomUUID());
  const a = sealValue(dek, context, plaintext);
  const b = sealValue(dek, context, plaintext);
  t.not(a.toString('hex'), b.toString('hex'));
  t.same(openValue(dek, context, a), openValue(dek, context, b));

  const nonces = new Set<string>();
  const bodies = new Set<string>();
  const count = 10_000;
  for (let i = 0; i < count; i++) {
    const sealed = sealValue(dek, context, plaintext);
    nonces.add(sealed.subarray(HEADER_BYTES, HEADER_BYTES + NONCE_BYTES).toString('hex'));
    bodies.add(sealed.subarray(HEADER_BYTES + NONCE_BYTES).toString('hex'));
  }
  t.equal(nonces.size, count, 'all nonces distinct');
  t.equal(bodies.size, count, 'all ciphertexts distinct');
});

t.test('key length: AES keys other than 32 bytes are refused', async (t) => {
  for (const length of [0, 16, 23, 31, 33, 64]) {
    const key = randomBytes(length);
    t.throws(() => aesGcmEncrypt(key, plaintext, Buffer.alloc(0)), RangeError, `encrypt with a ${length}-byte key`);
    t.throws(() => aesGcmDecrypt(key, Buffer.alloc(64), Buffer.alloc(0)), RangeError, `decrypt with a ${length}-byte key`);
  }
  const sealed = aesGcmEncrypt(randomBytes(32), plaintext, Buffer.alloc(0));
  t.equal(sealed.length, NONCE_BYTES + plaintext.length + TAG_BYTES);
});

t.test('wrapped data keys: bound to their id and KEK; a missing KEK names the key id', async (t) => {
  const keyring = parseKeyring(`k1:${key64()},k0:${key64()}`);
  const dek = generateDataKey(randomUUID());
  const { kekId, wrapped } = wrapDataKey(keyring, dek);
  t.equal(kekId, 'k1', 'the first key is the active one');
  t.equal(readWrappingKeyId(wrapped), 'k1');
  t.equal(wrapped.indexOf(dek.material), -1, 'the DEK material is not in the wrapped form');
  t.same(unwrapDataKey(keyring, dek.id, wrapped).material, dek.material);
  t.throws(() => unwrapDataKey(keyring, randomUUID(), wrapped), DecryptionError, 'a wrapped key moved to another DEK id fails');
  for (let i = 2; i < wrapped.length; i += 7) {
    t.throws(() => unwrapDataKey(keyring, dek.id, flipBit(wrapped, i)), Error, `bit flipped in byte ${i}`);
  }

  const withoutK1 = parseKeyring(`k0:${key64()}`);
  const err = t.throws(() => unwrapDataKey(withoutK1, dek.id, wrapped), MissingKeyError) as unknown as Error;
  t.match(err.message, /"k1"/, 'names the missing key id');
  t.match(err.message, /LATCHKEY_KEYS/);

  const sameIdOtherKey = parseKeyring(`k1:${key64()}`);
  t.throws(() => unwrapDataKey(sameIdOtherKey, dek.id, wrapped), DecryptionError, 'a different key under the same id fails');
});

t.test('keyring parsing refuses bad input with messages that name LATCHKEY_KEYS and never the key', async (t) => {
  const good = key64();
  const parsed = parseKeyring(`  new:${good} , old:${key64()} ,`);
  t.equal(parsed.activeId, 'new');
  t.same(parsed.ids, ['new', 'old']);
  t.ok(Object.isFrozen(parsed));
  t.equal(parsed.get('new')?.material.toString('base64'), good);
  t.equal(parsed.get('nope'), undefined);
  // base64url is accepted (keys generated by other tools).
  const raw = randomBytes(32);
  t.same(parseKeyring(`u:${raw.toString('base64url')}`).get('u')?.material, raw);
  t.match(generateKeyringEntry('k9'), /^k9:[A-Za-z0-9+/]{43}=$/);
  t.equal(parseKeyring(generateKeyringEntry('k9')).activeId, 'k9');
  t.throws(() => generateKeyringEntry('bad id'), KeyringError);

  const secretLooking = randomBytes(40).toString('base64');
  const cases: Record<string, string> = {
    'empty list': '',
    'only commas': ' , ,',
    'no id': good,
    'empty id': `:${good}`,
    'key of 16 bytes': `k1:${randomBytes(16).toString('base64')}`,
    'key of 31 bytes': `k1:${randomBytes(31).toString('base64')}`,
    'key of 33 bytes': `k1:${randomBytes(33).toString('base64')}`,
    'key of 40 bytes': `k1:${secretLooking}`,
    'bad base64': `k1:${good.slice(0, 20)}!!${good.slice(22)}`,
    'padding in the middle': `k1:${good.slice(0, 10)}=${good.slice(11)}`,
    'empty key': 'k1:',
    'duplicate ids': `k1:${good},k1:${key64()}`,
    'id with a space': `k 1:${good}`,
    'id with a dot': `k.1:${good}`,
    'id of 33 characters': `${'k'.repeat(33)}:${good}`,
    'key and id swapped': `${good}:k1`,
  };
  for (const [name, raw] of Object.entries(cases)) {
    const err = t.throws(() => parseKeyring(raw), KeyringError, name) as unknown as Error;
    t.match(err.message, /^LATCHKEY_KEYS: /, `${name}: names LATCHKEY_KEYS`);
    for (const material of [good, secretLooking, good.slice(0, 20), good.slice(11)]) {
      t.notOk(err.message.includes(material), `${name}: message does not contain key material`);
    }
  }
});

t.test('tokens: prefix, shape and CRC32 checksum; every one-character change is caught', async (t) => {
  for (const prefix of Object.values(TOKEN_PREFIXES)) {
    const token = mintToken(prefix);
    t.match(token, new RegExp(`^${prefix}[0-9A-Za-z]{36}$`), `${prefix} shape`);
    t.ok(hasValidTokenShape(token, prefix), `${prefix} accepted`);
  }
  const token = mintToken(TOKEN_PREFIXES.apiAccessToken);
  const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  let accepted = 0;
  let tried = 0;
  for (let i = TOKEN_PREFIXES.apiAccessToken.length; i < token.length; i++) {
    for (const c of alphabet) {
      if (c === token[i]) continue;
      tried++;
      if (hasValidTokenShape(token.slice(0, i) + c + token.slice(i + 1), TOKEN_PREFIXES.apiAccessToken)) accepted++;
    }
  }
  t.equal(tried, 36 * 61);
  t.equal(accepted, 0, 'no single-character substitution passes the checksum');

  const body = token.slice(TOKEN_PREFIXES.apiAccessToken.length);
  t.notOk(hasValidTokenShape(`lks_${body}`, TOKEN_PREFIXES.apiAccessToken), 'wrong prefix');
  t.notOk(hasValidTokenShape(`ctok_${body}`, TOKEN_PREFIXES.apiAccessToken), 'wrong, longer prefix');
  t.notOk(hasValidTokenShape(token, TOKEN_PREFIXES.connectToken), 'checked against another prefix');
  t.notOk(hasValidTokenShape(token.slice(0, -1), TOKEN_PREFIXES.apiAccessToken), 'one character short');
  t.notOk(hasValidTokenShape(`${token}0`, TOKEN_PREFIXES.apiAccessToken), 'one character long');
  t.notOk(hasValidTokenShape(`${token.slice(0, 10)}-${token.slice(11)}`, TOKEN_PREFIXES.apiAccessToken), 'non-base62 character');
  t.notOk(hasValidTokenShape(`${token.slice(0, 10)}é${token.slice(11)}`, TOKEN_PREFIXES.apiAccessToken), 'non-ASCII character');
  t.notOk(hasValidTokenShape('', TOKEN_PREFIXES.apiAccessToken), 'empty');
  t.notOk(hasValidTokenShape(`LKA_${body}`, TOKEN_PREFIXES.apiAccessToken), 'prefix in another case');
  // Swapping two adjacent different characters (a common transcription error) is caught too.
  const i = token.length - 10;
  if (token[i] !== token[i + 1]) {
    t.notOk(hasValidTokenShape(token.slice(0, i) + token[i + 1] + token[i] + token.slice(i + 2), TOKEN_PREFIXES.apiAccessToken), 'transposition');
  }

  const minted = new Set(Array.from({ length: 1000 }, () => mintToken(TOKEN_PREFIXES.connectToken)));
  t.equal(minted.size, 1000, 'tokens are unique');

  t.equal(digestToken(token).length, 32, 'SHA-256 digest');
  t.ok(digestsEqual(digestToken(token), digestToken(token)));
  t.notOk(digestsEqual(digestToken(token), digestToken(mintToken(TOKEN_PREFIXES.apiAccessToken))));
  t.notOk(digestsEqual(digestToken(token), Buffer.alloc(16)), 'different lengths compare unequal without throwing');
});

t.test('mintId: the prefix, the length and only base62, uniformly', async (t) => {
  t.match(mintId('apn_'), /^apn_[0-9A-Za-z]{16}$/);
  t.match(mintId('proj_', 20), /^proj_[0-9A-Za-z]{20}$/);
  const counts = new Map<string, number>();
  const samples = 2000;
  let malformed = 0;
  for (let i = 0; i < samples; i++) {
    const id = mintId('x_', 31);
    if (!/^x_[0-9A-Za-z]{31}$/.test(id)) malformed++;
    for (const c of id.slice(2)) counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  t.equal(malformed, 0, 'every id has the prefix, the length and only base62');
  t.equal(counts.size, 62, 'every base62 character occurs');
  const expected = (samples * 31) / 62;
  const [min, max] = [Math.min(...counts.values()), Math.max(...counts.values())];
  t.ok(min > expected * 0.75 && max < expected * 1.25, `roughly uniform (min ${min}, max ${max}, expected ${expected})`);
});
