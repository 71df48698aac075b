import { describe, expect, it } from '@jest/globals';
import { decodeHint, encodeEvent, encodeHeartbeat, type RevocationEvent, splitForNotify } from './revocation-events.js';
import { RevocationStore } from './revocation-store.js';

const J = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

const claims = (over: Partial<{ jti: string; sid: string; sub: string; auth_time_ms: number }> = {}) => ({
  jti: J(1),
  sid: 's1',
  sub: 'u1',
  auth_time_ms: 1_000,
  ...over,
});

describe('RevocationStore', () => {
  it('denies by jti, by session, by deletion, and by the user cut-off against the sign-in time', () => {
    const store = new RevocationStore();
    expect(store.isRevoked(claims())).toBe(false);
    store.apply({ kind: 'token', jti: J(1), expiresAt: 5_000 });
    expect(store.isRevoked(claims())).toBe(true);
    expect(store.isRevoked(claims({ jti: J(2) }))).toBe(false);
    store.apply({ kind: 'sessions', ids: ['s2', 's3'], revokedAt: 2_000 });
    expect(store.isRevoked(claims({ jti: J(2), sid: 's3' }))).toBe(true);
    store.apply({ kind: 'user', userId: 'u9', validAfter: 1_500 });
    expect(store.isRevoked(claims({ jti: J(2), sid: 's9', sub: 'u9', auth_time_ms: 1_499 }))).toBe(true);
    expect(store.isRevoked(claims({ jti: J(2), sid: 's9', sub: 'u9', auth_time_ms: 1_500 }))).toBe(false);
    store.apply({ kind: 'userDeleted', userId: 'u7', deletedAt: 1_000 });
    expect(store.isRevoked(claims({ jti: J(3), sid: 's7', sub: 'u7', auth_time_ms: 9_999_999 }))).toBe(true);
  });

  it('never moves a cut-off back', () => {
    const store = new RevocationStore();
    store.apply({ kind: 'user', userId: 'u1', validAfter: 9_000 });
    store.apply({ kind: 'user', userId: 'u1', validAfter: 3_000 });
    expect(store.isRevoked(claims({ auth_time_ms: 8_999 }))).toBe(true);
  });

  it('prunes expired tokens and sessions, cut-offs and deletions older than the horizon', () => {
    const store = new RevocationStore();
    // Token expiries are kept in whole minutes (rounded up).
    store.apply({ kind: 'token', jti: J(6), expiresAt: 60_000 });
    store.apply({ kind: 'token', jti: J(5), expiresAt: 120_001 });
    store.apply({ kind: 'sessions', ids: ['old'], revokedAt: 100 });
    store.apply({ kind: 'sessions', ids: ['recent'], revokedAt: 900 });
    store.apply({ kind: 'user', userId: 'old', validAfter: 100 });
    store.apply({ kind: 'user', userId: 'cut', validAfter: 50_000 });
    store.apply({ kind: 'userDeleted', userId: 'gone-long-ago', deletedAt: 100 });
    store.apply({ kind: 'userDeleted', userId: 'gone', deletedAt: 600 });
    store.prune(120_000, 500);
    expect(store.size).toEqual({ tokens: 1, sessions: 1, users: 1, deletedUsers: 1 });
    expect(store.isRevoked(claims({ jti: J(5) }))).toBe(true);
    expect(store.isRevoked(claims({ jti: J(4), sid: 'recent' }))).toBe(true);
    expect(store.isRevoked(claims({ jti: J(4), sid: 'y', sub: 'cut', auth_time_ms: 49_999 }))).toBe(true);
    expect(store.isRevoked(claims({ jti: J(4), sid: 'y', sub: 'gone' }))).toBe(true);
  });
});

describe('revocation notifications on the wire', () => {
  const uuid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
  const events: Array<[RevocationEvent, unknown]> = [
    [
      { kind: 'token', jti: uuid(1), expiresAt: 1_795_000_000_000 },
      { kind: 'token', jti: uuid(1) },
    ],
    [
      { kind: 'sessions', ids: [uuid(2), uuid(3)], revokedAt: 1 },
      { kind: 'sessions', ids: [uuid(2), uuid(3)] },
    ],
    [
      { kind: 'user', userId: uuid(4), validAfter: 1 },
      { kind: 'user', userId: uuid(4) },
    ],
    [
      { kind: 'userDeleted', userId: uuid(5), deletedAt: 1 },
      { kind: 'userDeleted', userId: uuid(5) },
    ],
  ];

  it.each(events)('carries only what to look up, never the values: %j', (event, hint) => {
    const payload = encodeEvent(event);
    expect(decodeHint(payload)).toEqual(hint);
    expect(payload).not.toMatch(/1795000000000/);
  });

  it('reads heartbeats', () => {
    expect(decodeHint(encodeHeartbeat('abc-1'))).toEqual({ kind: 'heartbeat', nonce: 'abc-1' });
  });

  it('refuses anything else', () => {
    for (const payload of [
      '',
      'null',
      '[]',
      '{"k":"t"}',
      '{"k":"t","j":"not-a-uuid"}',
      '{"k":"s","i":[1]}',
      '{"k":"s","i":[]}',
      '{"k":"u","u":"x"}',
      '{"k":"h","n":"has space"}',
      'not json',
      'x'.repeat(9_000),
      undefined,
    ]) {
      expect(decodeHint(payload)).toBeNull();
    }
  });

  it('splits large session events under the NOTIFY payload limit', () => {
    const ids = Array.from({ length: 10_000 }, (_, i) => uuid(i));
    const parts = splitForNotify({ kind: 'sessions', ids, revokedAt: 1 });
    expect(parts.flatMap((part) => (part.kind === 'sessions' ? part.ids : []))).toEqual(ids);
    for (const part of parts) {
      expect(Buffer.byteLength(encodeEvent(part))).toBeLessThan(8000);
      expect(decodeHint(encodeEvent(part))).not.toBeNull();
    }
  });
});

describe('RevocationStore.applyTokenPage', () => {
  it('reads fixed-width records (jti bytes in hex, expiry minute in hex) as denied tokens', () => {
    const store = new RevocationStore();
    const jtis = ['0d6f6c1e-0d7c-4a55-9d3e-2b9d7c1e5f00', 'ffffffff-0000-4000-8000-00000000abcd'];
    const minute = 29_916_667; // 2026-11-18T…, in whole minutes
    const page = jtis.map((jti) => jti.replaceAll('-', '') + minute.toString(16).padStart(8, '0')).join('');
    store.applyTokenPage(page);
    expect(store.size.tokens).toBe(2);
    for (const jti of jtis) expect(store.isRevoked(claims({ jti, sid: 'other' }))).toBe(true);
    expect(store.isRevoked(claims({ jti: '00000000-0000-4000-8000-000000000000', sid: 'other' }))).toBe(false);
    // Kept until the end of that minute, pruned after it.
    store.prune(minute * 60_000 - 1, 0);
    expect(store.size.tokens).toBe(2);
    store.prune(minute * 60_000, 0);
    expect(store.size.tokens).toBe(0);
  });
});
