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
