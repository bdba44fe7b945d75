// Every workflow the worker registers.
export { environmentWorkflow } from './environment';
export { blueGreenDeploy } from './strategies/blue-green';
export { canaryDeploy } from './strategies/canary';
export { rollbackWorkflow } from './rollback';
export { teardownWorkflow } from './teardown';
export { scheduledDeployWorkflow } from './scheduled-deploy';
export { auditPurgeWorkflow } from './audit-purge';
