/**
 * Drove's event types (docs/design/api-compatibility.md#events), and drove-ts's one extension. Pure (imports
 * nothing), so the web console bundles the list without the schemas.
 */
export const DROVE_EVENT_TYPES = [
  'APP_STATE_CHANGE',
  'INSTANCE_STATE_CHANGE',
  'TASK_STATE_CHANGE',
  'LOCAL_SERVICE_STATE_CHANGE',
  'LOCAL_SERVICE_INSTANCE_STATE_CHANGE',
  'EXECUTOR_ADDED',
  'EXECUTOR_REMOVED',
  'EXECUTOR_BLACKLIST_REQUESTED',
  'EXECUTOR_BLACKLISTED',
  'EXECUTOR_UN_BLACKLISTED',
  'MAINTENANCE_MODE_SET',
  'MAINTENANCE_MODE_REMOVED',
  'LEADERSHIP_ACQUIRED',
  'LEADERSHIP_LOST',
  /**
   * drove-ts extension (docs/design/crash-loop-backoff.md): a local service's crash loop on one executor went on (a
   * failure was counted) or ended. Drove's CLI prints event types as text and filters on them as text, so it
   * shows this one like any other.
   */
  'LOCAL_SERVICE_CRASH_LOOP',
] as const;
export type DroveEventType = (typeof DROVE_EVENT_TYPES)[number];
