import { describe, expect, it } from '@jest/globals';
import { decodeHint, encodeEvent, encodeHeartbeat, encodeKeysChanged } from '../revocation/revocation-events.js';
import { NotificationKeyMissingError, NotificationSigner } from './notification-signer.js';

const SECRET = 'a-notification-secret-of-at-least-32-bytes';
const signer = NotificationSigner.fromOptions({ notificationSecret: SECRET });
const body = encodeEvent({ kind: 'token', jti: '00000000-0000-4000-8000-000000000001', expiresAt: 1 });

describe('NotificationSigner', () => {
  it('opens what it signed, and every payload the module sends reads back as the same hint', () => {
    for (const payload of [body, encodeKeysChanged(), encodeHeartbeat('abc-1')]) {
      const signed = signer.sign(payload);
      expect(signer.open(signed)).toBe(payload);
      expect(decodeHint(signer.open(signed) as string)).toEqual(decodeHint(payload));
    }
  });

  it('drops what is unsigned, signed with another key, altered, truncated or extended', () => {
    const signed = signer.sign(body);
    const other = NotificationSigner.fromOptions({ notificationSecret: `${SECRET}-other` });
    expect(signer.open(body)).toBeNull();
    expect(signer.open(other.sign(body))).toBeNull();
    expect(signer.open(signed.replace('0001', '0002'))).toBeNull();
    const last = signed.at(-3);
    expect(signer.open(`${signed.slice(0, -3)}${last === 'A' ? 'Q' : 'A'}"}`)).toBeNull();
    expect(signer.open(signed.slice(1))).toBeNull();
    expect(signer.open(`${signed} `)).toBeNull();
    expect(signer.open(signed.replace('{"k"', '{ "k"'))).toBeNull();
    for (const junk of [undefined, '', '{}', '{"m":"AAAAAAAAAAAAAAAAAAAAAA"}', 'x'.repeat(9000), '{"k":"K"}']) {
      expect(signer.open(junk)).toBeNull();
    }
  });

  it('signs with the first secret given and accepts any of them, so that the CLI given one of the app’s secrets is heard', () => {
    const app = NotificationSigner.fromOptions({ secret: SECRET, keyEncryptionSecret: `${SECRET}-kes` });
    const cli = NotificationSigner.fromOptions({ keyEncryptionSecret: `${SECRET}-kes` });
    expect(app.open(cli.sign(body))).toBe(body);
    // A verifier given only notificationSecret hears the app only if the app has it too.
    const verifier = NotificationSigner.fromOptions({ notificationSecret: `${SECRET}-n` });
    expect(verifier.open(app.sign(body))).toBeNull();
    const appWithIt = NotificationSigner.fromOptions({ notificationSecret: `${SECRET}-n`, secret: SECRET });
    expect(verifier.open(appWithIt.sign(body))).toBe(body);
    expect(appWithIt.open(verifier.sign(body))).toBe(body);
  });

  it('derives one key from a secret, whichever option carries it', () => {
    const fromSecret = NotificationSigner.fromOptions({
      secret: SECRET,
      keyEncryptionSecret: 'another-secret-of-32-bytes-or-more!!',
    });
    expect(fromSecret.source).toBe('secret');
    // The same secret given as notificationSecret derives the same key (so a verifier can follow).
    expect(signer.open(fromSecret.sign(body))).toBe(body);
    const fromKeyEncryption = NotificationSigner.fromOptions({ keyEncryptionSecret: SECRET });
    expect(fromKeyEncryption.source).toBe('keyEncryptionSecret');
    expect(signer.open(fromKeyEncryption.sign(body))).toBe(body);
    expect(NotificationSigner.fromOptions({ notificationSecret: Buffer.from(SECRET) }).sign(body)).toBe(
      signer.sign(body),
    );
  });

  it('without a key: sends nothing (it would be dropped everywhere), reads hints unchecked', () => {
    const keyless = NotificationSigner.fromOptions({});
    expect(keyless.authenticated).toBe(false);
    expect(() => keyless.sign(body)).toThrow(NotificationKeyMissingError);
    expect(keyless.open(signer.sign(body))).toBe(body);
    expect(keyless.open(body)).toBe(body);
  });
});
