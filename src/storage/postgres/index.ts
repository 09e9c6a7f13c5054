/**
 * `model-rollout/postgres`: the PostgreSQL storage adapter. Needs the optional peer dependency
 * `pg` 8.x in the host (pass its `Pool`); this entry never imports `pg` itself.
 *
 * @packageDocumentation
 */
export { PostgresStorage, type PostgresStorageOptions } from './postgres-storage.js';
export {
  PostgresChangeFeed,
  type PostgresChangeFeedOptions,
  type PostgresChangeFeedEvents,
  type StorageChangeEvent,
} from './postgres-change-feed.js';
export type { PgPoolLike, PgPoolClientLike, PgQueryResult, PgNotification } from './pg-types.js';
