import { describe, expect, it } from '@jest/globals';
import { newRecoveryCode, normalisedRecoveryCode, recoveryCodeHash } from './recovery-codes.js';

describe('recovery codes', () => {
  it('are 16 characters of Crockford base32 in four groups, different each time', () => {
    const codes = new Set(Array.from({ length: 1000 }, () => newRecoveryCode()));
    expect(codes.size).toBe(1000);
    for (const code of codes) expect(code).toMatch(/^[0-9a-hjkmnp-tv-z]{4}(-[0-9a-hjkmnp-tv-z]{4}){3}$/);
  });

  it('read the same in any case, with or without hyphens and spaces, i/l as 1 and o as 0', () => {
    expect(normalisedRecoveryCode('ab1c-d0ef-gh1j-k2m3')).toBe('ab1cd0efgh1jk2m3');
    expect(normalisedRecoveryCode(' AB1C DOEF GHIJ-K2M3 ')).toBe('ab1cd0efgh1jk2m3');
    expect(normalisedRecoveryCode('ablc-d0ef-gh1j-k2m3')).toBe('ab1cd0efgh1jk2m3');
  });

  it('are nothing else: too short, too long, or a letter Crockford leaves out', () => {
    for (const typed of [
      '',
      'ab1c-d0ef-gh1j-k2m',
      'ab1c-d0ef-gh1j-k2m3x',
      'ab1c-d0ef-gh1j-k2mu',
      'ab1c_d0ef_gh1j_k2m3',
    ]) {
      expect(normalisedRecoveryCode(typed)).toBeNull();
    }
  });

  it('are kept as a hash of the user and the code: the same code of another user hashes apart', () => {
    expect(recoveryCodeHash('user-a', 'ab1cd0efgh1jk2m3')).toMatch(/^[0-9a-f]{64}$/);
    expect(recoveryCodeHash('user-a', 'ab1cd0efgh1jk2m3')).not.toBe(recoveryCodeHash('user-b', 'ab1cd0efgh1jk2m3'));
  });
});
