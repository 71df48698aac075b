import { describe, expect, it } from '@jest/globals';
import { formatCursor, parseCursor } from './activity.service.js';

describe('activity cursors', () => {
  it('give back the position they were made from', () => {
    const position = { at: new Date('2026-12-06T10:00:00.123Z'), id: '9007199254740993' };
    expect(parseCursor(formatCursor(position))).toEqual(position);
  });

  it.each([
    ['not base64url', 'a b'],
    ['no separator', Buffer.from('12345').toString('base64url')],
    ['a negative time', Buffer.from('-1.2').toString('base64url')],
    ['an id too long for a bigint', Buffer.from(`1.${'9'.repeat(19)}`).toString('base64url')],
    ['too long', 'A'.repeat(65)],
    ['empty', ''],
    ['not a string', ['a', 'b']],
  ])('refuse %s with 400 Invalid cursor', (_, cursor) => {
    expect(() => parseCursor(cursor)).toThrow('Invalid cursor');
  });
});
