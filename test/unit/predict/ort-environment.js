// Jest environment for suites that run onnxruntime-node. Its native binding returns typed arrays from
// Node's own realm, while Jest's sandbox has its own Float32Array etc., so onnxruntime's `instanceof`
// checks fail inside Jest. Sharing the outer realm's typed-array constructors with the sandbox fixes it
// (plain Node, tsx and compiled JS never see this).
const { TestEnvironment } = require('jest-environment-node');

class OrtEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of ['ArrayBuffer', 'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array',
      'Int32Array', 'Uint32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array', 'DataView']) {
      this.global[name] = globalThis[name];
    }
  }
}

module.exports = OrtEnvironment;
