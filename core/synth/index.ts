/** Synthetic multiplexed tissue with exact ground truth, for demos, tests and the reference model's fit. */
export { generateTissue, type TissueOptions, type SyntheticTissue } from './tissue';
export { writeSyntheticWorkspace, type SyntheticWorkspaceOptions, type SyntheticWorkspaceImage } from './workspace';
export { Random } from './random';
