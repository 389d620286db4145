// The auditor agent: attestation reviews and verdicts, equivocation proofs, re-execution of
// disputed jobs (docs/auditor.md).
export * from './agent';
export * from './config';
export * from './errors';
export * from './review';
export * from './verdicts';
export * from './equivocation';
export * from './reexecute';
export { readRoot, readGenuineWorker } from './chain-view';
export type { RootView } from './chain-view';
