'use strict';
// A module that writes a long line on stdout and one without its newline,
// then exits.
module.exports = () => {
  process.stdout.write('x'.repeat(20 << 10));
  process.stdout.write('\nno newline before the exit');
  process.exit(0);
};
