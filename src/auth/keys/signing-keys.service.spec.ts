import { describe, expect, it } from '@jest/globals';
import { Latch } from '../../../test/support/latch.js';
import type { Clock } from '../common/clock.interface.js';
import type { SigningKeyRepository, StoredSigningKey } from './signing-key.repository.js';
import type { KeySource } from './jwks-key-source.js';
import { generateKey, keyFromSecretOption } from './signing-key.js';
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

describe('SigningKeys.timeline with revoked keys', () => {
  const window = (14 * 86_400 + 5) * 1000;
  const revokedRow = (kid: string, activatesAt: number, revokedAt: number): StoredSigningKey => ({
    ...row(kid, activatesAt),
    revokedAt: new Date(revokedAt),
  });

  it('a key revoked while it signed keeps its place: its replacement is current, the key before it keeps its end', () => {
    const rows = [
      row('first', start),
      revokedRow('leaked', start + 10 * DAY, start + 12 * DAY),
      row('replacement', start + 12 * DAY),
    ];
    const timeline = keysAt(start + 12 * DAY, false).timeline(rows);
    expect(timeline.map((key) => [key.kid, key.state, key.verifyUntil?.getTime() ?? null])).toEqual([
      ['first', 'previous', start + 10 * DAY + window],
      ['leaked', 'revoked', null],
      ['replacement', 'current', null],
    ]);
    expect(timeline[1].revokedAt?.getTime()).toBe(start + 12 * DAY);
  });

  it('a key revoked before it ever signed takes nothing from the key that signs: it stays current, without an end', () => {
    const rows = [row('current', start), revokedRow('never', start + 10 * DAY, start + 5 * DAY)];
    const timeline = keysAt(start + 20 * DAY, false).timeline(rows);
    expect(timeline.map((key) => [key.kid, key.state, key.verifyUntil])).toEqual([
      ['current', 'current', null],
      ['never', 'revoked', null],
    ]);
  });
});

describe('SigningKeys.reload', () => {
  const eddsaRow = (): StoredSigningKey => {
    const generated = generateKey('EdDSA');
    return { ...row(generated.kid, start), publicKey: generated.publicKeyPem };
  };
  const verifier = (load: () => Promise<StoredSigningKey[]>, source?: KeySource) =>
    new SigningKeys(
      { loadAll: load, revokedKids: async () => new Set<string>() } as unknown as SigningKeyRepository,
      { mode: 'verifier', algorithm: 'EdDSA', verifyWindowSeconds: 905 },
      clockAt(start),
      source,
    );

  it('answers a reload asked for during a read with a new read, not with the older snapshot', async () => {
    const first = eddsaRow();
    const second = eddsaRow();
    const held = new Latch();
    let reads = 0;
    const keys = verifier(async () => {
      reads += 1;
      if (reads === 1) {
        await held.hold();
        return [first];
      }
      return [first, second];
    });
    const running = keys.reload();
    await held.reached;
    // The change that commits now: the running read may have taken its snapshot before it.
    const asked = keys.reload();
    const alsoAsked = keys.reload();
    held.release();
    await Promise.all([running, asked, alsoAsked]);
    expect(reads).toBe(2);
    expect(keys.knows(second.kid)).toBe(true);
  });

  it('never trusts a public key that is not the one its kid names', async () => {
    const honest = eddsaRow();
    const swapped = { ...honest, publicKey: eddsaRow().publicKey };
    const keys = verifier(async () => [swapped]);
    await keys.reload();
    expect(keys.knows(honest.kid)).toBe(false);
  });

  it('an unknown kid whose reload fails is refused (false), unless the database is down (thrown, for a 503)', async () => {
    const source: KeySource = {
      refreshIntervalMs: 60_000,
      load: async () => {
        throw new Error('JWKS https://auth.example.com/.well-known/jwks.json answered 502');
      },
    };
    expect(await verifier(async () => [], source).reloadForUnknownKid()).toBe(false);
    const unavailable = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const keys = verifier(async () => {
      throw unavailable;
    });
    await expect(keys.reloadForUnknownKid()).rejects.toBe(unavailable);
    // At most one read a second, whatever the tokens say.
    expect(await keys.reloadForUnknownKid()).toBe(false);
  });
});
