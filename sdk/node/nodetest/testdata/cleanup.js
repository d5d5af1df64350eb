// A module that cleans up on SIGINT, then exits: its worker's stop runs
// the listener. CLEANUP_MARK names the file it writes.
const fs = require('node:fs');

process.on('SIGINT', () => {
  fs.writeFileSync(process.env.CLEANUP_MARK, String(process.pid));
  process.exit(0);
});

module.exports = function () {
  return process.pid;
};
