import Bowser from 'bowser';
import { MAX_DEVICE_NAME_CHARS, truncateCodePoints } from '../common/client-address.js';

/** A readable device name from a user agent, e.g. "Firefox on Linux"; used when a login names none. */
export function deviceNameFromUserAgent(userAgent: string | null | undefined): string {
  const agent = userAgent?.trim();
  if (!agent) return 'Unknown device';
  const parsed = Bowser.parse(agent);
  const browser = parsed.browser.name?.trim();
  const os = parsed.os.name?.trim();
  const name = browser && os ? `${browser} on ${os}` : browser || os || agent.split(/[\s/]/)[0] || 'Unknown device';
  return truncateCodePoints(name.replaceAll('\u0000', ''), MAX_DEVICE_NAME_CHARS);
}
