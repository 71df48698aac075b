import { describe, expect, it } from '@jest/globals';
import { decodeEvent, encodeEvent, type RevocationEvent, splitForNotify } from './revocation-events.js';
import { RevocationStore } from './revocation-store.js';

const claims = (over: Partial<{ jti: string; sid: string; sub: string; iat_ms: number }> = {}) => ({
  jti: 'j1',
  sid: 's1',
  sub: 'u1',
  iat_ms: 1_000,
  ...over,
});

describe('RevocationStore', () => {
  it('denies by jti, by session, and by the user cut-off (milliseconds)', () => {
    const store = new RevocationStore();
    expect(store.isRevoked(claims())).toBe(false);
    store.apply({ kind: 'token', jti: 'j1', expiresAt: 5_000 });
    expect(store.isRevoked(claims())).toBe(true);
    expect(store.isRevoked(claims({ jti: 'j2' }))).toBe(false);
    store.apply({ kind: 'sessions', ids: ['s2', 's3'], revokedAt: 2_000 });
    expect(store.isRevoked(claims({ jti: 'j2', sid: 's3' }))).toBe(true);
    store.apply({ kind: 'user', userId: 'u9', validAfter: 1_500 });
    expect(store.isRevoked(claims({ jti: 'j2', sid: 's9', sub: 'u9', iat_ms: 1_499 }))).toBe(true);
    expect(store.isRevoked(claims({ jti: 'j2', sid: 's9', sub: 'u9', iat_ms: 1_500 }))).toBe(false);
  });

  it('never moves a cut-off back', () => {
    const store = new RevocationStore();
    store.apply({ kind: 'user', userId: 'u1', validAfter: 9_000 });
    store.apply({ kind: 'user', userId: 'u1', validAfter: 3_000 });
    expect(store.isRevoked(claims({ iat_ms: 8_999 }))).toBe(true);
  });

  it('prunes expired tokens and sessions and cut-offs older than the horizon', () => {
    const store = new RevocationStore();
    store.apply({ kind: 'token', jti: 'old', expiresAt: 1_000 });
    store.apply({ kind: 'token', jti: 'live', expiresAt: 3_000 });
    store.apply({ kind: 'sessions', ids: ['old'], revokedAt: 100 });
    store.apply({ kind: 'sessions', ids: ['recent'], revokedAt: 900 });
    store.apply({ kind: 'user', userId: 'old', validAfter: 100 });
    store.apply({ kind: 'user', userId: 'banned', validAfter: 50_000 });
    store.prune(2_000, 500);
    expect(store.size).toEqual({ tokens: 1, sessions: 1, users: 1 });
    expect(store.isRevoked(claims({ jti: 'live' }))).toBe(true);
    expect(store.isRevoked(claims({ jti: 'x', sid: 'recent' }))).toBe(true);
    expect(store.isRevoked(claims({ jti: 'x', sid: 'y', sub: 'banned', iat_ms: 49_999 }))).toBe(true);
  });
});

describe('revocation events on the wire', () => {
  const events: RevocationEvent[] = [
    { kind: 'token', jti: '0d6f6c1e-0d7c-4a55-9d3e-2b9d7c1e5f00', expiresAt: 1_795_000_000_000 },
    { kind: 'sessions', ids: ['a', 'b'], revokedAt: 1_795_000_000_123 },
    { kind: 'user', userId: 'u', validAfter: 1_795_000_000_456 },
  ];

  it.each(events)('round-trips %j', (event) => {
    expect(decodeEvent(encodeEvent(event))).toEqual(event);
  });

  it('refuses anything else', () => {
    for (const payload of ['', 'null', '[]', '{"k":"t"}', '{"k":"s","i":[1],"a":1}', 'not json', undefined]) {
      expect(decodeEvent(payload)).toBeNull();
    }
  });

  it('splits large session events under the NOTIFY payload limit', () => {
    const ids = Array.from({ length: 10_000 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
    const parts = splitForNotify({ kind: 'sessions', ids, revokedAt: 1 });
    expect(parts.flatMap((part) => (part.kind === 'sessions' ? part.ids : []))).toEqual(ids);
    for (const part of parts) expect(Buffer.byteLength(encodeEvent(part))).toBeLessThan(8000);
  });
});
