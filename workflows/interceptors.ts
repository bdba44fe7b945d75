// Registered with every bundle of cutover's workflows (workers/worker.ts): when a workflow
// ends, however it ends, it first waits until its audit events are written.
import type { WorkflowInterceptorsFactory } from '@temporalio/workflow';
import { flushAuditTrails } from './steps/audit-trail';

export const interceptors: WorkflowInterceptorsFactory = () => ({
  inbound: [
    {
      async execute(input, next) {
        try {
          return await next(input);
        } finally {
          await flushAuditTrails();
        }
      },
    },
  ],
});
