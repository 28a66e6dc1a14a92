// The reference implementations, asked about a batch of texts at once for
// the differential tests (tests/x_oracle.rs, tests/sms_oracle.rs).
//
//   node oracle.js twitter-text NPM_DIR INPUT.json
//   node oracle.js calculator NPM_DIR INPUT.json
//
// INPUT.json is an array of strings. NPM_DIR is where ./scripts/test
// installed package.json's packages (`npm ci`), the versions pinned by
// package-lock.json. Prints one JSON object on stdout:
//
//   {"package": NAME, "version": VERSION, "results": [...]}
//
// with one result per text, in order:
//   twitter-text: [weightedLength, valid] of parseTweet(text), twitter-text's
//     default configuration (v3, X's);
//   calculator: [encoding, segments, units, graphemes] of
//     new SegmentedMessage(text) (encoding 'auto', no Smart Encoding):
//     encodingName, segmentsCount, the message's length in its encoding's
//     units (septets for GSM-7, UTF-16 code units for UCS-2) and the UTF-16
//     length of each grapheme the calculator cut the text into.
'use strict';

const fs = require('fs');
const path = require('path');

const [mode, npmDir, input] = process.argv.slice(2);
if (!mode || !npmDir || !input) {
  process.stderr.write('usage: node oracle.js twitter-text|calculator NPM_DIR INPUT.json\n');
  process.exit(2);
}

const load = (name) => {
  const dir = path.join(npmDir, 'node_modules', name);
  const { version } = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  return { name, version, module: require(dir) };
};

const texts = JSON.parse(fs.readFileSync(input, 'utf8'));
let pkg;
let results;
if (mode === 'twitter-text') {
  pkg = load('twitter-text');
  const twttr = pkg.module.default || pkg.module;
  results = texts.map((text) => {
    const parsed = twttr.parseTweet(text);
    return [parsed.weightedLength, parsed.valid];
  });
} else if (mode === 'calculator') {
  pkg = load('sms-segments-calculator');
  const { SegmentedMessage } = pkg.module;
  results = texts.map((text) => {
    const m = new SegmentedMessage(text);
    const bits = m.encodingName === 'GSM-7' ? 7 : 16;
    if (m.messageSize % bits !== 0) {
      throw new Error(`message size ${m.messageSize} is not whole ${bits}-bit units: ${JSON.stringify(text)}`);
    }
    return [m.encodingName, m.segmentsCount, m.messageSize / bits, m.graphemes.map((g) => g.length)];
  });
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}
process.stdout.write(JSON.stringify({ package: pkg.name, version: pkg.version, results }));
