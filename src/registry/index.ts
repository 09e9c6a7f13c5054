export { ModelRegistry, type ModelRegistryOptions } from './model-registry.js';
export type {
  ModelVersion,
  ModelVersionRef,
  VersionStatus,
  VersionRef,
  Lineage,
  RegisterOptions,
  ListVersionsOptions,
  ListVersionsPageOptions,
  VersionsPage,
  AliasChangeOptions,
  AliasHistoryEntry,
  AliasChangedEvent,
  VersionDeletedEvent,
  ModelRegistryEvents,
} from './model-version.js';
export type { ModelSignature, TensorSpec, SignatureSource } from './signature.js';
export { readSignature } from './signature.js';
export type { OnnxModelInfo, ValidatedBy } from './onnx-info.js';
export { checkName } from './names.js';
