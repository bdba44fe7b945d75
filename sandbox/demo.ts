// `npm run demo`: the whole thing on one machine. Starts the Temporal dev server (SQLite file
// under .cutover/), a cutover worker, and two sandbox hosts (sshd + nginx + the sample app, v1
// live on blue), then runs `cutover deploy shop demo v2 --wait` exactly as a CI job would.
// Everything stays up until Ctrl-C so the UI link and the curl keep working.
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { envWorkflowId } from '../contract';
import { main as cli } from '../starters/cli';
import { createCutoverWorker } from '../workers/worker';
import { startSandbox, writeSandboxConfig } from './config';
import { canConnect } from './procs';
import { startDevServer } from './devserver';
import { freePort } from './world';

const root = resolve(__dirname, '..', '.cutover');
const exitWhenDone = process.argv.includes('--exit');

async function portOr(preferred: number): Promise<number> {
  return (await canConnect('127.0.0.1', preferred, 300)) ? freePort() : preferred;
}

/**
 * The dev server keeps its history across demos, but the sandbox hosts are new each time: an
 * environment left by an earlier demo would otherwise try to tear down hosts that are gone.
 */
async function forgetEarlierDemo(address: string): Promise<void> {
  const client = new Client({ connection: await Connection.connect({ address }) });
  try {
    await client.workflow.getHandle(envWorkflowId('shop', 'demo')).terminate('a new demo started with new sandbox hosts');
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  } finally {
    await client.connection.close();
  }
}

async function run(): Promise<number> {
  const say = (line: string): void => console.log(`[demo] ${line}`);
  Runtime.install({ logger: new DefaultLogger('WARN') });
  say('starting the Temporal dev server (database .cutover/temporal.db)');
  const server = await startDevServer({ dir: root, port: await portOr(7233), uiPort: await portOr(8233) });
  const base = join(root, 'sandbox');
  rmSync(base, { recursive: true, force: true });
  say('starting two sandbox hosts: sshd + nginx + the sample app v1 on blue');
  const sandbox = await startSandbox({ base, app: 'shop', env: 'demo', releases: { v1: undefined, v2: undefined, v3: undefined }, initial: { color: 'blue', version: 'v1' } });
  await forgetEarlierDemo(server.address);
  const connection = await NativeConnection.connect({ address: server.address });
  const worker = await createCutoverWorker({ connection });
  const running = worker.run();
  const stop = async (): Promise<void> => {
    worker.worker.shutdown();
    await running.catch(() => undefined);
    await connection.close();
    await sandbox.stop();
    await server.stop();
  };
  try {
    const config = writeSandboxConfig(join(root, 'cutover.yml'), sandbox.hosts, {
      app: 'shop',
      env: 'demo',
      teardownDelay: '5m',
      temporal: { address: server.address, uiUrl: server.uiUrl },
    });
    say(`config: ${config}`);
    say('$ cutover deploy shop demo v2 --wait');
    const code = await cli(['-c', config, 'deploy', 'shop', 'demo', 'v2', '--wait']);
    const web1 = sandbox.hosts[0]!;
    console.log('');
    say(`Temporal UI:  ${server.uiUrl}/namespaces/default/workflows?query=${encodeURIComponent("CutoverApp='shop'")}`);
    say(`see it:       curl -si ${web1.url} | grep -i x-app-version`);
    say(`status:       bin/cutover -c ${config} status shop demo`);
    say(`roll back:    bin/cutover -c ${config} rollback shop demo --wait   (within 5 minutes, before the teardown)`);
    say(`deploy more:  bin/cutover -c ${config} deploy shop demo v3 --wait`);
    if (exitWhenDone) {
      await stop();
      return code;
    }
    say('running until Ctrl-C');
    await new Promise<void>((done) => {
      process.once('SIGINT', done);
      process.once('SIGTERM', done);
    });
    await stop();
    return code;
  } catch (err) {
    await stop();
    throw err;
  }
}

run().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
