// A module that cleans up on SIGTERM only, then exits: its worker's stop
// (the host's SIGTERM) runs the listener. CLEANUP_MARK names the file it
// writes.
const fs = require('node:fs');

process.on('SIGTERM', () => {
  setTimeout(() => {
    fs.writeFileSync(process.env.CLEANUP_MARK, String(process.pid));
    process.exit(0);
  }, 20);
});

module.exports = function () {
  return process.pid;
};
