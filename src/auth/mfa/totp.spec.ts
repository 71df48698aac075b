import { describe, expect, it } from '@jest/globals';
import { matchingStep, newTotpSecret, otpauthUrl, stepAt, totpCode } from './totp.js';

/** RFC 6238, appendix B: the SHA-1 seed "12345678901234567890", in base32. */
const RFC_SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';

describe('TOTP (RFC 6238: SHA-1, 6 digits, 30 s)', () => {
  it.each([
    [59, '287082'],
    [1_111_111_109, '081804'],
    [1_111_111_111, '050471'],
    [1_234_567_890, '005924'],
    [2_000_000_000, '279037'],
  ])('at %i s the code is %s (the last six digits of the RFC test vector)', (seconds, code) => {
    expect(totpCode(RFC_SECRET, new Date(seconds * 1000))).toBe(code);
    expect(matchingStep(RFC_SECRET, code, new Date(seconds * 1000))).toBe(Math.floor(seconds / 30));
  });

  it('accepts the codes of one step either side, not two; with spaces as apps show them', () => {
    const now = new Date(1_234_567_890_000);
    const at = (offset: number) => totpCode(RFC_SECRET, new Date(now.getTime() + offset * 30_000));
    expect(matchingStep(RFC_SECRET, at(-1), now)).toBe(stepAt(now) - 1);
    expect(matchingStep(RFC_SECRET, at(1), now)).toBe(stepAt(now) + 1);
    expect(matchingStep(RFC_SECRET, at(-2), now)).toBeNull();
    expect(matchingStep(RFC_SECRET, at(2), now)).toBeNull();
    const code = at(0);
    expect(matchingStep(RFC_SECRET, `${code.slice(0, 3)} ${code.slice(3)}`, now)).toBe(stepAt(now));
  });

  it('takes nothing but six digits', () => {
    const now = new Date(1_234_567_890_000);
    for (const code of ['', '00592', '0059244', '00592a', '-05924', '５９２４００', '005924\n1']) {
      expect(matchingStep(RFC_SECRET, code, now)).toBeNull();
    }
  });

  it('makes 160-bit secrets and an otpauth URL that names the issuer and the account', () => {
    const secret = newTotpSecret();
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(newTotpSecret()).not.toBe(secret);
    const url = new URL(otpauthUrl(secret, 'Example & Co', 'ada@example.com'));
    expect(url.protocol).toBe('otpauth:');
    expect(url.searchParams.get('secret')).toBe(secret);
    expect(url.searchParams.get('issuer')).toBe('Example & Co');
    expect(url.searchParams.get('algorithm')).toBe('SHA1');
    expect(url.searchParams.get('digits')).toBe('6');
    expect(url.searchParams.get('period')).toBe('30');
  });
});
