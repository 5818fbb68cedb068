/** Synthetic multiplexed tissue with exact ground truth, for demos, tests and the reference model's fit. */
export { generateTissue, CELL_TYPE_NAMES, type CellTypeName, type TissueOptions, type SyntheticTissue } from './tissue';
export { writeSyntheticWorkspace, formatCellTypes, type SyntheticWorkspaceOptions, type SyntheticWorkspaceImage } from './workspace';
export { Random } from './random';
