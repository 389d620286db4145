export * from './atomic';
export * from './journal';
export * from './store';
