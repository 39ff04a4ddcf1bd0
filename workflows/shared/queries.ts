/** Queries the client reads from running workflows. */
import { defineQuery } from '@temporalio/workflow';
import type { BackupSummary } from './types';

/** The backups a restore applies, level 0 first; undefined until the restore has chosen them. */
export const restorePlanQuery = defineQuery<BackupSummary[] | undefined>('restorePlan');
