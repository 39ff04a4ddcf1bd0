/** Storage target -> driver. New drivers register here. */
import type { StorageTarget } from '../../workflows/shared/types';
import type { StorageDriver } from './driver';
import { StorageError } from './driver';
import { LocalStorage } from './local';

export type OpenStorage = (target: StorageTarget) => StorageDriver;

export const openStorage: OpenStorage = (target) => {
  switch (target.driver) {
    case 'local':
      return new LocalStorage(target.path);
    case 'swift':
    case 'ssh':
      // Parsing of swift: and ssh:// URLs is enabled together with their drivers (storage drivers issue).
      throw new StorageError('InvalidKey', `the ${target.driver} storage driver is not part of this build`);
  }
};
