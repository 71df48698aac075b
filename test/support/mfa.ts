import { Secret, TOTP } from 'otpauth';
import type TestAgent from 'supertest/lib/agent.js';
import type { FakeClock } from './fake-clock.js';
import { bearer, PASSWORD } from './test-app.js';

/** The code an authenticator app shows at `at` for a base32 secret (RFC 6238: SHA-1, 6 digits, 30 s). */
export function codeAt(secret: string, at: Date): string {
  return TOTP.generate({
    secret: Secret.fromBase32(secret),
    algorithm: 'SHA1',
    digits: 6,
    period: 30,
    timestamp: at.getTime(),
  });
}

/** A six-digit code that is not the secret's within a step of `at`. */
export function wrongCodeAt(secret: string, at: Date): string {
  const good = new Set([-30_000, 0, 30_000].map((offset) => codeAt(secret, new Date(at.getTime() + offset))));
  for (let n = 0; ; n += 1) {
    const candidate = String(n).padStart(6, '0');
    if (!good.has(candidate)) return candidate;
  }
}

export interface EnabledTotp {
  secret: string;
  otpauthUrl: string;
  recoveryCodes: string[];
}

/**
 * Sets up and turns on an authenticator app for the signed-in user, then moves the clock to the
 * next 30-second step (the code used to turn it on is spent for its step).
 */
export async function enableTotp(http: TestAgent, accessToken: string, clock: FakeClock): Promise<EnabledTotp> {
  const setup = await http
    .post('/auth/mfa/totp/setup')
    .set(...bearer(accessToken))
    .expect(200);
  const { secret, otpauthUrl } = setup.body as { secret: string; otpauthUrl: string };
  const enabled = await http
    .post('/auth/mfa/totp/enable')
    .set(...bearer(accessToken))
    .send({ code: codeAt(secret, clock.now()) })
    .expect(200);
  clock.advance(30);
  return { secret, otpauthUrl, recoveryCodes: enabled.body.recoveryCodes as string[] };
}

/** The first step of a sign-in for a user with a second factor: the mfaToken. */
export async function passwordStep(http: TestAgent, email: string): Promise<string> {
  const response = await http.post('/auth/login').send({ email, password: PASSWORD }).expect(200);
  if (response.body.mfaRequired !== true)
    throw new Error(`expected the second step, got ${JSON.stringify(response.body)}`);
  return response.body.mfaToken as string;
}
