export type {
  StorageAdapter,
  StoredObject,
  PutCondition,
  DeleteCondition,
  StorageGuarantees,
  LocalFileStorage,
} from './storage-adapter.js';
export { hasLocalFiles } from './storage-adapter.js';
export { checkStorageKey, checkStoragePrefix, isStorageKey, MAX_KEY_LENGTH } from './keys.js';
export { MemoryStorage } from './memory-storage.js';
export { FileSystemStorage, type FileSystemStorageOptions } from './file-system-storage.js';
