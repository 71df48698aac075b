import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from './ports.js';

/** Env for child processes: only what they need, none of the test run's database settings. */
export function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, ...extra };
}

/** Resolves with everything the child printed once its output matches `pattern`. */
export function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((done, fail) => {
    let output = '';
    const timer = setTimeout(() => fail(new Error(`timed out waiting for ${pattern}; output:\n${output}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (pattern.test(output)) {
        clearTimeout(timer);
        done(output);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`exited with ${code} before ${pattern}; output:\n${output}`));
    });
  });
}

export interface LaunchedApp {
  child: ChildProcess;
  base: string;
  /** The output up to the line that says it listens. */
  output: string;
  /** Everything it has printed so far. */
  allOutput(): string;
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
  /** SIGTERM, then how it exited. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `node <main>` in `cwd` on a free PORT, and waits until its output matches `listening`. */
export async function launchNodeApp(options: {
  main: string;
  cwd: string;
  env: Record<string, string>;
  listening: RegExp;
}): Promise<LaunchedApp> {
  const port = await freePort();
  const child = spawn(process.execPath, [options.main], {
    cwd: options.cwd,
    env: childEnv({ PORT: String(port), ...options.env }),
  });
  let printed = '';
  const collect = (chunk: Buffer) => (printed += chunk.toString());
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const base = `http://127.0.0.1:${port}`;
  try {
    const output = await waitForOutput(child, options.listening, 60_000);
    return {
      child,
      base,
      output,
      allOutput: () => printed,
      post: (path, body, headers = {}) =>
        fetch(`${base}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify(body),
        }),
      stop: () => {
        if (child.exitCode !== null || child.signalCode !== null) {
          return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
        }
        const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
          child.once('exit', (code, signal) => done({ code, signal })),
        );
        child.kill('SIGTERM');
        return exited;
      },
    };
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
}
