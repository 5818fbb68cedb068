/**
 * Tessel's contracts: what the workflows, activities, workers, CLI and core agree on — the types of
 * stage inputs and outputs, the stage list, error codes, signal and query definitions and the pure
 * helpers that build results. This module depends on nothing (type imports from `@temporalio/common`
 * aside); the lint rules in eslint.config.mjs keep it so.
 */
export * from './activities';
export * from './block-schedule';
export * from './blocks';
export * from './blockwise';
export * from './errors';
export * from './events';
export * from './run';
export * from './stages';
