/** ApplicationFailure types that are never worth retrying (activities/failures.ts sets `nonRetryable` from this). */
export const NON_RETRYABLE_ERRORS = [
  'InvalidInputError',
  'NoBackupFoundError',
  'RestoreConflictError',
  'UnsafeEntryError',
  'CorruptSegmentError',
  'InvalidManifestError',
  'StorageNotFound',
  'StorageInvalidKey',
  'StorageAccessDenied',
  'StorageCorrupt',
  'EncryptionKeyError',
  'EncryptionKeyMismatchError',
  'DecryptionFailedError',
  'CorruptBackupError',
  'BackupHasDependentsError',
] as const;
