import { describe, expect, it } from '@jest/globals';
import { newDeviceAlertMail } from '../mail/mail-templates.js';
import { alertNetworkOf } from '../common/client-address.js';

describe('alertNetworkOf', () => {
  it.each([
    ['203.0.113.77', '203.0.113.0/24'],
    ['2001:db8:aa:bb::1', '2001:db8:aa::/48'],
    ['2001:0db8:0000:0001::1', '2001:db8::/48'],
    ['::1', '::/48'],
    // A dotted IPv4 tail counts as the two groups it is.
    ['64:ff9b:1::1.2.3.4', '64:ff9b:1::/48'],
    [null, null],
  ])('%s → %s', (ip, network) => {
    expect(alertNetworkOf(ip)).toBe(network);
  });
});

describe('the new-device alert mail', () => {
  it('quotes the device name the client sent, escapes it in HTML, and never makes it a link', () => {
    const mail = newDeviceAlertMail(
      'Example',
      'https://app.example/account/secure?token=abc',
      { deviceName: '<a href="https://evil.example">Click</a>', network: '203.0.113.0/24', at: new Date(0) },
      86_400,
    );
    expect(mail.subject).toBe('New sign-in to your account on Example');
    expect(mail.text).toContain('Device (as it named itself): “<a href="evil\u2024example">Click</a>”');
    expect(mail.text).toContain('Time: 1970-01-01 00:00:00 UTC');
    expect(mail.html).not.toContain('<a href="https://evil.example">');
    expect(mail.html.match(/<a /g)).toHaveLength(1);
    expect(mail.text).toContain('The link works once, for 24 hours.');
  });

  it('keeps a name on one line: no forged lines, no direction overrides, at most 60 characters', () => {
    const mail = newDeviceAlertMail(
      'Example',
      'https://app.example/account/secure?token=abc',
      { deviceName: `Phone\r\n\nThis was a routine check.\u202e${'x'.repeat(100)}`, network: null, at: new Date(0) },
      86_400,
    );
    const line = mail.text.split('\n').find((each) => each.startsWith('Device'));
    expect(line).toBe(`Device (as it named itself): “Phone This was a routine check\u2024 ${'x'.repeat(28)}”`);
    expect(mail.text).not.toContain('\n\nThis was a routine check.');
  });
});
