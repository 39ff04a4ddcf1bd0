/** Workflow bundle entry: every workflow type, by name. Sandbox code only. */
export { backupFs } from './backup-fs';
export { restoreFs } from './restore-fs';
export { listBackups } from './list-backups';
export { verifyBackup } from './verify-backup';
export { storageInfo } from './storage-info';
export { pruneBackups } from './prune-backups';
export { collectGarbage } from './collect-garbage';
