import { IntegrityError, describeValue } from '../errors.js';
import type { AliasHistoryEntry, ModelVersion } from './model-version.js';

/** `models/<name>/aliases.json`: current aliases, every move, and versions deleted (never alias targets again). @internal */
export interface AliasDocument {
  /** alias → version; a null-prototype object, so `constructor` or `__proto__` are ordinary alias names. */
  aliases: Record<string, number>;
  history: AliasHistoryEntry[];
  deleted: number[];
}

/** What `models/<name>/versions/<n>.json` holds after a delete: the number stays claimed forever. @internal */
export interface Tombstone {
  name: string;
  version: number;
  sha256: string;
  deleted: true;
  deletedAt: string;
}

const decoder = new TextDecoder();
const SHA256 = /^[0-9a-f]{64}$/;

/** A record or document found in storage that is not what this library writes there. */
class RecordShapeError extends Error {}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function expect(ok: boolean, field: string, expected: string, value: unknown): void {
  if (!ok) throw new RecordShapeError(`${field} must be ${expected}, got ${describeValue(value)}`);
}

function isVersionNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 1;
}

function isStringMap(value: unknown): boolean {
  return isObject(value) && Object.values(value).every((v) => typeof v === 'string');
}

function nullOrObject(value: unknown): boolean {
  return value === null || isObject(value);
}

function parseJson(key: string, data: Uint8Array): unknown {
  try {
    return JSON.parse(decoder.decode(data));
  } catch (err) {
    throw new IntegrityError(`storage key '${key}' is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

function checked<T>(key: string, what: string, data: Uint8Array, check: (value: unknown) => T): T {
  const value = parseJson(key, data);
  try {
    return check(value);
  } catch (err) {
    if (!(err instanceof RecordShapeError)) throw err;
    throw new IntegrityError(`storage key '${key}' does not hold a valid ${what}: ${err.message}`);
  }
}

function checkVersionRecord(value: unknown, model: string, version: number): ModelVersion | Tombstone {
  expect(isObject(value), 'the record', 'an object', value);
  const r = value as Record<string, unknown>;
  expect(r.name === model, 'name', `'${model}'`, r.name);
  expect(r.version === version, 'version', String(version), r.version);
  expect(typeof r.sha256 === 'string' && SHA256.test(r.sha256), 'sha256', '64 lower-case hex digits', r.sha256);
  if (r.deleted !== undefined) {
    expect(r.deleted === true, 'deleted', 'true', r.deleted);
    expect(typeof r.deletedAt === 'string', 'deletedAt', 'an ISO 8601 string', r.deletedAt);
    return r as unknown as Tombstone;
  }
  expect(typeof r.createdAt === 'string', 'createdAt', 'an ISO 8601 string', r.createdAt);
  expect(typeof r.size === 'number' && Number.isSafeInteger(r.size) && r.size >= 0, 'size', 'an integer >= 0', r.size);
  expect(typeof r.format === 'string', 'format', 'a string', r.format);
  expect(typeof r.description === 'string', 'description', 'a string', r.description);
  expect(isStringMap(r.tags), 'tags', 'an object of strings', r.tags);
  expect(isObject(r.lineage), 'lineage', 'an object', r.lineage);
  expect(r.status === 'active' || r.status === 'archived', 'status', "'active' or 'archived'", r.status);
  expect(nullOrObject(r.signature), 'signature', 'an object or null', r.signature);
  if (r.signature !== null) {
    const s = r.signature as Record<string, unknown>;
    expect(Array.isArray(s.inputs) && Array.isArray(s.outputs), 'signature', '{ inputs: [], outputs: [] }', r.signature);
  }
  expect(nullOrObject(r.onnx), 'onnx', 'an object or null', r.onnx);
  expect(nullOrObject(r.validatedBy), 'validatedBy', 'an object or null', r.validatedBy);
  return r as unknown as ModelVersion;
}

function checkHistoryEntry(value: unknown, index: number): void {
  const at = `history[${index}]`;
  expect(isObject(value), at, 'an object', value);
  const e = value as Record<string, unknown>;
  expect(typeof e.alias === 'string', `${at}.alias`, 'a string', e.alias);
  expect(e.version === null || isVersionNumber(e.version), `${at}.version`, 'a version number or null', e.version);
  expect(e.previous === null || isVersionNumber(e.previous), `${at}.previous`, 'a version number or null', e.previous);
  expect(typeof e.at === 'string', `${at}.at`, 'an ISO 8601 string', e.at);
}

function checkAliasDocument(value: unknown): AliasDocument {
  expect(isObject(value), 'the document', 'an object', value);
  const d = value as Record<string, unknown>;
  expect(isObject(d.aliases), 'aliases', 'an object', d.aliases);
  // Looked up by user-given names: a null prototype keeps 'constructor' or 'toString' ordinary aliases.
  const aliases = Object.create(null) as Record<string, number>;
  for (const [alias, version] of Object.entries(d.aliases as object)) {
    expect(isVersionNumber(version), `aliases['${alias}']`, 'a version number', version);
    aliases[alias] = version as number;
  }
  expect(Array.isArray(d.history), 'history', 'an array', d.history);
  (d.history as unknown[]).forEach(checkHistoryEntry);
  expect(Array.isArray(d.deleted) && (d.deleted as unknown[]).every(isVersionNumber), 'deleted', 'an array of version numbers', d.deleted);
  return { aliases, history: d.history as AliasHistoryEntry[], deleted: d.deleted as number[] };
}

/**
 * Parses the record stored at `key` for `model` version `version` and checks it against the
 * schema the registry writes (a live version or a tombstone).
 *
 * @throws IntegrityError naming the key when it is not JSON or not such a record. @internal
 */
export function parseVersionRecord(key: string, data: Uint8Array, model: string, version: number): ModelVersion | Tombstone {
  return checked(key, `record of model '${model}' version ${version}`, data, (value) => checkVersionRecord(value, model, version));
}

/**
 * Parses the alias document stored at `key` and checks it against its schema; its `aliases` map
 * has a null prototype.
 *
 * @throws IntegrityError naming the key when it is not JSON or not an alias document. @internal
 */
export function parseAliasDocument(key: string, data: Uint8Array): AliasDocument {
  return checked(key, 'alias document', data, checkAliasDocument);
}

/** A fresh, empty alias document (null-prototype alias map). @internal */
export function emptyAliasDocument(): AliasDocument {
  return { aliases: Object.create(null) as Record<string, number>, history: [], deleted: [] };
}

/**
 * The version number in `models/<name>/head.json`, or `undefined` when it holds anything else: the
 * head is only a hint (the version records are the truth), rebuilt when damaged. @internal
 */
export function parseHeadHint(data: Uint8Array): number | undefined {
  try {
    const value = JSON.parse(decoder.decode(data)) as unknown;
    const version = isObject(value) ? value.version : undefined;
    return typeof version === 'number' && Number.isSafeInteger(version) && version >= 0 ? version : undefined;
  } catch {
    return undefined;
  }
}
