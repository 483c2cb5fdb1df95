// The OAuth 1.0a signer against published known answers, so the hand-written provider fixture
// (which re-implements the verification) is not the only judge: RFC 5849 §1.2's photos example
// and X's "Creating a signature" walk-through, plus §3.6 percent-encoding and §3.5.1 header form.
import { generateKeyPairSync, createVerify } from 'node:crypto';
import t from 'tap';
import { computeSignature, normalizedParameters, percentEncode, signRequest, signatureBaseString } from '../../src/crypto/oauth1-signature.ts';

t.test('RFC 5849 §1.2: the photos request signs to MdpQcU8iPSUjWoN/UDMsK2sui9I=', async (t) => {
  const url = new URL('http://photos.example.net/photos?file=vacation.jpg&size=original');
  const params: [string, string][] = [
    ['oauth_consumer_key', 'dpf43f3p2l4k3l03'],
    ['oauth_token', 'nnch734d00sl2jdk'],
    ['oauth_signature_method', 'HMAC-SHA1'],
    ['oauth_timestamp', '137131202'],
    ['oauth_nonce', 'chapoH'],
    ...url.searchParams,
  ];
  const base = signatureBaseString('GET', url, params);
  t.equal(
    base,
    'GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvacation.jpg%26oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce%3DchapoH%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131202%26oauth_token%3Dnnch734d00sl2jdk%26size%3Doriginal',
  );
  t.equal(computeSignature('HMAC-SHA1', base, { consumerSecret: 'kd94hf93k423kf44', tokenSecret: 'pfkkdhi9sl3r4s00' }), 'MdpQcU8iPSUjWoN/UDMsK2sui9I=');
});

t.test("X's walk-through: POST statuses/update with a form body signs to hCtSmYh+iHYCEqBWrE7C7hYmtUk=", async (t) => {
  const header = signRequest(
    {
      consumerKey: 'xvz1evFS4wEEPTGEFPHBog',
      consumerSecret: 'kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw',
      token: '370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb',
      tokenSecret: 'LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE',
    },
    {
      method: 'POST',
      url: new URL('https://api.twitter.com/1.1/statuses/update.json?include_entities=true'),
      formParams: [['status', 'Hello Ladies + Gentlemen, a signed OAuth request!']],
      signatureMethod: 'HMAC-SHA1',
      nonce: 'kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg',
      timestamp: 1318622958,
    },
  );
  t.equal(
    header,
    'OAuth oauth_consumer_key="xvz1evFS4wEEPTGEFPHBog", oauth_nonce="kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg", oauth_signature_method="HMAC-SHA1", oauth_timestamp="1318622958", oauth_version="1.0", oauth_token="370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb", oauth_signature="hCtSmYh%2BiHYCEqBWrE7C7hYmtUk%3D"',
  );
});

t.test('§3.6 percent-encoding and §3.4.1.3.2 ordering', async (t) => {
  t.equal(percentEncode("Ladies + Gentlemen!*'()~._-"), 'Ladies%20%2B%20Gentlemen%21%2A%27%28%29~._-');
  t.equal(percentEncode('ünï/☃'), '%C3%BCn%C3%AF%2F%E2%98%83');
  t.equal(
    normalizedParameters([
      ['b', '2'],
      ['a', '2'],
      ['a', '1'],
      ['a b', 'x'],
    ]),
    'a=1&a=2&a%20b=x&b=2',
    'by encoded name, then value',
  );
});

t.test('PLAINTEXT is the key itself; RSA-SHA1 verifies with the public key; a fresh nonce each time', async (t) => {
  t.equal(computeSignature('PLAINTEXT', 'ignored', { consumerSecret: 'a&b', tokenSecret: 'c d' }), 'a%26b&c%20d');
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const signature = computeSignature('RSA-SHA1', 'the base string', { consumerSecret: pem });
  t.ok(createVerify('RSA-SHA1').update('the base string').verify(publicKey, signature, 'base64'));
  const request = { method: 'GET', url: new URL('https://api.example.com/x'), signatureMethod: 'HMAC-SHA1' as const };
  const nonces = [1, 2].map(() => /oauth_nonce="([0-9a-f]{32})"/.exec(signRequest({ consumerKey: 'k', consumerSecret: 's' }, request))?.[1]);
  t.equal(nonces.length, 2);
  t.not(nonces[0], nonces[1]);
});

t.test('§3.5.1 realm: first in the header, not part of the signature', async (t) => {
  const credentials = { consumerKey: 'k', consumerSecret: 's', token: 't', tokenSecret: 'ts' };
  const request = {
    method: 'GET',
    url: new URL('https://1234567.suitetalk.api.netsuite.com/x'),
    signatureMethod: 'HMAC-SHA256' as const,
    nonce: 'n',
    timestamp: 1,
  };
  const withRealm = signRequest(credentials, { ...request, realm: '1234567_SB1' });
  const without = signRequest(credentials, request);
  t.equal(withRealm, `OAuth realm="1234567_SB1", ${without.slice('OAuth '.length)}`);
});
