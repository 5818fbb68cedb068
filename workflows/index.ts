export { segmentAndMeasure } from './segment-and-measure';
export { processImage } from './process-image';
export { processBlocks } from './process-blocks';
