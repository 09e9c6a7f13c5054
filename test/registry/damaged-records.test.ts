import { describe, expect, it } from 'vitest';
import { IntegrityError, NotFoundError } from '../../src/errors.js';
import { ModelRegistry } from '../../src/index.js';
import { MemoryStorage } from '../../src/index.js';

const blob = (i: number) => new TextEncoder().encode(`artifact ${i}`);
const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

async function registryWithTwo(): Promise<{ registry: ModelRegistry; storage: MemoryStorage }> {
  const storage = new MemoryStorage();
  const registry = new ModelRegistry({ storage });
  await registry.register('m', blob(1), { format: 'bin' });
  await registry.register('m', blob(2), { format: 'bin' });
  return { registry, storage };
}

async function expectIntegrity(promise: Promise<unknown>, key: string): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(IntegrityError);
  expect((err as Error).message).toContain(`'${key}'`);
}

describe('ModelRegistry with damaged or hand-edited records', () => {
  const badRecords: Array<[string, Uint8Array]> = [
    ['null', json(null)],
    ['42', json(42)],
    ['"hello"', json('hello')],
    ['[1,2]', json([1, 2])],
    ['{}', json({})],
    ['a record of another version', json({ name: 'm', version: 1, sha256: 'a'.repeat(64), deleted: true, deletedAt: 'x' })],
    ['a record without tags', undefined as unknown as Uint8Array],
    ['not JSON', new TextEncoder().encode('{"name": ')],
  ];

  it.each(badRecords)('a version record of %s is an IntegrityError naming its key from every read', async (label, given) => {
    const { registry, storage } = await registryWithTwo();
    const key = 'models/m/versions/2.json';
    let bytes = given;
    if (label === 'a record without tags') {
      const record = JSON.parse(new TextDecoder().decode((await storage.get(key))!.data)) as Record<string, unknown>;
      delete record.tags;
      bytes = json(record);
    }
    await storage.put(key, bytes);
    await expectIntegrity(registry.getVersion('m', 2), key);
    await expectIntegrity(registry.listVersions('m'), key);
    await expectIntegrity(registry.resolve('m', 'latest'), key);
    await expectIntegrity(registry.loadArtifact('m', 2), key);
    await expectIntegrity(registry.setTags('m', 2, { a: 'b' }), key);
    // The other version is untouched and still served.
    expect((await registry.getVersion('m', 1)).version).toBe(1);
    expect(new TextDecoder().decode(await registry.loadArtifact('m', 1))).toBe('artifact 1');
  });

  const badAliasDocs: Array<[string, unknown]> = [
    ['{}', {}],
    ['null', null],
    ['a non-array history', { aliases: {}, history: {}, deleted: [] }],
    ['an alias pointing at a string', { aliases: { prod: '1' }, history: [], deleted: [] }],
    ['a history entry of null', { aliases: {}, history: [null], deleted: [] }],
    ['deleted of strings', { aliases: {}, history: [], deleted: ['1'] }],
  ];

  it.each(badAliasDocs)('an alias document of %s is an IntegrityError naming its key, and writes change nothing', async (_label, doc) => {
    const { registry, storage } = await registryWithTwo();
    const key = 'models/m/aliases.json';
    await storage.put(key, json(doc));
    const before = (await storage.get(key))!;
    await expectIntegrity(registry.getAliases('m'), key);
    await expectIntegrity(registry.aliasHistory('m', 'prod'), key);
    await expectIntegrity(registry.resolve('m', '@prod'), key);
    await expectIntegrity(registry.setAlias('m', 'prod', 1), key);
    await expectIntegrity(registry.deleteAlias('m', 'prod'), key);
    await expectIntegrity(registry.deleteVersion('m', 1), key);
    expect((await storage.get(key))!.etag).toBe(before.etag);
    expect((await registry.getVersion('m', 1)).version).toBe(1);
  });

  it('deleteVersion completes when another record is damaged, and keeps the blob that record may use', async () => {
    const { registry, storage } = await registryWithTwo();
    await registry.register('other', blob(1), { format: 'bin' });
    await storage.put('models/other/versions/1.json', new TextEncoder().encode('{ damaged'));
    const deleted: unknown[] = [];
    registry.on('deleted', (e) => deleted.push(e));
    await registry.deleteVersion('m', 1);
    await expect(registry.getVersion('m', 1)).rejects.toBeInstanceOf(NotFoundError);
    expect(deleted).toEqual([expect.objectContaining({ name: 'm', version: 1, blobRemoved: false })]);
    expect((await registry.listVersions('m')).map((v) => v.version)).toEqual([2]);
  });
});

describe('ModelRegistry with names of Object.prototype', () => {
  // Names are lower-cased, so 'constructor' is the one Object.prototype member a name can spell.
  for (const alias of ['constructor']) {
    it(`resolve('@${alias}') on an alias never set is a NotFoundError`, async () => {
      const { registry } = await registryWithTwo();
      await registry.setAlias('m', 'prod', 1);
      const err = await registry.resolve('m', `@${alias}`).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NotFoundError);
      expect((err as Error).message).toBe(`model 'm' has no alias '${alias}' (aliases: prod)`);
    });

    it(`deleteAlias('${alias}') on an alias never set is a NotFoundError and writes no history`, async () => {
      const { registry, storage } = await registryWithTwo();
      await registry.setAlias('m', 'prod', 1);
      const before = (await storage.get('models/m/aliases.json'))!.etag;
      await expect(registry.deleteAlias('m', alias)).rejects.toBeInstanceOf(NotFoundError);
      expect((await storage.get('models/m/aliases.json'))!.etag).toBe(before);
      expect(await registry.aliasHistory('m', alias)).toEqual([]);
    });

    it(`'${alias}' works as an ordinary alias`, async () => {
      const { registry } = await registryWithTwo();
      await registry.setAlias('m', alias, 2);
      expect((await registry.resolve('m', `@${alias}`)).version).toBe(2);
      expect(await registry.getAliases('m')).toEqual({ [alias]: 2 });
      await registry.deleteAlias('m', alias);
      expect(await registry.getAliases('m')).toEqual({});
    });
  }
});
