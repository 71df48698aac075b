import { describe, expect, it } from '@jest/globals';
import type { Clock } from '../interfaces/clock.interface.js';
import type { SigningKeyRepository, StoredSigningKey } from '../repositories/signing-key.repository.js';
import { keyFromSecretOption } from './signing-key.js';
import { SigningKeys } from './signing-keys.service.js';

const DAY = 86_400_000;
const start = Date.parse('2026-11-01T00:00:00Z');
const clockAt = (ms: number): Clock => ({ now: () => new Date(ms) });
const row = (kid: string, activatesAt: number): StoredSigningKey => ({
  kid,
  algorithm: 'EdDSA',
  publicKey: null,
  createdAt: new Date(activatesAt),
  activatesAt: new Date(activatesAt),
});

/** Only timeline() is used: the repository is never read. */
function keysAt(now: number, withSecret = true): SigningKeys {
  return new SigningKeys(
    {} as SigningKeyRepository,
    {
      mode: 'issuer',
      algorithm: 'EdDSA',
      secretKey: withSecret ? keyFromSecretOption('s'.repeat(32), 'HS256') : undefined,
      verifyWindowSeconds: 14 * 86_400 + 5,
    },
    clockAt(now),
  );
}

describe('SigningKeys.timeline', () => {
  const rows = [row('first', start), row('second', start + 10 * DAY), row('third', start + 30 * DAY)];
  const window = (14 * 86_400 + 5) * 1000;

  it('names the current key, the next one, and how long the older ones verify', () => {
    const timeline = keysAt(start + 20 * DAY).timeline(rows);
    expect(timeline.map((key) => [key.kid.startsWith('s-') ? 'secret' : key.kid, key.state])).toEqual([
      ['secret', 'expired'],
      ['first', 'previous'],
      ['second', 'current'],
      ['third', 'next'],
    ]);
    expect(timeline[1].verifyUntil?.getTime()).toBe(start + 10 * DAY + window);
    // The current key already knows its end: the next key's activation plus the window.
    expect(timeline[2].verifyUntil?.getTime()).toBe(start + 30 * DAY + window);
    expect(timeline[3].verifyUntil).toBeNull();
    expect(timeline[0]).toMatchObject({ fromSecretOption: true, activatesAt: null, createdAt: null });
  });

  it('expires a key exactly when the window after its successor has passed', () => {
    const end = start + 10 * DAY + window;
    expect(keysAt(end - 1).timeline(rows)[1].state).toBe('previous');
    expect(keysAt(end).timeline(rows)[1].state).toBe('expired');
  });

  it('with the secret alone, the secret is current forever', () => {
    expect(keysAt(start).timeline([])).toMatchObject([{ state: 'current', verifyUntil: null }]);
    expect(keysAt(start, false).timeline([])).toEqual([]);
  });
});
