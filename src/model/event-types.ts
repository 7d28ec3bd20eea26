/**
 * Drove's event types (docs/design/api-compatibility.md#events). Pure (imports nothing), so the web console bundles the list without the schemas.
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
] as const;
export type DroveEventType = (typeof DROVE_EVENT_TYPES)[number];
