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
