import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import type TestAgent from 'supertest/lib/agent.js';

/**
 * A software authenticator for the HTTP specs: an ES256 key per credential, attestation `none`,
 * and the byte layouts of WebAuthn (authenticator data, COSE key, CBOR) written out here, so that
 * the server's checks meet real responses, which a test can then bend (another origin, an old
 * counter, a spent challenge).
 */

/** Just the CBOR the responses need: unsigned and negative integers, byte and text strings, maps. */
function cbor(value: number | string | Uint8Array | Map<number | string, unknown>): Buffer {
  const head = (major: number, length: number): Buffer => {
    if (length < 24) return Buffer.from([(major << 5) | length]);
    if (length < 256) return Buffer.from([(major << 5) | 24, length]);
    if (length < 65_536) return Buffer.from([(major << 5) | 25, length >> 8, length & 0xff]);
    const big = Buffer.alloc(5);
    big[0] = (major << 5) | 26;
    big.writeUInt32BE(length, 1);
    return big;
  };
  if (typeof value === 'number') return value >= 0 ? head(0, value) : head(1, -1 - value);
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    return Buffer.concat([head(3, bytes.length), bytes]);
  }
  if (value instanceof Uint8Array) return Buffer.concat([head(2, value.length), Buffer.from(value)]);
  const parts = [head(5, value.size)];
  for (const [key, item] of value) {
    parts.push(cbor(key), cbor(item as number | string | Uint8Array | Map<number | string, unknown>));
  }
  return Buffer.concat(parts);
}

const b64url = (bytes: Uint8Array | string) => Buffer.from(bytes).toString('base64url');
const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest();

/** Flags of the authenticator data. */
const UP = 0x01;
const UV = 0x04;
const BE = 0x08;
const BS = 0x10;
const AT = 0x40;

export interface SoftCredential {
  id: Buffer;
  privateKey: KeyObject;
  publicKeyCose: Buffer;
  counter: number;
  userHandle: string | null;
}

export interface Ceremony {
  origin: string;
  rpId: string;
  /** User verification performed (a PIN, a fingerprint). Default true. */
  userVerified?: boolean;
  /** A synced (backed-up) passkey: its counter stays 0. Default false. */
  synced?: boolean;
}

export class SoftAuthenticator {
  readonly credentials: SoftCredential[] = [];

  /** navigator.credentials.create(): the RegistrationResponseJSON for these creation options. */
  register(
    options: { challenge: string; user?: { id?: string } },
    ceremony: Ceremony,
    { idBytes = 16 }: { idBytes?: number } = {},
  ): Record<string, unknown> {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' }) as { x: string; y: string };
    const publicKeyCose = cbor(
      new Map<number, unknown>([
        [1, 2], // kty: EC2
        [3, -7], // alg: ES256
        [-1, 1], // crv: P-256
        [-2, Buffer.from(jwk.x, 'base64url')],
        [-3, Buffer.from(jwk.y, 'base64url')],
      ]),
    );
    const credential: SoftCredential = {
      id: randomBytes(idBytes),
      privateKey,
      publicKeyCose,
      counter: 0,
      userHandle: options.user?.id ?? null,
    };
    this.credentials.push(credential);
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(credential.id.length);
    const authData = Buffer.concat([
      this.authDataHead(ceremony, AT, 0),
      Buffer.alloc(16), // aaguid
      idLength,
      credential.id,
      publicKeyCose,
    ]);
    const clientDataJSON = JSON.stringify({
      type: 'webauthn.create',
      challenge: options.challenge,
      origin: ceremony.origin,
      crossOrigin: false,
    });
    const attestationObject = cbor(
      new Map<string, unknown>([
        ['fmt', 'none'],
        ['attStmt', new Map()],
        ['authData', authData],
      ]),
    );
    return {
      id: b64url(credential.id),
      rawId: b64url(credential.id),
      type: 'public-key',
      response: {
        clientDataJSON: b64url(clientDataJSON),
        attestationObject: b64url(attestationObject),
        transports: ['internal'],
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    };
  }

  /**
   * navigator.credentials.get(): the AuthenticationResponseJSON of `credential` (default: the
   * first) for a challenge. The counter goes up by one unless the passkey is synced, or `counter`
   * says what to send.
   */
  authenticate(
    challenge: string,
    ceremony: Ceremony,
    options: { credential?: SoftCredential; counter?: number } = {},
  ): Record<string, unknown> {
    const credential = options.credential ?? this.credentials[0];
    if (options.counter !== undefined) credential.counter = options.counter;
    else if (!ceremony.synced) credential.counter += 1;
    const authenticatorData = this.authDataHead(ceremony, 0, credential.counter);
    const clientDataJSON = Buffer.from(
      JSON.stringify({ type: 'webauthn.get', challenge, origin: ceremony.origin, crossOrigin: false }),
      'utf8',
    );
    const signature = sign('sha256', Buffer.concat([authenticatorData, sha256(clientDataJSON)]), credential.privateKey);
    return {
      id: b64url(credential.id),
      rawId: b64url(credential.id),
      type: 'public-key',
      response: {
        clientDataJSON: b64url(clientDataJSON),
        authenticatorData: b64url(authenticatorData),
        signature: b64url(signature),
        ...(credential.userHandle ? { userHandle: credential.userHandle } : {}),
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    };
  }

  private authDataHead(ceremony: Ceremony, extraFlags: number, counter: number): Buffer {
    const flags = UP | (ceremony.userVerified === false ? 0 : UV) | (ceremony.synced ? BE | BS : 0) | extraFlags;
    const count = Buffer.alloc(4);
    count.writeUInt32BE(counter);
    return Buffer.concat([sha256(ceremony.rpId), Buffer.from([flags]), count]);
  }
}

/** The example app's relying party in the tests: PUBLIC_URL http://localhost:3000. */
export const TEST_RP: Ceremony = { origin: 'http://localhost:3000', rpId: 'localhost' };

/**
 * Registers a passkey made by `authenticator` for the signed-in user of `accessToken`, as a
 * browser would: the creation options, then the authenticator's answer (201 expected).
 */
export async function addPasskey(
  http: TestAgent,
  accessToken: string,
  authenticator: SoftAuthenticator,
  ceremony: Ceremony = TEST_RP,
): Promise<{ id: string; name: string; createdAt: string }> {
  const authorization = ['Authorization', `Bearer ${accessToken}`] as const;
  const created = await http
    .post('/auth/passkeys/register/options')
    .set(...authorization)
    .expect(200);
  const registered = await http
    .post('/auth/passkeys/register')
    .set(...authorization)
    .send({ response: authenticator.register(created.body as { challenge: string }, ceremony) })
    .expect(201);
  return registered.body as { id: string; name: string; createdAt: string };
}
