import { describe, expect, it } from 'vitest';
import { MemoryStorage } from '../../src/index.js';
import { testStorageAdapter } from '../../src/testing/index.js';

describe('MemoryStorage', () => {
  testStorageAdapter('MemoryStorage', () => new MemoryStorage(), { it, expect });
});
