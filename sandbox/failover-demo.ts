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

const say = (line: string): void => console.log(`[demo] ${line}`);

export async function failoverDemo(exitWhenDone: boolean): Promise<number> {
  say('starting Temporal, PostgreSQL primary + synchronous standby, PowerDNS, two sshd sites and a worker');
  const w = await startDrWorld('demo-failover', { auto: true, probeIntervalMs: 2000, probeFailures: 3 });
  const stopping = new Promise<void>((r) => {
    process.once('SIGINT', () => r());
    process.once('SIGTERM', () => r());
  });
  try {
    say(`config: ${w.configFile}`);
    const m = await w.cutover(['failover', 'monitor', SITE]);
    for (const l of m.stdout.trim().split('\n')) say(l);
    say(`dig @127.0.0.1 -p ${w.pdns.dnsPort} ${DNS_NAME} → ${w.pdns.dig(DNS_NAME).join(', ')} (fra)`);
    await new Promise((r) => setTimeout(r, 3000));
    say("killing fra: its app, and its PostgreSQL (immediate shutdown, as a crash)");
    execFileSync(`${w.fra.root}/bin/slot`, ['stop', 'blue']);
    process.kill(Number(readFileSync(`${w.primary.dataDir}/postmaster.pid`, 'utf8').split('\n')[0]), 'SIGQUIT');
    const killedAt = Date.now();
    const r = (await w.client.workflow.getHandle(monitorWorkflowId(SITE)).result()) as FailoverResult;
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
  } finally {
    say('stopping everything');
    await w.stop();
  }
}
