/** Cell classification: a random forest over per-cell measurements, trained from review labels, bundled in a model collection. */
export { classify, type ClassifyOptions, type ClassifyOutcome } from './apply';
export { loadClassifier, writeClassifier, classColor, type Classifier, type ClassifierMetadata, type Evaluation } from './bundle';
export { crossValidate, formatEvaluation } from './evaluate';
export { cellFeatures, chooseFeatures, type CellFeatures } from './features';
export { trainForest, predictForest, type ForestModel, type ForestOptions } from './forest';
export { buildTrainingSet, trainClassifier, loadLabelledTables, tableUri, type TrainingSet, type TrainOptions } from './train';
