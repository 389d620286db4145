import type { Config } from 'jest';

// Type checking runs once in `npm run typecheck`; ts-jest only transpiles here (isolatedModules),
// which keeps the suite fast on a 2-core machine.
const config: Config = {
    preset: 'ts-jest',
    // onnxruntime-node's outputs are typed arrays of the main V8 context; see the environment's comment.
    testEnvironment: '<rootDir>/agents/inference/testing/jest-environment.ts',
    testMatch: ['<rootDir>/tests/**/*.spec.ts', '<rootDir>/agents/**/*.spec.ts'],
    transform: {
        '^.+\\.ts$': ['ts-jest', { isolatedModules: true, diagnostics: false }],
    },
    testTimeout: 60_000,
    maxWorkers: 2,
};

export default config;
