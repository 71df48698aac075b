import { jest } from '@jest/globals';

/**
 * Holds one side of a race at a chosen point: `hold()` is awaited by the held code (it resolves
 * `reached` and waits for `release()`); the test awaits `reached`, acts, then releases.
 */
export class Latch {
  private releaseHeld!: () => void;
  private markReached!: () => void;
  readonly reached: Promise<void>;
  private readonly released: Promise<void>;

  constructor() {
    this.reached = new Promise((resolve) => (this.markReached = resolve));
    this.released = new Promise((resolve) => (this.releaseHeld = resolve));
  }

  async hold(): Promise<void> {
    this.markReached();
    await this.released;
  }

  release(): void {
    this.releaseHeld();
  }
}

/** Polls (bounded) until `check` holds; returns how long it took in ms. */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 2_000): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return Date.now() - started;
}

/**
 * Holds the next call of `target[method]` at the latch: before the real method runs, or after it
 * has (its result is returned once released). Later calls run as usual; `restore()` undoes it.
 */
export function holdNextCall<T extends object>(
  target: T,
  method: keyof T & string,
  when: 'before' | 'after' = 'before',
): { latch: Latch; restore(): void } {
  const original = (target[method] as (...args: unknown[]) => Promise<unknown>).bind(target);
  const latch = new Latch();
  const spy = jest
    .spyOn(target as Record<string, (...args: unknown[]) => Promise<unknown>>, method)
    .mockImplementationOnce(async (...args: unknown[]) => {
      if (when === 'before') await latch.hold();
      const result = await original(...args);
      if (when === 'after') await latch.hold();
      return result;
    });
  return { latch, restore: () => spy.mockRestore() };
}
