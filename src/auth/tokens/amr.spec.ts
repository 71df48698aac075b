import { describe, expect, it } from '@jest/globals';
import { amrOf, isAmrClaim, isMultiFactor } from './amr.js';

describe('amr (RFC 8176)', () => {
  it('names each method once, in a fixed order, with mfa once something known and something held were shown', () => {
    expect(amrOf(['pwd'])).toEqual(['pwd']);
    expect(amrOf(['otp', 'pwd'])).toEqual(['pwd', 'otp', 'mfa']);
    expect(amrOf(['pwd', 'pwd', 'otp', 'otp'])).toEqual(['pwd', 'otp', 'mfa']);
    expect(amrOf(['otp'])).toEqual(['otp']);
    expect(amrOf(['hwk', 'user'])).toEqual(['hwk', 'user']);
    expect(amrOf(['hwk', 'user', 'mfa'])).toEqual(['hwk', 'user', 'mfa']);
    // A key that did not verify the user, and the app's code: two devices, two factors, in any order.
    expect(amrOf(['hwk', 'user'])).toEqual(['hwk', 'user']);
    expect(amrOf(['hwk', 'user', 'otp'])).toEqual(['otp', 'hwk', 'user', 'mfa']);
    expect(amrOf(['otp', 'hwk'])).toEqual(['otp', 'hwk', 'mfa']);
    // A sign-in at another provider is a first factor: the app's code or a passkey adds the second.
    expect(amrOf(['fed'])).toEqual(['fed']);
    expect(amrOf(['fed', 'otp'])).toEqual(['otp', 'fed', 'mfa']);
    expect(amrOf(['fed', 'hwk', 'user'])).toEqual(['hwk', 'user', 'fed', 'mfa']);
    expect(amrOf(['pwd', 'unknown'])).toEqual(['pwd']);
  });

  it('takes as a claim only a short list of known methods, each once', () => {
    expect(isAmrClaim(['pwd'])).toBe(true);
    expect(isAmrClaim(['pwd', 'otp', 'mfa'])).toBe(true);
    for (const claim of [[], ['pwd', 'pwd'], ['password'], 'pwd', [1], null, Array(20).fill('pwd')]) {
      expect(isAmrClaim(claim)).toBe(false);
    }
    expect(isMultiFactor(['pwd', 'otp', 'mfa'])).toBe(true);
    expect(isMultiFactor(['pwd', 'otp'])).toBe(false);
  });
});
