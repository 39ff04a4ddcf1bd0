/** Storage target -> driver. New drivers register here. */
import type { StorageTarget } from '../../workflows/shared/types';
import type { StorageDriver } from './driver';
import { LocalStorage } from './local';
import { SwiftStorage } from './swift';
import { SshStorage } from './ssh';

export type OpenStorage = (target: StorageTarget) => StorageDriver;

export const openStorage: OpenStorage = (target) => {
  switch (target.driver) {
    case 'local':
      return new LocalStorage(target.path);
    case 'ssh':
      return new SshStorage(target);
    case 'swift':
      return new SwiftStorage(target);
  }
};
