// The inference layer: one engine interface, two implementations, and model identity.
// The embedded engine imports Transformers.js lazily, so importing this module stays cheap.
export * from './engine';
export * from './errors';
export { EmbeddedEngine } from './embedded';
export { ThreadedEmbeddedEngine } from './embedded-thread';
export type { EmbeddedEngineOptions, EmbeddedDevice, EmbeddedDtype } from './embedded';
export { OpenAICompatibleEngine, mapUsage } from './openai-compatible';
export type { OpenAICompatibleOptions, DeclaredModelFiles } from './openai-compatible';
export * from './model-identity';
export { runModelHashCommand, MODEL_HASH_USAGE } from './model-hash-command';
