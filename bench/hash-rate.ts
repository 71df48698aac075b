import { Argon2PasswordHasher } from '../src/auth/common/password-hasher.provider.js';

/**
 * The login's own limit: argon2id verifications per second with the module's hasher and
 * parameters, CONCURRENCY at once, for SECONDS, in a process of its own (as the server is).
 * Prints `HASH_RATE <verifications per second>`.
 */
const [seconds, concurrency] = process.argv.slice(2).map(Number);
const hasher = new Argon2PasswordHasher();
const password = 'correct horse battery';
const stored = await hasher.hash(password);
// Warm the thread pool and the allocator, as the server is warm.
await Promise.all(Array.from({ length: concurrency }, () => hasher.verify(stored, password)));
let done = 0;
const until = performance.now() + seconds * 1000;
const started = performance.now();
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (performance.now() < until) {
      if (!(await hasher.verify(stored, password))) throw new Error('verify failed');
      done += 1;
    }
  }),
);
console.log(`HASH_RATE ${(done / ((performance.now() - started) / 1000)).toFixed(1)}`);
