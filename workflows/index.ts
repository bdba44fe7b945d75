// Every workflow the worker registers.
export { environmentWorkflow } from './environment';
export { blueGreenDeploy } from './blue-green';
export { rollbackWorkflow } from './rollback';
