// `npm run demo -- --failover`: the disaster-recovery failover end to end on loopback. Starts
// a PostgreSQL 15 primary with a synchronous standby, PowerDNS serving app.example.test, two
// sshd sites (fra live, ams at 0 app servers), Temporal and a worker; starts the monitor
// (probe every 2 s, 3 failures, auto), kills fra's app and PostgreSQL, and shows the failover:
// its steps, RTO and RPO, and DNS answering ams. Runs until Ctrl-C (`--exit`: stops at once).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { monitorWorkflowId, type FailoverResult } from '../contract/failover';
import { formatFailover } from '../starters/failover';
import { DNS_NAME, SITE, startDrWorld } from '../test/support/dr-world';
import { stopSignals } from './procs';

const say = (line: string): void => console.log(`[demo] ${line}`);

export async function failoverDemo(exitWhenDone: boolean): Promise<number> {
  // Listening before anything starts: Ctrl-C while the world starts or the failover runs stops it
  // all in order; a second one kills every daemon at once.
  const stopping = stopSignals(
    (sig) => say(`${sig}: stopping everything (again to force)`),
    (sig) => say(`${sig} again: killing everything the demo started`),
  );
  say('starting Temporal, PostgreSQL primary + synchronous standby, PowerDNS, two sshd sites and a worker');
  const w = await startDrWorld('demo-failover', { auto: true, probeIntervalMs: 2000, probeFailures: 3 });
  let stopped = false;
  void stopping.then(() => (stopped = true));
  let inFlight: Promise<unknown> = Promise.resolve();
  const show = async (): Promise<number> => {
    say(`config: ${w.configFile}`);
    const m = await w.cutover(['failover', 'monitor', SITE]);
    for (const l of m.stdout.trim().split('\n')) say(l);
    say(`dig @127.0.0.1 -p ${w.pdns.dnsPort} ${DNS_NAME} → ${w.pdns.dig(DNS_NAME).join(', ')} (fra)`);
    await new Promise((r) => setTimeout(r, 3000));
    if (stopped) return 0;
    say("killing fra: its app, and its PostgreSQL (immediate shutdown, as a crash)");
    execFileSync(`${w.fra.root}/bin/slot`, ['stop', 'blue']);
    process.kill(Number(readFileSync(`${w.primary.dataDir}/postmaster.pid`, 'utf8').split('\n')[0]), 'SIGQUIT');
    const killedAt = Date.now();
    // Polled, not a long poll: no call of the client may be left in flight when Ctrl-C stops the server.
    const monitor = w.client.workflow.getHandle(monitorWorkflowId(SITE));
    for (;;) {
      const described = monitor.describe();
      inFlight = described;
      if ((await described).status.name !== 'RUNNING') break;
      if (stopped) return 0;
      await new Promise((r) => setTimeout(r, 250));
    }
    const r = (await monitor.result()) as FailoverResult;
    for (const l of formatFailover(r)) say(l);
    say(`kill → verified on ams: ${((Date.now() - killedAt) / 1000).toFixed(1)} s`);
    say(`dig @127.0.0.1 -p ${w.pdns.dnsPort} ${DNS_NAME} → ${w.pdns.dig(DNS_NAME).join(', ')} (ams)`);
    const s = await w.cutover(['failover', 'status', SITE]);
    for (const l of s.stdout.trim().split('\n')) say(l);
    if (exitWhenDone) return 0;
    say(`try: bin/cutover -c ${w.configFile} failover status ${SITE}`);
    say(`     bin/cutover -c ${w.configFile} failback ${SITE} --wait`);
    say('running until Ctrl-C');
    await stopping;
    return 0;
  };
  try {
    // A Ctrl-C in the middle (waiting for the failover, say) stops at once, not after it.
    return await Promise.race([show().catch(async (err: unknown) => {
      // Ctrl-C in a terminal signals the demo's own children too: a command it killed is the stop, not a failure.
      await Promise.race([stopping, new Promise((r) => setTimeout(r, 2000))]);
      if (stopped) return 0;
      throw err;
    }), stopping.then(() => 0)]);
  } finally {
    say('stopping everything');
    await inFlight.catch(() => undefined);
    await w.stop();
    say('stopped: worker, sites, PowerDNS, PostgreSQL, Temporal');
  }
}
