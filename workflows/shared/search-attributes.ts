import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Custom search attributes; `scripts/temporal-dev.sh` registers each of them (see SEARCH_ATTRIBUTES). */
export const BackupNode = defineSearchAttributeKey('BackupNode', SearchAttributeType.KEYWORD);
export const BackupResource = defineSearchAttributeKey('BackupResource', SearchAttributeType.KEYWORD);
export const BackupKind = defineSearchAttributeKey('BackupKind', SearchAttributeType.KEYWORD);
export const BackupName = defineSearchAttributeKey('BackupName', SearchAttributeType.KEYWORD);

export const SEARCH_ATTRIBUTES = [BackupNode, BackupResource, BackupKind, BackupName] as const;
