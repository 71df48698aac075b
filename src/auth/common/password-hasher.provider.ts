import { Injectable } from '@nestjs/common';
import { hash, verify } from '@node-rs/argon2';

/** Algorithm.Argon2id; the package's enum is a const enum, which isolatedModules cannot read. */
const ARGON2ID = 2;
import type { PasswordHasher } from './password-hasher.interface.js';

/**
 * argon2id with OWASP's first recommended parameter set (19 MiB, 2 passes, 1 lane).
 * @node-rs/argon2 hashes on libuv's thread pool, off the event loop, and ships prebuilt binaries.
 */
@Injectable()
export class Argon2PasswordHasher implements PasswordHasher {
  private static readonly params = { algorithm: ARGON2ID, memoryCost: 19_456, timeCost: 2, parallelism: 1 };

  hash(password: string): Promise<string> {
    return hash(password, Argon2PasswordHasher.params);
  }

  async verify(passwordHash: string, password: string): Promise<boolean> {
    try {
      return await verify(passwordHash, password);
    } catch {
      // A malformed stored hash must not become a 500, nor let anyone in.
      return false;
    }
  }
}
