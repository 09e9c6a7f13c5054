import type { OnnxModelInfo, ValidatedBy } from './onnx-info.js';
import type { ModelSignature } from './signature.js';

/** Whether a version still competes for `'latest'` and shows in `listVersions` by default. */
export type VersionStatus = 'active' | 'archived';

/** A reference to a model version elsewhere (in this registry or another). */
export interface ModelVersionRef {
  name: string;
  version: number;
}

/**
 * Where a version came from, so it can be reproduced: "version everything".
 * All fields are optional and stored as given.
 */
export interface Lineage {
  /** The training data, ideally with its own checksum (`s3://bucket/iris.csv#sha256=…`). */
  data?: string;
  /** The training code (`git:3f2c1e`). */
  code?: string;
  /** Hyperparameters and other settings; any JSON value. */
  params?: Record<string, unknown>;
  /** The version this one was derived from (fine-tuned from, retrained from). */
  parent?: ModelVersionRef;
  /** Training environment (library versions, hardware…). */
  environment?: Record<string, string>;
}

/**
 * An immutable artifact plus its metadata, as the registry stores it in
 * `models/<name>/versions/<version>.json`. Only `tags` and `status` change after registration.
 */
export interface ModelVersion {
  /** Model name, lower-cased. */
  name: string;
  /** 1, 2, 3 … handed out by the registry, never reused. */
  version: number;
  /** When the version was claimed, ISO 8601 UTC. */
  createdAt: string;
  /** Hex sha256 of the artifact; its blob key is `blobs/sha256/<sha256>`. */
  sha256: string;
  /** Artifact size in bytes. */
  size: number;
  /** Artifact format, `'onnx'` unless registered otherwise. */
  format: string;
  /** Inputs and outputs; `null` when the artifact was not opened (`validate: false` or not ONNX). */
  signature: ModelSignature | null;
  description: string;
  tags: Record<string, string>;
  lineage: Lineage;
  status: VersionStatus;
  /** What the ONNX artifact says of itself; `null` when it was not opened. */
  onnx: OnnxModelInfo | null;
  /** The runtime that opened and checked the artifact; `null` when it was not opened. */
  validatedBy: ValidatedBy | null;
}

/**
 * Which version to use: a version number, the same number in decimal digits (`'3'`, as it comes
 * from a URL or a CLI; no sign, leading zero or fraction), `'latest'` (highest active version) or
 * `'@alias'`. This one rule holds wherever a ref is accepted.
 */
export type VersionRef = number | `${number}` | 'latest' | `@${string}`;

/** Options of `ModelRegistry.register`. */
export interface RegisterOptions {
  description?: string;
  tags?: Record<string, string>;
  lineage?: Lineage;
  /** Artifact format (default `'onnx'`); a lower-case word such as `'onnx'`, `'bin'`, `'pt'`. */
  format?: string;
  /**
   * Open an ONNX artifact with onnxruntime-node before claiming a version (default `true`):
   * bytes that do not load are a `ModelLoadError` and nothing is stored. Ignored for other formats.
   */
  validate?: boolean;
  /**
   * What to do when a version of this model already has the same sha256, description, tags,
   * lineage and format: `'create'` (default) claims a new version anyway; `'reuse'` returns the
   * existing one (active or archived, never a deleted one) and stores nothing, also when
   * identical registrations race (they all return the first one's version).
   */
  ifIdentical?: 'create' | 'reuse';
}

/** Options of `ModelRegistry.listVersions`. */
export interface ListVersionsOptions {
  /** Include archived versions (default `false`). */
  includeArchived?: boolean;
}

/** Options of `ModelRegistry.listVersionsPage`. */
export interface ListVersionsPageOptions extends ListVersionsOptions {
  /** Versions per page, 1 to 1000 (default 100). */
  limit?: number;
  /** Where to continue: the `cursor` of the previous page (opaque). */
  cursor?: string;
}

/** One page of `ModelRegistry.listVersionsPage`: newest first, and where the next page starts. */
export interface VersionsPage {
  versions: ModelVersion[];
  /** Pass back as `cursor` for the next, older page; absent on the last page. */
  cursor?: string;
}

/** Who moved an alias and why, recorded in its history. */
export interface AliasChangeOptions {
  /** Who made the change (a user, a CI job, `'canary-controller'`). */
  by?: string;
  /** Why (`'rollback: error rate 4 %'`). */
  reason?: string;
}

/** One move of an alias; `version: null` means the alias was deleted. */
export interface AliasHistoryEntry {
  alias: string;
  version: number | null;
  previous: number | null;
  /** ISO 8601 UTC. */
  at: string;
  by?: string;
  reason?: string;
}

/** Payload of the `aliasChanged` event. */
export interface AliasChangedEvent extends AliasHistoryEntry {
  name: string;
}

/** Payload of the `deleted` event. */
export interface VersionDeletedEvent {
  name: string;
  version: number;
  sha256: string;
  /** True when no other version used the artifact, so its blob was removed too. */
  blobRemoved: boolean;
}

/** Events of `ModelRegistry`, with their payloads. */
export interface ModelRegistryEvents {
  /** A new version was claimed. */
  registered: (version: ModelVersion) => void;
  /** An alias was set, moved or deleted (`version: null`). */
  aliasChanged: (event: AliasChangedEvent) => void;
  /** A version was archived. */
  archived: (version: ModelVersion) => void;
  /** A version was deleted. */
  deleted: (event: VersionDeletedEvent) => void;
}
