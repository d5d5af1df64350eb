'use strict';
// A module that writes on stdout while it loads, before the handshake.
console.log('console.log while loading');
process.stdout.write('process.stdout.write while loading\n');
module.exports = (v) => {
  console.log('console.log in a call: %s', v);
  console.warn('console.warn in a call');
  process.stdout.write('partial ');
  process.stdout.write('line\n');
  return v;
};

// Writes a line without its newline, then a long one, and exits.
module.exports.unfinished = () => {
  process.stdout.write('x'.repeat(20 << 10));
  process.stdout.write('\nno newline before the exit');
  process.exit(0);
};
