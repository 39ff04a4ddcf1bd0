/** Workflow bundle entry: every workflow type, by name. Sandbox code only. */
export { backupFs } from './backup-fs';
export { restoreFs } from './restore-fs';
export { listBackups } from './list-backups';
export { verifyBackup } from './verify-backup';
export { storageInfo } from './storage-info';
export { pruneBackups } from './prune-backups';
export { collectGarbage } from './collect-garbage';
export { backupVolume } from './backup-volume';
export { restoreVolume } from './restore-volume';
export { backupImage } from './backup-image';
export { restoreImage } from './restore-image';
export { backupVolumes } from './backup-volumes';
export { backupVolumeNative } from './backup-volume-native';
export { restoreVolumeNative } from './restore-volume-native';
export { sweepOrphans } from './sweep-orphans';
