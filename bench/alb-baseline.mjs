// The baseline of `npm run bench:alb` as its own process, as a user's plain deploy script runs in
// CI: `node bench/alb-baseline.mjs deploy <version>` (CreateDeployment, GetDeployment every
// 200 ms, DescribeTargetHealth, ModifyListener, 5 answers in a row from <version> through the
// load balancer) or `... rollback` (one ModifyListener back to blue). Where things are comes from
// the environment (bench/alb.ts sets it): BASELINE_CODEDEPLOY_URL, BASELINE_ELBV2_URL,
// BASELINE_LISTENER_ARN, BASELINE_TG_BLUE, BASELINE_TG_GREEN, BASELINE_LB_URL.
import { CodeDeployClient, CreateDeploymentCommand, GetDeploymentCommand } from '@aws-sdk/client-codedeploy';
import { DescribeTargetHealthCommand, ElasticLoadBalancingV2Client, ModifyListenerCommand } from '@aws-sdk/client-elastic-load-balancing-v2';

const [mode, version] = process.argv.slice(2);
const e = process.env;
const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };
const elb = new ElasticLoadBalancingV2Client({ region: 'us-east-1', endpoint: e.BASELINE_ELBV2_URL, credentials });
const groups = { blue: e.BASELINE_TG_BLUE, green: e.BASELINE_TG_GREEN };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const move = (to) =>
  elb.send(
    new ModifyListenerCommand({
      ListenerArn: e.BASELINE_LISTENER_ARN,
      DefaultActions: [
        {
          Type: 'forward',
          ForwardConfig: {
            TargetGroups: ['blue', 'green'].map((c) => ({ TargetGroupArn: groups[c], Weight: c === to ? 100 : 0 })),
            TargetGroupStickinessConfig: { Enabled: false },
          },
        },
      ],
    }),
  );

if (mode === 'rollback') {
  await move('blue');
} else if (mode === 'deploy' && version) {
  const cd = new CodeDeployClient({ region: 'us-east-1', endpoint: e.BASELINE_CODEDEPLOY_URL, credentials });
  const { deploymentId } = await cd.send(
    new CreateDeploymentCommand({
      applicationName: 'shop',
      deploymentGroupName: 'shop-green',
      revision: { revisionType: 'S3', s3Location: { bucket: 'releases', key: `shop/${version}.zip`, bundleType: 'zip' } },
      autoRollbackConfiguration: { enabled: true, events: ['DEPLOYMENT_FAILURE'] },
    }),
  );
  for (;;) {
    const s = (await cd.send(new GetDeploymentCommand({ deploymentId }))).deploymentInfo?.status;
    if (s === 'Succeeded') break;
    if (s === 'Failed' || s === 'Stopped') throw new Error(`baseline deployment ${s}`);
    await sleep(200);
  }
  const h = await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: groups.green }));
  if (!h.TargetHealthDescriptions?.every((t) => t.TargetHealth?.State === 'healthy')) throw new Error('baseline: green not healthy');
  await move('green');
  for (let ok = 0; ok < 5; ) {
    const res = await fetch(e.BASELINE_LB_URL);
    await res.arrayBuffer();
    ok = res.headers.get('x-app-version') === version ? ok + 1 : 0;
    if (ok === 0) await sleep(100);
  }
} else {
  console.error('usage: node bench/alb-baseline.mjs deploy <version> | rollback');
  process.exit(2);
}
// Like bin/cutover: exit once done, whatever keep-alive sockets the SDK or fetch still hold.
process.exit(0);
