import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { LoginThrottleService, throttleKey } from '../src/auth/index.js';
import { loadAppConfig } from '../src/example/config/app.config.js';
import { createTestApp, PASSWORD, type TestAppWithDatabase, uniqueEmail } from './support/test-app.js';

const fromIp = (t: TestAppWithDatabase, ip: string) => ({
  register: (email = uniqueEmail('reg')) =>
    t.http.post('/auth/register').set('X-Forwarded-For', ip).send({ email, password: PASSWORD }),
  login: (email: string, password: string) =>
    t.http.post('/auth/login').set('X-Forwarded-For', ip).send({ email, password }),
});

describe('registration is throttled per client', () => {
  let t: TestAppWithDatabase;
  beforeAll(async () => {
    t = await createTestApp({ config: { registerMaxPerIp: 3, registerWindow: 600 } });
  });
  afterAll(async () => {
    await t.close();
  });

  it('allows REGISTER_MAX_PER_IP registrations per window, then 429 with Retry-After; other clients are unaffected', async () => {
    const client = fromIp(t, '198.51.100.10');
    await client.register().expect(201);
    t.clock.advance(100);
    await client.register().expect(201);
    // A refused registration (taken email) costs a hash too, and counts.
    const taken = uniqueEmail('taken');
    await fromIp(t, '198.51.100.99').register(taken).expect(201);
    t.clock.advance(100);
    await client.register(taken).expect(409);
    const throttled = await client.register().expect(429);
    // The oldest of the three leaves the window 600 s after it came: 400 s from now.
    expect(throttled.headers['retry-after']).toBe('400');
    expect(throttled.body).toMatchObject({ statusCode: 429, error: 'Too Many Requests' });
    await fromIp(t, '198.51.100.11').register().expect(201);
    // The window slides: once the first registration is 600 s old, exactly one more fits.
    t.clock.advance(400);
    await client.register().expect(201);
    expect((await client.register().expect(429)).headers['retry-after']).toBe('100');
  });

  it('counts an IPv6 client by its /64', async () => {
    await fromIp(t, '2001:db8:aa:1::1').register().expect(201);
    await fromIp(t, '2001:db8:aa:1::2').register().expect(201);
    await fromIp(t, '2001:db8:aa:1:ffff:ffff:ffff:ffff').register().expect(201);
    await fromIp(t, '2001:db8:aa:1:1234::9').register().expect(429);
    await fromIp(t, '2001:db8:aa:2::1').register().expect(201);
  });
});

describe('login throttling gaps', () => {
  let t: TestAppWithDatabase;
  beforeAll(async () => {
    t = await createTestApp({
      config: { loginMaxFailedAttempts: 5, loginMaxFailedAttemptsPerIp: 1_000, loginMaxFailedAttemptsPerAccount: 8 },
    });
  });
  afterAll(async () => {
    await t.close();
  });

  async function registered(): Promise<string> {
    const email = uniqueEmail('victim');
    await fromIp(t, '192.0.2.250').register(email).expect(201);
    return email;
  }

  it('caps failures of one account over all client addresses', async () => {
    const email = await registered();
    for (let i = 0; i < 8; i += 1)
      await fromIp(t, `203.0.113.${i + 1}`)
        .login(email, 'guess')
        .expect(401);
    const refused = await fromIp(t, '203.0.113.200').login(email, PASSWORD).expect(429);
    expect(Number(refused.headers['retry-after'])).toBe(900);
    t.clock.advance(900);
    await fromIp(t, '203.0.113.200').login(email, PASSWORD).expect(200);
  });

  it("keeps other clients' failures toward the per-account cap when the real user signs in", async () => {
    const email = await registered();
    for (let i = 0; i < 7; i += 1)
      await fromIp(t, `203.0.114.${i + 1}`)
        .login(email, 'guess')
        .expect(401);
    // The owner signs in from home: their own slate is clean, the guesses from elsewhere still count.
    await fromIp(t, '198.51.100.77').login(email, PASSWORD).expect(200);
    await fromIp(t, '203.0.114.99').login(email, 'guess').expect(401);
    await fromIp(t, '203.0.114.100').login(email, 'guess').expect(429);
  });

  it('counts IPv6 failures by /64: rotating addresses inside one /64 does not help', async () => {
    const email = await registered();
    for (let i = 0; i < 5; i += 1)
      await fromIp(t, `2001:db8:bb:1::${i + 1}`)
        .login(email, 'guess')
        .expect(401);
    await fromIp(t, '2001:db8:bb:1:ffff::77').login(email, PASSWORD).expect(429);
    await fromIp(t, '2001:db8:bb:2::1').login(email, PASSWORD).expect(200);
  });

  it('slides the window as the clock moves', async () => {
    const email = await registered();
    const client = fromIp(t, '203.0.113.77');
    for (const at of [0, 300, 300, 100, 100]) {
      t.clock.advance(at);
      await client.login(email, 'guess').expect(401);
    }
    // Failures at 0, 300, 600, 700, 800: full. At 850 the first frees at 900.
    t.clock.advance(50);
    expect((await client.login(email, 'guess').expect(429)).headers['retry-after']).toBe('50');
    t.clock.advance(51);
    // At 901 one slot is free (a fixed window would either still refuse or free all five).
    await client.login(email, 'guess').expect(401);
    expect((await client.login(email, 'guess').expect(429)).headers['retry-after']).toBe('299');
  });

  it('takes only a valid IP address from X-Forwarded-For; anything else counts as the socket address', async () => {
    const email = await registered();
    const junk = ['not-an-ip', 'x'.repeat(300), '1.2.3.4.5', "' OR 1=1 --"];
    for (let i = 0; i < 5; i += 1)
      await fromIp(t, junk[i % junk.length])
        .login(email, 'guess')
        .expect(401);
    // All five were counted against one client (loopback), whatever the header said.
    await fromIp(t, 'still-not-an-ip').login(email, PASSWORD).expect(429);
    const rows = await t.dataSource.query(`SELECT DISTINCT ip FROM login_failures WHERE account_key = $1`, [
      LoginThrottleService.accountKey(email),
    ]);
    expect(rows).toHaveLength(1);
    expect(['127.0.0.1', '::1']).toContain(rows[0].ip);
  });
});

describe('client addresses', () => {
  it('keys IPv4 as is and IPv6 by /64, whatever its spelling', () => {
    expect(throttleKey('203.0.113.9')).toBe('203.0.113.9');
    expect(throttleKey('2001:db8::1')).toBe('2001:0db8:0000:0000::/64');
    expect(throttleKey('2001:DB8:0:0:ffff::1')).toBe('2001:0db8:0000:0000::/64');
    expect(throttleKey('::1')).toBe('0000:0000:0000:0000::/64');
    expect(throttleKey('64:ff9b::192.0.2.1')).toBe('0064:ff9b:0000:0000::/64');
    expect(throttleKey(null)).toBe('unknown');
  });

  it('TRUST_PROXY is off by default, refuses true, and accepts hop counts and address lists', () => {
    const env = { JWT_SECRET: 's'.repeat(32) };
    const dir = '/nonexistent-data-dir';
    expect(loadAppConfig(env, dir).trustProxy).toBe(false);
    expect(() => loadAppConfig({ ...env, TRUST_PROXY: 'true' }, dir)).toThrow(/TRUST_PROXY=true is refused/);
    expect(loadAppConfig({ ...env, TRUST_PROXY: '2' }, dir).trustProxy).toBe(2);
    expect(loadAppConfig({ ...env, TRUST_PROXY: 'loopback, 10.0.0.0/8' }, dir).trustProxy).toBe('loopback, 10.0.0.0/8');
    expect(() => loadAppConfig({ ...env, TRUST_PROXY: 'everyone' }, dir)).toThrow(/TRUST_PROXY must be/);
  });
});

describe('without a trusted proxy (the default)', () => {
  let t: TestAppWithDatabase;
  beforeAll(async () => {
    t = await createTestApp({ config: { trustProxy: false } });
  });
  afterAll(async () => {
    await t.close();
  });

  it('ignores X-Forwarded-For: a client cannot escape its limit by naming another address', async () => {
    const email = uniqueEmail('spoof');
    await t.http.post('/auth/register').send({ email, password: PASSWORD }).expect(201);
    for (let i = 0; i < 5; i += 1)
      await fromIp(t, `198.51.100.${i + 1}`)
        .login(email, 'guess')
        .expect(401);
    await fromIp(t, '198.51.100.200').login(email, PASSWORD).expect(429);
  });
});
