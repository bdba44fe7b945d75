// The audit log's schema, one numbered migration per change, applied in order by migrate.ts.
// Never edit a migration that has shipped: add the next one.
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'audit events',
    sql: `
      CREATE TABLE cutover_audit_events (
        id           text PRIMARY KEY,
        at           timestamptz NOT NULL,
        app          text NOT NULL,
        env          text NOT NULL,
        operation    text NOT NULL,
        operation_id text NOT NULL,
        action       text NOT NULL,
        actor        text,
        version      text,
        approvers    text[] NOT NULL DEFAULT '{}',
        outcome      text,
        message      text NOT NULL DEFAULT '',
        detail       jsonb NOT NULL DEFAULT '{}',
        recorded_at  timestamptz NOT NULL DEFAULT now()
      );
      -- What cutover audit filters on, newest first; (at, id) also orders the export's pages.
      CREATE INDEX cutover_audit_events_at ON cutover_audit_events (at, id);
      CREATE INDEX cutover_audit_events_app_env_at ON cutover_audit_events (app, env, at);
      CREATE INDEX cutover_audit_events_actor_at ON cutover_audit_events (actor, at);
      CREATE INDEX cutover_audit_events_operation ON cutover_audit_events (operation_id);
      CREATE INDEX cutover_audit_events_action_at ON cutover_audit_events (action, at);
    `,
  },
];
