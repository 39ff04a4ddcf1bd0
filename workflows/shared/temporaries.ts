/**
 * Names and tags of everything permafrost creates in OpenStack. Pure, shared by workflows (which name temporaries
 * before creating them, so the undo can find them even when the create call's answer was lost) and activities.
 */

/** Every temporary's name starts with this; the sweeper looks for it. */
export const TEMP_PREFIX = 'permafrost-tmp-';

/** Metadata / image property keys. */
export const TAG_WORKFLOW_ID = 'permafrost_workflow_id';
export const TAG_CREATED_AT = 'permafrost_created_at';
/** On a restored volume or image until its restore finished: the sweeper removes it if its workflow is gone. */
export const TAG_RESTORE_INCOMPLETE = 'permafrost_restore_incomplete';
/** On Cinder backups permafrost made (keep-N rotation counts only these). */
export const TAG_MANAGED = 'permafrost_managed';
/** Cinder backup: the backup this incremental one builds on (Cinder does not show it). */
export const TAG_PARENT = 'permafrost_parent';
/** Glance tag of temporaries (images also carry the properties). */
export const IMAGE_TAG = 'permafrost-temporary';

/** Temporary resource name: `permafrost-tmp-<workflowId>-<step>`; deterministic, so a retried or undone step finds it. */
export function temporaryName(workflowId: string, step: string): string {
  return `${TEMP_PREFIX}${workflowId}-${step}`;
}

/** Tags of a resource created by workflow `workflowId` at `createdAt` (ISO 8601). */
export function temporaryTags(workflowId: string, createdAt: string): Record<string, string> {
  return { [TAG_WORKFLOW_ID]: workflowId, [TAG_CREATED_AT]: createdAt };
}

/** Keys permafrost adds: never recorded as a resource's own metadata, never restored. */
export function isPermafrostKey(key: string): boolean {
  return key.startsWith('permafrost_');
}

/** `name~20261126T101500Z`: a restored resource's default name (the backup time without milliseconds). */
export function restoredName(name: string, timestamp: string): string {
  return `${name}~${timestamp.replace(/\.\d{3}Z$/, 'Z')}`;
}
