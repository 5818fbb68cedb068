/** Reviewing cells in the browser: crops of a unified sample, labels saved as they are made, active learning. */
export { Review, type ReviewOptions } from './session';
export { serveReview, type ReviewServer } from './server';
export { writeStaticReview, pageFile, type StaticExport } from './static';
export { LabelStore, LabelDecision, LabelExport, UNSURE, foldLabels, parseLabels, readLabels } from './labels';
export { areaFilters, parseFilter, sampleKey, CellIndex, type CellFilter, type ReviewCell } from './sample';
export { completedImages, reviewFolders, type ReviewImage, type ReviewFolders } from './images';
export { ActiveLearner, type TrainingRound, type UncertainCell } from './active';
