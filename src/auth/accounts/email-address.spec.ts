import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { canonicalEmail, usesCompatibilityCharacters } from './email-address.js';

describe('canonicalEmail', () => {
  it.each([
    ['  Ada@Example.COM ', 'ada@example.com'],
    // U+0130 lower-cases to i + U+0307 (Unicode), not to the plain i of a UTF-8 collation's lower().
    ['\u0130rem@example.com', 'i\u0307rem@example.com'],
    // Capital sharp s is sharp s; sharp s is not ss (two mailboxes may differ there).
    ['STRA\u1e9eE@example.com', 'stra\u00dfe@example.com'],
    ['Stra\u00dfe@example.com', 'stra\u00dfe@example.com'],
    ['ada@B\u00dcCHER.example', 'ada@xn--bcher-kva.example'],
    ['ada@xn--bcher-kva.example', 'ada@xn--bcher-kva.example'],
    // U+00E9 and e + U+0301 are one letter.
    ['cafe\u0301@example.com', 'caf\u00e9@example.com'],
    ['CAF\u00c9@example.com', 'caf\u00e9@example.com'],
  ])('%j is %j', (address, canonical) => {
    expect(canonicalEmail(address)).toBe(canonical);
  });

  it('merges no two addresses that may be two mailboxes', () => {
    expect(canonicalEmail('stra\u00dfe@example.com')).not.toBe(canonicalEmail('strasse@example.com'));
    expect(canonicalEmail('\u03b1\u03c3@example.gr')).not.toBe(canonicalEmail('\u03b1\u03c2@example.gr'));
  });

  it('tells compatibility characters (refused by validation) from ordinary text', () => {
    expect(usesCompatibilityCharacters('\uff56ictim@example.com')).toBe(true); // fullwidth v
    expect(usesCompatibilityCharacters('\ufb01le@example.com')).toBe(true); // the fi ligature
    expect(usesCompatibilityCharacters('ada@\uff45xample.com')).toBe(true);
    expect(usesCompatibilityCharacters('\u0130rem@b\u00fccher.example')).toBe(false);
    expect(usesCompatibilityCharacters('cafe\u0301@example.com')).toBe(false);
  });

  it('keeps a look-alike apart from the address it imitates', () => {
    expect(canonicalEmail('\u0130@example.com')).not.toBe(canonicalEmail('i@example.com'));
    expect(canonicalEmail('\u0430da@example.com')).not.toBe(canonicalEmail('ada@example.com')); // Cyrillic a
  });

  it('is what a plain lower case was for ASCII addresses (rows and throttle keys stay valid)', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[\x21-\x7e]{1,40}@[A-Za-z0-9.-]{1,30}$/), (address) => {
        expect(canonicalEmail(address)).toBe(address.toLowerCase());
      }),
    );
  });

  it('is idempotent over every code point, in the local part and in the domain', () => {
    for (let point = 0; point <= 0x2ffff; point++) {
      if (point >= 0xd800 && point <= 0xdfff) continue;
      const char = String.fromCodePoint(point);
      for (const address of [`a${char}@b.c`, `a@b${char}.c`, `${char}a@b.c`]) {
        const once = canonicalEmail(address);
        if (canonicalEmail(once) !== once) throw new Error(`not idempotent at U+${point.toString(16)}: ${address}`);
      }
    }
  });

  it('is idempotent on random strings', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 30 }),
        fc.string({ unit: 'binary', maxLength: 30 }),
        (l, d) => {
          const once = canonicalEmail(`${l}@${d}`);
          expect(canonicalEmail(once)).toBe(once);
        },
      ),
      { numRuns: 5000 },
    );
  });
});
