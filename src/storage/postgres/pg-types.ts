/**
 * The parts of node-postgres (`pg` 8.x) the PostgreSQL adapter uses, typed structurally so this
 * package never imports `pg`: pass the `Pool` your service already has.
 */

/** What a query resolves to (a `pg` `QueryResult`). */
export interface PgQueryResult {
  rows: Array<Record<string, unknown>>;
  rowCount: number | null;
}

/** A notification from `LISTEN` (a `pg` `Notification`). */
export interface PgNotification {
  channel: string;
  payload?: string;
}

/** A client checked out of the pool (a `pg` `PoolClient`). */
export interface PgPoolClientLike {
  query(text: string, values?: unknown[]): Promise<PgQueryResult>;
  /** Back to the pool; with an error (or `true`) the pool destroys the connection instead. */
  release(err?: Error | boolean): void;
  on(event: 'notification' | 'error' | 'end', listener: (arg: unknown) => void): unknown;
  removeListener(event: 'notification' | 'error' | 'end', listener: (arg: unknown) => void): unknown;
}

/** A connection pool (a `pg` `Pool`). Give it an `error` listener: idle clients can fail. */
export interface PgPoolLike {
  query(text: string, values?: unknown[]): Promise<PgQueryResult>;
  connect(): Promise<PgPoolClientLike>;
}
