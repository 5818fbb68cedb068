import { matchObjects } from '../../../core/eval/match';

describe('matchObjects', () => {
  test('literal 1×10 strips: one exact match, one partial match, one miss, one false positive', () => {
    // truth:  1 1 1 1 | 2 2 2 2 | 3 3        pred: 5 5 5 5 | 6 6 6 0 | 0 0 (plus 7 where truth is 0 below)
    const truth = Int32Array.from([1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 0, 0]);
    const pred = Int32Array.from([5, 5, 5, 5, 6, 6, 6, 0, 0, 0, 7, 7]);
    const m = matchObjects(truth, pred);
    expect(m).toMatchObject({ tp: 2, fp: 1, fn: 1 });
    expect(m.precision).toBeCloseTo(2 / 3);
    expect(m.recall).toBeCloseTo(2 / 3);
    expect(m.f1).toBeCloseTo(2 / 3);
    expect(m.meanMatchedIoU).toBeCloseTo((1 + 0.75) / 2);
  });

  test('IoU exactly at the threshold does not match (strictly greater)', () => {
    const m = matchObjects(Int32Array.from([1, 1, 0, 0]), Int32Array.from([0, 1, 0, 0]), 0.5);
    expect(m.tp).toBe(0);
  });

  test('identical and empty images', () => {
    const l = Int32Array.from([0, 3, 3, 9]);
    expect(matchObjects(l, l)).toMatchObject({ tp: 2, fp: 0, fn: 0, f1: 1, meanMatchedIoU: 1 });
    expect(matchObjects(new Int32Array(4), new Int32Array(4))).toMatchObject({ tp: 0, f1: 1 });
    expect(() => matchObjects(new Int32Array(3), new Int32Array(4))).toThrow(RangeError);
  });

});
